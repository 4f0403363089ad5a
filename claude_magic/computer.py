"""The computer-use beta tools, run in the kernel: a persistent bash shell, a text
editor confined to a working directory, and an X display driven by xdotool.

`ComputerUseHandlers(model)` gives the tool definitions for the model's newest
computer-use version and `Tool`s that plug into a `ToolSet`; every call goes
through the `Approver` (the tools are marked `confirm=True`).
"""

from __future__ import annotations

import base64
import io
import os
import re
import secrets
import select
import shutil
import signal
import subprocess
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .catalog import MODELS, ComputerUse, Model
from .errors import ClaudeMagicError
from .messages import Block, image_block, text_block
from .tools import Tool, ToolError

DEFAULT_DISPLAY_SIZE = (1024, 768)
MAX_DISPLAY_SIZE = (1280, 800)  # larger screens are scaled down for the model
BASH_TIMEOUT = 30.0
MAX_OUTPUT_BYTES = 16_000
MAX_VIEW_CHARS = 16_000
NO_DISPLAY = "No X display available: start Xvfb (e.g. Xvfb :99 &) and set DISPLAY=:99"
NO_XDOTOOL = "xdotool is not installed: install it (apt-get install xdotool) to use the computer tool"


class ComputerUseUnsupported(ClaudeMagicError):
    """The chosen model has no computer-use tools."""


def newest_computer_use(model: Model) -> ComputerUse:
    """The newest computer-use version the model supports, or ComputerUseUnsupported."""
    if not model.computer_use:
        supported = ", ".join(m.name for m in MODELS if m.computer_use)
        raise ComputerUseUnsupported(
            f"{model.name} does not support computer use: choose one of {supported}."
        )
    return max(model.computer_use, key=lambda version: (version.beta, version.text_editor))


