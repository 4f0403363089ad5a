"""Computer-use tools run for real: a bash process, a text editor on a temporary
directory, an X display served by Xvfb (started here), and the emulator checking the
tool definitions and answering with calls."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from loop_helpers import make_send

from claude_magic.core.messages import text_block
from claude_magic.models.catalog import lookup, resolve
from claude_magic.tools import NO_ONE_TO_ASK, Approver, ToolError, ToolSet, run_tool_loop
from claude_magic.tools.bash import BashSession
from claude_magic.tools.computer import (
    NO_DISPLAY,
    Computer,
    ComputerUseHandlers,
    ComputerUseUnsupported,
    computer_use_tools,
    fit_display,
)
from claude_magic.tools.text_editor import TextEditor

# Tool definitions per catalogue version, retired models' versions included (lookup); the
# loops through the emulator use models it serves on the pinned date.
SONNET_35_V2 = lookup("anthropic.claude-3-5-sonnet-20241022-v2:0")
SONNET_4 = lookup("anthropic.claude-sonnet-4-20250514-v1:0")
HAIKU_3 = lookup("anthropic.claude-3-haiku-20240307-v1:0")
OPUS_45 = resolve("opus-4.5").model
HAIKU_45 = resolve("haiku-4.5").model

# --------------------------------------------------------------------------- bash


@pytest.fixture
def bash(tmp_path):
    session = BashSession(tmp_path, timeout=10)
    yield session
    session.close()


def test_bash_state_persists_between_commands(bash, tmp_path):
    assert bash.run("pwd") == str(tmp_path)
    assert bash({"command": "cd /tmp"}) == "(no output)"
    assert bash({"command": "pwd"}) == "/tmp"
    bash.run("export GREETING=hello")
    assert bash.run("echo $GREETING world") == "hello world"


def test_bash_reports_stderr_and_exit_codes(bash):
    out = bash.run("echo out; echo err >&2; exit_with() { return $1; }; exit_with 3")
    assert out == "out\nerr\n[exit code 3]"
    assert bash.run("cat") == "(no output)"  # stdin is not the tool's protocol channel
    assert bash.run("printf 'no newline'") == "no newline"


def test_bash_timeout_restarts_the_shell(tmp_path):
    session = BashSession(tmp_path, timeout=1)
    try:
        session.run("cd /tmp; echo started")
        with pytest.raises(
            ToolError, match=r"Timed out after 1 s: the shell was restarted"
        ) as caught:
            session.run("echo partial; sleep 30")
        assert "partial" in str(caught.value)
        assert session.run("pwd") == str(tmp_path)  # a fresh shell
    finally:
        session.close()


def test_bash_output_is_capped(tmp_path):
    session = BashSession(tmp_path, max_output=2000)
    try:
        out = session.run("seq 1 100000")
    finally:
        session.close()
    lines = out.splitlines()
    assert lines[0] == "1" and lines[-1] == "100000"
    total = len(subprocess.run(["seq", "1", "100000"], capture_output=True, check=True).stdout)
    assert f"[output truncated: {total:,} bytes, showing the first and last 1,000]" in out
    assert len(out) < 2200


def test_bash_exit_and_restart(bash):
    assert "the shell exited with code 4" in bash.run("exit 4")
    assert bash.run("echo again") == "again"
    bash.run("cd /")
    assert bash({"restart": True}) == "The bash tool was restarted."
    assert bash.run("pwd") == str(bash.cwd)
    with pytest.raises(ToolError, match="No command given"):
        bash({})


# --------------------------------------------------------------------------- text editor


@pytest.fixture
def editor(tmp_path):
    root = tmp_path / "work"
    root.mkdir()
    return TextEditor(root)


def edit(editor: TextEditor, **tool_input) -> str:
    return editor(tool_input)


def test_editor_create_view_and_ranges(editor):
    root = editor.root
    assert edit(editor, command="create", path="notes/a.txt", file_text="one\ntwo\nthree\n") == (
        "File created successfully at: notes/a.txt"
    )
    assert (root / "notes/a.txt").read_text() == "one\ntwo\nthree\n"
    assert edit(editor, command="view", path=str(root / "notes/a.txt")).splitlines()[1:] == [
        "     1\tone",
        "     2\ttwo",
        "     3\tthree",
    ]
    assert edit(editor, command="view", path="notes/a.txt", view_range=[2, -1]).splitlines()[
        1:
    ] == ["     2\ttwo", "     3\tthree"]
    with pytest.raises(ToolError, match="Invalid view_range"):
        edit(editor, command="view", path="notes/a.txt", view_range=[3, 9])
    with pytest.raises(ToolError, match="File already exists"):
        edit(editor, command="create", path="notes/a.txt", file_text="x")
    (root / "notes/deeper/deepest").mkdir(parents=True)
    (root / ".hidden").write_text("h")
    listing = edit(editor, command="view", path=str(root)).splitlines()
    assert listing[1:] == [f"{root}/notes/", f"{root}/notes/a.txt", f"{root}/notes/deeper/"]


def test_editor_str_replace_insert_and_undo(editor):
    path = editor.root / "a.py"
    edit(editor, command="create", path="a.py", file_text="x = 1\ny = 2\nx = 1\n")
    with pytest.raises(ToolError, match=r"old_str occurs 2 times in a.py \(lines 1, 3\)"):
        edit(editor, command="str_replace", path="a.py", old_str="x = 1", new_str="x = 9")
    with pytest.raises(ToolError, match="did not appear verbatim"):
        edit(editor, command="str_replace", path="a.py", old_str="z = 0", new_str="")
    out = edit(editor, command="str_replace", path="a.py", old_str="y = 2", new_str="y = 3")
    assert out.startswith("The file a.py has been edited.") and "     2\ty = 3" in out
    edit(editor, command="insert", path="a.py", insert_line=0, new_str="# header")
    edit(editor, command="insert", path="a.py", insert_line=4, new_str="z = 4")
    assert path.read_text() == "# header\nx = 1\ny = 3\nx = 1\nz = 4\n"
    with pytest.raises(ToolError, match="Invalid insert_line 9"):
        edit(editor, command="insert", path="a.py", insert_line=9, new_str="nope")

    edit(editor, command="undo_edit", path="a.py")
    assert path.read_text() == "# header\nx = 1\ny = 3\nx = 1\n"
    edit(editor, command="undo_edit", path="a.py")
    edit(editor, command="undo_edit", path="a.py")
    assert path.read_text() == "x = 1\ny = 2\nx = 1\n"
    assert "file was removed" in edit(editor, command="undo_edit", path="a.py")
    assert not path.exists()
    with pytest.raises(ToolError, match="No edit to undo"):
        edit(editor, command="undo_edit", path="a.py")


def test_editor_keeps_line_endings_and_refuses_binary(editor):
    path = editor.root / "dos.txt"
    path.write_bytes(b"a\r\nb\r\n")
    edit(editor, command="str_replace", path="dos.txt", old_str="b", new_str="c")
    assert path.read_bytes() == b"a\r\nc\r\n"
    (editor.root / "blob.bin").write_bytes(b"\xff\xfe\x00\x80")
    with pytest.raises(ToolError, match="not a UTF-8 text file"):
        edit(editor, command="view", path="blob.bin")
    with pytest.raises(ToolError, match="Unknown command 'delete'"):
        edit(editor, command="delete", path="dos.txt")


@pytest.mark.parametrize("escape", ["../x", "/etc/passwd", "link/passwd", "notes/../../x", "link"])
def test_editor_refuses_paths_outside_its_root(editor, escape):
    os.symlink("/etc", editor.root / "link")
    (editor.root / "notes").mkdir()
    for command in ({"command": "view"}, {"command": "create", "file_text": "pwned"}):
        with pytest.raises(ToolError, match="Path outside the working directory: "):
            editor({**command, "path": escape})
    assert not (editor.root.parent / "x").exists()


def test_editor_symlink_inside_root_is_fine(editor):
    (editor.root / "real.txt").write_text("hi\n")
    os.symlink(editor.root / "real.txt", editor.root / "alias.txt")
    assert "     1\thi" in edit(editor, command="view", path="alias.txt")


# --------------------------------------------------------------------------- the X display


def _free_display() -> int:
    for number in range(90, 200):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            return number
    raise RuntimeError("no free X display number")


@pytest.fixture(scope="module")
def xvfb():
    """A real Xvfb at 1024×768 on a free display number (CI installs xvfb and xdotool)."""
    for program, package in (("Xvfb", "xvfb"), ("xdotool", "xdotool")):
        if shutil.which(program) is None:
            pytest.fail(
                f"{program} is not installed: apt-get install {package} (.ci/run installs it)"
            )
    number = _free_display()
    process = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1024x768x24"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Xvfb :{number} did not start")
        time.sleep(0.05)
    yield f":{number}"
    process.terminate()
    process.wait(timeout=10)


def decode_png(block: dict):
    from PIL import Image

    assert block["type"] == "image" and block["source"]["media_type"] == "image/png"
    image = Image.open(io.BytesIO(base64.b64decode(block["source"]["data"])))
    assert image.format == "PNG"
    return image


def test_screenshot_is_a_png_of_the_screen(xvfb):
    computer = Computer(xvfb, settle=0)
    try:
        assert computer.problem() is None
        assert computer.screen_size() == (1024, 768) and computer.size == (1024, 768)
        (block,) = computer({"action": "screenshot"})
        assert decode_png(block).size == (1024, 768)
    finally:
        computer.close()


def test_mouse_move_then_cursor_position(xvfb):
    computer = Computer(xvfb, settle=0)
    try:
        note, shot = computer({"action": "mouse_move", "coordinate": [100, 200]})
        assert note["text"] == "Moved the mouse to [100, 200]."
        assert decode_png(shot).size == (1024, 768)
        assert computer({"action": "cursor_position"}) == "X=100,Y=200"
        computer({"action": "left_click", "coordinate": [300, 40]})
        assert computer({"action": "cursor_position"}) == "X=300,Y=40"
        computer(
            {"action": "left_click_drag", "start_coordinate": [10, 10], "coordinate": [60, 70]}
        )
        assert computer({"action": "cursor_position"}) == "X=60,Y=70"
        for action in (
            {"action": "double_click"},
            {"action": "right_click"},
            {"action": "key", "text": "ctrl+a"},
            {"action": "type", "text": "hello"},
            {
                "action": "scroll",
                "coordinate": [5, 5],
                "scroll_direction": "down",
                "scroll_amount": 2,
            },
        ):
            note, _ = computer(action)
            assert note["type"] == "text"
        with pytest.raises(
            ToolError, match=r"coordinate \[2000, 10\] is outside the 1024×768 screen"
        ):
            computer({"action": "mouse_move", "coordinate": [2000, 10]})
        with pytest.raises(ToolError, match="Unknown computer action 'dance'"):
            computer({"action": "dance"})
    finally:
        computer.close()


def test_coordinates_scale_when_the_declared_size_differs(xvfb):
    small, full = Computer(xvfb, size=(512, 384), settle=0), Computer(xvfb, settle=0)
    try:
        small({"action": "mouse_move", "coordinate": [100, 150]})
        assert full({"action": "cursor_position"}) == "X=200,Y=300"
        assert small({"action": "cursor_position"}) == "X=100,Y=150"
        (block,) = small({"action": "screenshot"})
        assert decode_png(block).size == (512, 384)
    finally:
        small.close()
        full.close()


def test_no_display_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(ToolError) as caught:
        Computer()({"action": "screenshot"})
    assert str(caught.value) == NO_DISPLAY
    number = _free_display()
    with pytest.raises(ToolError, match=rf"No X display available at :{number}: start Xvfb"):
        Computer(f":{number}")({"action": "screenshot"})


def test_fit_display():
    assert fit_display((1024, 768)) == (1024, 768)
    assert fit_display((2560, 1600)) == (1280, 800)
    assert fit_display((1920, 1080)) == (1280, 720)


# --------------------------------------------------------------------------- definitions


def test_definitions_for_claude_35_sonnet_v2():
    beta, tools = computer_use_tools(SONNET_35_V2, (1280, 800), display_number=1)
    assert beta == "computer-use-2024-10-22"
    assert tools == [
        {
            "type": "computer_20241022",
            "name": "computer",
            "display_width_px": 1280,
            "display_height_px": 800,
            "display_number": 1,
        },
        {"type": "bash_20241022", "name": "bash"},
        {"type": "text_editor_20241022", "name": "str_replace_editor"},
    ]


def test_definitions_for_claude_sonnet_4_follow_the_catalogue():
    beta, tools = computer_use_tools(SONNET_4)
    version = SONNET_4.computer_use[0]
    assert beta == version.beta == "computer-use-2025-01-24"
    assert [t["type"] for t in tools] == [version.computer, version.bash, version.text_editor]
    assert tools[2]["name"] == "str_replace_based_edit_tool"
    assert "display_number" not in tools[0] and tools[0]["display_width_px"] == 1024


def test_newest_version_is_chosen():
    opus_46 = resolve("opus-4.6").model  # takes 2025-11-24 and claude-4
    beta, tools = computer_use_tools(opus_46)
    assert beta == "computer-use-2025-11-24" and tools[0]["type"] == "computer_20251124"
    assert tools[2] == {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}


def test_unsupported_model_is_a_clear_error():
    with pytest.raises(ComputerUseUnsupported) as caught:
        computer_use_tools(HAIKU_3)
    message = str(caught.value)
    assert message.startswith("Claude 3 Haiku does not support computer use: choose one of ")
    assert "Claude Opus 4.5" in message and "Claude Sonnet 5.5" in message
    assert "Claude 3.5 Sonnet v2" not in message  # retired models are not suggested


# --------------------------------------------------------------------------- through the loop


@pytest.mark.parametrize(
    ("model", "model_id"),
    [
        (OPUS_45, "us.anthropic.claude-opus-4-5-20251101-v1:0"),
        (HAIKU_45, "us.anthropic.claude-haiku-4-5-20251001-v1:0"),
    ],
)
def test_computer_use_through_the_loop(emulator, bedrock_client, tmp_path, xvfb, model, model_id):
    handlers = ComputerUseHandlers(model, root=tmp_path, display=xvfb)
    try:
        toolset = ToolSet(handlers.tools())
        assert all(t.confirm for t in toolset)
        prompt = (
            "Take a screenshot with computer, run `echo made > proof.txt; cat proof.txt` with bash."
        )
        result = run_tool_loop(
            make_send(bedrock_client, toolset, model_id),
            [{"role": "user", "content": [text_block(prompt)]}],
            toolset,
            Approver(auto_approve=True),
        )
    finally:
        handlers.close()
    first, second = emulator.requests()
    assert first["status"] == 200 and first["body"]["anthropic_beta"] == [handlers.beta]
    assert first["body"]["tools"] == handlers.definitions()
    results = {r["tool_use_id"]: r for r in second["body"]["messages"][-1]["content"]}
    calls = {c["name"]: c["id"] for c in result.replies[0].tool_uses}
    assert set(calls) == {"computer", "bash"}
    (shot,) = results[calls["computer"]]["content"]
    assert decode_png(shot).size == (1024, 768)
    assert results[calls["bash"]]["content"] == "made"
    assert (tmp_path / "proof.txt").read_text() == "made\n"
    assert result.final.stop_reason == "end_turn" and second["status"] == 200


def test_computer_use_is_refused_without_approval(emulator, bedrock_client, tmp_path):
    handlers = ComputerUseHandlers(OPUS_45, root=tmp_path, display=":0")
    try:
        toolset = ToolSet(handlers.tools())
        prompt = "Run `touch should-not-exist` with bash."
        run_tool_loop(
            make_send(bedrock_client, toolset, "us." + OPUS_45.id),
            [{"role": "user", "content": [text_block(prompt)]}],
            toolset,
            Approver(stdin_available=lambda: False),
        )
    finally:
        handlers.close()
    (answer,) = emulator.requests()[1]["body"]["messages"][-1]["content"]
    assert answer["content"] == NO_ONE_TO_ASK and answer["is_error"] is True
    assert not (tmp_path / "should-not-exist").exists()
