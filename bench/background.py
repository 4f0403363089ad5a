"""Background answers: how responsive the kernel stays while one streams, and what a
streamed token costs the kernel, background against foreground, in one run.

- Round trip of a trivial cell (`1 + 1`, execute_request to idle status) on the idle
  kernel, then while a `%%claude -b` answer streams at 50 tokens/s into its own cell.
  Target: p95 <= 50 ms while streaming.
- Kernel CPU (`time.process_time()` in the kernel: every thread) per streamed token:
  a foreground `%%claude` answer, then the same answer with `-b` (the cell, then
  `%claude wait` until it ends). Same reply, same pace.

The emulator runs in this process, so its work is not counted as the kernel's.

    python bench/background.py [--pace 50] [--tokens 300] [--trips 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from kernel_harness import BenchKernel
from workload import claude_cell, reply_text

TARGET_P95_MS = 50.0
TRIVIAL = "1 + 1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50": round(statistics.median(ms), 1),
        "p95": round(percentile(ms, 95), 1),
        "max": round(max(ms), 1),
    }


def trips(kernel: BenchKernel, count: int, gap: float, until: float | None = None) -> list[float]:
    """Round trips of the trivial cell, in ms (stopping early at monotonic time `until`)."""
    out = []
    for _ in range(count):
        if until is not None and time.monotonic() >= until:
            break
        out.append(kernel.run(TRIVIAL).seconds * 1000)
        time.sleep(gap)
    return out


def kernel_cpu(kernel: BenchKernel) -> float:
    return kernel.value("__import__('time').process_time()")


def measure(pace: float = 50.0, tokens: int = 300, count: int = 60, gap: float = 0.05) -> dict:
    from claude_magic.emulator import Emulator

    text = reply_text(tokens)
    with Emulator() as emulator, BenchKernel(emulator.url) as kernel:
        kernel.run("%load_ext claude_magic")
        for _ in range(2):  # warm up both paths: imports, the client, the widgets
            emulator.script({"content": [{"type": "text", "text": "warm up"}]})
            kernel.run(claude_cell())
        emulator.script({"content": [{"type": "text", "text": "warm up"}]})
        kernel.run("%%claude -b --no-history\nwarm up")
        kernel.run("%claude wait")
        trips(kernel, 5, gap)

        idle = trips(kernel, count, gap)

        # responsiveness while a background answer streams (a longer one, so every trip
        # happens while it streams)
        emulator.pace = pace
        emulator._state.sent_frames = sent = []
        long_tokens = max(tokens, int(pace * (count * (gap + 0.02) + 2)))
        emulator.script({"content": [{"type": "text", "text": reply_text(long_tokens, variant=1)}]})
        started = kernel.run("%%claude -b --no-history\n" + "Write a long answer.")
        expected_end = time.monotonic() + long_tokens / pace - 0.5
        streaming = trips(kernel, count, gap, until=expected_end)
        last_trip = time.monotonic()
        kernel.run("%claude wait")
        stream_end = max(when for when, _, _ in sent)
        if last_trip > stream_end:
            raise RuntimeError("the stream ended before the last round trip: use more tokens")

        # kernel CPU per streamed token, foreground against background
        emulator._state.sent_frames = None
        emulator.script({"content": [{"type": "text", "text": text}]})
        before = kernel_cpu(kernel)
        foreground = kernel.run(claude_cell(), timeout=120)
        fg_cpu = kernel_cpu(kernel) - before
        emulator.script({"content": [{"type": "text", "text": reply_text(tokens, variant=2)}]})
        before = kernel_cpu(kernel)
        background = kernel.run("%%claude -b --no-history\nWrite a long answer.")
        kernel.run("%claude wait", timeout=120)
        bg_cpu = kernel_cpu(kernel) - before
        emulator.pace = None
    return {
        "pace_tokens_per_s": pace,
        "trivial_cell_ms": {"idle": summary(idle), "while_streaming": summary(streaming)},
        "p95_ratio_streaming_to_idle": round(percentile(streaming, 95) / percentile(idle, 95), 2),
        "background_cell_returned_ms": round(started.seconds * 1000, 1),
        "kernel_cpu_ms_per_token": {
            "foreground": round(fg_cpu / tokens * 1000, 3),
            "background": round(bg_cpu / tokens * 1000, 3),
        },
        "cpu_ratio_background_to_foreground": round(bg_cpu / fg_cpu, 2),
        "foreground_cell_seconds": round(foreground.seconds, 2),
        "background_cell_seconds": round(background.seconds, 3),
        "tokens": tokens,
        "target_p95_ms": TARGET_P95_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pace", type=float, default=50.0)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--trips", type=int, default=60)
    args = parser.parse_args()
    began = time.monotonic()
    r = measure(args.pace, args.tokens, args.trips)
    idle, busy = r["trivial_cell_ms"]["idle"], r["trivial_cell_ms"]["while_streaming"]
    print(f"`{TRIVIAL}` round trip, idle kernel: {idle}")
    print(
        f"`{TRIVIAL}` round trip, while a -b answer streams at {r['pace_tokens_per_s']:g} tokens/s: {busy} "
        f"(p95 {r['p95_ratio_streaming_to_idle']}x idle; target p95 <= {TARGET_P95_MS:g} ms)"
    )
    print(f"the -b cell itself returned in {r['background_cell_returned_ms']} ms")
    cpu = r["kernel_cpu_ms_per_token"]
    print(
        f"kernel CPU per streamed token: foreground {cpu['foreground']} ms, background {cpu['background']} ms "
        f"({r['cpu_ratio_background_to_foreground']}x)"
    )
    print(f"took {time.monotonic() - began:.0f} s")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