def computer_use_tools(
    model: Model, display: tuple[int, int] = DEFAULT_DISPLAY_SIZE, display_number: int | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The `anthropic_beta` flag and the three tool definitions (computer, bash, editor)."""
    version = newest_computer_use(model)
    computer: dict[str, Any] = {
        "type": version.computer,
        "name": "computer",
        "display_width_px": int(display[0]),
        "display_height_px": int(display[1]),
    }
    if display_number is not None:
        computer["display_number"] = int(display_number)
    return version.beta, [
        computer,
        {"type": version.bash, "name": "bash"},
        {"type": version.text_editor, "name": version.text_editor_name},
    ]


# --------------------------------------------------------------------------- bash


def _kill_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
    process.wait()
    if process.stdin:
        process.stdin.close()
    if process.stdout:
        process.stdout.close()


class BashSession:
    """A persistent bash process: the working directory and variables survive between
    commands. Each command has a timeout (the shell is restarted when it runs out) and
    its output is capped (the start and the end are kept)."""

    def __init__(self, cwd: str | Path | None = None, timeout: float = BASH_TIMEOUT,
                 max_output: int = MAX_OUTPUT_BYTES) -> None:
        self.cwd = Path(cwd) if cwd else Path.cwd()
        self.timeout = timeout
        self.max_output = max_output
        self._process: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None

    def _start(self) -> subprocess.Popen:
        if shutil.which("bash") is None:
            raise ToolError("bash is not installed on this machine.")
        env = {**os.environ, "PAGER": "cat", "GIT_PAGER": "cat", "TERM": "dumb"}
        process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, cwd=self.cwd, env=env, start_new_session=True,
        )
        self._process = process
        self._finalizer = weakref.finalize(self, _kill_group, process)
        return process

    def close(self) -> None:
        """Stop the shell (a later command starts a new one)."""
        if self._finalizer is not None:
            self._finalizer()
        self._process = self._finalizer = None

    def restart(self) -> str:
        self.close()
        self._start()
        return "The bash tool was restarted."

    def __call__(self, tool_input: dict[str, Any]) -> str:
        """Handle a `bash` tool_use input: `{"command": ...}` or `{"restart": true}`."""
        if tool_input.get("restart"):
            return self.restart()
        command = tool_input.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolError("No command given: pass {\"command\": \"...\"} or {\"restart\": true}.")
        return self.run(command)

    def run(self, command: str, timeout: float | None = None) -> str:
        """Run `command` in the shell; output (stdout and stderr) with the exit code if
        it is not 0. Raises ToolError on timeout (after restarting the shell); on
        KeyboardInterrupt the shell is stopped too (a new one starts next time)."""
        try:
            return self._run(command, self.timeout if timeout is None else timeout)
        except KeyboardInterrupt:
            self.close()
            raise

    def _run(self, command: str, timeout: float) -> str:
        process = self._process if self._process and self._process.poll() is None else self._start()
        marker = f"__claude_magic_done_{secrets.token_hex(8)}__".encode()
        script = f"{{\n{command}\n}} < /dev/null 2>&1\nprintf '\\n%s %s\\n' '{marker.decode()}' \"$?\"\n"
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(script.encode())
            process.stdin.flush()
        except BrokenPipeError:
            self.close()
            raise ToolError("The shell had exited; it was restarted: run the command again.") from None
        output = _CappedOutput(self.max_output)
        deadline = time.monotonic() + timeout
        fd = process.stdout.fileno()
        pending = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                output.add(pending)
                self.restart()
                raise ToolError(
                    f"Timed out after {timeout:g} s: the shell "
                    "was restarted (working directory and variables are reset).\n" + output.text()
                )
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                code = process.wait()
                self.close()
                text = output.add(pending).text()
                return f"{text}\n[the shell exited with code {code}; a new one starts with the next command]".strip()
            pending += chunk
            found = pending.find(marker)
            if found >= 0:
                line_end = pending.find(b"\n", found)
                if line_end < 0:
                    continue
                status = pending[found + len(marker):line_end].strip()
                body = pending[:found]
                output.add(body[:-1] if body.endswith(b"\n") else body)  # printf's newline
                text = output.text().rstrip("\n")
                if status not in (b"0", b""):
                    text = f"{text}\n[exit code {status.decode()}]".lstrip("\n")
                return text or "(no output)"
            keep = len(marker) + 32  # the marker may be split across reads
            if len(pending) > keep:
                output.add(pending[:-keep])
                pending = pending[-keep:]


class _CappedOutput:
    """Collects a stream, keeping its first and last `limit / 2` bytes."""

    def __init__(self, limit: int) -> None:
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> _CappedOutput:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > self.half:
            del self.tail[: len(self.tail) - self.half]
        return self

    def text(self) -> str:
        head = self.head.decode(errors="replace")
        if self.total <= len(self.head) + len(self.tail):
            return head + self.tail.decode(errors="replace")
        note = f"\n… [output truncated: {self.total:,} bytes, showing the first and last {self.half:,}] …\n"
        return head + note + self.tail.decode(errors="replace")


# --------------------------------------------------------------------------- text editor


class TextEditor:
    """The text-editor tool (`str_replace_editor` / `str_replace_based_edit_tool`):
    view, create, str_replace, insert and undo_edit, confined to `root`."""

    COMMANDS = ("view", "create", "str_replace", "insert", "undo_edit")

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._history: dict[Path, list[str | None]] = {}

    def resolve(self, path: Any) -> Path:
        """The real path inside root, or ToolError "Path outside the working directory"."""
        if not isinstance(path, str) or not path.strip():
            raise ToolError("No path given: pass \"path\".")
        candidate = Path(path).expanduser()
        real = (candidate if candidate.is_absolute() else self.root / candidate).resolve()
        if real != self.root and not real.is_relative_to(self.root):
            raise ToolError(f"Path outside the working directory: {path} (allowed: {self.root})")
        return real

    def __call__(self, tool_input: dict[str, Any]) -> str:
        command = tool_input.get("command")
        if command not in self.COMMANDS:
            raise ToolError(f"Unknown command {command!r}: use one of {', '.join(self.COMMANDS)}.")
        path = self.resolve(tool_input.get("path"))
        shown = str(tool_input.get("path"))
        return getattr(self, command)(path, shown, tool_input)

    # each command takes (real path, the path as the model wrote it, the whole input)

    def view(self, path: Path, shown: str, tool_input: dict[str, Any]) -> str:
        if path.is_dir():
            return self._list_dir(path, shown)
        lines = self._read(path, shown).splitlines()
        start, end = 1, len(lines)
        view_range = tool_input.get("view_range")
        if view_range is not None:
            if (not isinstance(view_range, list) or len(view_range) != 2
                    or not all(isinstance(n, int) for n in view_range)):
                raise ToolError("view_range must be two line numbers, e.g. [1, 20] (end -1 = last line).")
            start, end = view_range[0], (len(lines) if view_range[1] == -1 else view_range[1])
            if not (1 <= start <= max(len(lines), 1)) or end < start or end > len(lines):
                raise ToolError(f"Invalid view_range {view_range}: {shown} has {len(lines)} lines.")
        numbered = _numbered(lines[start - 1:end], start)
        if len(numbered) > MAX_VIEW_CHARS:
            numbered = numbered[:MAX_VIEW_CHARS] + "\n… [truncated: use view_range to see the rest]"
        return f"Here's the result of running `cat -n` on {shown}:\n{numbered}"

    def create(self, path: Path, shown: str, tool_input: dict[str, Any]) -> str:
        text = tool_input.get("file_text")
        if not isinstance(text, str):
            raise ToolError("create needs file_text.")
        if path.exists():
            raise ToolError(f"File already exists at: {shown}. Cannot overwrite files using command `create`.")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write(path, text, previous=None)
        return f"File created successfully at: {shown}"

    def str_replace(self, path: Path, shown: str, tool_input: dict[str, Any]) -> str:
        old, new = tool_input.get("old_str"), tool_input.get("new_str") or ""
        if not isinstance(old, str) or not old:
            raise ToolError("str_replace needs a non-empty old_str.")
        text = self._read(path, shown)
        count = text.count(old)
        if count == 0:
            raise ToolError(f"No replacement was performed: old_str did not appear verbatim in {shown}.")
        if count > 1:
            lines = [text[:i].count("\n") + 1 for i in _find_all(text, old)]
            raise ToolError(
                f"No replacement was performed: old_str occurs {count} times in {shown} "
                f"(lines {', '.join(map(str, lines))}); make it unique."
            )
        self._write(path, text.replace(old, new), previous=text)
        first = text[: text.index(old)].count("\n") + 1
        snippet = self._snippet(path, first, new.count("\n") + 1)
        return f"The file {shown} has been edited.\n{snippet}"

    def insert(self, path: Path, shown: str, tool_input: dict[str, Any]) -> str:
        line = tool_input.get("insert_line")
        new = tool_input.get("new_str", tool_input.get("insert_text"))
        if not isinstance(new, str):
            raise ToolError("insert needs new_str.")
        text = self._read(path, shown)
        lines = text.splitlines(keepends=True)
        if not isinstance(line, int) or not 0 <= line <= len(lines):
            raise ToolError(f"Invalid insert_line {line!r}: use 0 to {len(lines)} for {shown}.")
        if lines and line == len(lines) and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.insert(line, new if new.endswith("\n") else new + "\n")
        self._write(path, "".join(lines), previous=text)
        snippet = self._snippet(path, line + 1, new.count("\n") + 1)
        return f"The file {shown} has been edited.\n{snippet}"

    def undo_edit(self, path: Path, shown: str, tool_input: dict[str, Any]) -> str:
        history = self._history.get(path)
        if not history:
            raise ToolError(f"No edit to undo for {shown}.")
        previous = history.pop()
        if previous is None:
            path.unlink(missing_ok=True)
            return f"Undid the creation of {shown}: the file was removed."
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(previous)
        return f"Last edit to {shown} undone.\n{self._snippet(path, 1, 0, context=8)}"

    def _read(self, path: Path, shown: str) -> str:
        if not path.exists():
            raise ToolError(f"No such file: {shown}")
        if not path.is_file():
            raise ToolError(f"Not a regular file: {shown}")
        try:
            with open(path, encoding="utf-8", newline="") as f:
                return f.read()
        except UnicodeDecodeError:
            raise ToolError(f"{shown} is not a UTF-8 text file.") from None

    def _write(self, path: Path, text: str, previous: str | None) -> None:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        self._history.setdefault(path, []).append(previous)

    def _snippet(self, path: Path, first: int, count: int, context: int = 4) -> str:
        lines = path.read_text(encoding="utf-8").splitlines()
        start = max(1, first - context)
        end = min(len(lines), first + count - 1 + context)
        return _numbered(lines[start - 1:end], start)

    def _list_dir(self, path: Path, shown: str, limit: int = 1000) -> str:
        entries: list[str] = []
        for child in sorted(path.iterdir()):
            if child.name.startswith("."):
                continue
            entries.append(f"{shown.rstrip('/')}/{child.name}" + ("/" if child.is_dir() else ""))
            if child.is_dir() and not child.is_symlink():
                for grandchild in sorted(child.iterdir()):
                    if not grandchild.name.startswith("."):
                        suffix = "/" if grandchild.is_dir() else ""
                        entries.append(f"{shown.rstrip('/')}/{child.name}/{grandchild.name}{suffix}")
        more = f"\n… and {len(entries) - limit} more" if len(entries) > limit else ""
        return (f"Files and directories up to 2 levels deep in {shown}, excluding hidden items:\n"
                + "\n".join(entries[:limit]) + more)


def _numbered(lines: list[str], start: int) -> str:
    return "\n".join(f"{n:6}\t{line}" for n, line in enumerate(lines, start))


def _find_all(text: str, part: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(part), text)]


# --------------------------------------------------------------------------- the X display

_CLICKS = {"left_click": "1", "right_click": "3", "middle_click": "2"}
_SCROLL_BUTTONS = {"up": "4", "down": "5", "left": "6", "right": "7"}
_TYPE_CHUNK = 50


class Computer:
    """The `computer` tool on an X display (`:N`, default $DISPLAY) via xdotool.

    Coordinates are in the declared display size (what the model sees); they are
    scaled when the real screen differs. Actions other than screenshot and
    cursor_position answer with a fresh screenshot.
    """

    def __init__(self, display: str | None = None, size: tuple[int, int] | None = None,
                 settle: float = 0.3) -> None:
        self.display = display or os.environ.get("DISPLAY") or None
        self._size = size
        self.settle = settle  # seconds to wait before the screenshot that follows an action
        self._screen: tuple[int, int] | None = None
        self._keeper: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None

    # --- the display

    def problem(self) -> str | None:
        """Why the display can't be used (one line), or None when it can."""
        if not self.display:
            return NO_DISPLAY
        if shutil.which("xdotool") is None:
            return NO_XDOTOOL
        try:
            self._xdotool("getdisplaygeometry", check_display=False)
        except ToolError:
            number = self.display.lstrip(":").split(".")[0] or "99"
            return (f"No X display available at {self.display}: start Xvfb "
                    f"(e.g. Xvfb :{number} &) and set DISPLAY=:{number}")
        return None

    def _xdotool(self, *args: str, check_display: bool = True) -> str:
        if check_display:
            self._ensure_display()
        try:
            done = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=15,
                             env={**os.environ, "DISPLAY": self.display or ""})
        except FileNotFoundError:
            raise ToolError(NO_XDOTOOL) from None
        except subprocess.TimeoutExpired:
            raise ToolError(f"xdotool {args[0]} did not finish within 15 s.") from None
        if done.returncode != 0:
            raise ToolError(f"xdotool {args[0]} failed: {(done.stderr or done.stdout).strip()[:300]}")
        return done.stdout

    def _ensure_display(self) -> None:
        if self._keeper is not None and self._keeper.poll() is None:
            return
        problem = self.problem()
        if problem:
            raise ToolError(problem)
        # One client stays connected, so a bare Xvfb does not reset (and forget the
        # pointer position) each time the last xdotool call disconnects.
        self._keeper = subprocess.Popen(
            ["xdotool", "sleep", "86400"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env={**os.environ, "DISPLAY": self.display or ""},
        )
        self._finalizer = weakref.finalize(self, _stop, self._keeper)

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._keeper = self._finalizer = self._screen = None

    def screen_size(self) -> tuple[int, int]:
        """The real screen size in pixels."""
        if self._screen is None:
            width, height = self._xdotool("getdisplaygeometry").split()
            self._screen = int(width), int(height)
        return self._screen

    @property
    def size(self) -> tuple[int, int]:
        """The display size the model is told (default: the screen, scaled to fit 1280×800)."""
        if self._size is None:
            self._size = fit_display(self.screen_size()) if self.problem() is None else DEFAULT_DISPLAY_SIZE
        return self._size

    def _to_screen(self, coordinate: Any, key: str = "coordinate") -> tuple[int, int]:
        if (not isinstance(coordinate, (list, tuple)) or len(coordinate) != 2
                or not all(isinstance(c, int) and not isinstance(c, bool) for c in coordinate)):
            raise ToolError(f"{key} must be [x, y] in pixels, got {coordinate!r}.")
        x, y = coordinate
        width, height = self.size
        if not (0 <= x < width and 0 <= y < height):
            raise ToolError(f"{key} {list(coordinate)} is outside the {width}×{height} screen.")
        real_w, real_h = self.screen_size()
        return round(x * real_w / width), round(y * real_h / height)

    def _from_screen(self, x: int, y: int) -> tuple[int, int]:
        width, height = self.size
        real_w, real_h = self.screen_size()
        return round(x * width / real_w), round(y * height / real_h)

    # --- screenshots

    def screenshot_png(self) -> bytes:
        """A PNG of the screen at the declared display size."""
        self._ensure_display()
        image = _grab(self.display or "")
        if image.size != self.size:
            from PIL import Image

            image = image.resize(self.size, Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()

    def screenshot_block(self) -> Block:
        return image_block(base64.b64encode(self.screenshot_png()).decode("ascii"), "image/png")

    # --- actions

    def __call__(self, tool_input: dict[str, Any]) -> str | list[Block]:
        action = tool_input.get("action")
        handler = getattr(self, f"_do_{action}", None) if isinstance(action, str) else None
        if handler is None:
            raise ToolError(f"Unknown computer action {action!r}.")
        self._ensure_display()
        note = handler(tool_input)
        if action in ("screenshot", "cursor_position"):
            return note
        time.sleep(self.settle)
        return [text_block(note), self.screenshot_block()]

    def _do_screenshot(self, tool_input: dict[str, Any]) -> list[Block]:
        return [self.screenshot_block()]

    def _do_cursor_position(self, tool_input: dict[str, Any]) -> str:
        found = dict(re.findall(r"(\w+)=(\d+)", self._xdotool("getmouselocation", "--shell")))
        x, y = self._from_screen(int(found["X"]), int(found["Y"]))
        return f"X={x},Y={y}"

    def _do_mouse_move(self, tool_input: dict[str, Any]) -> str:
        x, y = self._to_screen(tool_input.get("coordinate"))
        self._xdotool("mousemove", str(x), str(y))
        return f"Moved the mouse to {tool_input['coordinate']}."

    def _click(self, tool_input: dict[str, Any], button: str, repeat: int) -> str:
        action = tool_input["action"]
        args: list[str] = []
        if tool_input.get("coordinate") is not None:
            x, y = self._to_screen(tool_input["coordinate"])
            args += ["mousemove", str(x), str(y)]
        modifiers = _keys(tool_input.get("text")) if tool_input.get("text") else []
        for key in modifiers:
            args += ["keydown", key]
        args += ["click", "--repeat", str(repeat), "--delay", "100", button]
        for key in reversed(modifiers):
            args += ["keyup", key]
        self._xdotool(*args)
        return f"Did {action}."

    def _do_left_click(self, tool_input: dict[str, Any]) -> str:
        return self._click(tool_input, "1", 1)

    def _do_right_click(self, tool_input: dict[str, Any]) -> str:
        return self._click(tool_input, "3", 1)

    def _do_middle_click(self, tool_input: dict[str, Any]) -> str:
        return self._click(tool_input, "2", 1)

    def _do_double_click(self, tool_input: dict[str, Any]) -> str:
        return self._click(tool_input, "1", 2)

    def _do_triple_click(self, tool_input: dict[str, Any]) -> str:
        return self._click(tool_input, "1", 3)

    def _do_left_click_drag(self, tool_input: dict[str, Any]) -> str:
        x, y = self._to_screen(tool_input.get("coordinate"))
        args: list[str] = []
        if tool_input.get("start_coordinate") is not None:
            sx, sy = self._to_screen(tool_input["start_coordinate"], "start_coordinate")
            args += ["mousemove", str(sx), str(sy)]
        self._xdotool(*args, "mousedown", "1", "mousemove", str(x), str(y), "mouseup", "1")
        return f"Dragged to {tool_input['coordinate']}."

    def _do_left_mouse_down(self, tool_input: dict[str, Any]) -> str:
        self._xdotool("mousedown", "1")
        return "Pressed the left mouse button."

    def _do_left_mouse_up(self, tool_input: dict[str, Any]) -> str:
        self._xdotool("mouseup", "1")
        return "Released the left mouse button."

    def _do_key(self, tool_input: dict[str, Any]) -> str:
        keys = _keys(tool_input.get("text"))
        self._xdotool("key", "--", *keys)
        return f"Pressed {' '.join(keys)}."

    def _do_hold_key(self, tool_input: dict[str, Any]) -> str:
        keys = _keys(tool_input.get("text"))
        duration = _duration(tool_input.get("duration"))
        self._xdotool("keydown", "--", *keys)
        try:
            time.sleep(duration)
        finally:
            self._xdotool("keyup", "--", *keys)
        return f"Held {' '.join(keys)} for {duration:g} s."

    def _do_type(self, tool_input: dict[str, Any]) -> str:
        text = tool_input.get("text")
        if not isinstance(text, str) or not text:
            raise ToolError("type needs text.")
        for start in range(0, len(text), _TYPE_CHUNK):
            self._xdotool("type", "--delay", "12", "--", text[start:start + _TYPE_CHUNK])
        return f"Typed {len(text)} characters."

    def _do_scroll(self, tool_input: dict[str, Any]) -> str:
        direction = tool_input.get("scroll_direction")
        if direction not in _SCROLL_BUTTONS:
            raise ToolError("scroll_direction must be up, down, left or right.")
        amount = tool_input.get("scroll_amount", 3)
        if not isinstance(amount, int) or amount < 0:
            raise ToolError("scroll_amount must be a non-negative integer.")
        args: list[str] = []
        if tool_input.get("coordinate") is not None:
            x, y = self._to_screen(tool_input["coordinate"])
            args += ["mousemove", str(x), str(y)]
        modifiers = _keys(tool_input.get("text")) if tool_input.get("text") else []
        for key in modifiers:
            args += ["keydown", key]
        args += ["click", "--repeat", str(amount), _SCROLL_BUTTONS[direction]]
        for key in reversed(modifiers):
            args += ["keyup", key]
        self._xdotool(*args)
        return f"Scrolled {direction} by {amount}."

    def _do_wait(self, tool_input: dict[str, Any]) -> str:
        duration = _duration(tool_input.get("duration"))
        time.sleep(duration)
        return f"Waited {duration:g} s."


def _keys(text: Any) -> list[str]:
    if not isinstance(text, str) or not text.strip():
        raise ToolError("This action needs text: the key(s) in xdotool form, e.g. ctrl+s or Return.")
    return text.split()


def _duration(value: Any, limit: float = 30.0) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ToolError(f"duration must be a number of seconds from 0 to {limit:g}.")
    return float(value)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def fit_display(size: tuple[int, int], limit: tuple[int, int] = MAX_DISPLAY_SIZE) -> tuple[int, int]:
    """`size` scaled down (keeping its aspect ratio) to fit within `limit`."""
    width, height = size
    scale = min(1.0, limit[0] / width, limit[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _grab(display: str):
    """The screen as a PIL image: Pillow's own X grab, else ImageMagick's `import`."""
    from PIL import Image, ImageGrab

    try:
        return ImageGrab.grab(xdisplay=display)
    except OSError:
        pass
    if shutil.which("import") is None:
        raise ToolError("Cannot take a screenshot: Pillow lacks X support and ImageMagick is not installed.")
    done = subprocess.run(["import", "-window", "root", "png:-"], capture_output=True, timeout=30,
                          env={**os.environ, "DISPLAY": display})
    if done.returncode != 0:
        raise ToolError(f"Screenshot failed: {done.stderr.decode(errors='replace').strip()[:300]}")
    return Image.open(io.BytesIO(done.stdout))


# --------------------------------------------------------------------------- dispatch


class ComputerUseHandlers:
    """The three computer-use tools for one model, run in this kernel.

    `tools()` gives `Tool`s for a `ToolSet` (all marked to ask before running);
    `beta` is the `anthropic_beta` flag the request must carry.
    """

    def __init__(self, model: Model, *, root: str | Path | None = None, display: str | None = None,
                 display_size: tuple[int, int] | None = None, bash_timeout: float = BASH_TIMEOUT) -> None:
        self.version = newest_computer_use(model)
        self.root = Path(root or Path.cwd()).resolve()
        self.bash = BashSession(self.root, timeout=bash_timeout)
        self.editor = TextEditor(self.root)
        self.computer = Computer(display, display_size)
        self.model = model

    @property
    def beta(self) -> str:
        return self.version.beta

    def _display_number(self) -> int | None:
        match = re.match(r"^[^:]*:(\d+)", self.computer.display or "")
        return int(match.group(1)) if match else None

    def definitions(self) -> list[dict[str, Any]]:
        return computer_use_tools(self.model, self.computer.size, self._display_number())[1]

    def handler_for(self, name: str) -> Callable[[dict[str, Any]], Any] | None:
        if name == "bash":
            return self.bash
        if name in ("str_replace_editor", "str_replace_based_edit_tool"):
            return self.editor
        if name == "computer":
            return self.computer
        return None

    def run(self, name: str, tool_input: dict[str, Any]) -> Any:
        """Run one computer-use call (without approval: `run_tool` asks first)."""
        handler = self.handler_for(name)
        if handler is None:
            raise ToolError(f"Unknown computer-use tool {name!r}.")
        return handler(tool_input)

    def tools(self) -> list[Tool]:
        return [
            Tool(name=d["name"], definition=d, handler=self.handler_for(d["name"]), confirm=True,
                 beta=self.beta)
            for d in self.definitions()
        ]

    def display_problem(self) -> str | None:
        """Why the computer tool will fail (no display, no xdotool), or None."""
        return self.computer.problem()

    def close(self) -> None:
        self.bash.close()
        self.computer.close()
