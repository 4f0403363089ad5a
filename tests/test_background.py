"""`%%claude --background` in a real kernel (jupyter_client) against the paced emulator:
the cell returns while the answer streams into it, other cells run meanwhile, order
per chat, stop, wait, failures and unload."""

from __future__ import annotations

import json
import time
from queue import Empty

import pytest
from helpers import HAIKU
from kernel_helpers import python_notebook

from claude_magic.emulator import Emulator

LONG = "word " * 400


class Iopub:
    """Every IOPub message of the kernel, stamped with when it arrived."""

    def __init__(self, kc) -> None:
        self.kc = kc
        self.messages: list[tuple[float, dict]] = []

    def pump(self, until=None, timeout: float = 60.0) -> bool:
        """Read messages until `until(msg)` is true for one (or the timeout; without
        `until`, read for `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.1)
            except Empty:
                continue
            self.messages.append((time.monotonic(), msg))
            if until is not None and until(msg):
                return True
        return until is None

    def of(self, msg_id: str) -> list[dict]:
        return [m for _, m in self.messages if m["parent_header"].get("msg_id") == msg_id]

    def execute(self, code: str) -> tuple[str, dict, float]:
        """Run a cell to its execute_reply and idle; (msg_id, reply content, reply time)."""
        msg_id = self.kc.execute(code)
        reply = self.kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=60)
        replied = time.monotonic()
        assert self.pump(lambda m: _idle(m, msg_id)), "the cell did not end"
        return msg_id, reply["content"], replied

    def run(self, code: str) -> str:
        """Run a cell that must succeed; return its stdout."""
        msg_id, reply, _ = self.execute(code)
        errors = [m["content"] for m in self.of(msg_id) if m["msg_type"] == "error"]
        assert reply["status"] == "ok", errors
        return stdout(self.of(msg_id))

    def final(self, msg_id: str, timeout: float = 60.0) -> dict:
        """Wait for the static bundle that replaces the live view of cell `msg_id`."""
        found: list[dict] = []

        def is_final(msg: dict) -> bool:
            if _is_final(msg, msg_id):
                found.append(msg)
            return bool(found)

        for _, msg in self.messages:
            if _is_final(msg, msg_id):
                return msg
        assert self.pump(is_final, timeout), "the background answer did not end"
        return found[0]


def _idle(msg: dict, msg_id: str) -> bool:
    return (
        msg["parent_header"].get("msg_id") == msg_id
        and msg["msg_type"] == "status"
        and msg["content"]["execution_state"] == "idle"
    )


def _is_final(msg: dict, msg_id: str) -> bool:
    return (
        msg["msg_type"] == "update_display_data"
        and msg["parent_header"].get("msg_id") == msg_id
        and "text/markdown" in msg["content"]["data"]
    )


def stdout(messages: list[dict]) -> str:
    return "".join(
        m["content"].get("text", "")
        for m in messages
        if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
    )


def live_display_id(messages: list[dict]) -> str:
    shown = [
        m
        for m in messages
        if m["msg_type"] == "display_data"
        and "application/vnd.jupyter.widget-view+json" in m["content"]["data"]
    ]
    assert shown, "no live view was displayed in the cell"
    return shown[0]["content"]["transient"]["display_id"]


def has_text(messages: list[dict], text: str) -> bool:
    return any(text in json.dumps(m["content"]) for m in messages)


@pytest.fixture(scope="module")
def kernel(new_kernel):
    """One kernel for the module, pointed at a paced emulator of its own."""
    with Emulator(pace=None) as emu, pytest.MonkeyPatch.context() as mp:
        for name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "CLAUDE_MAGIC_OFFLINE",
        ):
            mp.delenv(name, raising=False)
        mp.setenv("CLAUDE_MAGIC_ENDPOINT_URL", emu.url)
        mp.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_CONFIG_FILE", "/dev/null")
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        with new_kernel() as kc:
            io = Iopub(kc)
            io.run(
                f"%load_ext claude_magic\n%config ClaudeMagic.model = '{HAIKU}'\n"
                "%config ClaudeMagic.max_attempts = 1"
            )
            io.emulator = emu
            yield io


@pytest.fixture
def io(kernel):
    """The module's kernel with no answers running, empty chats and a fresh emulator."""
    kernel.run("%claude stop --all\n%claude reset --all")
    kernel.emulator.reset()
    kernel.emulator.pace = 40
    kernel.messages.clear()
    yield kernel
    kernel.emulator.pace = None
    kernel.run("%claude stop --all")


