"""Emulator streaming throughput: a long scripted reply streamed through real boto3
`invoke_model_with_response_stream` at unlimited pace, plus the raw frame decode rate.

Run: python bench/emulator_stream.py [--tokens 20000] [--repeat 3]
Prints figures, then one JSON line with the results.
"""

from __future__ import annotations

import argparse
import json
import time


def _reply_text(tokens: int) -> str:
    words = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")
    return " ".join(words[i % len(words)][:4] for i in range(tokens))


def _client(url: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120),
    )


def stream_through_boto3(emulator, client, text: str) -> tuple[int, float]:
    """Text deltas received, and the seconds it took (request to last event)."""
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 64000,
            "messages": [{"role": "user", "content": "Write a lot."}],
        }
    )
    emulator.script({"content": [{"type": "text", "text": text}]})
    started = time.perf_counter()
    response = client.invoke_model_with_response_stream(
        modelId="us.anthropic.claude-sonnet-4-5-20250929-v1:0", body=body
    )
    deltas, received = 0, []
    for event in response["body"]:
        payload = json.loads(event["chunk"]["bytes"])
        if payload["type"] == "content_block_delta":
            deltas += 1
            received.append(payload["delta"]["text"])
    elapsed = time.perf_counter() - started
    assert "".join(received) == text, "the streamed text differs from the scripted one"
    return deltas, elapsed


def raw_rates(text: str) -> tuple[float, float]:
    """Frames per second: encoded by the emulator, and decoded by its own decoder."""
    from claude_magic.core.eventstream import FrameDecoder
    from claude_magic.core.messages import Message, Usage
    from claude_magic.emulator.wire.events import stream_events
    from claude_magic.emulator.wire.eventstream import chunk_frame

    message = Message(
        content=[{"type": "text", "text": text}],
        id="msg_bench",
        model="bench",
        stop_reason="end_turn",
        usage=Usage(10, 20000),
    )
    started = time.perf_counter()
    frames = [chunk_frame(event, i) for i, (event, _) in enumerate(stream_events(message))]
    encode_rate = len(frames) / (time.perf_counter() - started)
    started = time.perf_counter()
    decoder = FrameDecoder()
    count = 0
    for frame in frames:
        for decoded in decoder.feed(frame):
            decoded.event()
            count += 1
    return encode_rate, count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from claude_magic.core.messages import split_tokens
    from claude_magic.emulator import Emulator

    text = _reply_text(args.tokens)
    print(f"reply: {len(split_tokens(text))} token pieces, {len(text)} characters")
    rates = []
    with Emulator() as emulator:
        client = _client(emulator.url)
        stream_through_boto3(emulator, client, text[:2000])  # warm up the connection
        for run in range(args.repeat):
            deltas, elapsed = stream_through_boto3(emulator, client, text)
            rates.append(deltas / elapsed)
            print(
                f"boto3 stream run {run + 1}: {deltas} text deltas in {elapsed:.3f} s = {rates[-1]:,.0f} deltas/s"
            )
    encode_rate, decode_rate = raw_rates(text)
    print(
        f"raw frames, no HTTP: encoded at {encode_rate:,.0f}/s, decoded (FrameDecoder) at {decode_rate:,.0f}/s"
    )
    best = max(rates)
    print(f"best through boto3: {best:,.0f} text deltas/s (target >= 10,000)")
    print(
        json.dumps(
            {
                "benchmark": "emulator_stream",
                "tokens": args.tokens,
                "boto3_deltas_per_s": round(best),
                "boto3_runs": [round(r) for r in rates],
                "raw_encode_frames_per_s": round(encode_rate),
                "raw_decode_frames_per_s": round(decode_rate),
            }
        )
    )


if __name__ == "__main__":
    main()
