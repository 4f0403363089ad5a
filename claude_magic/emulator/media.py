"""What the emulator learns from attached media: base64 decoding, the real image
format and pixel size (Pillow, imported lazily), PDF page counts."""

from __future__ import annotations

import base64
import binascii
import re
import threading
from dataclasses import dataclass

IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP"}
_WHITESPACE = b" \t\r\n\x0b\x0c"
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


@dataclass(frozen=True)
class ImageInfo:
    """An image as the bytes say it is."""

    media_type: str
    width: int
    height: int
    size: int  # bytes, decoded

    @property
    def format(self) -> str:
        return IMAGE_FORMATS[self.media_type]


RECENT_IMAGES = 64
_RECENT_IMAGES: dict[tuple[int, int], ImageInfo] = {}
_RECENT_LOCK = threading.Lock()


def decode_base64(data: str) -> bytes:
    """Strictly decode base64 text (line breaks allowed); ValueError if it is not base64."""
    raw = data.encode("ascii", errors="replace").translate(None, _WHITESPACE)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64 data") from exc


def sniff_image_type(raw: bytes) -> str | None:
    """The image media type the magic bytes announce, or None."""
    if raw.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if raw.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "image/webp"
    return None


def inspect_base64_image(data: str) -> ImageInfo:
    """`inspect_image` of base64 text, remembered for recent images (validation,
    estimates and replies all ask about the same ones)."""
    key = (len(data), hash(data))  # never keeps the text itself alive
    with _RECENT_LOCK:
        info = _RECENT_IMAGES.get(key)
    if info is None:
        info = inspect_image(decode_base64(data))
        remember_image(data, info)
    return info


def remember_image(data: str, info: ImageInfo) -> None:
    with _RECENT_LOCK:
        if len(_RECENT_IMAGES) >= RECENT_IMAGES:
            _RECENT_IMAGES.pop(next(iter(_RECENT_IMAGES)))
        _RECENT_IMAGES[(len(data), hash(data))] = info


def inspect_image(raw: bytes) -> ImageInfo:
    """Format and pixel size of image bytes; ValueError if they are no readable image."""
    media_type = sniff_image_type(raw)
    if media_type is None:
        raise ValueError("not a JPEG, PNG, GIF or WebP image")
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError("could not read the image") from exc
    return ImageInfo(media_type, width, height, len(raw))


def pdf_page_count(raw: bytes) -> int:
    """Pages of a PDF, counted from its `/Type /Page` objects (0 if none are found)."""
    return len(_PDF_PAGE.findall(raw))


def is_pdf(raw: bytes) -> bool:
    return raw[:1024].lstrip().startswith(b"%PDF-")


def human_size(size: int) -> str:
    """Bytes as a short human size: 512 B, 12.3 KB, 4.5 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
