"""IOPub traffic of a live view (DeltaView, or WidgetView with --view widgets) per
byte of reply, for growing replies.

Starts a real kernel, streams synthetic replies (one token per event, an artificial
clock at ~67 tokens/s, so the view's ~15 renders/s throttle applies) and prints the
IOPub bytes the execution produced, by message type. Usage:

    .venv/bin/python bench/view_traffic.py [--view deltas|widgets] [tokens ...]
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_view import FEED_SOURCE, REPLY_SOURCE, STEP, message_bytes, run_cell, synthetic_reply  # noqa: E402


def main(sizes: list[int], view: str = "deltas") -> None:
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        run_cell(client, REPLY_SOURCE + FEED_SOURCE + f"\nVIEW = {view!r}")
        print(
            f"{'tokens':>7} {'reply B':>9} {'IOPub B':>10} {'ratio':>6} {'msgs':>6}  by type (bytes)"
        )
        for tokens in sizes:
            reply = synthetic_reply(tokens).encode()
            messages = run_cell(client, f"feed(synthetic_reply({tokens}), {STEP})")
            by_type: collections.Counter[str] = collections.Counter()
            for m in messages:
                by_type[m["msg_type"]] += message_bytes(m)
            total = sum(by_type.values())
            detail = ", ".join(f"{k} {v:,}" for k, v in by_type.most_common())
            print(
                f"{tokens:>7} {len(reply):>9,} {total:>10,} {total / len(reply):>6.1f} {len(messages):>6}  {detail}"
            )
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    chosen = "deltas"
    if args[:1] == ["--view"]:
        chosen, args = args[1], args[2:]
    main([int(a) for a in args] or [1000, 5000, 20000], chosen)
