"""The live view of an answer while it streams, in a notebook or a terminal.

One small interface, two implementations:

- `WidgetView` (ipykernel front ends): header, body, tail and status widgets. Each
  finished Markdown block is rendered once and appended to an `ipywidgets.Output`;
  only the unfinished last block (bounded in size) is re-sent, at most every
  `min_interval` seconds. Traffic grows linearly with the reply. `finish` replaces
  the whole widget, through its display id, with the static bundle from render.py,
  so a saved or nbclient-executed notebook keeps the answer.
- `TextView` (terminal IPython, plain shells): writes new text as it arrives.

Calls, in order:

    view.start({"model": "Claude Sonnet 4.5", "chat": "default",
                "images": [(png_bytes, "cell [3]", 1200)]})     # images optional
    view.update(message)        # after every stream event; the view throttles itself
    view.tool_call(tool_use_block)      # tool loop: about to run this call
    view.tool_result(tool_use_id, summary, is_error=False, image_png=None)
    view.new_message()          # the loop starts the next assistant message
    view.notice("history rewound")      # any time
    view.finish(footer, stop_reason)    # or view.fail(error_text, footer="")

`update` may receive the same Message object each time (fold_event mutates it) or a
fresh copy of the snapshot: either way it is the current message until
`new_message()` or `tool_result()` ends it. `tool_result_block(block)` takes a
Messages API tool_result block instead of its parts.
"""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TextIO

from .messages import Block, Message
from .render import (
    BlockSplitter,
    Entry,
    Notice,
    ToolOutcome,
    header_html,
    markdown_to_html,
    notice_html,
    static_bundle,
    status_html,
    tool_call_html,
    tool_input_text,
    tool_preview_html,
    tool_result_html,
)
from .stream import PARTIAL_JSON, lenient_partial_json

Clock = Callable[[], float]
DEFAULT_INTERVAL = 1 / 15  # at most ~15 live renders per second


class View(ABC):
    """What both views share: the transcript of the answer and its bookkeeping."""

    def __init__(self, *, clock: Clock = time.monotonic, min_interval: float = DEFAULT_INTERVAL):
        self.clock = clock
        self.min_interval = min_interval
        self.header: dict[str, Any] = {}
        self.transcript: list[Entry] = []
        self.finished = False
        self._current: Message | None = None
        self._current_index = -1
        self._cursor = 0  # index of the first content block not yet fully shown
        self._shown_tools: set[str] = set()

    # -- the interface
    def start(self, header: dict[str, Any]) -> None:
        self.header = dict(header)

    @abstractmethod
    def update(self, message: Message) -> None:
        """See the module docstring."""

    @abstractmethod
    def tool_call(self, block: Block) -> None:
        """See the module docstring."""

    @abstractmethod
    def tool_result(
        self, tool_use_id: str, summary: str, is_error: bool = False, image_png: bytes | None = None
    ) -> None:
        """See the module docstring."""

    @abstractmethod
    def new_message(self) -> None:
        """See the module docstring."""

    @abstractmethod
    def notice(self, text: str) -> None:
        """See the module docstring."""

    @abstractmethod
    def finish(self, footer: str, stop_reason: str | None = None) -> None:
        """See the module docstring."""

    @abstractmethod
    def fail(self, text: str, footer: str = "") -> None:
        """See the module docstring."""

    # -- shared helpers
    def bundle(self, footer: str = "", error: str | None = None) -> dict[str, str]:
        """The static display of everything shown so far."""
        return static_bundle(
            self.transcript,
            model=self.header.get("model", ""),
            chat=self.header.get("chat", ""),
            footer=footer,
            images=self.header.get("images") or (),
            error=error,
        )

    def tool_result_block(self, block: Block) -> None:
        """`tool_result` for a Messages API tool_result block."""
        outcome = ToolOutcome.from_block(block)
        self.tool_result(outcome.tool_use_id, outcome.summary, outcome.is_error, outcome.image_png)

    def _track(self, message: Message) -> None:
        """Make `message` the snapshot of the current message (a new one if none)."""
        if self._current is None:
            self.transcript.append(message)
            self._current_index = len(self.transcript) - 1
        elif message is not self._current:
            self.transcript[self._current_index] = message
        self._current = message

    def _end_message(self) -> None:
        self._current = None
        self._cursor = 0


