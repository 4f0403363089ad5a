"""Thinking signatures: an HMAC of the thinking text (and of redacted data), so the emulator can
tell a thinking block it sent from one that was modified."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

_KEY = b"claude-magic emulator: thinking signatures"
_MAC_BYTES = 16


def sign_thinking(text: str) -> str:
    """The signature of a thinking block whose `thinking` is `text`."""
    mac = hmac.new(_KEY, b"thinking\0" + text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(b"\x01" + mac).decode()


def redacted_data(seed: str) -> str:
    """Opaque redacted-thinking data (deterministic for `seed`), with its own MAC."""
    payload = hashlib.sha256(b"redacted\0" + seed.encode()).digest() * 2
    mac = hmac.new(_KEY, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.b64encode(payload + mac).decode()


def _data_intact(data: Any) -> bool:
    if not isinstance(data, str):
        return False
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return False
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    expected = hmac.new(_KEY, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return bool(payload) and hmac.compare_digest(mac, expected)


def block_intact(block: dict[str, Any]) -> bool:
    """Whether a thinking or redacted_thinking block is as the emulator sent it."""
    if block.get("type") == "redacted_thinking":
        return _data_intact(block.get("data"))
    signature, text = block.get("signature"), block.get("thinking")
    return (
        isinstance(signature, str)
        and isinstance(text, str)
        and hmac.compare_digest(signature, sign_thinking(text))
    )
