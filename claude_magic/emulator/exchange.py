"""One HTTP exchange as an operation's handler sees it: the request, the emulator's state
and the ways to answer. The server implements `Exchange`; the handlers in the routes
table take one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .faults import Fault
    from .state import EmulatorState


class BadRequest(Exception):
    """A request the HTTP layer cannot make sense of; the connection is closed after it."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Request:
    """A routed request: what was asked, and of which operation."""

    method: str
    path: str  # without the query
    query: str
    headers: Message
    body: bytes
    started: float  # time.monotonic() when it arrived
    operation: str
    identifier: str | None  # the path's label (model id, job id, ...), unquoted


class Exchange(Protocol):
    """How a handler answers: JSON, an event stream, or a dropped connection."""

    @property
    def state(self) -> EmulatorState: ...

    def send_json(self, payload: Any, headers: dict[str, str] | None = None) -> None:
        """A 200 reply with a JSON body."""

    def send_event_stream(
        self, frames: Iterator[tuple[bytes, bool, bytes]], fault: Fault | None
    ) -> None:
        """A 200 event stream of (frame, is a content delta, event JSON), meeting `fault`."""

    def send_sse(self, frames: Iterator[tuple[bytes, bool, bytes]], fault: Fault | None) -> None:
        """A 200 stream of server-sent events (the Messages API), meeting `fault`."""

    def abort(self) -> None:
        """Close the connection abruptly (TCP reset)."""

    def wait(self, seconds: float) -> None:
        """Sleep, cut short when the server stops."""

    def note(self, key: str, value: Any) -> None:
        """Add a field to this request's entry in the request log."""


Handler = Callable[[Exchange, Request], None]
