"""Traffic to the browser: IOPub bytes a cell sends per byte of reply text.

For replies of 1k, 5k and 20k tokens at unlimited pace, and 1k tokens at a realistic
pace (100 tokens/s), two real kernels run the same streams:

- `%%claude` (claude-magic's live view, then its static bundle);
- a naive magic that re-displays the whole Markdown on every delta
  (`display(Markdown(text), display_id=...)` then `handle.update(...)`).

Every IOPub message with the cell as parent counts, as received off the wire:
serialized header + parent_header + metadata + content (+ buffers). The ratio is
that total over the UTF-8 size of the reply text (target <= 3 at 20k, growing no
faster than linearly). `by_type` profiles where the bytes go.

    python bench/iopub_traffic.py [--sizes 1000 5000 20000] [--pace 100] [--paced-tokens 1000]
"""

from __future__ import annotations

import argparse
import json
import time

from kernel_harness import BenchKernel, CellRun
from workload import NAIVE_MAGIC_SOURCE, claude_cell, naive_cell, reply_text

TARGET_RATIO_20K = 3.0


def _summary(run: CellRun, text: str) -> dict:
    size = len(text.encode())
    bundle = {}
    finals = [m.msg["content"]["data"] for m in run.messages if m.msg_type == "update_display_data"]
    if finals and "text/html" in finals[-1]:
        bundle = {
            mime: len(json.dumps(value, ensure_ascii=False).encode())
            for mime, value in finals[-1].items()
        }
    return {
        "reply_bytes": size,
        "iopub_bytes": run.iopub_bytes,
        "ratio": round(run.iopub_bytes / size, 2),
        "messages": len(run.messages),
        "seconds": round(run.seconds, 3),
        "by_type": run.by_type(),
        "final_bundle_bytes": bundle,
    }


def measure(
    sizes: tuple[int, ...] = (1000, 5000, 20_000), pace: float = 100.0, paced_tokens: int = 1000
) -> dict:
    from claude_magic.emulator import Emulator

    results: dict[str, dict] = {"claude": {}, "naive": {}}
    with Emulator() as emulator:
        kernels = {
            "claude": BenchKernel(emulator.url).start(),
            "naive": BenchKernel(emulator.url).start(),
        }
        try:
            kernels["claude"].run("%load_ext claude_magic")
            kernels["naive"].run(NAIVE_MAGIC_SOURCE)
            cells = {"claude": claude_cell(), "naive": naive_cell()}
            for name, kernel in kernels.items():  # warm up
                emulator.script({"content": [{"type": "text", "text": reply_text(200)}]})
                kernel.run(cells[name])
            runs = [(f"{n}", n, None) for n in sizes] + [
                (f"{paced_tokens}@{pace:g}/s", paced_tokens, pace)
            ]
            for label, tokens, run_pace in runs:
                text = reply_text(tokens)
                emulator.pace = run_pace
                for name, kernel in kernels.items():
                    emulator.script({"content": [{"type": "text", "text": text}]})
                    run = kernel.run(cells[name], timeout=600)
                    results[name][label] = _summary(run, text)
                    if (
                        name == "naive"
                    ):  # one update per delta: the count proves nothing was dropped
                        from claude_magic.core.messages import split_tokens

                        updates = sum(
                            1 for m in run.messages if m.msg_type == "update_display_data"
                        )
                        results[name][label]["updates_expected"] = len(split_tokens(text))
                        results[name][label]["updates_received"] = updates
            emulator.pace = None
        finally:
            for kernel in kernels.values():
                kernel.stop()
    largest = str(max(sizes))
    growth = {
        f"{a}->{b}": round(
            results["claude"][str(b)]["iopub_bytes"]
            / results["claude"][str(a)]["iopub_bytes"]
            / (b / a),
            3,
        )
        for a, b in zip(sizes, sizes[1:], strict=False)
    }
    return {
        "claude": results["claude"],
        "naive": results["naive"],
        "iopub_bytes_ratio_20k": results["claude"][largest]["ratio"],
        "naive_iopub_bytes_ratio_20k": results["naive"][largest]["ratio"],
        "growth_vs_linear": growth,  # bytes growth over size growth: <= 1 means no faster than linear
        "paced_label": f"{paced_tokens}@{pace:g}/s",
        "target_ratio_20k": TARGET_RATIO_20K,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20_000])
    parser.add_argument("--pace", type=float, default=100.0)
    parser.add_argument("--paced-tokens", type=int, default=1000)
    args = parser.parse_args()
    started = time.monotonic()
    result = measure(tuple(args.sizes), args.pace, args.paced_tokens)
    print(
        f"{'reply':>12} {'text B':>8} | {'claude B':>10} {'ratio':>6} {'msgs':>5} | {'naive B':>12} {'ratio':>8} {'msgs':>6}"
    )
    for label, claude in result["claude"].items():
        naive = result["naive"][label]
        print(
            f"{label:>12} {claude['reply_bytes']:>8,} | {claude['iopub_bytes']:>10,} {claude['ratio']:>6} "
            f"{claude['messages']:>5} | {naive['iopub_bytes']:>12,} {naive['ratio']:>8} {naive['messages']:>6}"
        )
    largest = str(max(args.sizes))
    print(f"claude-magic at {largest} tokens, by type:")
    for kind, row in result["claude"][largest]["by_type"].items():
        print(f"  {kind:32} {row['messages']:>5} msgs {row['bytes']:>10,} B")
    print(
        f"final bundle: {result['claude'][largest]['final_bundle_bytes']}; took {time.monotonic() - started:.0f} s"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
