"""What every live view shares: the interface (see view.py's docstring), the
transcript of the answer and its bookkeeping, and the pacing of live renders.

The interface methods keep the transcript and call the hooks through which each
view draws: `_render` (the current message), `_show_tool_call`, `_show_tool_result`,
`_show_notice` (by default as HTML through `_show_html`), `_show_status` and
`_show_end`; `_open_live` shows a new live output, where `continue_below` moved the
answer to (below a question the cell asks the user).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ..core.citations import Citations
from ..core.messages import Block, Message
from ..core.render import (
    BlockSplitter,
    Entry,
    Notice,
    ToolOutcome,
    markdown_to_html,
    notice_html,
    static_bundle,
    tool_call_html,
    tool_preview_html,
    tool_result_html,
)
from ..core.stream import PARTIAL_JSON, lenient_partial_json

Clock = Callable[[], float]
DEFAULT_INTERVAL = 1 / 15  # at most ~15 live renders per second
MAX_MESSAGES_PER_SECOND = 15  # display messages a streaming view sends in any second


class AnswerView(Protocol):
    """What an answer's stages call on a started view (a `View`, or a background
    answer's `StoppableView` around one)."""

    def update(self, message: Message) -> None: ...
    def due(self) -> bool: ...
    def tool_call(self, block: Block) -> None: ...
    def tool_result_block(self, block: Block) -> None: ...
    def notice(self, text: str) -> None: ...
    def finish(self, footer: str, stop_reason: str | None = None) -> None: ...
    def fail(self, text: str, footer: str = "") -> None: ...
    def continue_below(self) -> None: ...


