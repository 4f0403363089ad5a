"""The live view that sends deltas: `DeltaView`, on the `LiveAnswer` widget.

While an answer streams, each live update is one widget message with only what
is new: the text added to the unfinished block (shown by the page as a text node,
never as HTML), the thinking text added to the live, collapsed "Thinking" section
(a text node too) and, when blocks finish, their sanitised HTML from render.py,
compressed. Updates go out at most every `min_interval` seconds and at most
`MAX_MESSAGES_PER_SECOND` in any second. `finish` replaces the widget, through its
display id, with the same static bundle as `WidgetView`, so saved notebooks are
unchanged. `header["controls"]` (widgets such as a background answer's Stop button)
are shown beside the header. Every call after `start` may come from another thread
(background.py), run in the cell's copied context.

Whether the front end can load the widget is learnt from the page's `ready`
message, which the kernel reads once the cell is over: `front_end_loads()` says
False once a widget was shown and no page ever answered (a front end without
anywidget), and `make_view` then uses `WidgetView`. Until a page has answered,
a finished widget stays open (it holds nothing of the answer) so that the answer
can still arrive; it is closed when the next view is made.
"""

from __future__ import annotations

import time
import uuid
import zlib
from typing import Any

from ..core.render import compaction_html, header_html, sanitize, tool_call_html
from ..core.stream import PARTIAL_JSON
from ..core.thinking import THINKING_TYPES, thinking_html, thinking_summary
from .view_base import DEFAULT_INTERVAL, Clock, View, tool_preview

WHOLE_STATE_SECONDS = 0.5  # after the widget opens, updates carry the whole state...
WHOLE_STATE_MAX_CHARS = 4000  # ...while it is this small

_front_end = {"answered": False, "shown": 0}  # a page said ready; widgets shown so far
_open: list[Any] = []  # finished widgets kept open until a page has answered


def _ready(widget: Any, content: Any, buffers: Any) -> None:
    if isinstance(content, dict) and content.get("ready"):
        _front_end["answered"] = True


def front_end_loads() -> bool:
    """Whether to use DeltaView: yes until a widget was shown and no page answered.
    Closes the widgets kept open for that answer."""
    while _open:
        _open.pop().close()
    return bool(_front_end["answered"] or not _front_end["shown"])


def _utf16(text: str) -> int:
    """Length in UTF-16 code units, as the page counts."""
    return len(text.encode("utf-16-le")) // 2