def test_cell_returns_while_the_answer_streams_into_it(io):
    emu = io.emulator
    emu._state.sent_frames = []
    emu.script(
        {
            "content": [{"type": "text", "text": "First answer: " + "word " * 120}],
            "stop_reason": "end_turn",
        }
    )
    bg, reply, replied = io.execute("%%claude -b\nTell me a long story")
    assert reply["status"] == "ok"
    assert not any(_is_final(m, bg) for _, m in io.messages)
    display_id = live_display_id(io.of(bg))

    # an ordinary cell runs, prints and returns while the answer keeps streaming
    code, code_reply, _ = io.execute("print('hello from a cell'); 1 + 1")
    assert code_reply["status"] == "ok"
    code_messages = io.of(code)
    assert stdout(code_messages) == "hello from a cell\n"
    assert [
        m["content"]["data"]["text/plain"]
        for m in code_messages
        if m["msg_type"] == "execute_result"
    ] == ["2"]
    assert not any(_is_final(m, bg) for _, m in io.messages), (
        "the answer ended before the code cell ran"
    )

    final = io.final(bg)
    assert final["content"]["transient"]["display_id"] == display_id
    assert final["content"]["data"]["text/markdown"].startswith("First answer: word word")
    assert replied < emu._state.sent_frames[-1][0], "the cell returned only after the stream ended"
    # nothing of the answer went to the code cell
    assert not has_text(io.of(code), "word word")
    assert has_text(io.of(bg), "word word")

    # the next cell on the chat (foreground) sends the answer in its history
    emu.pace = None
    io.run("%%claude\nAnd then?")
    body = emu.requests()[-1]["body"]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"][0]["text"].startswith("First answer: word")


def test_a_thread_started_by_another_cell_prints_into_that_cell(io):
    emu = io.emulator
    emu.pace = 80
    emu.script(
        {
            "content": [{"type": "text", "text": "\n\n".join(f"para{i} word" for i in range(100))}],
            "stop_reason": "end_turn",
        }
    )
    bg, _, _ = io.execute("%%claude -b\nMany short paragraphs")
    # the answer starts showing blocks while this cell sleeps; then a thread of this cell prints
    code = io.execute(
        "import threading, time\ntime.sleep(1.5)\n"
        "def _ticks():\n    for j in range(15):\n        print('thread', j, flush=True); time.sleep(0.05)\n"
        "_t = threading.Thread(target=_ticks); _t.start(); _t.join()"
    )[0]
    assert has_text(io.of(bg), "para3"), "the answer did not stream while the cell ran"
    assert not any(_is_final(m, bg) for _, m in io.messages), "the answer ended too soon"
    assert stdout(io.of(code)).count("thread ") == 15
    assert not has_text(io.of(bg), "thread ")
    assert "para99" in io.final(bg)["content"]["data"]["text/markdown"]


def test_same_chat_in_order_other_chats_side_by_side(io):
    emu = io.emulator
    for label in ("one", "two", "three"):
        emu.script(
            {
                "content": [{"type": "text", "text": f"Answer {label}: " + "word " * 40}],
                "stop_reason": "end_turn",
            }
        )
    first, _, _ = io.execute("%%claude -b\nQuestion one")
    second, _, _ = io.execute("%%claude -b\nQuestion two")
    other, _, _ = io.execute("%%claude -b --chat side\nQuestion three")
    assert has_text(io.of(second), "Queued")
    # the other chat's request is sent while the first answer still streams
    io.pump(lambda m: len(emu.requests()) >= 2, timeout=30)
    assert [r["body"]["messages"][-1]["content"][-1]["text"] for r in emu.requests()[:2]] == [
        "Question one",
        "Question three",
    ]
    assert not any(_is_final(m, first) for _, m in io.messages)
    for msg_id in (first, other, second):
        io.final(msg_id)
    bodies = [r["body"] for r in emu.requests()]
    assert len(bodies) == 3
    later = bodies[2]["messages"]
    assert [m["role"] for m in later] == ["user", "assistant", "user"]
    assert later[0]["content"][-1]["text"] == "Question one"
    assert later[1]["content"][0]["text"].startswith("Answer one")
    assert len(bodies[1]["messages"]) == 1  # the side chat has its own history


