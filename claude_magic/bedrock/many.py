"""`map` on threads: one request body per row (on the spec's route), answers read from
the cache where the exact request was answered before by the same source, the rest sent
through the adaptive pool and cached as they arrive. Identical requests are sent once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.messages import Block
from ..core.reply import Reply
from ..core.request import RequestSpec
from .ask import request_key, route_client, send
from .cache import ReplyCache
from .pool import Pool


class Progress(Protocol):
    def start(self, total: int, done: list[Reply]) -> None: ...
    def update(self, reply: Reply) -> None: ...
    def close(self) -> None: ...


@dataclass
class Prepared:
    """The requests of a map: bodies, their cache keys, and replies found already."""

    bodies: list[dict[str, Any]]
    keys: list[str]
    replies: list[Reply | None]

    def missing(self) -> list[int]:
        """Rows still to send, one per distinct request."""
        seen: set[str] = set()
        rows = []
        for row, reply in enumerate(self.replies):
            if reply is None and self.keys[row] not in seen:
                seen.add(self.keys[row])
                rows.append(row)
        return rows

    def fill(self, row: int, reply: Reply) -> list[int]:
        """Give `reply` to `row` and every row sending the same request; their rows."""
        rows = [r for r in self._rows_by_key.get(self.keys[row], [row]) if self.replies[r] is None]
        for r in rows:
            self.replies[r] = reply
        return rows

    def __post_init__(self) -> None:
        self._rows_by_key: dict[str, list[int]] = {}
        for row, key in enumerate(self.keys):
            self._rows_by_key.setdefault(key, []).append(row)


def prepare(
    spec: RequestSpec,
    contents: list[list[Block]],
    cache: ReplyCache | None,
    *,
    source: dict[str, Any],
) -> Prepared:
    """The bodies of `contents`, keyed by `source` (`ask.answer_source`), and the replies
    the cache holds for them."""
    bodies = [spec.body([{"role": "user", "content": content}]) for content in contents]
    keys = [request_key(spec, body, source) for body in bodies]
    replies: list[Reply | None] = [None] * len(bodies)
    if cache is not None:
        found = cache.get_many(keys)
        for row, key in enumerate(keys):
            if key in found:
                replies[row] = spec.reply(found[key], cached=True)
    return Prepared(bodies, keys, replies)


def map_threads(
    client: Any,
    spec: RequestSpec,
    prepared: Prepared,
    *,
    concurrency: int,
    cache: ReplyCache | None,
    progress: Progress | None = None,
    on_pool: Callable[[Pool], None] | None = None,
) -> bool:
    """Send the missing rows; fills `prepared.replies`. True when interrupted."""
    todo = prepared.missing()
    client = route_client(client, spec.api)

    def work(row: int) -> tuple[Reply, bool]:
        message = send(client, spec, prepared.bodies[row])
        if cache is not None:
            cache.put(prepared.keys[row], spec.invoke_id, message)
        return spec.reply(message), int(message.metrics.get("retryAttempts") or 0) > 0

    def done(row: int, reply: Reply) -> None:
        for _ in prepared.fill(row, reply):
            if progress is not None:
                progress.update(reply)

    if progress is not None:
        progress.start(len(prepared.replies), [r for r in prepared.replies if r is not None])
    pool = Pool(work, concurrency, on_done=done)
    if on_pool is not None:
        on_pool(pool)
    try:
        results = pool.run(todo)
    finally:
        if progress is not None:
            progress.close()
    return len(results) < len(todo)
