"""Prompt caching: the input cost of a 20-turn conversation (3,000-token system prompt,
400-token turns) on the newest Sonnet, with the magic's breakpoints vs without, from
the emulator's usage and the catalogue's prices (target ≤ 0.30×); and the time that
counting (the window check) and placing breakpoints add to a request of a 200-turn conversation (target ≤ 5 ms).

Run: python bench/caching.py [--turns 20] [--repeat 50]
Prints figures, then one JSON line with the results.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time


def _words(tokens: int, seed: int) -> str:
    words = ("alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta")
    return " ".join(f"{words[(i + seed) % len(words)]}{seed % 97}" for i in range(tokens))


def _client(url: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def conversation_cost(
    client, model, invoke_id: str, turns: int, cached: bool
) -> tuple[float, dict]:
    """Input cost (USD) of `turns` requests, each resending the whole history."""
    from claude_magic.bedrock.shaping import place_breakpoints
    from claude_magic.core.messages import Message, Usage, build_request

    system = _words(3000, 0)
    messages: list[dict] = []
    cost, total = 0.0, Usage()
    for turn in range(turns):
        messages.append(
            {"role": "user", "content": [{"type": "text", "text": _words(400, turn + 1)}]}
        )
        body = build_request(list(messages), max_tokens=200, system=system)
        if cached:
            place_breakpoints(body, model, "5m")
        raw = client.invoke_model(modelId=invoke_id, body=json.dumps(body))["body"].read()
        reply = Message.from_dict(json.loads(raw))
        u = reply.usage
        total = total + u
        cost += model.cost(
            u.input_tokens,
            0,
            cache_write_tokens=u.cache_creation_input_tokens,
            cache_read_tokens=u.cache_read_input_tokens,
        )
        messages.append({"role": "assistant", "content": reply.content})
    return cost, total.to_dict()


def placement_ms(model, turns: int, repeat: int) -> tuple[float, float]:
    """Median ms to build a 200-turn request body, without and with the window check
    and breakpoints."""
    from claude_magic.bedrock.shaping import place_breakpoints
    from claude_magic.bedrock.window import fit_window
    from claude_magic.core.messages import build_request

    system = _words(3000, 0)
    messages = []
    for turn in range(turns):
        messages.append(
            {"role": "user", "content": [{"type": "text", "text": _words(400, turn + 1)}]}
        )
        messages.append(
            {"role": "assistant", "content": [{"type": "text", "text": _words(300, turn)}]}
        )
    messages.append({"role": "user", "content": [{"type": "text", "text": "And now?"}]})
    plain, marked = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        build_request(list(messages), max_tokens=200, system=system)
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        body = build_request(list(messages), max_tokens=200, system=system)
        body = fit_window(body, model, None).body
        place_breakpoints(body, model, "5m")
        marked.append(time.perf_counter() - started)
    copy.deepcopy(body)  # the body is complete and self-contained
    return statistics.median(plain) * 1000, statistics.median(marked) * 1000


def measure(turns: int = 20) -> dict:
    """The input cost of a `turns`-turn conversation with breakpoints ÷ without (bench/run.py)."""
    from claude_magic.emulator import Emulator
    from claude_magic.models import catalog

    model = catalog.newest("sonnet")
    invoke_id = catalog.preferred_profile(model, "us-east-1") if not model.on_demand else model.id
    with Emulator() as emulator:
        client = _client(emulator.url)
        uncached, _ = conversation_cost(client, model, invoke_id, turns, cached=False)
        emulator.reset()
        cached, _ = conversation_cost(client, model, invoke_id, turns, cached=True)
    return {
        "bench": "caching",
        "model": model.id,
        "turns": turns,
        "input_cost_ratio": round(cached / uncached, 4),
        "uncached_usd": round(uncached, 6),
        "cached_usd": round(cached, 6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--long-turns", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    from claude_magic.emulator import Emulator
    from claude_magic.models import catalog

    model = catalog.newest("sonnet")
    invoke_id = catalog.preferred_profile(model, "us-east-1") if not model.on_demand else model.id
    with Emulator() as emulator:
        client = _client(emulator.url)
        uncached, uncached_usage = conversation_cost(
            client, model, invoke_id, args.turns, cached=False
        )
        emulator.reset()
        cached, cached_usage = conversation_cost(client, model, invoke_id, args.turns, cached=True)
    plain_ms, marked_ms = placement_ms(model, args.long_turns, args.repeat)
    narrow = catalog.resolve("sonnet-4.5").model  # a 200k window: the request gets counted
    narrow_plain, narrow_marked = placement_ms(narrow, args.long_turns, args.repeat)
    ratio = cached / uncached
    print(
        f"{model.name}, {args.turns} turns: input cost uncached ${uncached:.4f}, "
        f"cached ${cached:.4f} -> {ratio:.3f}x (target <= 0.30x)"
    )
    print(f"  usage cached: {cached_usage}")
    print(
        f"{args.long_turns}-turn request body: {plain_ms:.3f} ms plain, {marked_ms:.3f} ms with "
        f"window check and breakpoints -> +{marked_ms - plain_ms:.3f} ms (target <= 5 ms)"
    )
    print(
        f"  on {narrow.name} (200k window, counted by estimate, near the limit): "
        f"+{narrow_marked - narrow_plain:.3f} ms"
    )
    print(
        json.dumps(
            {
                "bench": "caching",
                "model": model.id,
                "input_cost_ratio": round(ratio, 4),
                "uncached_usd": round(uncached, 6),
                "cached_usd": round(cached, 6),
                "breakpoints_extra_ms": round(marked_ms - plain_ms, 3),
                "counted_extra_ms_200k_window": round(narrow_marked - narrow_plain, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
