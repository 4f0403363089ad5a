"""The local answer cache: every reply stored as it arrives, keyed by the exact request
(model and body), so a `map` run again sends only the rows not yet answered. It also
remembers the batch jobs submitted, so a restarted kernel picks a running job up.

One SQLite file (`replies.sqlite3`) in the cache folder; safe across threads.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.messages import Message

CACHE_DIR_ENV = "CLAUDE_MAGIC_CACHE_DIR"
FILE_NAME = "replies.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, message TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS batch_jobs (
    key TEXT PRIMARY KEY, job_arn TEXT NOT NULL, model TEXT NOT NULL, s3_uri TEXT NOT NULL,
    records TEXT NOT NULL, status TEXT, created REAL NOT NULL, collected INTEGER DEFAULT 0);
"""


def default_cache_dir() -> Path:
    """$CLAUDE_MAGIC_CACHE_DIR, else $XDG_CACHE_HOME/claude-magic, else ~/.cache/claude-magic."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "claude-magic"


class ReplyCache:
    """Replies by request key, and batch jobs by the key of their records."""

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder).expanduser() if folder else default_cache_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / FILE_NAME
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- replies

    def get_many(self, keys: Iterable[str]) -> dict[str, Message]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, Message] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                rows = self._db.execute(
                    f"SELECT key, message FROM replies WHERE key IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
                for key, text in rows:
                    found[key] = _message(text)
        return found

    def put(self, key: str, model: str, message: Message) -> None:
        self.put_many([(key, model, message)])

    def put_many(self, items: Iterable[tuple[str, str, Message]]) -> None:
        now = time.time()
        rows = [(k, m, json.dumps(msg.to_dict(), separators=(",", ":")), now) for k, m, msg in items]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    # -- batch jobs

    def save_job(self, key: str, job_arn: str, model: str, s3_uri: str, records: dict[str, str]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO batch_jobs (key, job_arn, model, s3_uri, records, status, created, collected)"
                " VALUES (?, ?, ?, ?, ?, 'Submitted', ?, 0)",
                (key, job_arn, model, s3_uri, json.dumps(records), time.time()),
            )
            self._db.commit()

    def job(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM batch_jobs WHERE key = ?", (key,)).fetchone()
        return _job(row) if row else None

    def jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM batch_jobs ORDER BY created").fetchall()
        return [_job(row) for row in rows]

    def update_job(self, key: str, *, status: str | None = None, collected: bool | None = None) -> None:
        with self._lock:
            if status is not None:
                self._db.execute("UPDATE batch_jobs SET status = ? WHERE key = ?", (status, key))
            if collected is not None:
                self._db.execute("UPDATE batch_jobs SET collected = ? WHERE key = ?", (int(collected), key))
            self._db.commit()


def _message(text: str) -> Message:
    return Message.from_dict(json.loads(text))


def _job(row: tuple[Any, ...]) -> dict[str, Any]:
    key, arn, model, s3_uri, records, status, created, collected = row
    return {"key": key, "job_arn": arn, "model": model, "s3_uri": s3_uri,
            "records": json.loads(records), "status": status, "created": created,
            "collected": bool(collected)}


_OPEN: dict[Path, ReplyCache] = {}
_OPEN_LOCK = threading.Lock()


def cache_at(folder: str | os.PathLike[str] | None) -> ReplyCache:
    """One open cache per folder."""
    path = (Path(folder).expanduser() if folder else default_cache_dir()).resolve()
    with _OPEN_LOCK:
        if path not in _OPEN or not _OPEN[path].path.exists():
            _OPEN[path] = ReplyCache(path)
        return _OPEN[path]
