"""What a running emulator remembers: the request log, scripted replies, faults, pace, and
the limits it runs with."""

from __future__ import annotations

import threading
from collections import deque
from datetime import date
from importlib import metadata
from typing import Any

from .cache import PromptCache
from .control.batch import BatchJobs
from .control.catalogue import ModelList
from .faults import FaultQueue
from .limits import Limits
from .request_log import RequestLog
from .wire.events import check_script

MIN_PACE = 0.01  # tokens per second


def package_version() -> str:
    """The installed claude-magic version, for the health route and the Server header."""
    try:
        return metadata.version("claude-magic")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class EmulatorState:
    """What the running emulator remembers: request log, scripted replies, faults, pace."""

    def __init__(
        self,
        pace: float | None = None,
        credentials: dict[str, str] | None = None,
        bearer_tokens: frozenset[str] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self.limits = limits or Limits()
        self.log = RequestLog(self.limits)
        self.scripts: deque[dict[str, Any]] = deque()
        self.faults = FaultQueue()
        self.models = ModelList()  # the catalogue plus models users added
        self.today: date | None = None  # lifecycles are judged by this date (None: today)
        self.batch = BatchJobs(self.faults)  # batch inference jobs (control plane)
        self.pace = pace
        self.credentials = credentials
        self.bearer_tokens = bearer_tokens  # Bedrock API keys accepted; None: any
        self.verbose = False
        self.cache = PromptCache()  # prompt caching, with a clock tests can move
        # When a list: (time.monotonic(), sequence, event JSON) for each streamed frame,
        # appended right after the frame is written (benchmarks measure latency with it).
        self.sent_frames: list[tuple[float, int, bytes]] | None = None

    def requests(self) -> list[dict[str, Any]]:
        return self.log.entries()

    def clear_requests(self) -> int:
        return self.log.clear()

    def add_script(self, message: dict[str, Any]) -> None:
        check_script(message)
        with self.lock:
            self.scripts.append(message)

    def pending_scripts(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.scripts)

    def next_script(self) -> dict[str, Any] | None:
        with self.lock:
            return self.scripts.popleft() if self.scripts else None

    def clear_scripts(self) -> int:
        with self.lock:
            count = len(self.scripts)
            self.scripts.clear()
            return count

    def reset(self) -> None:
        self.clear_requests()
        self.clear_scripts()
        self.faults.clear()
        self.cache.clear()

    def health(self) -> dict[str, Any]:
        requests = len(self.log)
        with self.lock:
            scripts = len(self.scripts)
        return {
            "status": "ok",
            "service": "claude-magic bedrock-runtime emulator",
            "version": package_version(),
            "pace": self.pace,
            "auth": "sigv4" if self.credentials else "presence",
            "api_keys": "checked" if self.bearer_tokens is not None else "presence",
            "requests": requests,
            "scripts": scripts,
            "faults": len(self.faults),
            "limits": self.limits.to_dict(),
        }


def set_pace(value: Any) -> float | None:
    """A valid pace (tokens per second, None for unlimited)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= MIN_PACE:
        raise ValueError(
            f"pace must be at least {MIN_PACE} tokens per second, or null for unlimited"
        )
    return float(value)


def set_today(value: Any) -> date | None:
    """A date to judge model lifecycles by ("YYYY-MM-DD" or a date; None for the real date)."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"today must be a date as YYYY-MM-DD, not {value!r}") from None
