"""An image's media type and pixel size, read from the first bytes of its file without
decoding it: JPEG, PNG, GIF and WebP, the types Claude takes. Pure: no imaging library."""

from __future__ import annotations

from dataclasses import dataclass

_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOFn markers
_JPEG_STANDALONE = frozenset(range(0xD0, 0xDA)) | {0x01}  # RSTn, SOI, EOI, TEM: no length


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says."""

    media_type: str
    width: int
    height: int


def read_image_header(raw: bytes) -> ImageHeader | None:
    """The header of a JPEG, PNG, GIF or WebP file, or None if `raw` starts no such file
    (or is cut off before its size)."""
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        if raw[12:16] != b"IHDR" or len(raw) < 24:
            return None
        return ImageHeader("image/png", _big(raw[16:20]), _big(raw[20:24]))
    if raw[:6] in (b"GIF87a", b"GIF89a"):
        return (
            ImageHeader("image/gif", _little(raw[6:8]), _little(raw[8:10]))
            if len(raw) >= 10
            else None
        )
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return _webp(raw)
    if raw.startswith(b"\xff\xd8\xff"):
        return _jpeg(raw)
    return None


def _big(data: bytes) -> int:
    return int.from_bytes(data, "big")


def _little(data: bytes) -> int:
    return int.from_bytes(data, "little")


def _webp(raw: bytes) -> ImageHeader | None:
    chunk = raw[12:16]
    if chunk == b"VP8 " and raw[23:26] == b"\x9d\x01\x2a" and len(raw) >= 30:
        width, height = _little(raw[26:28]) & 0x3FFF, _little(raw[28:30]) & 0x3FFF
    elif chunk == b"VP8L" and raw[20:21] == b"\x2f" and len(raw) >= 25:
        bits = _little(raw[21:25])
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif chunk == b"VP8X" and len(raw) >= 30:
        width, height = _little(raw[24:27]) + 1, _little(raw[27:30]) + 1
    else:
        return None
    return ImageHeader("image/webp", width, height)


def _jpeg(raw: bytes) -> ImageHeader | None:
    position = 2
    while position + 4 <= len(raw):
        if raw[position] != 0xFF:
            return None
        marker = raw[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
        elif marker in _JPEG_STANDALONE:
            position += 2
        elif marker in _JPEG_FRAMES:
            if position + 9 > len(raw):
                return None
            return ImageHeader(
                "image/jpeg",
                _big(raw[position + 7 : position + 9]),
                _big(raw[position + 5 : position + 7]),
            )
        else:
            position += 2 + _big(raw[position + 2 : position + 4])
    return None
