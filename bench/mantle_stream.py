"""Streaming overhead over the Messages API (bedrock-mantle), beside InvokeModel's.

In one real ipykernel, against the emulator in this process at unlimited pace, a
20,000-token reply is read, interleaved per run:

- (m) a bare loop over the anthropic SDK's `AnthropicBedrockMantle` stream
  (`messages.create(stream=True)`, joining the text deltas), timed inside the kernel;
- (M) a `%%claude` cell with `ClaudeMagic.api = "mantle"`, end to end (execute request to
  idle status);
- (a) the bare boto3 InvokeModelWithResponseStream loop of stream_overhead.py, and
- (A) the same `%%claude` cell with `ClaudeMagic.api = "invoke"`.

Headlines: the median of M / m over the runs (target <= 1.15), and A / a beside it.

    python bench/mantle_stream.py [--runs 7] [--tokens 20000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from kernel_harness import BenchKernel
from workload import BARE_LOOP_SOURCE, claude_cell, model_id, reply_text

TARGET_RATIO = 1.15

SDK_LOOP_SOURCE = '''
def sdk_stream(model_id, prompt="Write a long answer."):
    """Stream with AnthropicBedrockMantle and only join the text; (seconds, characters)."""
    global _bench_sdk
    from anthropic import AnthropicBedrockMantle
    if "_bench_sdk" not in globals():
        _bench_sdk = AnthropicBedrockMantle(
            base_url=_bench_os.environ["CLAUDE_MAGIC_ENDPOINT_URL"] + "/anthropic",
            aws_region="us-east-1", max_retries=0)
    started = _bench_time.perf_counter()
    parts = []
    for event in _bench_sdk.messages.create(model=model_id, max_tokens=64000, stream=True,
                                            messages=[{"role": "user", "content": prompt}]):
        if event.type == "content_block_delta":
            parts.append(event.delta.text)
    text = "".join(parts)
    return _bench_time.perf_counter() - started, len(text)
'''


def measure(runs: int = 7, tokens: int = 20_000) -> dict:
    """Interleaved runs of m, M, a and A; medians and per-run ratios."""
    from claude_magic.emulator import Emulator
    from claude_magic.models import catalog

    invoke_id = model_id()
    bare_id = catalog.lookup(invoke_id).id  # type: ignore[union-attr]  # the id mantle takes
    times: dict[str, list[float]] = {"m": [], "M": [], "a": [], "A": []}
    with Emulator() as emulator, BenchKernel(emulator.url) as kernel:
        kernel.run("%load_ext claude_magic")
        kernel.run(BARE_LOOP_SOURCE)
        kernel.run(SDK_LOOP_SOURCE)

        def bare(loop: str, mid: str, text: str) -> float:
            emulator.script({"content": [{"type": "text", "text": text}]})
            seconds, chars = json.loads(kernel.run(f"print(list({loop}({mid!r})))").stdout())
            if chars != len(text):
                raise RuntimeError(f"{loop} got {chars} characters, not {len(text)}")
            return seconds

        def cell(api: str, text: str) -> float:
            kernel.run(f"%config ClaudeMagic.api = {api!r}")
            emulator.script({"content": [{"type": "text", "text": text}]})
            return kernel.run(claude_cell()).seconds

        for _ in range(2):  # warm up: clients, connections, imports
            warm = reply_text(2000, 9)
            bare("sdk_stream", bare_id, warm), cell("mantle", warm)
            bare("bare_stream", invoke_id, warm), cell("invoke", warm)
        for run in range(runs):
            text = reply_text(tokens, run)
            times["m"].append(bare("sdk_stream", bare_id, text))
            times["M"].append(cell("mantle", text))
            times["a"].append(bare("bare_stream", invoke_id, text))
            times["A"].append(cell("invoke", text))
        sent = {r["operation"] for r in emulator.requests()}
    if "CreateMessage" not in sent:
        raise RuntimeError("no request reached the Messages API")

    def ratio(x: str, y: str) -> float:
        return round(statistics.median(b / a for a, b in zip(times[x], times[y], strict=True)), 3)

    medians = {k: round(statistics.median(v), 4) for k, v in times.items()}
    return {
        "tokens": tokens,
        "runs": runs,
        "seconds": {k: [round(x, 4) for x in v] for k, v in times.items()},
        "median_s": medians,
        "mantle_overhead_ratio": ratio("m", "M"),
        "invoke_overhead_ratio": ratio("a", "A"),
        "sdk_vs_boto3_ratio": ratio("a", "m"),
        "mantle_cell_vs_invoke_cell_ratio": ratio("A", "M"),
        "target_ratio": TARGET_RATIO,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=20_000)
    args = parser.parse_args()
    started = time.monotonic()
    result = measure(args.runs, args.tokens)
    m = result["median_s"]
    print(
        f"bare AnthropicBedrockMantle stream loop (in kernel): median {m['m']:.3f} s; "
        f"%%claude over mantle end to end: {m['M']:.3f} s"
    )
    print(
        f"bare boto3 InvokeModel stream loop: {m['a']:.3f} s; %%claude over InvokeModel: {m['A']:.3f} s"
    )
    print(
        f"mantle ratio {result['mantle_overhead_ratio']} (target <= {TARGET_RATIO}); InvokeModel ratio "
        f"{result['invoke_overhead_ratio']}; took {time.monotonic() - started:.0f} s"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
