"""How much the emulator takes on: connections at once, the time a client has to send a
request (its headers and body), and what the request log keeps."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The emulator's bounds; a ValueError names the one that is out of range."""

    max_connections: int = 64  # open at once; beyond, idle ones close or the new one gets 503
    request_timeout: float = 30.0  # seconds from a request's first byte to its last
    log_requests: int = 1000  # the request log keeps the newest this many requests
    log_bytes: int = 64 * MB  # and at most this many bytes of their bodies
    log_body_bytes: int = 1 * MB  # a larger body is kept as its size and SHA-256

    def __post_init__(self) -> None:
        for name, low in (
            ("max_connections", 1),
            ("log_requests", 0),
            ("log_bytes", 0),
            ("log_body_bytes", 0),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer of at least {low}, not {value!r}")
        timeout = self.request_timeout
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not 0 < timeout < math.inf
        ):
            raise ValueError(
                f"request_timeout must be a number of seconds above 0, not {timeout!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
