"""Whether a host, a browser's origin or an endpoint URL only ever means this machine: the
admin routes answer loopback clients (and pages served from loopback) only, and the
emulator reaches S3 on loopback only.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or a name) only ever means this machine."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return bool(infos) and all(is_loopback(str(info[4][0])) for info in infos)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def is_loopback_origin(origin: str) -> bool:
    """Whether a browser's `Origin` header names a page served from this machine: http(s)
    on a loopback address or `localhost`, judged without DNS."""
    try:
        parts = urlsplit(origin.strip())
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def loopback_url(url: Any) -> str | None:
    """An endpoint URL the emulator may reach (its S3): http(s) on loopback only."""
    if url is None:
        return None
    parts = urlsplit(str(url))
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not is_loopback(parts.hostname)
    ):
        raise ValueError(
            f"the emulator's S3 endpoint must be on loopback (http://127.0.0.1:PORT), not {url!r}"
        )
    return str(url).rstrip("/")