class WidgetView(View):
    """The live ipywidgets view; see the module docstring."""

    def __init__(self, *, clock: Clock = time.monotonic, min_interval: float = DEFAULT_INTERVAL):
        super().__init__(clock=clock, min_interval=min_interval)
        self._last_render: float | None = None
        self._splitter = BlockSplitter()
        self._tail_value = ""
        self._handle: Any = None
        self._widgets: dict[str, Any] = {}

    def start(self, header: dict[str, Any]) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        super().start(header)
        w = self._widgets
        w["header"] = widgets.HTML(
            header_html(header.get("model", ""), header.get("chat", ""), header.get("images") or ())
        )
        w["body"] = widgets.Output()
        w["tail"] = widgets.HTML("")
        w["status"] = widgets.HTML(status_html("● streaming…"))
        w["box"] = widgets.VBox([w["header"], w["body"], w["tail"], w["status"]])
        w["box"].add_class("claude-magic-live")
        self._handle = display(w["box"], display_id=True)

    def update(self, message: Message) -> None:
        self._track(message)
        now = self.clock()
        if self._last_render is not None and now - self._last_render < self.min_interval:
            return
        self._last_render = now
        self._render()

    def tool_call(self, block: Block) -> None:
        self._render(final=True)
        self._show_tool(block)
        self._status(f"● running {block.get('name', 'tool')}…")

    def tool_result(
        self, tool_use_id: str, summary: str, is_error: bool = False, image_png: bytes | None = None
    ) -> None:
        outcome = ToolOutcome(tool_use_id, summary, is_error, image_png)
        self._end_message_display()
        self.transcript.append(outcome)
        self._append([tool_result_html(outcome)])
        self._status("● waiting for Claude…")

    def new_message(self) -> None:
        self._end_message_display()
        self._status("● streaming…")

    def notice(self, text: str) -> None:
        self.transcript.append(Notice(text))
        self._append([notice_html(text)])

    def finish(self, footer: str, stop_reason: str | None = None) -> None:
        self._close(self.bundle(footer))

    def fail(self, text: str, footer: str = "") -> None:
        self._close(self.bundle(footer, error=text))

    # -- internals
    def _end_message_display(self) -> None:
        self._render(final=True)
        self._end_message()
        self._splitter = BlockSplitter()

    def _render(self, final: bool = False) -> None:
        """Append newly finished blocks of the current message; refresh the tail."""
        message, parts, tail = self._current, [], ""
        blocks = message.content if message is not None else []
        while self._cursor < len(blocks):
            block = blocks[self._cursor]
            done = final or self._cursor < len(blocks) - 1
            kind = block.get("type")
            if kind == "text":
                chunks = self._splitter.feed(block.get("text", ""))
                if done:
                    chunks += self._splitter.close()
                if chunks:
                    parts.append(
                        '<div class="claude-magic-answer">'
                        + "".join(markdown_to_html(c) for c in chunks)
                        + "</div>"
                    )
                if not done and self._splitter.pending:
                    tail = markdown_to_html(self._splitter.pending)
            elif kind == "tool_use":
                if done and PARTIAL_JSON not in block:
                    parts.append(self._tool_html(block))
                elif not done:
                    partial = lenient_partial_json(block.get(PARTIAL_JSON, ""))
                    tail = tool_preview_html(block.get("name", "tool"), partial)
            elif kind == "thinking" and not done:
                tail = status_html("thinking…")
            if not done:
                break
            self._cursor += 1
            self._splitter = BlockSplitter()
        self._append(parts)
        self._set_tail(tail)

    def _tool_html(self, block: Block) -> str:
        tool_id = block.get("id", "")
        if tool_id in self._shown_tools:
            return ""
        self._shown_tools.add(tool_id)
        return tool_call_html(block)

    def _show_tool(self, block: Block) -> None:
        self._append([self._tool_html(block)])

    def _append(self, parts: list[str]) -> None:
        fragment = "".join(parts)
        if not fragment or not self._widgets:
            return
        from IPython.display import display

        with self._widgets["body"]:
            display({"text/html": fragment}, raw=True)

    def _set_tail(self, value: str) -> None:
        if value != self._tail_value and self._widgets:
            self._tail_value = value
            self._widgets["tail"].value = value

    def _status(self, text: str) -> None:
        if self._widgets:
            self._widgets["status"].value = status_html(text)

    def _close(self, bundle: dict[str, str]) -> None:
        if self.finished:
            return
        self.finished = True
        self._render(final=True)
        if self._handle is None:
            from IPython.display import display

            display(bundle, raw=True)
            return
        self._handle.update(bundle, raw=True)
        # The widgets are off the page now; empty them so a saved widget state
        # does not hold the answer a second time, then close them.
        w = self._widgets
        w["body"].clear_output()
        w["tail"].value = w["header"].value = w["status"].value = ""
        for name in ("box", "header", "body", "tail", "status"):
            w[name].close()
        self._widgets = {}


