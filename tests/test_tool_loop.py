"""The tool loop end to end: a real boto3 client streaming from the emulator, real
Python functions as tools, and the request log as the witness."""

from __future__ import annotations

import base64
import io
import itertools
import os
import pty
import subprocess
import sys

import pytest
from helpers import HAIKU as MODEL
from loop_helpers import make_send as make_streamed_send

from claude_magic.core.messages import text_block
from claude_magic.tools import (
    DECLINED,
    INTERRUPTED,
    NO_ONE_TO_ASK,
    NOT_RUN_INTERRUPTED,
    STEP_LIMIT_REACHED,
    Approver,
    ToolLoopInterrupted,
    ToolSet,
    run_tool_loop,
    tool,
)

_ids = itertools.count(1)


def make_send(client, toolset: ToolSet, model: str = MODEL):
    """One streamed request per call, folded into a Message."""
    return make_streamed_send(client, toolset, model)


def call(name: str, **tool_input) -> dict:
    return {
        "type": "tool_use",
        "id": f"toolu_bdrk_{next(_ids):08d}",
        "name": name,
        "input": tool_input,
    }


def script_calls(emulator, *calls: dict, text: str = "Let me check.") -> list[str]:
    emulator.script({"content": [text_block(text), *calls], "stop_reason": "tool_use"})
    return [c["id"] for c in calls]


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": [text_block(text)]}]


def follow_up(history: list[dict], text: str) -> list[dict]:
    """The next user turn: appended to a trailing user message (tool results), as the
    conversation must do when a loop stopped early."""
    if history[-1]["role"] == "user":
        return [
            *history[:-1],
            {"role": "user", "content": [*history[-1]["content"], text_block(text)]},
        ]
    return [*history, {"role": "user", "content": [text_block(text)]}]


def results_in(request: dict) -> list[dict]:
    last = request["body"]["messages"][-1]
    assert last["role"] == "user"
    return [b for b in last["content"] if b["type"] == "tool_result"]


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def shout(text: str) -> str:
    """Upper-case some text."""
    return text.upper()


def test_results_answer_each_call_in_order_with_the_return_values(emulator, bedrock_client):
    toolset = ToolSet([add, shout])
    ids = script_calls(emulator, call("add", a=2, b=3), call("shout", text="hello"))
    emulator.script({"content": [text_block("2 + 3 = 5 and HELLO.")], "stop_reason": "end_turn"})
    calls, results = [], []
    result = run_tool_loop(
        make_send(bedrock_client, toolset),
        user("Add and shout."),
        toolset,
        Approver(),
        tool_choice={"type": "any"},
        on_call=calls.append,
        on_result=lambda use, res: results.append(res),
    )

    requests = emulator.requests()
    assert len(requests) == 2 and all(r["status"] == 200 for r in requests)
    assert requests[0]["body"]["tool_choice"] == {"type": "any"}
    assert "tool_choice" not in requests[1]["body"]  # only the first request is forced
    assert [t["name"] for t in requests[0]["body"]["tools"]] == ["add", "shout"]
    sent = results_in(requests[1])
    assert [r["tool_use_id"] for r in sent] == ids
    assert [r["content"] for r in sent] == ["5", "HELLO"]
    assert not any(r.get("is_error") for r in sent)
    assert [c["id"] for c in calls] == ids and results == sent

    assert result.steps == 1 and not result.stopped_at_max_steps and result.notice is None
    assert result.final.text == "2 + 3 = 5 and HELLO." and result.final.stop_reason == "end_turn"
    assert [m["role"] for m in result.messages] == ["assistant", "user", "assistant"]
    assert [m.role for m in result.as_messages()] == ["assistant", "user", "assistant"]
    assert result.usage.output_tokens > 0


