"""Responsiveness at a realistic pace: how soon each token is on its way to the
browser, and how many display messages per second the cell sends.

The emulator streams a reply of unique one-delta markers (`q000 q001 ...`) at 50
tokens/s and logs when it wrote each frame (`time.monotonic()`, shared by every
process on the machine). For each marker:

- client side: first IOPub message (display_data, update_display_data, comm_msg...)
  received by this process whose content holds it, minus the frame's send time;
- kernel side: when the kernel serialized that message (a hook on the kernel's
  session logs it), minus the frame's send time.

Targets: p95 <= 100 ms; display messages <= 15 in any 1-second window.

    python bench/responsiveness.py [--pace 50] [--tokens 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from kernel_harness import UPDATE_TYPES, BenchKernel, run_kernel_side_send_log
from workload import claude_cell, marker_reply

TARGET_P95_MS = 100.0
TARGET_UPDATES_PER_S = 15


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Most events in any half-open window of `window` seconds."""
    ordered, best, start = sorted(times), 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _marker_send_times(sent_frames: list[tuple[float, int, bytes]]) -> dict[str, float]:
    times = {}
    for when, _, event in sent_frames:
        payload = json.loads(event)
        if payload.get("type") == "content_block_delta":
            word = payload["delta"].get("text", "").strip().lstrip("-").strip()
            if len(word) == 4 and word[0] == "q":
                times[word] = when
    return times


def _first_seen(stamped: list[tuple[float, str]], markers: dict[str, float]) -> dict[str, float]:
    seen: dict[str, float] = {}
    for when, content in sorted(stamped):
        for word in markers:
            if word not in seen and word in content:
                seen[word] = when
    return seen


def measure(pace: float = 50.0, tokens: int = 300) -> dict:
    from claude_magic.emulator import Emulator

    text = marker_reply(tokens)
    with Emulator() as emulator, BenchKernel(emulator.url) as kernel:
        kernel.run("%load_ext claude_magic")
        emulator.script({"content": [{"type": "text", "text": "warm up"}]})
        kernel.run(claude_cell())
        kernel.run(run_kernel_side_send_log() + "\n_bench_keep_content = True")
        emulator.pace = pace
        emulator._state.sent_frames = sent = []
        emulator.script({"content": [{"type": "text", "text": text}]})
        run = kernel.run(claude_cell(), timeout=120)
        emulator._state.sent_frames = None
        emulator.pace = None
        msg_id = run.messages[0].msg["parent_header"]["msg_id"]
        kernel_log = kernel.value(
            f"[(t, k, c.decode('utf-8', 'replace'), i) for t, k, p, n, c, i in _bench_sent if p == {msg_id!r}]"
        )
    markers = _marker_send_times(sent)
    if len(markers) != tokens:
        raise RuntimeError(f"{len(markers)} markers were streamed, not {tokens}")
    client_seen = _first_seen(run.text_of(), markers)
    kernel_seen = _first_seen([(t, c) for t, k, c, _ in kernel_log if k in UPDATE_TYPES], markers)
    client_ms = [(client_seen[w] - markers[w]) * 1000 for w in markers if w in client_seen]
    kernel_ms = [(kernel_seen[w] - markers[w]) * 1000 for w in markers if w in kernel_seen]
    first_token = min(markers.values())
    last_token = max(markers.values())
    # While streaming: what the kernel sent before the emulator wrote the last frame
    # (the rest is the finish: last blocks, the static bundle, closing the widgets).
    stream_end = max(when for when, _, _ in sent)
    kernel_streaming = [t for t, k, c, _ in kernel_log if k in UPDATE_TYPES and t <= stream_end]
    streaming_ids = {i for t, k, c, i in kernel_log if t <= stream_end}
    streaming = [
        m.time
        for m in run.messages
        if m.msg_type in UPDATE_TYPES and m.msg["header"]["msg_id"] in streaming_ids
    ]
    all_updates = [m.time for m in run.messages if m.msg_type in UPDATE_TYPES]
    return {
        "pace_tokens_per_s": pace,
        "tokens": tokens,
        "markers_shown": len(client_ms),
        "client_latency_ms": {
            "p50": round(statistics.median(client_ms), 1),
            "p95": round(percentile(client_ms, 95), 1),
            "max": round(max(client_ms), 1),
        },
        "kernel_latency_ms": {
            "p50": round(statistics.median(kernel_ms), 1),
            "p95": round(percentile(kernel_ms, 95), 1),
            "max": round(max(kernel_ms), 1),
        },
        "p95_display_latency_ms": round(percentile(client_ms, 95), 1),
        "max_updates_per_s": max_in_window(streaming),
        "max_updates_per_s_kernel_side": max_in_window(kernel_streaming),
        "max_updates_per_s_whole_cell": max_in_window(all_updates),
        "finish_messages": len(all_updates) - len(streaming),
        "update_messages": len(all_updates),
        "by_type": run.by_type(),
        "stream_seconds": round(last_token - first_token, 2),
        "cell_seconds": round(run.seconds, 2),
        "timeline": {  # for the plot: when each marker was sent and first shown (relative seconds)
            "sent": [round(markers[w] - first_token, 4) for w in sorted(markers)],
            "shown": [
                round(client_seen[w] - first_token, 4) if w in client_seen else None
                for w in sorted(markers)
            ],
        },
        "targets": {"p95_ms": TARGET_P95_MS, "updates_per_s": TARGET_UPDATES_PER_S},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pace", type=float, default=50.0)
    parser.add_argument("--tokens", type=int, default=300)
    args = parser.parse_args()
    started = time.monotonic()
    result = measure(args.pace, args.tokens)
    print(
        f"{result['tokens']} tokens at {result['pace_tokens_per_s']:g}/s: latency to the first IOPub message "
        f"showing each token, client side {result['client_latency_ms']}, kernel side {result['kernel_latency_ms']}"
    )
    print(
        f"display messages: at most {result['max_updates_per_s']} in any second while streaming "
        f"(kernel side {result['max_updates_per_s_kernel_side']}; {result['max_updates_per_s_whole_cell']} "
        f"with the {result['finish_messages']} messages of the finish); {result['by_type']}"
    )
    print(f"took {time.monotonic() - started:.0f} s")
    result.pop("timeline")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
