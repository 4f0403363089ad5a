"""What every live view shares: the interface (see view.py's docstring), the
transcript of the answer and its bookkeeping."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from ..core.messages import Block, Message
from ..core.render import Entry, ToolOutcome, static_bundle

Clock = Callable[[], float]
DEFAULT_INTERVAL = 1 / 15  # at most ~15 live renders per second
MAX_MESSAGES_PER_SECOND = 15  # display messages a streaming WidgetView sends in any second


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
        self._rendered: dict[str, str] = {}  # finished Markdown blocks shown -> their HTML

    # -- the interface
    def start(self, header: dict[str, Any]) -> None:
        self.header = dict(header)

    @abstractmethod
    def update(self, message: Message) -> None:
        """See the module docstring."""

    @property
    def display_id(self) -> str | None:
        """The display id of the view's output in the cell (None when it has none)."""
        return getattr(getattr(self, "_handle", None), "display_id", None)

    def due(self) -> bool:
        """Whether `update` would show something now. When not, a caller may hold
        text deltas back and hand them over with a later update."""
        return True

    @abstractmethod
    def tool_call(self, block: Block) -> None:
        """See the module docstring."""

    @abstractmethod
    def tool_result(
        self, tool_use_id: str, summary: str, is_error: bool = False, image_png: bytes | None = None,
        traceback_text: str | None = None,
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
            rendered=self._rendered,
        )

    def tool_result_block(self, block: Block) -> None:
        """`tool_result` for a Messages API tool_result block."""
        outcome = ToolOutcome.from_block(block)
        self.tool_result(outcome.tool_use_id, outcome.summary, outcome.is_error, outcome.image_png,
                         traceback_text=outcome.traceback_text)

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
