"""AWS event-stream framing (`application/vnd.amazon.eventstream`): encode and decode.

A frame is `!I total_length`, `!I headers_length`, `!I crc32(first 8 bytes)`, the
headers, the payload, and `!I crc32(everything before)`. Each header is a 1-byte name
length, the name, a type byte (7 = string), a `!H` value length and the value.
The encoder only writes string headers; the decoder reads every header type.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

_PRELUDE = struct.Struct("!II")
_CRC = struct.Struct("!I")
_STRING = 7
_PADDING = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_HEADER_VALUE_SIZES = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8}  # byte, short, int, long, timestamp

JSON = "application/json"


class FrameError(ValueError):
    """A frame that cannot be decoded: truncated, oversized or with a wrong checksum."""


def encode_headers(headers: dict[str, str]) -> bytes:
    """Headers in wire form (string values only)."""
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
        out += bytes((len(raw_name),)) + raw_name + bytes((_STRING,))
        out += struct.pack("!H", len(raw_value)) + raw_value
    return bytes(out)


def encode_frame(headers: dict[str, str] | bytes, payload: bytes) -> bytes:
    """One complete frame; `headers` may be pre-encoded with `encode_headers`."""
    raw_headers = headers if isinstance(headers, bytes) else encode_headers(headers)
    prelude = _PRELUDE.pack(16 + len(raw_headers) + len(payload), len(raw_headers))
    prelude += _CRC.pack(zlib.crc32(prelude))
    crc = zlib.crc32(payload, zlib.crc32(raw_headers, zlib.crc32(prelude)))
    return b"".join((prelude, raw_headers, payload, _CRC.pack(crc)))


_CHUNK_HEADERS = encode_headers(
    {":event-type": "chunk", ":content-type": JSON, ":message-type": "event"}
)


def chunk_frame(event_json: bytes, sequence: int = 0) -> bytes:
    """A Bedrock `chunk` event carrying one Anthropic event (JSON bytes), with the
    `p` padding field real Bedrock adds (deterministic here, its length varies)."""
    padding = _PADDING[: 1 + (sequence * 7) % len(_PADDING)]
    payload = b'{"bytes":"%b","p":"%b"}' % (base64.b64encode(event_json), padding)
    return encode_frame(_CHUNK_HEADERS, payload)


def exception_frame(exception_type: str, message: str) -> bytes:
    """A modelled stream exception, e.g. `modelStreamErrorException`."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": JSON,
        ":message-type": "exception",
    }
    return encode_frame(headers, json.dumps({"message": message}).encode())


def corrupt(frame: bytes) -> bytes:
    """The same frame with a wrong message CRC (the prelude stays valid)."""
    (crc,) = _CRC.unpack(frame[-4:])
    return frame[:-4] + _CRC.pack(crc ^ 0xFFFFFFFF)


@dataclass
class Frame:
    """A decoded frame."""

    headers: dict[str, object] = field(default_factory=dict)
    payload: bytes = b""

    @property
    def message_type(self) -> object:
        return self.headers.get(":message-type")

    def event(self) -> dict:
        """The Anthropic event inside a Bedrock `chunk` frame."""
        return json.loads(base64.b64decode(json.loads(self.payload)["bytes"]))


def _decode_headers(raw: bytes) -> dict[str, object]:
    headers: dict[str, object] = {}
    pos = 0
    try:
        while pos < len(raw):
            name_len = raw[pos]
            name = raw[pos + 1 : pos + 1 + name_len].decode("utf-8")
            pos += 1 + name_len
            kind = raw[pos]
            pos += 1
            value: object
            if kind in (0, 1):
                value = kind == 0
            elif kind in _HEADER_VALUE_SIZES:
                size = _HEADER_VALUE_SIZES[kind]
                value = int.from_bytes(raw[pos : pos + size], "big", signed=True)
                pos += size
            elif kind in (6, _STRING):
                (length,) = struct.unpack_from("!H", raw, pos)
                value = raw[pos + 2 : pos + 2 + length]
                value = value.decode("utf-8") if kind == _STRING else value
                pos += 2 + length
            elif kind == 9:
                value = raw[pos : pos + 16]
                pos += 16
            else:
                raise FrameError(f"unknown header type {kind}")
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise FrameError(f"malformed headers: {exc}") from None
    return headers


class FrameDecoder:
    """Incremental decoder: feed bytes, iterate the complete frames they hold."""

    MAX_FRAME = 16 * 1024 * 1024 + 128 * 1024

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Frame]:
        self._buffer += data
        while len(self._buffer) >= 12:
            total, headers_len = _PRELUDE.unpack_from(self._buffer)
            (prelude_crc,) = _CRC.unpack_from(self._buffer, 8)
            if zlib.crc32(self._buffer[:8]) != prelude_crc:
                raise FrameError("prelude checksum mismatch")
            if total > self.MAX_FRAME or total < 16 + headers_len:
                raise FrameError(f"bad frame length {total}")
            if len(self._buffer) < total:
                return
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            (crc,) = _CRC.unpack_from(frame, total - 4)
            if zlib.crc32(frame[:-4]) != crc:
                raise FrameError("message checksum mismatch")
            yield Frame(_decode_headers(frame[12 : 12 + headers_len]), frame[12 + headers_len : -4])

    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a complete frame."""
        return len(self._buffer)


def decode_frames(data: bytes) -> list[Frame]:
    """Every frame in `data`, which must hold whole frames only."""
    decoder = FrameDecoder()
    frames = list(decoder.feed(data))
    if decoder.pending:
        raise FrameError(f"{decoder.pending} trailing bytes")
    return frames
