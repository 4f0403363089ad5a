"""What image bytes hold, judged by content only: the format ("PNG", "JPEG", "SVG",
...), and the raw bytes behind a display-bundle value."""

from __future__ import annotations

import base64


def sniff_format(data: bytes) -> str | None:
    """The image format the bytes hold ("PNG", "JPEG", "SVG", ...), judged by content only."""
    head = bytes(data[:32])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:2] == b"BM":
        return "BMP"
    if head[:4] == b"\x00\x00\x01\x00":
        return "ICO"
    if head.startswith(b"%PDF-"):
        return "PDF"
    if head[4:8] == b"ftyp":
        return "AVIF" if head[8:12] in (b"avif", b"avis") else "HEIF"
    if looks_like_svg(data):
        return "SVG"
    return None


def looks_like_svg(data: bytes) -> bool:
    text = bytes(data[:4096]).decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")
    return text.startswith("<svg") or (
        text.startswith(("<?xml", "<!--", "<!DOCTYPE")) and "<svg" in text
    )


def decode_image_payload(value: bytes | str) -> bytes:
    """Raw image bytes from a display-bundle value (raw bytes or base64 text)."""
    if isinstance(value, str):
        if looks_like_svg(value.encode("utf-8", "ignore")):
            return value.encode("utf-8")
        return base64.b64decode("".join(value.split()))
    if sniff_format(value) is None:
        try:
            return base64.b64decode(b"".join(value.split()), validate=True)
        except ValueError:
            return value
    return value
