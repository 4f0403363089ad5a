"""The request log (`Emulator.requests()`, `GET /_emulator/requests`): what the emulator
keeps of each request it was sent. It is bounded by count and by bytes, the oldest entries
going first; a body above `log_body_bytes` is kept as its size and SHA-256 only, and
credentials in headers are redacted.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from .json_body import load_json
from .limits import Limits

CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-amz-security-token",
        "x-api-key",
        "cookie",
    }
)
KEPT_TAIL = 4  # characters of a secret kept, when it is long enough to spare them
_ENTRY_OVERHEAD = 256  # bytes counted for an entry's own fields
_SIGNATURE = re.compile(r"(Signature=)([^,\s]*)")


def redacted(secret: str) -> str:
    """`secret` as `****` and, when it is long, its last few characters."""
    return "****" + (secret[-KEPT_TAIL:] if len(secret) >= 4 * KEPT_TAIL else "")


def redact_header(name: str, value: str) -> str:
    """A header's value as the log keeps it: a credential keeps its scheme (and a SigV4
    signature its credential scope) and at most its last few characters."""
    if name.lower() not in CREDENTIAL_HEADERS:
        return value
    scheme, space, rest = value.strip().partition(" ")
    if not space or name.lower() in ("cookie", "x-api-key", "x-amz-security-token"):
        return redacted(value.strip())
    if scheme.upper().startswith("AWS4-"):
        return f"{scheme} " + _SIGNATURE.sub(lambda m: m[1] + redacted(m[2]), rest)
    return f"{scheme} {redacted(rest.strip())}"


def logged_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name: redact_header(name, value) for name, value in headers}


SMALL_FIELD = 4096  # bytes of JSON: a large body's top-level fields up to this size are kept


def omitted(data: bytes) -> dict[str, Any]:
    """What the log keeps of a body too large to keep: its size and digest, and its small
    top-level fields (max_tokens, anthropic_beta, ...; not the messages)."""
    kept: dict[str, Any] = {
        "omitted": True,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    try:
        value = load_json(data)
    except ValueError:
        return kept
    if isinstance(value, dict):
        kept |= {
            key: item
            for key, item in value.items()
            if key not in kept and len(json.dumps(item)) <= SMALL_FIELD
        }
    return kept


class RequestLog:
    """Entries oldest first, within the limits; thread-safe. An entry stays a live dict
    while its request is answered (status, notes), so it is charged its size up front."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._lock = threading.Lock()
        self._entries: deque[tuple[dict[str, Any], int]] = deque()
        self._bytes = 0

    def body(self, data: bytes) -> tuple[Any, int]:
        """A body as the log keeps it (its JSON, else its text, or a digest when it is too
        large), and the bytes it is charged."""
        if len(data) > self.limits.log_body_bytes:
            return omitted(data), 0
        try:
            return load_json(data), len(data)
        except ValueError:
            return data.decode("utf-8", errors="replace"), len(data)

    def add(self, entry: dict[str, Any], size: int) -> None:
        """Keep `entry`, charged `size` bytes, dropping the oldest entries over the limits."""
        with self._lock:
            self._entries.append((entry, size + _ENTRY_OVERHEAD))
            self._bytes += size + _ENTRY_OVERHEAD
            self._trim()

    def note(self, entry: dict[str, Any], key: str, value: Any) -> None:
        """Add a field to a kept entry; a large value is kept as its size and digest."""
        data = json.dumps(value).encode()
        kept = omitted(data) if len(data) > self.limits.log_body_bytes else value
        with self._lock:
            entry[key] = kept
            for index in range(len(self._entries) - 1, -1, -1):  # the newest, most likely
                logged, size = self._entries[index]
                if logged is entry:
                    charge = len(data) if kept is value else 0
                    self._entries[index] = (logged, size + charge)
                    self._bytes += charge
                    self._trim()
                    return

    def _trim(self) -> None:
        limits = self.limits
        while self._entries and (
            len(self._entries) > limits.log_requests
            or (self._bytes > limits.log_bytes and len(self._entries) > 1)
        ):
            _, size = self._entries.popleft()
            self._bytes -= size

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry, _ in self._entries]

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._bytes = 0
            return count

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