def test_errors_inside_tools_come_back_as_is_error_with_the_tools_own_frames(
    emulator, bedrock_client
):
    def parse_date(text: str) -> str:
        """Parse a date."""
        return _check_format(text)

    def _check_format(text: str) -> str:
        raise ValueError(f"not a date: {text!r}")

    toolset = ToolSet([parse_date, add])
    ids = script_calls(
        emulator, call("parse_date", text="soon"), call("no_such_tool"), call("add", a="two", b=3)
    )
    emulator.script({"content": "Sorry."})
    run_tool_loop(make_send(bedrock_client, toolset), user("When?"), toolset, Approver())

    error, unknown, bad_input = results_in(emulator.requests()[1])
    assert [error["tool_use_id"], unknown["tool_use_id"], bad_input["tool_use_id"]] == ids
    assert error["is_error"] is True
    lines = error["content"].splitlines()
    assert lines[0] == "ValueError: not a date: 'soon'"
    assert lines[1].startswith("  parse_date (test_tool_loop.py), line ")
    assert lines[2].startswith("  _check_format (test_tool_loop.py), line ")
    assert lines[2].endswith('raise ValueError(f"not a date: {text!r}")')
    assert len(lines) == 3  # only the tool's own frames, no header
    assert unknown["is_error"] is True
    assert unknown["content"] == "Unknown tool 'no_such_tool'. Available tools: parse_date, add."
    assert bad_input["is_error"] is True
    assert bad_input["content"] == (
        "Invalid input for add (not run):\na: Input should be a valid integer, "
        'unable to parse string as an integer (got "two")'
    )


def test_stops_at_max_steps_and_leaves_a_valid_history(emulator, bedrock_client):
    ran = []

    def step(n: int) -> str:
        """One more step."""
        ran.append(n)
        return f"step {n} done"

    toolset = ToolSet([step])
    for n in range(10):  # the model would go on asking forever
        script_calls(emulator, call("step", n=n))
    history = user("Keep stepping.")
    result = run_tool_loop(
        make_send(bedrock_client, toolset), history, toolset, Approver(), max_steps=3
    )

    assert ran == [0, 1, 2]
    assert len(emulator.requests()) == 4
    assert result.steps == 3 and result.stopped_at_max_steps
    assert result.notice == "Stopped after 3 tool steps (--max-steps)."
    assert result.ends_with_user
    last = result.messages[-1]["content"]
    assert [b["content"] for b in last] == [STEP_LIMIT_REACHED] and last[0]["is_error"]
    assert last[0]["tool_use_id"] == result.final.tool_uses[0]["id"]

    emulator.clear_scripts()
    emulator.clear_requests()
    reply = make_send(bedrock_client, ToolSet([step]))(
        follow_up(history + result.messages, "Stop now."), None
    )
    assert emulator.requests()[0]["status"] == 200
    assert reply.stop_reason == "end_turn"


def test_max_steps_zero_runs_nothing(emulator, bedrock_client):
    ran = []
    toolset = ToolSet([lambda_free_tool(ran)])
    script_calls(emulator, call("record", value="x"))
    result = run_tool_loop(
        make_send(bedrock_client, toolset), user("Go"), toolset, Approver(), max_steps=0
    )
    assert ran == [] and result.stopped_at_max_steps and result.steps == 0
    assert result.notice == "Stopped after 0 tool steps (--max-steps)."


def lambda_free_tool(ran: list):
    def record(value: str) -> str:
        """Record a value."""
        ran.append(value)
        return "recorded"

    return record


@tool(confirm=True)
def delete_file(path: str) -> str:
    """Delete a file (asks first)."""
    DELETED.append(path)
    return f"deleted {path}"


DELETED: list[str] = []


@pytest.fixture
def deleted():
    DELETED.clear()
    yield DELETED
    DELETED.clear()


def run_delete(emulator, client, approver: Approver) -> dict:
    toolset = ToolSet([delete_file])
    script_calls(emulator, call("delete_file", path="notes.txt"))
    emulator.script({"content": "Done."})
    run_tool_loop(make_send(client, toolset), user("Delete notes.txt"), toolset, approver)
    (result,) = results_in(emulator.requests()[1])
    return result


def test_confirm_tool_is_refused_when_no_one_can_answer(emulator, bedrock_client, deleted):
    asked = []
    approver = Approver(stdin_available=lambda: False, ask=asked.append)
    result = run_delete(emulator, bedrock_client, approver)
    assert deleted == [] and asked == []
    assert result["is_error"] is True and result["content"] == NO_ONE_TO_ASK