def test_foreground_cell_waits_for_its_chat(io):
    emu = io.emulator
    emu.script(
        {
            "content": [{"type": "text", "text": "Background first: " + "word " * 40}],
            "stop_reason": "end_turn",
        }
    )
    emu.script(
        {"content": [{"type": "text", "text": "Then the foreground."}], "stop_reason": "end_turn"}
    )
    bg, _, _ = io.execute("%%claude -b\nFirst")
    queued = io.run("%claude jobs")
    assert "running" in queued
    printed = io.run("%%claude\nSecond")
    assert "Waiting for the background answer in cell" in printed
    assert any(_is_final(m, bg) for _, m in io.messages)  # it ended before the second was sent
    body = emu.requests()[-1]["body"]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"][0]["text"].startswith("Background first: word")


def test_code_blocks_of_a_background_answer_go_below_the_next_cell(io):
    emu = io.emulator
    emu.pace = None
    emu.script(
        {
            "content": [{"type": "text", "text": "Here:\n\n```python\nx = 41 + 1\n```\n"}],
            "stop_reason": "end_turn",
        }
    )
    bg, _, _ = io.execute("%%claude -b --code\nSome code")
    final = io.final(bg)
    assert "new cell below the next cell you run" in final["content"]["data"]["text/html"]
    _, reply, _ = io.execute("pass")
    payloads = [p for p in reply.get("payload", []) if p.get("source") == "set_next_input"]
    assert [p["text"] for p in payloads] == ["x = 41 + 1"]


def test_throttling_in_the_background_is_one_line_in_its_cell(io):
    emu = io.emulator
    emu.fault("throttle", times=1)
    bg, reply, _ = io.execute("%%claude -b --chat busy\nHello")
    assert reply["status"] == "ok"
    final = io.final(bg)
    assert "Bedrock is throttling requests" in final["content"]["data"]["text/plain"]
    emu.script({"content": [{"type": "text", "text": "Fine now."}], "stop_reason": "end_turn"})
    emu.pace = None
    io.run("%%claude --chat busy\nAgain")
    assert len(emu.requests()[-1]["body"]["messages"]) == 1  # the failed turn left nothing


def _wait_for_text(io, msg_id: str) -> None:
    assert io.pump(
        lambda m: (
            m["parent_header"].get("msg_id") == msg_id and "word word" in json.dumps(m["content"])
        ),
        timeout=30,
    ), "no text streamed"


def test_stop_command_keeps_the_partial_answer(io):
    emu = io.emulator
    emu.script({"content": [{"type": "text", "text": LONG}], "stop_reason": "end_turn"})
    bg, _, _ = io.execute("%%claude -b\nA long answer please")
    _wait_for_text(io, bg)
    listed = io.run("%claude jobs")
    assert "default" in listed and "running" in listed
    printed = io.run("%claude stop")
    assert "Stopped the answer in cell" in printed
    final = io.final(bg, timeout=5)
    assert "Stopped." in final["content"]["data"]["text/plain"]
    assert "[stopped]" in io.run("%claude history")
    assert "No background answers running" in io.run("%claude jobs")

    emu.pace = None
    io.run("%%claude\nAnd now?")
    body = emu.requests()[-1]["body"]
    partial = body["messages"][1]["content"][0]["text"]
    assert partial.startswith("word word") and len(partial) < len(LONG)


def test_stop_ends_a_stalled_stream(io):
    emu = io.emulator
    emu.script({"content": [{"type": "text", "text": LONG}], "stop_reason": "end_turn"})
    emu.fault("stall", after_events=20, seconds=60)
    bg, _, _ = io.execute("%%claude -b --chat stalled\nA long answer please")
    _wait_for_text(io, bg)
    io.pump(timeout=0.5)  # into the stall: no event comes for a minute
    assert "Stopped the answer in cell" in io.run("%claude stop --chat stalled")
    final = io.final(bg, timeout=1)
    assert "Stopped." in final["content"]["data"]["text/plain"]
    assert "word word" in final["content"]["data"]["text/markdown"]
    assert "[stopped]" in io.run("%claude history --chat stalled")


