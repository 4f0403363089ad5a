"""Live traffic at a real pace: what a cell sends to the browser while the answer
streams, per byte of the answer, at 10, 50 and 200 tokens/s.

For each pace, three real kernels run the same stream at the same time, from one
emulator (the paces run at once too, each with its own emulator):

- `%%claude` (its live view; the front end is taken to load the delta widget);
- a bare loop that prints each text delta (ipykernel batches stdout);
- a naive magic that re-displays the whole Markdown on every delta.

Live messages are every display message of the cell (display_data,
update_display_data, comm_open/msg/close, stream, clear_output) except the one final
static bundle `%%claude` leaves; their content is the message's content JSON plus
its binary buffers. `live_ratio` = (live content bytes - 150 per live message) ÷
the answer's UTF-8 bytes (target <= 2.0; 150 bytes is about the framing of one
widget update); `bundle_ratio` = the final bundle ÷ the answer (target <= 4).

    python bench/live_traffic.py [--paces 10 50 200] [--tokens 200 1000 2000]
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from kernel_harness import BenchKernel, CellRun
from workload import (
    NAIVE_MAGIC_SOURCE,
    PRINT_LOOP_SOURCE,
    claude_cell,
    naive_cell,
    print_cell,
    reply_text,
)

FRAMING_BYTES = 150
TARGET_LIVE_RATIO = 2.0
TARGET_BUNDLE_RATIO = 4.0
LIVE_TYPES = (
    "display_data",
    "update_display_data",
    "comm_open",
    "comm_msg",
    "comm_close",
    "stream",
    "clear_output",
)
DEFAULT_RUNS = ((10.0, 1000), (50.0, 2000), (200.0, 2000))


def _content_bytes(msg: dict) -> int:
    content = len(json.dumps(msg["content"], ensure_ascii=False, separators=(",", ":")).encode())
    return content + sum(len(b) for b in msg.get("buffers") or ())


def max_in_window(times: list[float], window: float = 1.0) -> int:
    ordered, best, start = sorted(times), 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def summary(run: CellRun, text: str, has_bundle: bool) -> dict:
    answer = len(text.encode())
    shown = [m for m in run.messages if m.msg_type in LIVE_TYPES]
    bundle = 0
    if has_bundle:
        last = max(i for i, m in enumerate(shown) if m.msg_type == "update_display_data")
        bundle = _content_bytes(shown.pop(last).msg)
    live = sum(_content_bytes(m.msg) for m in shown)
    return {
        "answer_bytes": answer,
        "live_messages": len(shown),
        "live_bytes": live,
        "live_raw_ratio": round(live / answer, 2),
        "live_ratio": round((live - FRAMING_BYTES * len(shown)) / answer, 3),
        "bundle_bytes": bundle,
        "bundle_ratio": round(bundle / answer, 2),
        "max_messages_per_s": max_in_window([m.time for m in shown]),
        "seconds": round(run.seconds, 2),
    }


def _one_pace(pace: float, tokens: int, results: dict) -> None:
    """The three cells on one stream at `pace`, each in its own kernel, at the same time."""
    from claude_magic.emulator import Emulator

    cells = {"claude": claude_cell(), "print": print_cell(), "naive": naive_cell()}
    setup = {
        "claude": "%load_ext claude_magic",
        "print": PRINT_LOOP_SOURCE,
        "naive": NAIVE_MAGIC_SOURCE,
    }
    text = reply_text(tokens, variant=int(pace) % 10)
    with Emulator() as emulator:
        kernels: dict[str, BenchKernel] = {}
        try:
            for name in cells:
                kernels[name] = kernel = BenchKernel(emulator.url).start()
                kernel.run(setup[name])
                emulator.script({"content": [{"type": "text", "text": reply_text(50)}]})
                kernel.run(cells[name])  # warm up
            emulator.pace = pace
            for _ in cells:
                emulator.script({"content": [{"type": "text", "text": text}]})
            done: dict[str, CellRun] = {}

            def run(name: str) -> None:
                done[name] = kernels[name].run(cells[name], timeout=tokens / pace * 3 + 60)

            threads = [threading.Thread(target=run, args=(name,)) for name in cells]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            for kernel in kernels.values():
                kernel.stop()
    for name in cells:
        results[name][f"{pace:g}"] = {
            "tokens": tokens,
            **summary(done[name], text, name == "claude"),
        }


def measure(runs: tuple[tuple[float, int], ...] = DEFAULT_RUNS) -> dict:
    """Every pace at once (an emulator and three kernels each): the slowest sets the time."""
    results: dict[str, dict] = {"claude": {}, "print": {}, "naive": {}}
    threads = [
        threading.Thread(target=_one_pace, args=(pace, tokens, results)) for pace, tokens in runs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in results:
        results[name] = dict(sorted(results[name].items(), key=lambda item: float(item[0])))
    claude = results["claude"]
    if len(claude) != len(runs):
        raise RuntimeError("a pace did not finish; see the errors above")
    return {
        **results,
        "live_bytes_ratio_50tps": claude["50"]["live_ratio"] if "50" in claude else None,
        "live_bytes_ratio_max": max(r["live_ratio"] for r in claude.values()),
        "final_bundle_ratio_max": max(r["bundle_ratio"] for r in claude.values()),
        "max_messages_per_s": max(r["max_messages_per_s"] for r in claude.values()),
        "targets": {"live_ratio": TARGET_LIVE_RATIO, "bundle_ratio": TARGET_BUNDLE_RATIO},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paces", type=float, nargs="+", default=[p for p, _ in DEFAULT_RUNS])
    parser.add_argument("--tokens", type=int, nargs="+", default=[t for _, t in DEFAULT_RUNS])
    args = parser.parse_args()
    started = time.monotonic()
    result = measure(tuple(zip(args.paces, args.tokens, strict=True)))
    print(
        f"{'pace':>6} {'tokens':>6} {'answer B':>9} | {'claude live B':>13} {'msgs':>5} {'ratio':>6} "
        f"{'raw':>6} {'bundle':>6} {'max/s':>5} | {'print':>7} {'ratio':>6} | {'naive':>9} {'ratio':>7}"
    )
    for label, c in result["claude"].items():
        p, n = result["print"][label], result["naive"][label]
        print(
            f"{label:>6} {c['tokens']:>6} {c['answer_bytes']:>9,} | {c['live_bytes']:>13,} {c['live_messages']:>5} "
            f"{c['live_ratio']:>6} {c['live_raw_ratio']:>6} {c['bundle_ratio']:>6} {c['max_messages_per_s']:>5} | "
            f"{p['live_bytes']:>7,} {p['live_ratio']:>6} | {n['live_bytes']:>9,} {n['live_ratio']:>7}"
        )
    print(f"took {time.monotonic() - started:.0f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