class View(ABC):
    """What every view shares: the transcript of the answer and its bookkeeping."""

    def __init__(self, *, clock: Clock = time.monotonic, min_interval: float = DEFAULT_INTERVAL):
        self.clock = clock
        self.min_interval = min_interval
        self.header: dict[str, Any] = {}
        self.transcript: list[Entry] = []
        self.finished = False
        self._handle: Any = None  # the display handle of the live output
        self._current: Message | None = None
        self._current_index = -1
        self._cursor = 0  # index of the first content block not yet fully shown
        self._splitter = BlockSplitter()  # the current text block's Markdown blocks
        self._shown_tools: set[str] = set()
        self._rendered: dict[str, str] = {}  # finished Markdown blocks shown -> their HTML
        self._next_due = float("-inf")  # no render goes out before this time
        self._sent: deque[float] = deque()  # when recent display messages went out
        self._first_entry = 0  # the transcript's first entry in the current output
        self._moved = False  # continue_below: the next drawing opens a new live output
        self._citations = Citations()  # the answer's citations, numbered as they show

    # -- the interface
    def start(self, header: dict[str, Any]) -> None:
        self.header = dict(header)

    def update(self, message: Message) -> None:
        if self._moved:
            self._reopen()
        self._track(message)
        now = self.clock()
        if self._due(now):
            self._next_due = now + self.min_interval
            self._render()

    @property
    def display_id(self) -> str | None:
        """The display id of the view's output in the cell (None when it has none)."""
        return getattr(self._handle, "display_id", None)

    def due(self) -> bool:
        """Whether `update` would show something now. When not, a caller may hold
        text deltas back and hand them over with a later update."""
        return self._due(self.clock())

    def tool_call(self, block: Block) -> None:
        self._reopen()
        self._render(final=True)
        if self._first_showing(block):
            self._show_tool_call(block)
        self._show_status(f"● running {block.get('name', 'tool')}…")

    def tool_result(
        self,
        tool_use_id: str,
        summary: str,
        is_error: bool = False,
        image_png: bytes | None = None,
        traceback_text: str | None = None,
        headline: str | None = None,
    ) -> None:
        outcome = ToolOutcome(tool_use_id, summary, is_error, image_png, traceback_text, headline)
        self._reopen()
        self._end_message()
        self.transcript.append(outcome)
        self._show_tool_result(outcome)
        self._show_status("● waiting for Claude…")

    def tool_result_block(self, block: Block) -> None:
        """`tool_result` for a Messages API tool_result block."""
        outcome = ToolOutcome.from_block(block)
        self.tool_result(
            outcome.tool_use_id,
            outcome.summary,
            outcome.is_error,
            outcome.image_png,
            traceback_text=outcome.traceback_text,
            headline=outcome.headline,
        )

    def new_message(self) -> None:
        self._reopen()
        self._end_message()
        self._show_status("● streaming…")

    def notice(self, text: str) -> None:
        self._reopen()
        self.transcript.append(Notice(text))
        self._show_notice(text)

    def finish(self, footer: str, stop_reason: str | None = None) -> None:
        self._close(footer)

    def fail(self, text: str, footer: str = "") -> None:
        self._close(footer, error=text)

    def continue_below(self) -> None:
        """Before the cell asks the user something (a tool's y/N question, which the
        front end puts below the outputs so far): the live output becomes the static
        display of what it shows, and the answer goes on in a new output below the
        question, so that the rest of it and its footer come after the question."""
        if self.finished or self._handle is None:
            return
        self._render(final=True)
        self._show_end("", None)
        self._first_entry = len(self.transcript)
        self._handle = None
        self._moved = True

    def bundle(self, footer: str = "", error: str | None = None) -> dict[str, str]:
        """The static display of everything the current output shows (everything
        since the start, or since `continue_below`)."""
        first = self._first_entry == 0
        return static_bundle(
            self.transcript[self._first_entry :],
            model=self.header.get("model", "") if first else "",
            chat=self.header.get("chat", "") if first else "",
            footer=footer,
            images=(self.header.get("images") or ()) if first else (),
            error=error,
            rendered=self._rendered,
            earlier=self.transcript[: self._first_entry],
        )

    # -- how a view draws
    @abstractmethod
    def _open_live(self, header: dict[str, Any]) -> None:
        """Show a new live output in the cell (also below a question, after
        `continue_below`, then with an empty header)."""

    @abstractmethod
    def _render(self, final: bool = False) -> None:
        """Show the current message from block `_cursor` on: the finished blocks, and
        the unfinished last one as far as it goes (with `final`, every block is finished)."""

    def _show_tool_call(self, block: Block) -> None:
        """Show a tool call (once per call: see `_first_showing`)."""
        self._show_html(tool_call_html(block))

    def _show_tool_result(self, outcome: ToolOutcome) -> None:
        self._show_html(tool_result_html(outcome))

    def _show_notice(self, text: str) -> None:
        self._show_html(notice_html(text))

    @abstractmethod
    def _show_html(self, html: str) -> None:
        """Show the view's own HTML (a tool call, its result, a notice) below the answer."""

    @abstractmethod
    def _show_status(self, text: str) -> None:
        """Show what the answer is waiting for."""

    @abstractmethod
    def _show_end(self, footer: str, error: str | None) -> None:
        """Show the end of the answer: its footer, and the error that ended it if any."""

    # -- bookkeeping
    def _track(self, message: Message) -> None:
        """Make `message` the snapshot of the current message (a new one if none)."""
        if self._current is None:
            self.transcript.append(message)
            self._current_index = len(self.transcript) - 1
        elif message is not self._current:
            self.transcript[self._current_index] = message
        self._current = message

    def _end_message(self) -> None:
        """Show the rest of the current message; the next update starts a new one."""
        self._render(final=True)
        self._current = None
        self._cursor = 0
        self._next_block()

    def _blocks_to_show(self, final: bool) -> Iterator[tuple[Block, bool]]:
        """The current message's blocks from `_cursor` on, each with whether it is
        finished (every one is, with `final`), up to the unfinished last one. Once the
        caller has shown a finished block, the cursor moves past it and `_next_block`
        forgets what the view kept of it."""
        blocks = self._current.content if self._current is not None else []
        while self._cursor < len(blocks):
            done = final or self._cursor < len(blocks) - 1
            yield blocks[self._cursor], done
            if not done:
                return
            self._cursor += 1
            self._next_block()

    def _next_block(self) -> None:
        """Forget what was kept of the block shown last (the next one starts afresh)."""
        self._splitter = BlockSplitter()

    def _reopen(self) -> None:
        """After `continue_below`, open the new live output before drawing again."""
        if self._moved and not self.finished:
            self._moved = False
            self._open_live({})

    def _close(self, footer: str, error: str | None = None) -> None:
        if self.finished:
            return
        self.finished = True
        self._render(final=True)
        if len(self._citations):
            self._show_citations()
        self._show_end(footer, error)

    def _text_of(self, block: Block, done: bool) -> str:
        """A text block's text as shown: once it is finished, with its citations' markers."""
        return self._citations.marked(block) if done else str(block.get("text", ""))

    def _show_citations(self) -> None:
        """Show the cited passages below the answer (before its footer)."""
        self._show_html(self._citations.html())

    def _first_showing(self, block: Block) -> bool:
        """Whether the tool call `block` is not shown yet; from now on it counts as shown."""
        tool_id = block.get("id", "")
        if tool_id in self._shown_tools:
            return False
        self._shown_tools.add(tool_id)
        return True

    def _answer_html(self, text: str, done: bool) -> str:
        """The HTML of the Markdown blocks of `text` (the current text block, so far)
        finished since the last call, "" when none; with `done`, of all the rest. Each
        block is rendered once and kept, so the static bundle need not render it again."""
        chunks = self._splitter.feed(text)
        if done:
            chunks += self._splitter.close()
        if not chunks:
            return ""
        parts = []
        for chunk in chunks:
            self._rendered[chunk] = html = markdown_to_html(chunk)
            parts.append(html)
        return '<div class="claude-magic-answer">' + "".join(parts) + "</div>"

    def _publish(self, bundle: dict[str, str]) -> bool:
        """Put `bundle` in place of the live output, through its display id (or below,
        when there is none). Whether there was a live output."""
        if self._handle is None:
            from IPython.display import display

            display(bundle, raw=True)
            return False
        self._handle.update(bundle, raw=True)
        return True

    # -- pacing
    def _messages_per_render(self) -> int:
        """How many display messages a live render may send."""
        return 1

    def _due(self, now: float) -> bool:
        """Whether a render may go out now: `min_interval` after the last one, and its
        messages within MAX_MESSAGES_PER_SECOND in the last second (one comparison for
        most calls: it runs for every held-back delta)."""
        if now < self._next_due:
            return False
        sent = self._sent
        while sent and now - sent[0] >= 1.0:
            sent.popleft()
        if sent and len(sent) + self._messages_per_render() > MAX_MESSAGES_PER_SECOND:
            self._next_due = sent[0] + 1.0  # nothing fits before the oldest one expires
            return False
        return True

    def _note_sent(self) -> None:
        self._sent.append(self.clock())


def tool_preview(block: Block) -> str:
    """The live preview of an unfinished tool_use block's input."""
    partial = lenient_partial_json(block.get(PARTIAL_JSON, ""))
    return tool_preview_html(block.get("name", "tool"), partial)
