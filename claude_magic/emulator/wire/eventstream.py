"""AWS event-stream framing (`application/vnd.amazon.eventstream`): the encoder.

A frame is `!I total_length`, `!I headers_length`, `!I crc32(first 8 bytes)`, the
headers, the payload, and `!I crc32(everything before)`. Each header is a 1-byte name
length, the name, a type byte (7 = string), a `!H` value length and the value.
The encoder only writes string headers; the decoder (`core.eventstream`, which the
client reads Bedrock's streams with) reads every header type.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib

_PRELUDE = struct.Struct("!II")
_CRC = struct.Struct("!I")
_STRING = 7
_PADDING = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

JSON = "application/json"


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
