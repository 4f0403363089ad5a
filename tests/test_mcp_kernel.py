"""MCP servers in a real kernel against the emulator: `mcp-server-time` from PyPI driven by
a `%%claude --mcp time` cell, a server reused by later cells, a kernel interrupt during a
slow MCP tool, and servers ending with the kernel."""

from __future__ import annotations

import json
import time
from queue import Empty

import pytest
from kernel_helpers import run_in_kernel
from test_mcp import _alive, _results, _wait_gone


@pytest.fixture
def kernel_env(magic_env):
    """Kernels started by the test inherit the emulator endpoint and dummy keys."""
    return magic_env


def _printed(messages: list[dict]) -> str:
    return "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")


def test_time_server_from_pypi_in_a_kernel(kernel_env, new_kernel):
    with new_kernel() as kc:
        run_in_kernel(kc, "%load_ext claude_magic\n%config ClaudeMagic.max_attempts = 1")
        _, added = run_in_kernel(
            kc,
            "%claude mcp add time --auto-approve-read-only -- "
            "python -m mcp_server_time --local-timezone UTC",
        )
        assert "Added MCP server 'time'" in _printed(added)
        run_in_kernel(
            kc, "%%claude --mcp time\nWhat time is it in Europe/Paris? Use time__get_current_time."
        )
        requests = kernel_env.requests()
        assert {t["name"] for t in requests[0]["body"]["tools"]} == {
            "time__get_current_time",
            "time__convert_time",
        }
        final = requests[-1]["body"]
        uses = [
            b
            for m in final["messages"]
            if m["role"] == "assistant"
            for b in m["content"]
            if b.get("type") == "tool_use"
        ]
        assert [(u["name"], u["input"]) for u in uses] == [
            ("time__get_current_time", {"timezone": "Europe/Paris"})
        ]
        [result] = _results(final)
        text = json.dumps(result["content"])
        assert (
            not result.get("is_error")
            and '\\"timezone\\": \\"Europe/Paris\\"' in text
            and "datetime" in text
        )

        _, listed = run_in_kernel(kc, "%claude mcp")
        first_listing = _printed(listed)
        assert "time__get_current_time (read-only)" in first_listing and "mcp-time" in first_listing
        kernel_env.clear_requests()
        run_in_kernel(
            kc,
            "%%claude --mcp time\nConvert the time with time__convert_time: "
            "source_timezone: Europe/Paris, time: 14:30, target_timezone: Asia/Tokyo",
        )
        result = _results(kernel_env.requests()[-1]["body"])[-1]
        assert not result.get("is_error") and "Asia/Tokyo" in json.dumps(result["content"])
        _, listed = run_in_kernel(kc, "%claude mcp")
        assert _printed(listed) == first_listing  # the same server, started once


def test_interrupting_a_slow_mcp_tool_and_stopping_with_the_kernel(kernel_env, new_kernel):
    with new_kernel() as kc:
        run_in_kernel(
            kc,
            "%load_ext claude_magic\n%config ClaudeMagic.max_attempts = 1\n"
            "%claude mcp add demo --trusted -- python -m claude_magic.tools.mcp.demo_server",
        )
        run_in_kernel(kc, "%%claude --mcp demo\nUse demo__process_id")
        pid = int(_results(kernel_env.requests()[-1]["body"])[0]["content"][0]["text"])
        assert _alive(pid)
        msg_id = kc.execute("%%claude --mcp demo\nUse demo__slow with seconds: 60")
        deadline = time.monotonic() + 30
        started = False
        while not started and time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except Empty:
                continue
            started = msg["parent_header"].get("msg_id") == msg_id and "demo__slow" in json.dumps(
                msg["content"]
            )
        assert started, "the tool call never started"
        time.sleep(0.5)
        began = time.monotonic()
        kc.manager.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "Interrupted"
        assert time.monotonic() - began < 10
        run_in_kernel(kc, "%%claude --mcp demo --new\nUse demo__station_reading for Oslo")
        assert "Oslo: 3.5" in json.dumps(
            _results(kernel_env.requests()[-1]["body"])[-1], ensure_ascii=False
        )
        assert _alive(pid)  # the interrupted call was cancelled; the server lives on
    assert _wait_gone(pid)


def _click(kc, comm_id: str) -> None:
    """What the front end sends when a widget button is clicked."""
    kc.shell_channel.send(
        kc.session.msg(
            "comm_msg",
            {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}},
        )
    )


def _button(kc, msg_id: str, description: str, timeout: float = 30) -> str:
    """The comm id of the button, once the question holding it is shown (as a user sees it:
    the button is made, its click handler set, then the question displayed)."""
    deadline, found = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except Empty:
            continue
        state = (
            ((msg["content"].get("data") or {}).get("state") or {})
            if msg["msg_type"] == "comm_open"
            else {}
        )
        if state.get("_model_name") == "ButtonModel" and state.get("description") == description:
            found = msg["content"]["comm_id"]
        shown = msg["msg_type"] == "display_data" and "widget-view" in json.dumps(
            msg["content"].get("data")
        )
        if found and shown:
            return found
    raise AssertionError(f"no {description!r} button appeared")


def test_background_answers_use_mcp_tools_and_ask_with_buttons(kernel_env, new_kernel):
    with new_kernel() as kc:
        run_in_kernel(
            kc,
            "%load_ext claude_magic\n%config ClaudeMagic.max_attempts = 1\n"
            "%claude mcp add demo -- python -m claude_magic.tools.mcp.demo_server",
        )
        msg_id = kc.execute("%%claude -b --mcp demo\nUse demo__station_reading for Oslo")
        kc.get_shell_msg(
            timeout=30
        )  # the cell returned at once; the question comes from the worker
        _click(kc, _button(kc, msg_id, "Approve"))
        run_in_kernel(kc, "%claude wait")
        [result] = _results(kernel_env.requests()[-1]["body"])
        assert not result.get("is_error") and "Oslo: 3.5" in json.dumps(
            result["content"], ensure_ascii=False
        )

        msg_id = kc.execute("%%claude -b --mcp demo --new\nUse demo__station_reading for Bergen")
        kc.get_shell_msg(timeout=30)
        _click(kc, _button(kc, msg_id, "Reject"))
        run_in_kernel(kc, "%claude wait")
        [result] = _results(kernel_env.requests()[-1]["body"])
        assert result.get("is_error") and "declined" in json.dumps(result["content"])