def test_stop_button_click_stops_the_answer(io):
    emu = io.emulator
    emu.script({"content": [{"type": "text", "text": LONG}], "stop_reason": "end_turn"})
    bg, _, _ = io.execute("%%claude -b --chat clicks\nA long answer please")
    buttons = [
        m["content"]["comm_id"]
        for m in io.of(bg)
        if m["msg_type"] == "comm_open"
        and m["content"]["data"]["state"].get("_model_name") == "ButtonModel"
    ]
    assert len(buttons) == 1
    _wait_for_text(io, bg)
    click = io.kc.session.msg(
        "comm_msg",
        {"comm_id": buttons[0], "data": {"method": "custom", "content": {"event": "click"}}},
    )
    io.kc.shell_channel.send(click)
    final = io.final(bg, timeout=10)
    assert "Stopped." in final["content"]["data"]["text/plain"]
    assert len(final["content"]["data"]["text/markdown"]) < len(LONG)
    assert "[stopped]" in io.run("%claude history --chat clicks")


def test_stop_button_beside_the_delta_views_header_stops_the_answer(io):
    emu = io.emulator
    emu.script({"content": [{"type": "text", "text": LONG}], "stop_reason": "end_turn"})
    io.run("import os\nos.environ['CLAUDE_MAGIC_LIVE_VIEW'] = 'deltas'")
    try:
        bg, _, _ = io.execute("%%claude -b --chat deltas\nA long answer please")
    finally:
        io.run("del os.environ['CLAUDE_MAGIC_LIVE_VIEW']")
    opened = {
        m["content"]["comm_id"]: m["content"]["data"]["state"]
        for m in io.of(bg)
        if m["msg_type"] == "comm_open"
    }
    (button,) = [
        comm for comm, state in opened.items() if state.get("_model_name") == "ButtonModel"
    ]
    (answer,) = [state for state in opened.values() if state.get("_model_name") == "AnyModel"]
    assert answer["controls"] == [f"IPY_MODEL_{button}"]  # the page shows it beside the header
    _wait_for_text(io, bg)
    click = io.kc.session.msg(
        "comm_msg", {"comm_id": button, "data": {"method": "custom", "content": {"event": "click"}}}
    )
    io.kc.shell_channel.send(click)
    final = io.final(bg, timeout=10)
    assert final["content"]["transient"]["display_id"] == live_display_id(io.of(bg))
    assert "Stopped." in final["content"]["data"]["text/plain"]
    assert len(final["content"]["data"]["text/markdown"]) < len(LONG)
    assert "[stopped]" in io.run("%claude history --chat deltas")


def test_wait_blocks_until_the_answer_ends(io):
    emu = io.emulator
    emu.script(
        {
            "content": [{"type": "text", "text": "Waited for " + "word " * 60}],
            "stop_reason": "end_turn",
        }
    )
    bg, _, _ = io.execute("%%claude -b -o story\nTell me")
    msg_id, reply, _ = io.execute("%claude wait --timeout 0.2")
    assert reply["status"] == "error" and "Still running after 0.2 s" in reply["evalue"]
    printed = io.run("%claude wait")
    assert "done" in printed
    final = io.final(bg, timeout=0.5)  # it arrived before wait returned
    assert "The answer's text is in the variable story" in final["content"]["data"]["text/html"]
    assert "Waited for word" in io.run("print(story)")


