"""The computer-use beta tools, run in the kernel: a persistent bash shell
(bash_session.py), a text editor confined to a working directory (text_editor.py),
and an X display driven by xdotool (here).

`ComputerUseHandlers(model)` gives the tool definitions for the model's newest
computer-use version and `Tool`s that plug into a `ToolSet`; every call goes
through the `Approver` (the tools are marked `confirm=True`).
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.errors import ClaudeMagicError
from ..core.messages import Block, image_block, text_block
from ..models.catalog import MODELS, ComputerUse, Model
from .bash import BASH_TIMEOUT, BashSession
from .schema import ToolError
from .text_editor import TextEditor
from .toolset import Tool

DEFAULT_DISPLAY_SIZE = (1024, 768)
MAX_DISPLAY_SIZE = (1280, 800)  # larger screens are scaled down for the model
NO_DISPLAY = "No X display available: start Xvfb (e.g. Xvfb :99 &) and set DISPLAY=:99"
NO_XDOTOOL = (
    "xdotool is not installed: install it (apt-get install xdotool) to use the computer tool"
)


class ComputerUseUnsupported(ClaudeMagicError):
    """The chosen model has no computer-use tools."""


def newest_computer_use(model: Model) -> ComputerUse:
    """The newest computer-use version the model supports, or ComputerUseUnsupported."""
    if not model.computer_use:
        supported = ", ".join(m.name for m in MODELS if m.computer_use and m.status() != "retired")
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

    def __init__(
        self, display: str | None = None, size: tuple[int, int] | None = None, settle: float = 0.3
    ) -> None:
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
            return (
                f"No X display available at {self.display}: start Xvfb "
                f"(e.g. Xvfb :{number} &) and set DISPLAY=:{number}"
            )
        return None

    def _xdotool(self, *args: str, check_display: bool = True) -> str:
        if check_display:
            self._ensure_display()
        try:
            done = subprocess.run(
                ["xdotool", *args],
                capture_output=True,
                text=True,
                timeout=15,
                env={**os.environ, "DISPLAY": self.display or ""},
            )
        except FileNotFoundError:
            raise ToolError(NO_XDOTOOL) from None
        except subprocess.TimeoutExpired:
            raise ToolError(f"xdotool {args[0]} did not finish within 15 s.") from None
        if done.returncode != 0:
            raise ToolError(
                f"xdotool {args[0]} failed: {(done.stderr or done.stdout).strip()[:300]}"
            )
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
            ["xdotool", "sleep", "86400"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "DISPLAY": self.display or ""},
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
            self._size = (
                fit_display(self.screen_size()) if self.problem() is None else DEFAULT_DISPLAY_SIZE
            )
        return self._size

    def _to_screen(self, coordinate: Any, key: str = "coordinate") -> tuple[int, int]:
        if (
            not isinstance(coordinate, (list, tuple))
            or len(coordinate) != 2
            or not all(isinstance(c, int) and not isinstance(c, bool) for c in coordinate)
        ):
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
        self._click_at(tool_input, ["click", "--repeat", str(repeat), "--delay", "100", button])
        return f"Did {tool_input['action']}."

    def _click_at(self, tool_input: dict[str, Any], click: list[str]) -> None:
        """Move to the optional `coordinate`, hold the optional modifier keys in
        `text`, and run the xdotool `click` arguments."""
        args: list[str] = []
        if tool_input.get("coordinate") is not None:
            x, y = self._to_screen(tool_input["coordinate"])
            args += ["mousemove", str(x), str(y)]
        modifiers = _keys(tool_input.get("text")) if tool_input.get("text") else []
        for key in modifiers:
            args += ["keydown", key]
        args += click
        for key in reversed(modifiers):
            args += ["keyup", key]
        self._xdotool(*args)

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
            self._xdotool("type", "--delay", "12", "--", text[start : start + _TYPE_CHUNK])
        return f"Typed {len(text)} characters."

    def _do_scroll(self, tool_input: dict[str, Any]) -> str:
        direction = tool_input.get("scroll_direction")
        if direction not in _SCROLL_BUTTONS:
            raise ToolError("scroll_direction must be up, down, left or right.")
        amount = tool_input.get("scroll_amount", 3)
        if not isinstance(amount, int) or amount < 0:
            raise ToolError("scroll_amount must be a non-negative integer.")
        self._click_at(tool_input, ["click", "--repeat", str(amount), _SCROLL_BUTTONS[direction]])
        return f"Scrolled {direction} by {amount}."

    def _do_wait(self, tool_input: dict[str, Any]) -> str:
        duration = _duration(tool_input.get("duration"))
        time.sleep(duration)
        return f"Waited {duration:g} s."


def _keys(text: Any) -> list[str]:
    if not isinstance(text, str) or not text.strip():
        raise ToolError(
            "This action needs text: the key(s) in xdotool form, e.g. ctrl+s or Return."
        )
    return text.split()


def _duration(value: Any, limit: float = 30.0) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ToolError(f"duration must be a number of seconds from 0 to {limit:g}.")
    return float(value)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def fit_display(
    size: tuple[int, int], limit: tuple[int, int] = MAX_DISPLAY_SIZE
) -> tuple[int, int]:
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
        raise ToolError(
            "Cannot take a screenshot: Pillow lacks X support and ImageMagick is not installed."
        )
    done = subprocess.run(
        ["import", "-window", "root", "png:-"],
        capture_output=True,
        timeout=30,
        env={**os.environ, "DISPLAY": display},
    )
    if done.returncode != 0:
        raise ToolError(f"Screenshot failed: {done.stderr.decode(errors='replace').strip()[:300]}")
    return Image.open(io.BytesIO(done.stdout))


# --------------------------------------------------------------------------- dispatch


class ComputerUseHandlers:
    """The three computer-use tools for one model, run in this kernel.

    `tools()` gives `Tool`s for a `ToolSet` (all marked to ask before running);
    `beta` is the `anthropic_beta` flag the request must carry.
    """

    def __init__(
        self,
        model: Model,
        *,
        root: str | Path | None = None,
        display: str | None = None,
        display_size: tuple[int, int] | None = None,
        bash_timeout: float = BASH_TIMEOUT,
    ) -> None:
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
            Tool(name=d["name"], definition=d, handler=handler, confirm=True, beta=self.beta)
            for d in self.definitions()
            if (handler := self.handler_for(d["name"])) is not None
        ]

    def display_problem(self) -> str | None:
        """Why the computer tool will fail (no display, no xdotool), or None."""
        return self.computer.problem()

    def close(self) -> None:
        self.bash.close()
        self.computer.close()
