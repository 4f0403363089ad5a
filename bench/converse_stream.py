"""ConverseStream beside InvokeModelWithResponseStream: the same long scripted reply
streamed through the emulator at unlimited pace, read by real boto3, and by the magic's
client (events translated and folded into a Message). Ratios are Converse / InvokeModel.

Run: python bench/converse_stream.py [--tokens 20000] [--repeat 3]
Prints figures, then one JSON line with the results.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def _reply_text(tokens: int) -> str:
    words = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")
    return " ".join(words[i % len(words)][:4] for i in range(tokens))


def _boto3(url: str):
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


def boto3_invoke(client, text: str) -> str:
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 64000,
            "messages": [{"role": "user", "content": "Write a lot."}],
        }
    )
    pieces = []
    for event in client.invoke_model_with_response_stream(modelId=MODEL, body=body)["body"]:
        payload = json.loads(event["chunk"]["bytes"])
        if payload["type"] == "content_block_delta":
            pieces.append(payload["delta"]["text"])
    return "".join(pieces)


def boto3_converse(client, text: str) -> str:
    pieces = []
    stream = client.converse_stream(
        modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Write a lot."}]}]
    )["stream"]
    for event in stream:
        delta = event.get("contentBlockDelta")
        if delta:
            pieces.append(delta["delta"]["text"])
    return "".join(pieces)


def magic_client(api: str):
    def run(client, text: str) -> str:
        from claude_magic.core.messages import Message, build_request
        from claude_magic.core.stream import fold_event

        body = build_request([{"role": "user", "content": "Write a lot."}], max_tokens=64000)
        events = (
            client.stream(MODEL, body) if api == "invoke" else client.converse_stream(MODEL, body)
        )
        message = Message()
        for event in events:
            fold_event(message, event)
        return message.text

    return run


def measure(emulator, client, reader, text: str, repeat: int) -> float:
    """Median text deltas per second over `repeat` runs."""
    from claude_magic.core.messages import split_tokens

    deltas, rates = len(split_tokens(text)), []
    for _ in range(repeat):
        emulator.script({"content": [{"type": "text", "text": text}]})
        started = time.perf_counter()
        received = reader(client, text)
        rates.append(deltas / (time.perf_counter() - started))
        assert received == text, "the streamed text differs from the scripted one"
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from claude_magic.bedrock import BedrockClient, ClientSettings
    from claude_magic.emulator import Emulator

    text = _reply_text(args.tokens)
    with Emulator(pace=None) as emulator:
        raw = _boto3(emulator.url)
        ours = BedrockClient(
            ClientSettings(region="us-east-1", endpoint_url=emulator.url, offline=True)
        )
        results = {
            "boto3_invoke_deltas_per_s": measure(emulator, raw, boto3_invoke, text, args.repeat),
            "boto3_converse_deltas_per_s": measure(
                emulator, raw, boto3_converse, text, args.repeat
            ),
            "client_invoke_deltas_per_s": measure(
                emulator, ours, magic_client("invoke"), text, args.repeat
            ),
            "client_converse_deltas_per_s": measure(
                emulator, ours, magic_client("converse"), text, args.repeat
            ),
        }
    results["boto3_converse_over_invoke"] = (
        results["boto3_converse_deltas_per_s"] / results["boto3_invoke_deltas_per_s"]
    )
    results["client_converse_over_invoke"] = (
        results["client_converse_deltas_per_s"] / results["client_invoke_deltas_per_s"]
    )
    for name, value in results.items():
        print(f"{name:32} {value:12,.2f}")
    print(json.dumps({k: round(v, 3) for k, v in results.items()}))


if __name__ == "__main__":
    main()