def test_a_failure_in_the_background_stays_in_its_cell(io):
    emu = io.emulator
    emu.script({"content": [{"type": "text", "text": LONG}], "stop_reason": "end_turn"})
    emu.fault("stream_exception", after_events=30)
    bg, reply, _ = io.execute("%%claude -b\nThis one breaks")
    assert reply["status"] == "ok"
    final = io.final(bg)
    text = final["content"]["data"]["text/plain"]
    assert "word word" in text
    assert "Error: The stream broke off" in text and "The partial answer is kept." in text
    # a later cell runs normally and sends the kept partial answer
    emu.pace = None
    io.run("%%claude\nAfter the failure")
    body = emu.requests()[-1]["body"]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_kernel_interrupt_leaves_background_answers_running(io):
    emu = io.emulator
    full = "Not interrupted: " + "word " * 100
    emu.script({"content": [{"type": "text", "text": full}], "stop_reason": "end_turn"})
    bg, _, _ = io.execute("%%claude -b\nKeep going")
    _wait_for_text(io, bg)
    busy = io.kc.execute("import time\ntime.sleep(30)")
    assert io.pump(
        lambda m: m["parent_header"].get("msg_id") == busy and m["msg_type"] == "execute_input"
    )
    io.pump(timeout=0.5)  # into the sleep
    io.kc.manager.interrupt_kernel()
    assert io.pump(lambda m: _idle(m, busy), timeout=20)
    assert [m["content"]["ename"] for m in io.of(busy) if m["msg_type"] == "error"] == [
        "KeyboardInterrupt"
    ]
    final = io.final(bg)
    assert final["content"]["data"]["text/markdown"] == full
    assert "Stopped" not in final["content"]["data"]["text/plain"]
    assert "Interrupted" not in final["content"]["data"]["text/plain"]


def test_rerunning_a_cell_stops_its_earlier_answer(io):
    emu = io.emulator
    emu.script({"content": [{"type": "text", "text": LONG}], "stop_reason": "end_turn"})
    emu.script(
        {"content": [{"type": "text", "text": "The second take."}], "stop_reason": "end_turn"}
    )
    cell = "%%claude -b\nOnce more"
    bg = _execute_with_cell_id(io, cell, "cell-a")
    _wait_for_text(io, bg)
    again = _execute_with_cell_id(io, cell, "cell-a")
    assert "Stopped." in io.final(bg, timeout=5)["content"]["data"]["text/plain"]
    shown = io.final(again)["content"]["data"]["text/markdown"]
    assert shown.endswith("The second take.") and "Queued" not in shown
    body = emu.requests()[-1]["body"]
    assert len(body["messages"]) == 1  # the stopped first take was replaced, not sent
    assert "The second take." in io.run("%claude history") and "[stopped]" not in io.run(
        "%claude history"
    )