class TextView(View):
    """Plain text: new text is written as it arrives (no throttling needed, since
    each update writes only what is new). Writes to `stream`, else sys.stdout."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        clock: Clock = time.monotonic,
        min_interval: float = DEFAULT_INTERVAL,
    ):
        super().__init__(clock=clock, min_interval=min_interval)
        self._stream = stream
        self._written = 0  # characters of the current text block already written
        self._line_start = True

    def start(self, header: dict[str, Any]) -> None:
        super().start(header)
        title = " · ".join(
            p for p in (header.get("model", ""), header.get("chat") and f"chat {header['chat']}") if p
        )
        images = ", ".join(f"{label} (~{tokens:,} tokens)" for _, label, tokens in header.get("images") or ())
        self._line(" · ".join(p for p in (title, images and f"images: {images}") if p))

    def update(self, message: Message) -> None:
        self._track(message)
        self._render(final=False)

    def tool_call(self, block: Block) -> None:
        self._render(final=True)
        self._show_tool(block)

    def tool_result(
        self, tool_use_id: str, summary: str, is_error: bool = False, image_png: bytes | None = None
    ) -> None:
        self._render(final=True)
        self._end_message()
        self.transcript.append(ToolOutcome(tool_use_id, summary, is_error, image_png))
        self._line(f"[{'error' if is_error else 'result'}] {summary}")

    def new_message(self) -> None:
        self._render(final=True)
        self._end_message()
        self._written = 0

    def notice(self, text: str) -> None:
        self.transcript.append(Notice(text))
        self._line(f"[note] {text}")

    def finish(self, footer: str, stop_reason: str | None = None) -> None:
        if not self.finished:
            self.finished = True
            self._render(final=True)
            self._line(footer)

    def fail(self, text: str, footer: str = "") -> None:
        if not self.finished:
            self.finished = True
            self._render(final=True)
            self._line(f"Error: {text}")
            self._line(footer)

    # -- internals
    def _render(self, final: bool) -> None:
        blocks = self._current.content if self._current is not None else []
        while self._cursor < len(blocks):
            block = blocks[self._cursor]
            done = final or self._cursor < len(blocks) - 1
            if block.get("type") == "text":
                text = block.get("text", "")
                if self._written == 0 and text and not self._line_start:
                    self._write("\n")
                self._write(text[self._written :])
                self._written = len(text)
            elif block.get("type") == "tool_use" and done and PARTIAL_JSON not in block:
                self._show_tool(block)
            if not done:
                return
            self._cursor += 1
            self._written = 0

    def _show_tool(self, block: Block) -> None:
        if block.get("id", "") not in self._shown_tools:
            self._shown_tools.add(block.get("id", ""))
            self._line(f"[tool] {block.get('name', '?')} {tool_input_text(block.get('input') or {})}")

    def _line(self, text: str) -> None:
        if text:
            if not self._line_start:
                self._write("\n")
            self._write(text + "\n")

    def _write(self, text: str) -> None:
        if text:
            stream = self._stream or sys.stdout
            stream.write(text)
            stream.flush()
            self._line_start = text.endswith("\n")


def in_kernel(shell: Any = None) -> bool:
    """Whether `shell` (default: the running IPython) is an ipykernel shell."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    return shell is not None and (
        type(shell).__name__ == "ZMQInteractiveShell" or getattr(shell, "kernel", None) is not None
    )


def make_view(
    shell: Any = None, *, clock: Clock = time.monotonic, min_interval: float = DEFAULT_INTERVAL
) -> View:
    """A WidgetView inside ipykernel when ipywidgets imports, else a TextView."""
    if in_kernel(shell):
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            pass
        else:
            return WidgetView(clock=clock, min_interval=min_interval)
    return TextView(clock=clock, min_interval=min_interval)
