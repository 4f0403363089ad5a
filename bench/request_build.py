"""Time building the request body for a long conversation.

A 200-turn conversation with 20 images (plots of ~150 KB), a few tool loops and
answers of realistic length: how long `Conversation.request_body` takes (target
<= 20 ms), also when trimming has to drop images (25 images; and 6 big images
over the 20 MB body limit), next to the cost of serialising the body to JSON.

    python bench/request_build.py [--repeat N]

Prints a table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import time

from claude_magic.core.conversation import Conversation, Turn
from claude_magic.core.messages import (
    Message,
    Usage,
    image_block,
    text_block,
    tool_result_block,
    tool_use_block,
)

TARGET_MS = 20.0


def png_b64(width: int, height: int, seed: int) -> str:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode()


def build(turns: int, image_turns: list[int], image: str) -> Conversation:
    conv = Conversation(system="You are a careful data analyst.")
    answer = (
        "Here is what the data shows. " * 8 + "\n\n```python\nimport pandas as pd\n"
        "df = pd.read_csv('data.csv')\nprint(df.describe())\n```\n\n"
    ) * 3
    for n in range(turns):
        user = [text_block(f"Question {n}: what about the column 'value_{n}'? " * 4)]
        labels: list[str | None] = []
        if n in image_turns:
            user.insert(0, image_block(image, "image/png"))
            labels.append(f"cell {n}")
        turn = Turn(user, image_labels=labels, cell_id=f"cell-{n}", execution_count=n)
        if n % 25 == 0:  # a tool loop now and then
            turn.complete(
                [
                    Message(
                        content=[
                            text_block("Let me compute that."),
                            tool_use_block(f"toolu_{n}", "describe", {"column": f"value_{n}"}),
                        ],
                        usage=Usage(900, 40),
                    ),
                    Message(
                        role="user",
                        content=[tool_result_block(f"toolu_{n}", "count 100, mean 3.2")],
                    ),
                    Message(content=[text_block(answer)], usage=Usage(1000, 400)),
                ]
            )
        else:
            turn.add_reply(Message(content=[text_block(answer)], usage=Usage(800, 350)))
        conv.add(turn)
    return conv


def time_it(fn, repeat: int) -> list[float]:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "min_ms": round(ordered[0], 3),
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    plot = png_b64(200, 250, seed=1)  # ~150 KB of noise PNG, base64
    big = png_b64(1080, 1080, seed=2)  # ~4.7 MB base64, within the 3.75 MB raw limit
    pending = Turn([text_block("Summarise everything so far.")])
    scenarios = {
        "200 turns, 20 images (fits)": build(200, list(range(0, 200, 10)), plot),
        "200 turns, 25 images (trims 5)": build(200, list(range(0, 200, 8)), plot),
        "200 turns, 6 big images (> 20 MB, trims)": build(200, list(range(0, 200, 34)), big),
    }
    results = {}
    print(
        f"{'scenario':44} {'omitted':>7} {'body MB':>8} {'build med':>10} {'build p95':>10} {'json.dumps med':>15}"
    )
    for name, conv in scenarios.items():
        body, omitted = conv.request_body(pending, max_tokens=4096)
        built = summary(
            time_it(lambda conv=conv: conv.request_body(pending, max_tokens=4096), args.repeat)
        )
        dumped = summary(
            time_it(
                lambda body=body: json.dumps(body, separators=(",", ":")), max(5, args.repeat // 5)
            )
        )
        size = len(json.dumps(body, separators=(",", ":"))) / 1e6
        print(
            f"{name:44} {len(omitted):7d} {size:8.2f} {built['median_ms']:9.2f}ms {built['p95_ms']:9.2f}ms "
            f"{dumped['median_ms']:14.2f}ms"
        )
        results[name] = {
            "omitted": len(omitted),
            "body_mb": round(size, 2),
            "build": built,
            "json_dumps": dumped,
        }
    headline = results["200 turns, 20 images (fits)"]["build"]["median_ms"]
    print(
        json.dumps(
            {
                "bench": "request_build",
                "target_ms": TARGET_MS,
                "median_ms_200_turns_20_images": headline,
                "within_target": headline <= TARGET_MS,
                "scenarios": results,
            }
        )
    )


if __name__ == "__main__":
    main()