def _execute_with_cell_id(io, code: str, cell_id: str) -> str:
    """Execute as JupyterLab does, with the cell's id in the request metadata."""
    msg = io.kc.session.msg(
        "execute_request",
        {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
    )
    msg["metadata"]["cellId"] = cell_id
    io.kc.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    assert io.pump(lambda m: _idle(m, msg_id)), "the cell did not end"
    return msg_id


def test_images_and_documents_in_the_background(io, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("The outlier is row 7.")
    io.run("%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 3, 2]); plt.show()")
    io.emulator.script(
        {"content": [{"type": "text", "text": "Seen both."}], "stop_reason": "end_turn"}
    )
    bg, _, _ = io.execute(f"%%claude -b --image _ --doc {notes}\nWhat do these show?")
    io.run("x = 2")  # a later cell: the image was taken when the -b cell ran
    final = io.final(bg)
    assert (
        "data:image/png;base64," in final["content"]["data"]["text/html"]
    )  # the header's thumbnail
    content = io.emulator.requests()[-1]["body"]["messages"][-1]["content"]
    assert [b["type"] for b in content] == ["image", "document", "text"]


def test_background_trait(io):
    emu = io.emulator
    emu.script(
        {
            "content": [{"type": "text", "text": "By default: " + "word " * 60}],
            "stop_reason": "end_turn",
        }
    )
    io.run(
        "%config ClaudeMagic.background = True\n"
        'def area(r: float) -> float:\n    """Area of a circle."""\n    return 3.14 * r * r'
    )
    try:
        bg, reply, _ = io.execute("%%claude\nNo -b needed")
        assert reply["status"] == "ok"
        assert not any(_is_final(m, bg) for _, m in io.messages)  # returned while it streams
        assert io.final(bg)["content"]["data"]["text/markdown"].startswith("By default: word")
        emu.pace = None
        emu.script(
            {"content": [{"type": "text", "text": "Foreground."}], "stop_reason": "end_turn"}
        )
        fg, reply, _ = io.execute("%%claude --tools area\nWith a tool")
        assert reply["status"] == "ok" and "answers in the foreground" in stdout(io.of(fg))
        assert any(_is_final(m, fg) for m in io.of(fg))  # it ended within its own execution
    finally:
        io.run("%config ClaudeMagic.background = False")


def test_background_refuses_tools(io):
    msg_id, reply, _ = io.execute("def area(r: float) -> float:\n    return 3.14 * r * r\n")
    msg_id, reply, _ = io.execute("%%claude -b --tools area\nArea of a circle of radius 2?")
    assert reply["status"] == "error"
    assert "--background can't be combined with Python tools" in reply["evalue"]
    msg_id, reply, _ = io.execute("%%claude -b --computer-use\nTake a screenshot")
    assert reply["status"] == "error"
    assert "--background can't be combined with Python tools" in reply["evalue"]
    assert io.emulator.requests() == []
    handlers = io.run(
        "import claude_magic\nprint(len(claude_magic._loaded[id(get_ipython())].session._computer))"
    )
    assert handlers.strip() == "0"  # refused before any computer-use tool was set up


def test_unload_stops_running_answers(kernel):
    io = kernel
    io.emulator.reset()
    io.emulator.pace = 40
    io.emulator.script({"content": [{"type": "text", "text": LONG}], "stop_reason": "end_turn"})
    io.emulator.script({"content": [{"type": "text", "text": LONG}], "stop_reason": "end_turn"})
    bg, _, _ = io.execute("%%claude -b --chat u1\nLong")
    other, _, _ = io.execute("%%claude -b --chat u2\nLong too")
    _wait_for_text(io, bg)
    io.run("%unload_ext claude_magic")
    for msg_id in (bg, other):
        assert "Stopped." in io.final(msg_id, timeout=1)["content"]["data"]["text/plain"]
    threads = io.run("import threading; print([t.name for t in threading.enumerate()])")
    assert "claude-magic-answer" not in threads
    io.emulator.pace = None
    io.run("%load_ext claude_magic")  # back for any later test


def test_kernel_shutdown_stops_background_answers(magic_env, new_kernel, tmp_path):
    emu = magic_env
    emu.pace = 40
    emu.script({"content": [{"type": "text", "text": LONG}], "stop_reason": "end_turn"})
    emu._state.sent_frames = []
    probe = tmp_path / "threads.txt"
    with new_kernel() as kc:
        io = Iopub(kc)
        io.run(
            f"%load_ext claude_magic\n%config ClaudeMagic.model = '{HAIKU}'\nimport atexit, threading\n"
            f"atexit.register(lambda: open({str(probe)!r}, 'w').write(repr([t.name for t in threading.enumerate()])))"
        )
        bg, _, _ = io.execute("%%claude -b\nLong")
        _wait_for_text(io, bg)
        kc.stop_channels()
        kc.manager.shutdown_kernel(now=False)  # a shutdown_request, as the front end sends
        frames = len(emu._state.sent_frames)
    assert frames < len(LONG.split()), "the answer streamed to its end"
    threads = probe.read_text()  # written after the background answers' own exit handler ran
    assert "MainThread" in threads and "claude-magic-answer" not in threads


def test_nbclient_saves_the_answer_when_the_notebook_waits(magic_env, run_notebook, tmp_path):

    magic_env.pace = 40
    magic_env.script(
        {
            "content": [{"type": "text", "text": "## Saved\n\n" + "word " * 60}],
            "stop_reason": "end_turn",
        }
    )
    nb = python_notebook(
        f"%load_ext claude_magic\n%config ClaudeMagic.model = '{HAIKU}'",
        "%%claude -b\nWrite it down",
        "print('meanwhile')",
        "%claude wait",
    )
    run_notebook(nb, tmp_path)
    bundles = [o["data"] for o in nb.cells[1].outputs if o.get("output_type") == "display_data"]
    assert bundles and bundles[-1]["text/markdown"].startswith("## Saved\n\nword word")
    assert "<h2" in bundles[-1]["text/html"]
    assert [o.get("text") for o in nb.cells[2].outputs] == ["meanwhile\n"]
    assert "done" in nb.cells[3].outputs[0]["text"]
