"""The local answer cache: every reply stored as it arrives, keyed by the exact request
(where it is answered, the model and the body), so a `map` run again sends only the rows
not yet answered there. It also remembers the batch jobs submitted, so a restarted kernel
picks a running job up.

One SQLite file (`replies.sqlite3`) in the cache folder, safe across threads, readable by
its owner only (folder 0700, files 0600). Damage costs one line, never the run: a row
that can't be read is dropped and its request sent again; a file that isn't a readable
cache is set aside (renamed `replies.sqlite3.damaged-<time>`) for a new one; a folder
that can't hold the file leaves the answers in memory.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from ..core.messages import Message
from ..core.private_files import PRIVATE_FILE, PRIVATE_FOLDER

CACHE_DIR_ENV = "CLAUDE_MAGIC_CACHE_DIR"
FILE_NAME = "replies.sqlite3"
SIDE_FILES = ("-wal", "-shm", "-journal")  # what SQLite keeps next to the file
COLUMNS = {
    "replies": ("key", "model", "message", "created"),
    "batch_jobs": (
        "key",
        "job_arn",
        "model",
        "s3_uri",
        "records",
        "status",
        "created",
        "collected",
    ),
}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, message TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS batch_jobs (
    key TEXT PRIMARY KEY, job_arn TEXT NOT NULL, model TEXT NOT NULL, s3_uri TEXT NOT NULL,
    records TEXT NOT NULL, status TEXT, created REAL NOT NULL, collected INTEGER DEFAULT 0);
"""
_JOB_COLUMNS = ", ".join(COLUMNS["batch_jobs"])
T = TypeVar("T")


def default_cache_dir() -> Path:
    """$CLAUDE_MAGIC_CACHE_DIR, else $XDG_CACHE_HOME/claude-magic, else ~/.cache/claude-magic."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    return _own_default_dir()


def _own_default_dir() -> Path:
    """The folder claude-magic chose itself ($XDG_CACHE_HOME or ~/.cache), not one a user named."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "claude-magic"


class Damaged(Exception):
    """The file is not an answer cache this version can read."""