class DeltaView(View):
    """The live view that sends deltas; see the module docstring."""

    def __init__(self, *, clock: Clock = time.monotonic, min_interval: float = DEFAULT_INTERVAL):
        super().__init__(clock=clock, min_interval=min_interval)
        self._widget: Any = None
        self._opened = 0.0
        self._seq = 0
        self._tail_from = 0  # where, in the current text block, the page's unfinished text starts
        self._shown = 0  # how much of the current text block the page has
        self._preview = ""
        self._thinking = ""  # the live thinking section's title on the page ("" when there is none)
        self._thought = 0  # how much of the current thinking block's text the page has
        self._page_html: list[str] | None = []  # all HTML sent, kept only while whole states go out
        self._page_size = 0

    # -- the interface
    def start(self, header: dict[str, Any]) -> None:
        super().start(header)
        self._open_live(header)

    def _open_live(self, header: dict[str, Any]) -> None:
        from IPython.display import display

        from .live_widget import LiveAnswer, shared_layout

        head = header_html(
            header.get("model", ""), header.get("chat", ""), header.get("images") or ()
        )
        self._widget = LiveAnswer(
            key=uuid.uuid4().hex,
            header=sanitize(head, chrome=True),
            status="● streaming…",
            layout=shared_layout(),
            controls=list(header.get("controls") or ()),
        )
        self._widget.on_msg(_ready)
        _front_end["shown"] += 1
        self._seq, self._preview, self._thinking, self._thought = 0, "", "", 0  # a new page state
        self._page_html, self._page_size = [], 0
        self._handle = display(self._widget, display_id=True)
        self._opened = self.clock()
        self._note_sent()

    # -- drawing
    def _render(self, final: bool = False) -> None:
        """Send what changed in the current message: finished blocks' HTML, new text
        and new thinking text."""
        message, parts = self._current, []
        drop, text_added, preview = 0, "", ""
        title: str | None = None  # the live thinking section's new title (None: unchanged)
        thought = ""  # thinking text added to the live section
        for block, done in self._blocks_to_show(final):
            kind = block.get("type")
            if kind == "compaction" and done:
                parts.append(sanitize(compaction_html(block), chrome=True))
            if kind == "text":
                text = self._text_of(block, done)
                parts.append(self._answer_html(text, done))
                start = len(text) if done else self._splitter.start
                if start > self._tail_from:  # the page's text from there on is finished
                    drop += _utf16(text[self._tail_from : min(start, self._shown)])
                    self._tail_from = start
                    self._shown = max(self._shown, start)
                end = len(text) if done else self._splitter.live_end  # a table shows once complete
                text_added += text[self._shown : end]
                self._shown = max(self._shown, end)
            elif kind == "tool_use":
                if done and PARTIAL_JSON not in block and self._first_showing(block):
                    parts.append(sanitize(tool_call_html(block), chrome=True))
                elif not done:
                    preview = tool_preview(block)
            elif kind in THINKING_TYPES:
                text = str(block.get("thinking", "")) if kind == "thinking" else ""
                if done:
                    tokens = message.usage.thinking_tokens if message is not None else 0
                    parts.append(sanitize(thinking_html([block], tokens), chrome=True))
                    if self._thinking:  # the finished section replaces the live one
                        self._thinking, title, thought = "", "", ""
                else:
                    if not self._thinking:
                        self._thinking = title = thinking_summary([block], live=True)
                        self._thought, thought = 0, ""
                    thought += text[self._thought :]
                    self._thought = len(text)
        self._send(parts, drop=drop, text=text_added, preview=preview, title=title, thought=thought)

    def _show_html(self, html: str) -> None:
        self._send([html], chrome=True)

    def _show_status(self, text: str) -> None:
        if self._widget is not None:
            self._widget.status = text
            self._note_sent()

    def _show_end(self, footer: str, error: str | None) -> None:
        if not self._publish(self.bundle(footer, error=error)):
            return
        if _front_end["answered"]:
            self._widget.close()
        else:  # its page's ready message, if any, is read after this cell: keep it open till then
            if self._widget.controls:  # they are closed by their owner: keep no reference
                self._widget.controls = []
            _open.append(self._widget)
        self._widget = None

    def _next_block(self) -> None:
        super()._next_block()
        self._tail_from = self._shown = self._thought = 0

    def _send(
        self,
        parts: list[str],
        *,
        drop: int = 0,
        text: str = "",
        preview: str | None = None,
        title: str | None = None,
        thought: str = "",
        chrome: bool = False,
    ) -> None:
        """One live update (nothing when nothing changed)."""
        if self._widget is None:
            return
        html = "".join(parts)
        if chrome and html:
            html = sanitize(html, chrome=True)
        if preview is not None and preview != self._preview:
            self._preview = preview
            preview = sanitize(preview, chrome=True) if preview else ""
        else:
            preview = None
        if not (html or drop or text or preview is not None or title is not None or thought):
            return
        content: dict[str, Any] = {"n": self._seq}
        if self._page_html is not None:  # keep the whole state while it is sent
            self._page_html.append(html)
            self._page_size += len(html)
            live = self._shown - self._tail_from + self._thought
            if (
                self.clock() - self._opened < WHOLE_STATE_SECONDS
                and self._page_size + live <= WHOLE_STATE_MAX_CHARS
            ):
                html, text, drop = "".join(self._page_html), self._page_text(), 0
                preview = sanitize(self._preview, chrome=True) if self._preview else ""
                title, thought = self._thinking, self._page_thought()
                content["f"] = 1
            else:
                self._page_html = None
        if drop:
            content["k"] = drop
        if text:
            content["t"] = text
        if preview is not None:
            content["p"] = preview
        if title is not None:
            content["s"] = title
        if thought:
            content["r"] = thought
        buffers = []
        if html:
            content["h"] = 1
            buffers.append(zlib.compress(html.encode(), 1))
        self._seq += 1
        self._widget.send(content, buffers or None)
        self._note_sent()

    def _page_text(self) -> str:
        """The unfinished text the page shows (of the current block, if it is text)."""
        blocks = self._current.content if self._current is not None else []
        if self._cursor < len(blocks) and blocks[self._cursor].get("type") == "text":
            return blocks[self._cursor].get("text", "")[self._tail_from : self._shown]
        return ""

    def _page_thought(self) -> str:
        """The thinking text the page's live section shows."""
        blocks = self._current.content if self._current is not None else []
        if self._thinking and self._cursor < len(blocks):
            return str(blocks[self._cursor].get("thinking", ""))[: self._thought]
        return ""
