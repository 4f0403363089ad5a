"""AWS event-stream frames (`application/vnd.amazon.eventstream`), decoded.

A frame is `!I total_length`, `!I headers_length`, `!I crc32(first 8 bytes)`, the
headers, the payload, and `!I crc32(everything before)`. Each header is a 1-byte
name length, the name, a type byte and a value (types 0-9, as botocore reads them).

The checks are botocore's: both checksums, headers of at most 128 KiB and a payload
of at most 24 MiB. Bytes at the end that make no whole frame are held back, never
guessed at. Streams repeat the same few header sets (every Bedrock `chunk` event has
the same three), so each distinct set is decoded once.
"""

from __future__ import annotations

import binascii
import json
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zlib import crc32

Headers = dict[str, object]

PRELUDE_LENGTH = 12
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024
_PRELUDE = struct.Struct("!III")
_CACHED_HEADER_SETS = 64
_FIXED_SIZES = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8}  # byte, short, int, long, timestamp


class FrameError(ValueError):
    """A frame that cannot be decoded: oversized, or with malformed headers."""


class ChecksumError(FrameError):
    """A frame whose prelude or message checksum does not match its bytes."""


def decode_headers(raw: bytes) -> Headers:
    """The headers of one frame. Strings are str, byte arrays and UUIDs bytes,
    integers and timestamps int, booleans bool."""
    headers: Headers = {}
    pos = 0
    try:
        while pos < len(raw):
            end = pos + 1 + raw[pos]
            name = raw[pos + 1 : end].decode("utf-8")
            kind = raw[end]
            pos = end + 1
            value: object
            if kind == 7 or kind == 6:  # string, byte array
                length = int.from_bytes(raw[pos : pos + 2], "big")
                if pos + 2 + length > len(raw):
                    raise IndexError("value past the end")
                value = raw[pos + 2 : pos + 2 + length]
                value = value.decode("utf-8") if kind == 7 else value
                pos += 2 + length
            elif kind in (0, 1):
                value = kind == 0
            elif kind in _FIXED_SIZES:
                size = _FIXED_SIZES[kind]
                if pos + size > len(raw):
                    raise IndexError("value past the end")
                value = int.from_bytes(raw[pos : pos + size], "big", signed=True)
                pos += size
            elif kind == 9:  # uuid
                if pos + 16 > len(raw):
                    raise IndexError("value past the end")
                value = raw[pos : pos + 16]
                pos += 16
            else:
                raise FrameError(f"unknown event-stream header type {kind}")
            if name in headers:
                raise FrameError(f"duplicate event-stream header {name!r}")
            headers[name] = value
    except (IndexError, UnicodeDecodeError) as exc:
        raise FrameError(f"malformed event-stream headers: {exc}") from None
    return headers


def split_frames(
    data: bytes, cache: dict[bytes, Headers]
) -> tuple[list[tuple[Headers, bytes]], int]:
    """The whole frames at the start of `data`, as (headers, payload), and how many
    bytes they take. `cache` (header bytes -> headers) is kept across calls; the
    headers it returns are shared too, so don't change them."""
    frames: list[tuple[Headers, bytes]] = []
    view = memoryview(data)
    at, size = 0, len(data)
    while size - at >= PRELUDE_LENGTH:
        total, headers_length, prelude_crc = _PRELUDE.unpack_from(data, at)
        crc = crc32(view[at : at + 8])
        if crc != prelude_crc:
            raise ChecksumError(
                f"event-stream prelude checksum mismatch: expected 0x{prelude_crc:08x}, "
                f"calculated 0x{crc:08x}"
            )
        if headers_length > MAX_HEADERS_LENGTH:
            raise FrameError(
                f"event-stream headers of {headers_length} bytes: more than {MAX_HEADERS_LENGTH}"
            )
        payload_length = total - headers_length - PRELUDE_LENGTH - 4
        if payload_length > MAX_PAYLOAD_LENGTH or payload_length < 0:
            raise FrameError(
                f"event-stream frame of {total} bytes with {headers_length} bytes of headers"
            )
        end = at + total
        if end > size:
            break
        expected = int.from_bytes(view[end - 4 : end], "big")
        crc = crc32(view[at + 8 : end - 4], crc)
        if crc != expected:
            raise ChecksumError(
                f"event-stream message checksum mismatch: expected 0x{expected:08x}, "
                f"calculated 0x{crc:08x}"
            )
        headers_end = at + PRELUDE_LENGTH + headers_length
        raw = data[at + PRELUDE_LENGTH : headers_end]
        headers = cache.get(raw)
        if headers is None:
            headers = decode_headers(raw)
            if len(cache) < _CACHED_HEADER_SETS:
                cache[raw] = headers
        frames.append((headers, data[headers_end : end - 4]))
        at = end
    return frames, at


def iter_frames(chunks: Iterable[bytes]) -> Iterator[tuple[Headers, bytes]]:
    """(headers, payload) of every whole frame in a byte stream cut at any points.
    A frame spread over many chunks is put together once, when it is complete."""
    cache: dict[bytes, Headers] = {}
    held = bytearray()  # the start of an incomplete frame
    needed = 0  # bytes `held` must reach before a frame can be complete
    for chunk in chunks:
        if held:
            held += chunk
            if len(held) < needed:
                continue
            data = bytes(held)
            held.clear()
        else:
            data = chunk if type(chunk) is bytes else bytes(chunk)
        frames, used = split_frames(data, cache)
        yield from frames
        if used < len(data):
            held += memoryview(data)[used:]
            needed = (
                int.from_bytes(held[:4], "big") if len(held) >= PRELUDE_LENGTH else PRELUDE_LENGTH
            )


def chunk_event(payload: bytes) -> dict[str, Any]:
    """The Anthropic event inside a Bedrock `chunk` frame's payload
    (`{"bytes": base64 of the event's JSON, "p": padding}`); ValueError if it holds none."""
    try:
        raw = binascii.a2b_base64(json.loads(payload)["bytes"])
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise ValueError(f"undecodable stream chunk: {exc}") from exc
    return event_of(raw)


def event_of(raw: Any) -> dict[str, Any]:
    """The event JSON object of a chunk's decoded bytes; ValueError if they hold none."""
    try:
        event = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"undecodable stream chunk: {exc}") from exc
    if not isinstance(event, dict):
        raise ValueError("stream chunk is not a JSON object")
    return event


@dataclass
class Frame:
    """A decoded frame."""

    headers: Headers = field(default_factory=dict)
    payload: bytes = b""

    @property
    def message_type(self) -> object:
        return self.headers.get(":message-type")

    def event(self) -> dict[str, Any]:
        """The Anthropic event inside a Bedrock `chunk` frame."""
        return chunk_event(self.payload)


class FrameDecoder:
    """Incremental decoder: feed bytes, iterate the whole frames they complete."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._cache: dict[bytes, Headers] = {}

    def feed(self, data: bytes) -> Iterator[Frame]:
        self._buffer += data
        frames, used = split_frames(bytes(self._buffer), self._cache)
        del self._buffer[:used]
        for headers, payload in frames:
            yield Frame(dict(headers), payload)

    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buffer)


def decode_frames(data: bytes) -> list[Frame]:
    """Every frame in `data`, which must hold whole frames only."""
    decoder = FrameDecoder()
    frames = list(decoder.feed(data))
    if decoder.pending:
        raise FrameError(f"{decoder.pending} trailing bytes")
    return frames
