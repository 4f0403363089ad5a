"""The live view of an answer while it streams, in a notebook or a terminal.

One small interface, two implementations:

- `WidgetView` (ipykernel front ends): header, body, tail and status widgets. Each
  finished Markdown block is rendered once and appended to an `ipywidgets.Output`
  (the blocks finished since the last render go out as one display message; the
  Output captures the cell's displays while a message streams, not once per
  append); only the unfinished last block (bounded in size) is re-sent, at most
  every `min_interval` seconds, and the view sends at most
  `MAX_MESSAGES_PER_SECOND` display messages in any second while it streams.
  Traffic grows linearly with the reply. `finish` replaces the whole widget,
  through its display id, with the static bundle from render.py, so a saved or
  nbclient-executed notebook keeps the answer.
- `DeltaView` (delta_view.py, where the front end loads anywidget widgets): each live
  update carries only the new text and the HTML of newly finished blocks.
- `TextView` (terminal IPython, plain shells): writes new text as it arrives.

Calls, in order:

    view.start({"model": "Claude Sonnet 4.5", "chat": "default",
                "images": [(png_bytes, "cell [3]", 1200)],      # images optional
                "controls": [stop_button]})                     # widgets beside the header, optional
    view.update(message)        # after stream events; the view throttles itself
    view.due()                  # would update() render now? (else text deltas may wait)
    view.tool_call(tool_use_block)      # tool loop: about to run this call
    view.tool_result(tool_use_id, summary, is_error=False, image_png=None,
                     traceback_text=None)  # a failed tool's full traceback, shown collapsed
    view.new_message()          # the loop starts the next assistant message
    view.notice("history rewound")      # any time
    view.finish(footer, stop_reason)    # or view.fail(error_text, footer="")

`update` may receive the same Message object each time (fold_event mutates it) or a
fresh copy of the snapshot: either way it is the current message until
`new_message()` or `tool_result()` ends it. `tool_result_block(block)` takes a
Messages API tool_result block instead of its parts.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from typing import Any, TextIO

from ..core.messages import Block, Message
from ..core.render import (
    BlockSplitter,
    Notice,
    ToolOutcome,
    header_html,
    markdown_to_html,
    notice_html,
    status_html,
    tool_call_html,
    tool_input_text,
    tool_preview_html,
    tool_result_html,
)
from ..core.stream import PARTIAL_JSON, lenient_partial_json
from ..core.thinking import THINKING_TYPES, live_thinking_html, thinking_html, thinking_summary
from .view_base import DEFAULT_INTERVAL, MAX_MESSAGES_PER_SECOND, Clock, View

__all__ = ["DEFAULT_INTERVAL", "MAX_MESSAGES_PER_SECOND", "Clock", "TextView", "View", "WidgetView", "in_kernel",
           "make_view"]

class WidgetView(View):
    """The live ipywidgets view; see the module docstring."""

    def __init__(self, *, clock: Clock = time.monotonic, min_interval: float = DEFAULT_INTERVAL):
        super().__init__(clock=clock, min_interval=min_interval)
        self._last_render: float | None = None
        self._splitter = BlockSplitter()
        self._tail_value = ""
        self._handle: Any = None
        self._widgets: dict[str, Any] = {}
        self._capturing = False  # the body Output captures this cell's displays
        self._sent: deque[float] = deque()  # when recent display messages went out

    def start(self, header: dict[str, Any]) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        super().start(header)
        w = self._widgets
        w["header"] = widgets.HTML(
            header_html(header.get("model", ""), header.get("chat", ""), header.get("images") or ())
        )
        # The header's Layout and style serve every widget: each would otherwise be a
        # widget (and a comm_open message) of its own per widget.
        layout, style = w["layout"], w["style"] = w["header"].layout, w["header"].style
        w["body"] = widgets.Output(layout=layout)
        # styled like the finished blocks above it (JupyterLab's rendered-HTML look)
        w["tail"] = widgets.HTML("", layout=layout, style=style, _dom_classes=("jp-RenderedHTMLCommon",))
        w["status"] = widgets.HTML(status_html("● streaming…"), layout=layout, style=style)
        top = w["header"]
        controls = tuple(header.get("controls") or ())  # e.g. a Stop button, beside the header
        if controls:
            top = w["top"] = widgets.HBox([w["header"], *controls], layout=layout)
        w["box"] = widgets.VBox([top, w["body"], w["tail"], w["status"]], layout=layout,
                                _dom_classes=("claude-magic-live",))
        self._handle = display(w["box"], display_id=True)
        self._note_sent()

    def update(self, message: Message) -> None:
        self._track(message)
        now = self.clock()
        if self._due(now):
            self._last_render = now
            self._render()

    def due(self) -> bool:
        return self._due(self.clock())

    def _due(self, now: float) -> bool:
        if self._last_render is not None and now - self._last_render < self.min_interval:
            return False
        return self._may_send(now, 2 if self._capturing else 3)  # an append (+ capture) and the tail

    def tool_call(self, block: Block) -> None:
        self._render(final=True)
        self._show_tool(block)
        self._capture(False)
        self._status(f"● running {block.get('name', 'tool')}…")

    def tool_result(
        self, tool_use_id: str, summary: str, is_error: bool = False, image_png: bytes | None = None,
        traceback_text: str | None = None,
    ) -> None:
        outcome = ToolOutcome(tool_use_id, summary, is_error, image_png, traceback_text)
        self._end_message_display()
        self.transcript.append(outcome)
        self._append([tool_result_html(outcome)])
        self._capture(False)
        self._status("● waiting for Claude…")

    def new_message(self) -> None:
        self._end_message_display()
        self._capture(False)
        self._status("● streaming…")

    def notice(self, text: str) -> None:
        self.transcript.append(Notice(text))
        self._append([notice_html(text)])
        self._capture(False)

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
                        + "".join(self._block_html(c) for c in chunks)
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
            elif kind in THINKING_TYPES:
                if done:
                    parts.append(thinking_html([block]))
                else:
                    tail = live_thinking_html(block)
            if not done:
                break
            self._cursor += 1
            self._splitter = BlockSplitter()
        self._append(parts)
        self._set_tail(tail)

    def _block_html(self, text: str) -> str:
        """A finished block's HTML, kept so the static bundle need not render it again."""
        self._rendered[text] = html = markdown_to_html(text)
        return html

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

        self._capture(True)
        display({"text/html": fragment}, raw=True)
        self._note_sent()

    def _capture(self, on: bool) -> None:
        """Route the cell's displays into the body (on) or back to the cell (off).

        While on, the front end sends every display of this cell to the body and
        ignores display updates, so it is on only while a message streams: tools,
        notices and the final update run with it off."""
        if on == self._capturing or not self._widgets:
            return
        body = self._widgets["body"]
        if on:
            body.__enter__()
        else:
            body.__exit__(None, None, None)
        self._capturing = on
        self._note_sent()

    def _set_tail(self, value: str) -> None:
        if value != self._tail_value and self._widgets:
            self._tail_value = value
            self._widgets["tail"].value = value
            self._note_sent()

    def _status(self, text: str) -> None:
        if self._widgets:
            self._widgets["status"].value = status_html(text)
            self._note_sent()

    def _note_sent(self) -> None:
        self._sent.append(self.clock())

    def _may_send(self, now: float, count: int) -> bool:
        """Whether `count` more display messages keep the last second within
        MAX_MESSAGES_PER_SECOND."""
        sent = self._sent
        while sent and now - sent[0] >= 1.0:
            sent.popleft()
        return len(sent) + count <= MAX_MESSAGES_PER_SECOND

    def _close(self, bundle: dict[str, str]) -> None:
        if self.finished:
            return
        self.finished = True
        self._render(final=True)
        self._capture(False)
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
        for name in ("box", "top", "header", "body", "tail", "status", "layout", "style"):
            if name in w:
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
        self, tool_use_id: str, summary: str, is_error: bool = False, image_png: bytes | None = None,
        traceback_text: str | None = None,
    ) -> None:
        self._render(final=True)
        self._end_message()
        self.transcript.append(ToolOutcome(tool_use_id, summary, is_error, image_png, traceback_text))
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
            elif block.get("type") in THINKING_TYPES and done:
                self._line(f"[{thinking_summary([block])}]")
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


LIVE_VIEW_ENV = "CLAUDE_MAGIC_LIVE_VIEW"  # auto (default), deltas, widgets or text


def make_view(
    shell: Any = None, *, clock: Clock = time.monotonic, min_interval: float = DEFAULT_INTERVAL
) -> View:
    """Inside ipykernel: a DeltaView (delta_view.py) when anywidget imports and the
    front end has not shown that it cannot load it, else a WidgetView when ipywidgets
    imports; elsewhere a TextView. The environment variable CLAUDE_MAGIC_LIVE_VIEW
    (`deltas`, `widgets`, `text`) picks one instead."""
    choice = os.environ.get(LIVE_VIEW_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "deltas", "widgets", "text"):
        choice = "auto"
    if choice != "text" and in_kernel(shell):
        if choice in ("auto", "deltas"):
            try:
                from . import delta_view
            except ImportError:
                pass
            else:
                if delta_view.front_end_loads() or choice == "deltas":
                    return delta_view.DeltaView(clock=clock, min_interval=min_interval)
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            pass
        else:
            return WidgetView(clock=clock, min_interval=min_interval)
    return TextView(clock=clock, min_interval=min_interval)
