"""One MCP tool call through claude-magic against the SDK's own client, over stdio.

The demo server (`claude_magic.tools.mcp.demo_server`, built on the SDK's `MCPServer`)
runs twice at once: behind the SDK's `Client` on an event loop of its own, each call timed
inside that loop (the floor), and behind claude-magic's hub, each call timed as the tool
loop makes it (`run_tool` on the main thread: the hop to the hub's event loop, the call,
the result turned into tool_result content). The calls alternate, so both meet the same
machine load.
Calls are 10 ms apart, as in a tool loop, where a model request separates two calls.
Reported:

- `per_call_ms`: the median time of one `station_reading` call each way, and their
  ratio (target <= 1.2);
- `start_ms`: the median time from nothing to the tools listed, each way (process start,
  handshake, tools/list), and their ratio.

    python bench/mcp_call.py [--calls 300] [--starts 5]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import statistics
import sys
import threading
import time
from typing import Any

from claude_magic.tools.approval import Approver
from claude_magic.tools.mcp import McpHub
from claude_magic.tools.results import run_tool
from claude_magic.tools.toolset import ToolSet

TARGET_RATIO = 1.2
ARGS = ["-m", "claude_magic.tools.mcp.demo_server"]
TOOL, INPUT = "station_reading", {"city": "Paris"}
PAUSE = 0.01  # seconds between calls


class DirectClient:
    """The SDK's own client on an event loop of its own; each call is timed inside that
    loop, so the time is the SDK's alone."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client: Any = None
        self.done: asyncio.Event | None = None
        self.task: Any = None

    def start(self) -> float:
        """Start the server and list its tools: the seconds it took."""
        ready: concurrent.futures.Future[float] = concurrent.futures.Future()

        async def hold() -> None:
            from mcp import Client, StdioServerParameters

            began = time.perf_counter()
            self.done = asyncio.Event()
            async with Client(StdioServerParameters(command=sys.executable, args=ARGS)) as client:
                await client.list_tools()
                self.client = client
                ready.set_result(time.perf_counter() - began)
                await self.done.wait()

        self.task = asyncio.run_coroutine_threadsafe(hold(), self.loop)
        return ready.result(60)

    def call(self) -> float:
        async def timed() -> float:
            t = time.perf_counter()
            result = await self.client.call_tool(TOOL, INPUT)
            assert not result.is_error
            return time.perf_counter() - t

        return asyncio.run_coroutine_threadsafe(timed(), self.loop).result(30)

    def close(self) -> None:
        assert self.done is not None
        self.loop.call_soon_threadsafe(self.done.set)
        self.task.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _ours() -> tuple[McpHub, ToolSet, float]:
    hub = McpHub()
    hub.add("demo", {"command": sys.executable, "args": ARGS, "trusted": True})
    began = time.perf_counter()
    toolset = ToolSet(hub.tools("demo"))
    return hub, toolset, time.perf_counter() - began


def measure(calls: int = 300, starts: int = 5) -> dict:
    """Both servers run at once and the calls alternate, so both meet the same load."""
    sdk_starts, our_starts, sdk_calls, our_calls = [], [], [], []
    approver = Approver(auto_approve=True)
    use = {"type": "tool_use", "id": "toolu_bench", "name": f"demo__{TOOL}", "input": INPUT}
    for i in range(starts):
        direct = DirectClient()
        sdk_starts.append(direct.start())
        hub, toolset, our_start = _ours()
        our_starts.append(our_start)
        try:
            for _ in range(20):  # warm up
                direct.call()
                run_tool(use, toolset, approver)
            for _ in range(calls if i == 0 else calls // 5):
                time.sleep(PAUSE)
                sdk_calls.append(direct.call())
                time.sleep(PAUSE)
                t = time.perf_counter()
                answer = run_tool(use, toolset, approver)
                our_calls.append(time.perf_counter() - t)
                assert not answer.get("is_error"), answer
        finally:
            hub.close()
            direct.close()
    sdk_ms = statistics.median(sdk_calls) * 1000
    our_ms = statistics.median(our_calls) * 1000
    sdk_start_ms = statistics.median(sdk_starts) * 1000
    our_start_ms = statistics.median(our_starts) * 1000
    ratio = our_ms / sdk_ms
    return {
        "calls": len(our_calls),
        "per_call_ms": {"sdk": round(sdk_ms, 3), "claude_magic": round(our_ms, 3)},
        "overhead_ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio <= TARGET_RATIO,
        "start_ms": {"sdk": round(sdk_start_ms, 1), "claude_magic": round(our_start_ms, 1)},
        "start_ratio": round(our_start_ms / sdk_start_ms, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(measure(args.calls, args.starts), indent=1))


if __name__ == "__main__":
    main()
