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
from collections import deque
from typing import Any

from ..core.messages import Block, Message
from ..core.render import (
    BlockSplitter,
    Notice,
    ToolOutcome,
    header_html,
    markdown_to_html,
    notice_html,
    sanitize,
    tool_call_html,
    tool_preview_html,
    tool_result_html,
)
from ..core.stream import PARTIAL_JSON, lenient_partial_json
from ..core.thinking import THINKING_TYPES, thinking_html, thinking_summary
from .view_base import DEFAULT_INTERVAL, MAX_MESSAGES_PER_SECOND, Clock, View

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
    return _front_end["answered"] or not _front_end["shown"]


def _utf16(text: str) -> int:
    """Length in UTF-16 code units, as the page counts."""
    return len(text.encode("utf-16-le")) // 2


class DeltaView(View):
    """The live view that sends deltas; see the module docstring."""

    def __init__(self, *, clock: Clock = time.monotonic, min_interval: float = DEFAULT_INTERVAL):
        super().__init__(clock=clock, min_interval=min_interval)
        self._widget: Any = None
        self._handle: Any = None
        self._opened = 0.0
        self._next_due = float("-inf")  # no render goes out before this time
        self._sent: deque[float] = deque()
        self._seq = 0
        self._splitter = BlockSplitter()
        self._tail_from = 0  # where, in the current text block, the page's unfinished text starts
        self._shown = 0  # how much of the current text block the page has
        self._preview = ""
        self._thinking = ""  # the live thinking section's title on the page ("" when there is none)
        self._thought = 0  # how much of the current thinking block's text the page has
        self._page_html: list[str] | None = []  # all HTML sent, kept only while whole states go out
        self._page_size = 0

    # -- the interface
    def start(self, header: dict[str, Any]) -> None:
        from IPython.display import display

        from .live_widget import LiveAnswer, shared_layout

        super().start(header)
        head = header_html(header.get("model", ""), header.get("chat", ""), header.get("images") or ())
        self._widget = LiveAnswer(key=uuid.uuid4().hex, header=sanitize(head, chrome=True),
                                  status="● streaming…", layout=shared_layout(),
                                  controls=list(header.get("controls") or ()))
        self._widget.on_msg(_ready)
        _front_end["shown"] += 1
        self._handle = display(self._widget, display_id=True)
        self._opened = self.clock()
        self._note_sent()

    def update(self, message: Message) -> None:
        self._track(message)
        now = self.clock()
        if self._due(now):
            self._next_due = now + self.min_interval
            self._render()

    def due(self) -> bool:
        now = self.clock()
        return now >= self._next_due and self._due(now)  # the first test settles most calls

    def tool_call(self, block: Block) -> None:
        self._render(final=True)
        if block.get("id", "") not in self._shown_tools:
            self._shown_tools.add(block.get("id", ""))
            self._send([tool_call_html(block)], chrome=True)
        self._status(f"● running {block.get('name', 'tool')}…")

    def tool_result(
        self, tool_use_id: str, summary: str, is_error: bool = False, image_png: bytes | None = None,
        traceback_text: str | None = None,
    ) -> None:
        outcome = ToolOutcome(tool_use_id, summary, is_error, image_png, traceback_text)
        self._end_message_display()
        self.transcript.append(outcome)
        self._send([tool_result_html(outcome)], chrome=True)
        self._status("● waiting for Claude…")

    def new_message(self) -> None:
        self._end_message_display()
        self._status("● streaming…")

    def notice(self, text: str) -> None:
        self.transcript.append(Notice(text))
        self._send([notice_html(text)], chrome=True)

    def finish(self, footer: str, stop_reason: str | None = None) -> None:
        self._close(self.bundle(footer))

    def fail(self, text: str, footer: str = "") -> None:
        self._close(self.bundle(footer, error=text))

    # -- internals
    def _due(self, now: float) -> bool:
        """Whether a render may go out now: `min_interval` after the last one, and
        within MAX_MESSAGES_PER_SECOND in the last second (one comparison per call:
        it runs for every held-back delta)."""
        if now < self._next_due:
            return False
        sent = self._sent
        while sent and now - sent[0] >= 1.0:
            sent.popleft()
        if len(sent) >= MAX_MESSAGES_PER_SECOND:
            self._next_due = sent[0] + 1.0
            return False
        return True

    def _note_sent(self) -> None:
        self._sent.append(self.clock())

    def _end_message_display(self) -> None:
        self._render(final=True)
        self._end_message()
        self._splitter = BlockSplitter()
        self._tail_from = self._shown = self._thought = 0

    def _render(self, final: bool = False) -> None:
        """Send what changed in the current message: finished blocks' HTML, new text
        and new thinking text."""
        message, parts = self._current, []
        blocks = message.content if message is not None else []
        drop, text_added, preview = 0, "", ""
        title: str | None = None  # the live thinking section's new title (None: unchanged)
        thought = ""  # thinking text added to the live section
        while self._cursor < len(blocks):
            block = blocks[self._cursor]
            done = final or self._cursor < len(blocks) - 1
            kind = block.get("type")
            if kind == "text":
                text = block.get("text", "")
                chunks = self._splitter.feed(text)
                if done:
                    chunks += self._splitter.close()
                if chunks:
                    parts.append('<div class="claude-magic-answer">'
                                 + "".join(self._block_html(c) for c in chunks) + "</div>")
                start = len(text) if done else self._splitter.start
                if start > self._tail_from:  # the page's text from there on is finished
                    drop += _utf16(text[self._tail_from : min(start, self._shown)])
                    self._tail_from = start
                    self._shown = max(self._shown, start)
                text_added += text[self._shown :]
                self._shown = len(text)
            elif kind == "tool_use":
                if done and PARTIAL_JSON not in block and block.get("id", "") not in self._shown_tools:
                    self._shown_tools.add(block.get("id", ""))
                    parts.append(sanitize(tool_call_html(block), chrome=True))
                elif not done:
                    partial = lenient_partial_json(block.get(PARTIAL_JSON, ""))
                    preview = tool_preview_html(block.get("name", "tool"), partial)
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
            if not done:
                break
            self._cursor += 1
            self._splitter = BlockSplitter()
            self._tail_from = self._shown = self._thought = 0
        self._send(parts, drop=drop, text=text_added, preview=preview, title=title, thought=thought)

    def _block_html(self, text: str) -> str:
        self._rendered[text] = html = markdown_to_html(text)
        return html

    def _send(self, parts: list[str], *, drop: int = 0, text: str = "", preview: str | None = None,
              title: str | None = None, thought: str = "", chrome: bool = False) -> None:
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
            if (self.clock() - self._opened < WHOLE_STATE_SECONDS
                    and self._page_size + live <= WHOLE_STATE_MAX_CHARS):
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

    def _status(self, text: str) -> None:
        if self._widget is not None:
            self._widget.status = text
            self._note_sent()

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
        if _front_end["answered"]:
            self._widget.close()
        else:  # its page's ready message, if any, is read after this cell: keep it open till then
            if self._widget.controls:  # they are closed by their owner: keep no reference
                self._widget.controls = []
            _open.append(self._widget)
        self._widget = None
