"""Prompt caching as Bedrock does it: `cache_control` breakpoints, checked, and a cache
of prefixes per model with TTLs on a clock tests can move forward.

A breakpoint caches the request's prefix up to and including its block, in the order
tools → system → messages, when that prefix holds at least the model's minimum. A
request reads the longest prefix still cached (refreshing its TTL) and writes the rest
up to its last breakpoint; `input_tokens` then counts only the uncached remainder.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..core.messages import as_blocks, estimate_text_tokens
from ..models.catalog import Model
from .errors import validation
from .tokens import MESSAGE_OVERHEAD, block_tokens

MAX_BREAKPOINTS = 4
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
CACHE_CONTROL_KEYS = ("type", "ttl")
TTL_ORDER = (
    "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control "
    "block. Note that blocks are processed in the following order: `tools`, `system`, "
    "`messages`."
)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _pieces(body: dict[str, Any]) -> Iterator[tuple[str, Any, int, dict[str, Any] | None]]:
    """(where, piece without cache_control, its tokens, its cache_control) in prefix order."""
    for i, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict):
            plain = {k: v for k, v in tool.items() if k != "cache_control"}
            yield (
                f"tools.{i}",
                plain,
                estimate_text_tokens(_compact(plain)),
                tool.get("cache_control"),
            )
    system = body.get("system")
    if system:
        for i, block in enumerate(as_blocks(system)):
            if isinstance(block, dict):
                plain = {k: v for k, v in block.items() if k != "cache_control"}
                yield f"system.{i}", plain, block_tokens(plain), block.get("cache_control")
    for m, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict):
            continue
        yield f"messages.{m}", message.get("role"), MESSAGE_OVERHEAD, None
        for i, block in enumerate(as_blocks(message.get("content") or [])):
            if isinstance(block, dict):
                plain = {k: v for k, v in block.items() if k != "cache_control"}
                yield (
                    f"messages.{m}.content.{i}",
                    plain,
                    block_tokens(plain),
                    block.get("cache_control"),
                )


def check_breakpoints(model: Model, body: dict[str, Any]) -> None:
    """Bedrock's rules for cache_control: form, TTLs the model takes, at most four,
    longer TTLs before shorter ones."""
    seen: list[str] = []
    for where, _, _, control in _pieces(body):
        if control is None:
            continue
        if not isinstance(control, dict) or control.get("type") != "ephemeral":
            raise validation(f"{where}.cache_control.type: Input should be 'ephemeral'")
        for key in control:
            if key not in CACHE_CONTROL_KEYS:
                raise validation(
                    f"{where}.cache_control.ephemeral.{key}: Extra inputs are not permitted"
                )
        ttl = control.get("ttl", "5m")
        if ttl not in TTL_SECONDS:
            raise validation(f"{where}.cache_control.ephemeral.ttl: Input should be '5m' or '1h'")
        if ttl == "1h" and model.caches and "1h" not in model.cache_ttls:
            raise validation(
                f"{where}.cache_control.ephemeral.ttl: ttl='1h' is not supported "
                f"for {model.api_model}."
            )
        if ttl == "1h" and "5m" in seen:
            raise validation(TTL_ORDER)
        seen.append(ttl)
    if len(seen) > MAX_BREAKPOINTS:
        raise validation(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be "
            f"provided. Found {len(seen)}."
        )


@dataclass
class CacheUse:
    """What one request did with the cache, in tokens."""

    read: int = 0
    written: int = 0
    total: int = 0  # the request's input tokens, cached or not

    @property
    def uncached(self) -> int:
        return max(0, self.total - self.read - self.written)


class PromptCache:
    """Cached prefixes per model with their expiry, on a clock that can be advanced."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._offset = 0.0
        self._entries: dict[str, float] = {}  # prefix key -> expiry time
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._clock() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward; returns the total offset."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
            raise ValueError('clock takes {"advance": SECONDS}, a number of seconds ≥ 0')
        with self._lock:
            self._offset += float(seconds)
            return self._offset

    @property
    def offset(self) -> float:
        return self._offset

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._offset = 0.0

    def __len__(self) -> int:
        now = self.now()
        with self._lock:
            return sum(1 for expiry in self._entries.values() if expiry > now)

    def use(self, model: Model, body: dict[str, Any]) -> CacheUse:
        """Read and write the cache for one request; its token counts."""
        hasher = hashlib.sha256(model.id.encode())
        total = 0
        breakpoints: list[tuple[str, int, float]] = []  # key, prefix tokens, ttl seconds
        for _, piece, tokens, control in _pieces(body):
            hasher.update(_compact(piece).encode() + b"\0")
            total += tokens
            if isinstance(control, dict):
                breakpoints.append(
                    (
                        hasher.copy().hexdigest(),
                        total,
                        TTL_SECONDS.get(control.get("ttl", "5m"), 300.0),
                    )
                )
        use = CacheUse(total=max(1, total))
        if not model.caches:
            return use
        breakpoints = [b for b in breakpoints if b[1] >= model.cache_min_tokens]
        if not breakpoints:
            return use
        now = self.now()
        with self._lock:
            hit = -1
            for i in range(len(breakpoints) - 1, -1, -1):
                if self._entries.get(breakpoints[i][0], 0.0) > now:
                    hit = i
                    break
            if hit >= 0:
                key, tokens, ttl = breakpoints[hit]
                self._entries[key] = max(self._entries[key], now + ttl)
                use.read = tokens
            for key, _, ttl in breakpoints[hit + 1 :]:
                self._entries[key] = now + ttl
            use.written = breakpoints[-1][1] - use.read
        return use


def account(message: Any, use: CacheUse) -> None:
    """Put a request's cache use into its reply's usage (when the cache was used)."""
    if not (use.read or use.written):
        return
    message.usage.cache_read_input_tokens = use.read
    message.usage.cache_creation_input_tokens = use.written
    message.usage.input_tokens = use.uncached
