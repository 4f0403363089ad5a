"""The live view of an answer while it streams, in a notebook or a terminal.

One small interface (view_base.View), three implementations:

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
import re
import sys
import time
from html import unescape
from typing import Any, TextIO

from ..core.messages import Block
from ..core.render import (
    ToolOutcome,
    compaction_html,
    compaction_text,
    header_html,
    markdown_to_html,
    status_html,
    tool_call_html,
    tool_input_text,
)
from ..core.stream import PARTIAL_JSON
from ..core.thinking import (
    THINKING_TYPES,
    live_thinking_html,
    thinking_html,
    thinking_summary,
    thinking_text,
)
from .view_base import DEFAULT_INTERVAL, MAX_MESSAGES_PER_SECOND, Clock, View, tool_preview

__all__ = [
    "DEFAULT_INTERVAL",
    "MAX_MESSAGES_PER_SECOND",
    "Clock",
    "TextView",
    "View",
    "WidgetView",
    "in_kernel",
    "make_view",
]


class WidgetView(View):
    """The live ipywidgets view; see the module docstring."""

    def __init__(self, *, clock: Clock = time.monotonic, min_interval: float = DEFAULT_INTERVAL):
        super().__init__(clock=clock, min_interval=min_interval)
        self._tail_value = ""
        self._widgets: dict[str, Any] = {}
        self._capturing = False  # the body Output captures this cell's displays

    def start(self, header: dict[str, Any]) -> None:
        super().start(header)
        self._open_live(header)

    def _open_live(self, header: dict[str, Any]) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        w, self._tail_value = self._widgets, ""
        w["header"] = widgets.HTML(
            header_html(header.get("model", ""), header.get("chat", ""), header.get("images") or ())
        )
        # The header's Layout and style serve every widget: each would otherwise be a
        # widget (and a comm_open message) of its own per widget.
        layout, style = w["layout"], w["style"] = w["header"].layout, w["header"].style
        w["body"] = widgets.Output(layout=layout)
        # styled like the finished blocks above it (JupyterLab's rendered-HTML look)
        w["tail"] = widgets.HTML(
            "", layout=layout, style=style, _dom_classes=("jp-RenderedHTMLCommon",)
        )
        w["status"] = widgets.HTML(status_html("● streaming…"), layout=layout, style=style)
        top = w["header"]
        controls = tuple(header.get("controls") or ())  # e.g. a Stop button, beside the header
        if controls:
            top = w["top"] = widgets.HBox(
                [w["header"], *controls], layout=layout, _dom_classes=("claude-magic-controls",)
            )
        w["box"] = widgets.VBox(
            [top, w["body"], w["tail"], w["status"]],
            layout=layout,
            _dom_classes=("claude-magic-live",),
        )
        self._handle = display(w["box"], display_id=True)
        self._note_sent()

    # -- drawing
    def _render(self, final: bool = False) -> None:
        """Append newly finished blocks of the current message; refresh the tail."""
        parts, tail = [], ""
        for block, done in self._blocks_to_show(final):
            kind = block.get("type")
            if kind == "text":
                parts.append(self._answer_html(self._text_of(block, done), done))
                if not done and self._splitter.live:
                    tail = markdown_to_html(self._splitter.live)
            elif kind == "compaction" and done:
                parts.append(compaction_html(block))
            elif kind == "tool_use":
                if done and PARTIAL_JSON not in block and self._first_showing(block):
                    parts.append(tool_call_html(block))
                elif not done:
                    tail = tool_preview(block)
            elif kind in THINKING_TYPES:
                if done:
                    parts.append(thinking_html([block]))
                else:
                    tail = live_thinking_html(block)
        self._append(parts)
        self._set_tail(tail)

    def _show_html(self, html: str) -> None:
        self._append([html])
        self._capture(False)  # between messages the cell's displays go to the cell

    def _show_status(self, text: str) -> None:
        self._capture(False)
        if self._widgets:
            self._widgets["status"].value = status_html(text)
            self._note_sent()

    def _show_end(self, footer: str, error: str | None) -> None:
        bundle = self.bundle(footer, error=error)
        self._capture(False)
        if not self._publish(bundle):
            return
        # The widgets are off the page now; empty them so a saved widget state
        # does not hold the answer a second time, then close them.
        w = self._widgets
        w["body"].clear_output()
        w["tail"].value = w["header"].value = w["status"].value = ""
        for name in ("box", "top", "header", "body", "tail", "status", "layout", "style"):
            if name in w:
                w[name].close()
        self._widgets = {}

    def _messages_per_render(self) -> int:
        return 2 if self._capturing else 3  # an append (+ capture) and the tail

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
            p
            for p in (header.get("model", ""), header.get("chat") and f"chat {header['chat']}")
            if p
        )
        images = ", ".join(
            f"{label} (~{tokens:,} tokens)" for _, label, tokens in header.get("images") or ()
        )
        self._line(" · ".join(p for p in (title, images and f"images: {images}") if p))

    def _due(self, now: float) -> bool:
        return True

    def _show_html(self, html: str) -> None:
        """Its own lines are written by the `_show_*` methods above; HTML, as its text."""
        self._line(unescape(re.sub(r"<[^>]+>", "", html)))

    def _open_live(self, header: dict[str, Any]) -> None:
        """A terminal writes on, below whatever was asked: there is nothing to open."""

    # -- drawing
    def _render(self, final: bool = False) -> None:
        for block, done in self._blocks_to_show(final):
            if block.get("type") == "compaction" and done:
                self._line(compaction_text(block))
            if block.get("type") == "text":
                text = self._text_of(block, done)
                if self._written == 0 and text and not self._line_start:
                    self._write("\n")
                self._write(text[self._written :])
                self._written = len(text)
            elif (
                block.get("type") == "tool_use"
                and done
                and PARTIAL_JSON not in block
                and self._first_showing(block)
            ):
                self._show_tool_call(block)
            elif block.get("type") in THINKING_TYPES and done and thinking_text([block]):
                self._line(f"[{thinking_summary([block])}]")

    def _show_tool_call(self, block: Block) -> None:
        self._line(f"[tool] {block.get('name', '?')} {tool_input_text(block.get('input') or {})}")

    def _show_tool_result(self, outcome: ToolOutcome) -> None:
        label = "error" if outcome.is_error else "result"
        if outcome.headline:
            label += f" · {outcome.headline}"
        self._line(f"[{label}] {outcome.summary}")

    def _show_notice(self, text: str) -> None:
        self._line(f"[note] {text}")

    def _show_status(self, text: str) -> None:
        """A terminal has no status line."""

    def _show_citations(self) -> None:
        self._line("Sources:\n" + self._citations.text())

    def _show_end(self, footer: str, error: str | None) -> None:
        if error is not None:
            self._line(f"Error: {error}")
        self._line(footer)

    def _next_block(self) -> None:
        super()._next_block()
        self._written = 0

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
