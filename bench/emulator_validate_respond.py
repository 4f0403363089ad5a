"""Emulator request handling cost without HTTP: `validate_invoke` + `respond` for a
long text conversation and for a body near the 20 MB limit made of large images.

Run: python bench/emulator_validate_respond.py [--repeat 5]
Prints figures, then one JSON line with the results.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import time

MODEL_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def _noise_png(width: int, height: int) -> str:
    from PIL import Image

    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _text_conversation(turns: int) -> dict:
    messages = []
    for i in range(turns):
        role = "user" if i % 2 == 0 else "assistant"
        messages.append(
            {"role": role, "content": f"Turn {i}: " + "some words of the conversation " * 40}
        )
    return {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1024, "messages": messages}


def _image_request(images: int) -> dict:
    data = _noise_png(1100, 1000)
    blocks = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}
        for _ in range(images)
    ]
    blocks.append({"type": "text", "text": "Compare these plots."})
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": blocks}],
    }


def _time(raw: bytes, repeat: int) -> tuple[float, float]:
    from claude_magic.emulator.responder.respond import respond
    from claude_magic.emulator.validation.request import validate_invoke

    best_validate = best_respond = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        model, body = validate_invoke(MODEL_ID, raw, {})
        middle = time.perf_counter()
        respond(model, body)
        end = time.perf_counter()
        best_validate = min(best_validate, middle - start)
        best_respond = min(best_respond, end - middle)
    return best_validate, best_respond


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = {}
    for name, body in (
        ("text_200_turns", _text_conversation(199)),
        ("images_4x4MB", _image_request(4)),
    ):
        raw = json.dumps(body).encode()
        validate_s, respond_s = _time(raw, args.repeat)
        results[name] = {
            "body_mb": round(len(raw) / 1e6, 2),
            "validate_ms": round(validate_s * 1000, 1),
            "respond_ms": round(respond_s * 1000, 1),
        }
        print(
            f"{name}: body {len(raw) / 1e6:.1f} MB, validate {validate_s * 1000:.1f} ms, "
            f"respond {respond_s * 1000:.1f} ms (best of {args.repeat})"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