def test_auto_approve_runs_without_asking(emulator, bedrock_client, deleted):
    asked = []
    approver = Approver(auto_approve=True, stdin_available=lambda: False, ask=asked.append)
    result = run_delete(emulator, bedrock_client, approver)
    assert deleted == ["notes.txt"] and asked == []
    assert result["content"] == "deleted notes.txt" and "is_error" not in result


@pytest.mark.parametrize(
    ("answer", "runs"), [("y", True), ("YES ", True), ("n", False), ("", False)]
)
def test_confirm_asks_and_obeys_the_answer(emulator, bedrock_client, deleted, answer, runs):
    prompts = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return answer

    result = run_delete(emulator, bedrock_client, Approver(stdin_available=lambda: True, ask=ask))
    assert prompts == ['Run tool delete_file with {"path": "notes.txt"}? [y/N] ']
    if runs:
        assert deleted == ["notes.txt"] and result["content"] == "deleted notes.txt"
    else:
        assert deleted == [] and result["content"] == DECLINED and result["is_error"] is True


def test_tools_without_confirm_never_ask(emulator, bedrock_client):
    toolset = ToolSet([add])
    script_calls(emulator, call("add", a=1, b=1))
    emulator.script({"content": "2"})
    approver = Approver(
        stdin_available=lambda: pytest.fail("asked"), ask=lambda p: pytest.fail("asked")
    )
    run_tool_loop(make_send(bedrock_client, toolset), user("1+1"), toolset, approver)
    assert results_in(emulator.requests()[1])[0]["content"] == "2"


def test_interrupt_inside_a_tool_answers_every_call_and_reraises(emulator, bedrock_client):
    ran = []

    def slow(n: int) -> str:
        """A slow computation."""
        ran.append(n)
        if n == 2:
            raise KeyboardInterrupt
        return f"slow {n}"

    toolset = ToolSet([slow])
    ids = script_calls(emulator, call("slow", n=1), call("slow", n=2), call("slow", n=3))
    history = user("Compute.")
    with pytest.raises(KeyboardInterrupt) as caught:
        run_tool_loop(make_send(bedrock_client, toolset), history, toolset, Approver())
    assert isinstance(caught.value, ToolLoopInterrupted)
    result = caught.value.result
    assert ran == [1, 2]
    answers = result.messages[-1]["content"]
    assert [a["tool_use_id"] for a in answers] == ids
    assert [a["content"] for a in answers] == ["slow 1", INTERRUPTED, NOT_RUN_INTERRUPTED]
    assert [bool(a.get("is_error")) for a in answers] == [False, True, True]

    emulator.clear_requests()
    reply = make_send(bedrock_client, toolset)(
        follow_up(history + result.messages, "Never mind."), None
    )
    assert emulator.requests()[0]["status"] == 200 and reply.stop_reason == "end_turn"


def test_interrupt_while_sending_keeps_the_answered_steps(emulator, bedrock_client):
    toolset = ToolSet([add])
    ids = script_calls(emulator, call("add", a=1, b=2))
    real_send = make_send(bedrock_client, toolset)
    sent = []

    def send(messages, tool_choice):
        sent.append(messages)
        if len(sent) == 2:
            raise KeyboardInterrupt  # the user stops the second request mid-stream
        return real_send(messages, tool_choice)

    history = user("Add.")
    with pytest.raises(ToolLoopInterrupted) as caught:
        run_tool_loop(send, history, toolset, Approver())
    result = caught.value.result
    assert [m["role"] for m in result.messages] == ["assistant", "user"]
    assert result.messages[-1]["content"][0]["tool_use_id"] == ids[0]
    assert result.messages[-1]["content"][0]["content"] == "3"

    emulator.clear_requests()
    real_send(follow_up(history + result.messages, "Go on."), None)
    assert emulator.requests()[0]["status"] == 200


def test_offline_responder_calls_the_tool_the_prompt_names(emulator, bedrock_client):
    seen = []

    def get_weather(city: str, days: int = 1) -> str:
        """Weather forecast for a city."""
        seen.append((city, days))
        return f"Sunny in {city} for {days} day(s)."

    toolset = ToolSet([get_weather])
    result = run_tool_loop(
        make_send(bedrock_client, toolset),
        user("Use get_weather with city: Paris and days: 2."),
        toolset,
        Approver(),
    )
    assert seen == [("Paris", 2)]
    assert result.steps == 1 and result.final.stop_reason == "end_turn"
    assert results_in(emulator.requests()[1])[0]["content"] == "Sunny in Paris for 2 day(s)."