class ReplyCache:
    """Replies by request key, and batch jobs by the key of their records. What goes
    wrong with the file is said through `report`, one line each."""

    def __init__(
        self, folder: str | os.PathLike[str] | None = None, report: Callable[[str], Any] = print
    ) -> None:
        self.folder = Path(folder).expanduser() if folder else default_cache_dir()
        self.path = self.folder / FILE_NAME
        self._report = report
        self._said: set[str] = set()
        self._lock = threading.Lock()
        self._db = self._open()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- the file

    def _open(self, damage: str | None = None) -> sqlite3.Connection:
        """The cache file (set aside for a new one when `damage` says why, or when it turns
        out unreadable); a database in memory when the folder can't hold it."""
        try:
            if damage is not None:
                self._set_aside(damage)
            try:
                return self._connect()
            except Damaged as exc:
                self._set_aside(str(exc))
                return self._connect()
        except (OSError, sqlite3.Error, Damaged) as exc:
            why = _reason(exc, self.folder)
            self._report(
                f"claude-magic: answers can't be kept in {self.folder} ({why}): they are "
                "kept in memory only. Set cache_dir= (or $CLAUDE_MAGIC_CACHE_DIR) to a "
                "folder you can write to."
            )
            db = _connection(":memory:")
            db.executescript(_SCHEMA)
            return db

    def _connect(self) -> sqlite3.Connection:
        self.folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        if self.folder == _own_default_dir():  # ours alone (an older version made it 0755)
            self.folder.chmod(PRIVATE_FOLDER)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))
        _make_private(self.path)
        db = _connection(self.path)
        try:
            _check_tables(db)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.commit()
        except sqlite3.OperationalError:
            db.close()
            raise
        except (sqlite3.DatabaseError, Damaged) as exc:
            db.close()
            raise Damaged(str(exc)) from exc
        _make_private(self.path)  # the side files SQLite just made take the file's mode
        return db

    def _set_aside(self, reason: str) -> None:
        """Rename the file (and its side files) to `<name>.damaged-<time>`: kept, not deleted."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target, number = self.path.with_name(f"{FILE_NAME}.damaged-{stamp}"), 1
        while any(os.path.lexists(f"{target}{suffix}") for suffix in ("", *SIDE_FILES)):
            number += 1
            target = self.path.with_name(f"{FILE_NAME}.damaged-{stamp}-{number}")
        os.rename(self.path, target)
        for suffix in SIDE_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.rename(f"{self.path}{suffix}", f"{target}{suffix}")
        self._report(
            f"claude-magic: the answer cache {self.path} can't be read ({reason}): "
            f"moved it to {target} and started a new one; its answers are asked again. "
            "Delete the old file when you no longer need it."
        )

    def _use(self, operation: Callable[[sqlite3.Connection], T]) -> T | None:
        """`operation` on the database, under the lock. A damaged file is set aside and the
        operation done on a new one; a database that can't be used now (locked, read-only,
        disk full) is said once and gives None."""
        with self._lock:
            try:
                return operation(self._db)
            except sqlite3.OperationalError as exc:
                self._unusable(exc)
                return None
            except sqlite3.DatabaseError as exc:
                if type(exc) is not sqlite3.DatabaseError:  # a constraint, a closed database: a bug
                    raise
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
                self._db = self._open(damage=str(exc))
            try:
                return operation(self._db)
            except sqlite3.DatabaseError as exc:
                self._unusable(exc)
                return None

    def _unusable(self, error: sqlite3.Error) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.rollback()
        line = (
            f"claude-magic: the answer cache {self.path} can't be used now ({error}): answers "
            "are not kept there. Check the file and its folder, or set cache_dir= to another "
            "folder."
        )
        if line not in self._said:
            self._said.add(line)
            self._report(line)

    # -- replies

    def get_many(self, keys: Iterable[str]) -> dict[str, Message]:
        """The stored replies of `keys`; a row that can't be read is dropped."""
        keys = list(dict.fromkeys(keys))

        def read(db: sqlite3.Connection) -> tuple[dict[str, Message], int]:
            found: dict[str, Message] = {}
            bad: list[Any] = []
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = db.execute(
                    f"SELECT key, message FROM replies WHERE key IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
                for key, text in rows:
                    try:
                        found[key] = _message(text)
                    except ValueError:
                        bad.append(key)
            if bad:
                db.executemany("DELETE FROM replies WHERE key = ?", [(key,) for key in bad])
                db.commit()
            return found, len(bad)

        found, dropped = self._use(read) or ({}, 0)
        if dropped:
            self._report(
                f"claude-magic: {dropped} answer(s) in the cache {self.path} could not "
                "be read: dropped, they are asked again."
            )
        return found

    def put(self, key: str, model: str, message: Message) -> None:
        self.put_many([(key, model, message)])

    def put_many(self, items: Iterable[tuple[str, str, Message]]) -> None:
        now = time.time()
        rows = [
            (key, model, json.dumps(message.to_dict(), separators=(",", ":")), now)
            for key, model, message in items
        ]

        def write(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT OR REPLACE INTO replies (key, model, message, created) VALUES (?, ?, ?, ?)",
                rows,
            )
            db.commit()

        self._use(write)

    def __len__(self) -> int:
        count = self._use(lambda db: int(db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]))
        return count or 0

    # -- batch jobs

    def save_job(
        self, key: str, job_arn: str, model: str, s3_uri: str, records: dict[str, str]
    ) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute(
                f"INSERT OR REPLACE INTO batch_jobs ({_JOB_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, 'Submitted', ?, 0)",
                (key, job_arn, model, s3_uri, json.dumps(records), time.time()),
            )
            db.commit()

        self._use(write)

    def job(self, key: str) -> dict[str, Any] | None:
        jobs = self._read_jobs("WHERE key = ?", (key,))
        return jobs[0] if jobs else None

    def jobs(self) -> list[dict[str, Any]]:
        return self._read_jobs("ORDER BY created")

    def _read_jobs(self, clause: str, parameters: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """The jobs `clause` selects; a row that can't be read is dropped."""

        def read(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
            query = f"SELECT {_JOB_COLUMNS} FROM batch_jobs {clause}"
            return db.execute(query, parameters).fetchall()

        jobs, bad = [], []
        for row in self._use(read) or []:
            try:
                jobs.append(_job(row))
            except ValueError:
                bad.append(row[0])
        if bad:

            def drop(db: sqlite3.Connection) -> None:
                db.executemany("DELETE FROM batch_jobs WHERE key = ?", [(key,) for key in bad])
                db.commit()

            self._use(drop)
            self._report(
                f"claude-magic: {len(bad)} batch job(s) in the cache {self.path} could "
                "not be read: dropped (the Bedrock console lists every job)."
            )
        return jobs

    def update_job(
        self, key: str, *, status: str | None = None, collected: bool | None = None
    ) -> None:
        def write(db: sqlite3.Connection) -> None:
            if status is not None:
                db.execute("UPDATE batch_jobs SET status = ? WHERE key = ?", (status, key))
            if collected is not None:
                db.execute(
                    "UPDATE batch_jobs SET collected = ? WHERE key = ?", (int(collected), key)
                )
            db.commit()

        self._use(write)


def _connection(target: str | Path) -> sqlite3.Connection:
    return sqlite3.connect(target, check_same_thread=False, timeout=30)


def _check_tables(db: sqlite3.Connection) -> None:
    """Raise Damaged unless `db` is empty or holds this cache's tables (columns added by a
    later version are fine)."""
    tables = {
        name
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    if tables and not tables & set(COLUMNS):
        raise Damaged(f"another program's database: tables {', '.join(sorted(tables))}")
    for table in sorted(tables & set(COLUMNS)):
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if not columns >= set(COLUMNS[table]):
            raise Damaged(f"its {table} table has columns {', '.join(sorted(columns))}")


def _make_private(path: Path) -> None:
    """The file and its side files readable by their owner only (another owner's are left)."""
    for name in (str(path), *(f"{path}{suffix}" for suffix in SIDE_FILES)):
        with contextlib.suppress(OSError):
            if os.stat(name).st_mode & 0o777 != PRIVATE_FILE:
                os.chmod(name, PRIVATE_FILE)


def _reason(error: BaseException, folder: Path) -> str:
    if isinstance(error, (FileExistsError, NotADirectoryError)):
        blocking = next((p for p in (folder, *folder.parents) if os.path.lexists(p)), folder)
        if not blocking.is_dir():
            return f"{blocking} is a file, not a folder"
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return str(error)


def _message(text: Any) -> Message:
    """A stored reply; ValueError when the row holds anything else."""
    try:
        data = json.loads(text)
        content = data["content"]
        if not isinstance(content, list) or not all(
            isinstance(block, dict) and isinstance(block.get("type"), str) for block in content
        ):
            raise ValueError("the content is not a list of blocks")
        message = Message.from_dict(data)
        _ = message.text  # every text block holds text
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"not a stored reply: {exc}") from None
    return message


def _job(row: tuple[Any, ...]) -> dict[str, Any]:
    """A stored batch job; ValueError when the row holds anything else."""
    key, arn, model, s3_uri, records, status, created, collected = row
    try:
        records = json.loads(records)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a stored batch job: {exc}") from None
    if not (
        isinstance(arn, str)
        and isinstance(s3_uri, str)
        and isinstance(records, dict)
        and isinstance(status, (str, type(None)))
    ):
        raise ValueError("not a stored batch job")
    return {
        "key": key,
        "job_arn": arn,
        "model": model,
        "s3_uri": s3_uri,
        "records": records,
        "status": status,
        "created": created,
        "collected": bool(collected),
    }


_OPEN: dict[Path, ReplyCache] = {}
_OPEN_LOCK = threading.Lock()


def cache_at(folder: str | os.PathLike[str] | None) -> ReplyCache:
    """One open cache per folder."""
    path = (Path(folder).expanduser() if folder else default_cache_dir()).resolve()
    with _OPEN_LOCK:
        if path not in _OPEN or not _OPEN[path].path.exists():
            _OPEN[path] = ReplyCache(path)
        return _OPEN[path]
