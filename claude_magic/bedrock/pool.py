"""Many requests at once: a bounded pool of worker threads whose concurrency shrinks
when Bedrock throttles and grows back as requests succeed (on top of botocore's
adaptive retry mode). A throttled row goes back in the queue, any other failure is
recorded in that row's reply; an interrupt stops taking rows at once and returns
what is done (requests already in flight finish in the background and are cached).
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..core.errors import ClaudeMagicError
from ..core.reply import Reply

THROTTLED_KINDS = ("throttled", "quota", "overloaded")
MAX_THROTTLE_RETRIES = 12  # per row, on top of botocore's own attempts
GROW_AFTER = 8  # successes in a row before one more request may run at once


class AdaptiveLimit:
    """How many requests may run at once. Bedrock throttling a request past botocore's
    retries halves it; a request that needed botocore's retries takes one off; either
    at most once per `quiet` seconds (one signal per round trip, as TCP does). It grows
    by one after `GROW_AFTER` untroubled successes, never above `ceiling` nor below 1."""

    def __init__(
        self, ceiling: int, quiet: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ceiling = max(1, int(ceiling))
        self.limit = self.ceiling
        self.active = 0
        self.peak = 0
        self.lowest = self.ceiling
        self.quiet = quiet
        self._clock = clock
        self._calm_from = 0.0
        self._streak = 0
        self._cond = threading.Condition()

    def acquire(self, stop: threading.Event) -> bool:
        with self._cond:
            while self.active >= self.limit:
                if stop.is_set():
                    return False
                self._cond.wait(0.1)
            if stop.is_set():
                return False
            self.active += 1
            self.peak = max(self.peak, self.active)
            return True

    def release(self, *, throttled: bool = False, retried: bool = False) -> None:
        with self._cond:
            self.active -= 1
            if throttled or retried:
                self._streak = 0
                now = self._clock()
                if now >= self._calm_from:
                    self._calm_from = now + self.quiet
                    self.limit = max(1, self.limit // 2 if throttled else self.limit - 1)
                    self.lowest = min(self.lowest, self.limit)
            else:
                self._streak += 1
                if self._streak >= GROW_AFTER and self.limit < self.ceiling:
                    self.limit += 1
                    self._streak = 0
            self._cond.notify_all()


class Pool:
    """Runs `work(row)` for each row on up to `concurrency` threads."""

    def __init__(
        self,
        work: Callable[[int], tuple[Reply, bool]],
        concurrency: int,
        on_done: Callable[[int, Reply], None] | None = None,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        """`work(row)` returns (reply, retried: botocore needed retries); it raises ClaudeMagicError
        for a failure, whose kind says whether to retry the row."""
        self.work = work
        self.limit = AdaptiveLimit(concurrency)
        self.on_done = on_done
        self.stop = threading.Event()
        self.results: dict[int, Reply] = {}
        self._queue: deque[int] = deque()
        self._retries: dict[int, int] = {}
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._pending = 0
        self._sleep = sleep or self.stop.wait

    def run(self, rows: list[int]) -> dict[int, Reply]:
        """Every row's reply; on KeyboardInterrupt, stop and return the ones done."""
        if not rows:
            return {}
        self._queue.extend(rows)
        self._pending = len(rows)
        threads = [
            threading.Thread(target=self._worker, name=f"claude-magic-map-{i}", daemon=True)
            for i in range(min(self.limit.ceiling, len(rows)))
        ]
        for thread in threads:
            thread.start()
        try:
            while not self._finished.wait(0.1):
                pass
        except KeyboardInterrupt:
            self.stop.set()
            with self._lock:
                return dict(self.results)
        return dict(self.results)

    def _next(self) -> int | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _worker(self) -> None:
        while not self.stop.is_set():
            if not self.limit.acquire(self.stop):
                return
            row = self._next()
            if row is None:
                self.limit.release(throttled=False)
                return
            retried, reply = False, None
            try:
                reply, retried = self.work(row)
            except ClaudeMagicError as exc:
                if getattr(exc, "kind", None) in THROTTLED_KINDS and self._retry(row):
                    self.limit.release(throttled=True)
                    self._sleep(_backoff(self._retries[row]))
                    continue
                reply = Reply.failed(str(exc))
            except Exception as exc:  # one row's surprise never stops the others
                reply = Reply.failed(f"{type(exc).__name__}: {exc}")
            self.limit.release(retried=retried)
            self._finish(row, reply)

    def _retry(self, row: int) -> bool:
        with self._lock:
            count = self._retries.get(row, 0) + 1
            if count > MAX_THROTTLE_RETRIES or self.stop.is_set():
                return False
            self._retries[row] = count
            self._queue.append(row)
            return True

    def _finish(self, row: int, reply: Reply) -> None:
        with self._lock:
            self.results[row] = reply
            self._pending -= 1
            done = self._pending <= 0
        if self.on_done is not None:
            try:
                self.on_done(row, reply)
            except Exception:  # a broken progress display must not lose results
                pass
        if done:
            self._finished.set()


def _backoff(attempt: int) -> float:
    """Seconds before a throttled row is tried again: exponential with full jitter."""
    return random.uniform(0, min(20.0, 0.25 * 2**attempt))