def test_image_and_large_results(emulator, bedrock_client):
    from PIL import Image

    def chart() -> object:
        """Draw a chart."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(figsize=(2, 2))
        axes.plot([1, 3, 2])
        plt.close(figure)
        return figure

    def photo() -> object:
        """A photo."""
        return Image.new("RGB", (40, 30), "red")

    def dump() -> str:
        """A lot of text."""
        return "x" * 100_000

    toolset = ToolSet([chart, photo, dump])
    script_calls(emulator, call("chart"), call("photo"), call("dump"))
    emulator.script({"content": "Seen."})
    run_tool_loop(make_send(bedrock_client, toolset), user("Show me."), toolset, Approver())
    chart_result, photo_result, dump_result = results_in(emulator.requests()[1])
    for result, size in ((chart_result, None), (photo_result, (40, 30))):
        (block,) = result["content"]
        assert block["type"] == "image" and block["source"]["media_type"] == "image/png"
        image = Image.open(io.BytesIO(base64.b64decode(block["source"]["data"])))
        assert image.format == "PNG" and (size is None or image.size == size)
    assert len(dump_result["content"]) < 21_000
    assert "[output truncated: 100,000 characters" in dump_result["content"]


# --------------------------------------------------------------------------- stdin_available


def test_stdin_available_in_plain_python():
    code = "import sys; from claude_magic.tools import stdin_available; print(stdin_available())"
    no_stdin = subprocess.run(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    assert no_stdin.stdout.strip() == "False"
    none = subprocess.run(
        [sys.executable, "-c", "import sys; sys.stdin = None; " + code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert none.stdout.strip() == "False"
    parent, child = pty.openpty()
    try:
        with_tty = subprocess.run(
            [sys.executable, "-c", code], stdin=child, capture_output=True, text=True, check=True
        )
    finally:
        os.close(parent)
        os.close(child)
    assert with_tty.stdout.strip() == "True"


def test_stdin_is_not_available_in_a_kernel_run_by_nbclient(run_notebook):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "from claude_magic.tools import stdin_available\nprint(stdin_available(get_ipython()))"
        )
    )
    run_notebook(notebook, timeout=60)
    assert notebook.cells[0].outputs[0]["text"].strip() == "False"


def _run_in_kernel(
    client, code: str, allow_stdin: bool, answer: str | None = None
) -> tuple[str, list[str]]:
    """Run `code` in a real kernel; answer input() prompts with `answer`; return
    (printed text, prompts seen)."""
    msg_id = client.execute(code, allow_stdin=allow_stdin)
    prompts: list[str] = []
    if answer is not None:
        request = client.get_stdin_msg(timeout=30)
        prompts.append(request["content"]["prompt"])
        client.input(answer)
    printed = []
    while True:
        msg = client.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            raise AssertionError("\n".join(msg["content"]["traceback"]))
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(printed).strip(), prompts


def test_approver_asks_through_the_kernel_when_the_frontend_allows_stdin(new_kernel):
    with new_kernel() as client:
        setup = (
            "from claude_magic.tools import Approver, stdin_available\n"
            "approver = Approver(stdin_available=lambda: stdin_available(get_ipython()))\n"
            "print(type(get_ipython().kernel).__name__)"
        )
        assert _run_in_kernel(client, setup, allow_stdin=False)[0] == "IPythonKernel"
        check = "print(stdin_available(get_ipython()))"
        assert _run_in_kernel(client, check, allow_stdin=False)[0] == "False"
        assert _run_in_kernel(client, check, allow_stdin=True)[0] == "True"

        ask = 'print(approver.refusal("delete_file", {"path": "x"}))'
        assert _run_in_kernel(client, ask, allow_stdin=False)[0] == NO_ONE_TO_ASK
        printed, prompts = _run_in_kernel(client, ask, allow_stdin=True, answer="y")
        assert (printed, prompts) == ("None", ['Run tool delete_file with {"path": "x"}? [y/N] '])
        assert _run_in_kernel(client, ask, allow_stdin=True, answer="no")[0] == DECLINED
