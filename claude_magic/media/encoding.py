"""Pixels to PNG or JPEG bytes within a byte budget: PNG for line art and alpha, JPEG
for photos, quality then size stepped down until the result fits. PNGs of L, RGB and
RGBA pixels are written here (numpy, ISA-L's deflate). Pillow, numpy and isal are
imported lazily."""

from __future__ import annotations

import functools
import io
from typing import Any

from .errors import ImageError

JPEG_QUALITIES = (90, 80, 70, 60)
PNG_COMPRESS_LEVEL = 3  # Pillow's encoder: fast, and plots still compress well
PNG_DEFLATE_LEVEL = 2  # the PNG writer here: ISA-L's default (a few ms for a 1568-px plot)
LINE_ART_MAX_COLOURS = 1024  # distinct colours in a 256x256 sample: PNG at or below
LINE_ART_BACKGROUND_SHARE = 0.2  # ... or when one colour (the background) covers this much


def is_line_art(img: Any) -> bool:
    """Plots, diagrams and screenshots (PNG) rather than photos (JPEG): in a 256×256
    sample, few distinct colours or one dominant background colour."""
    from PIL import Image

    sample = (
        img if img.width * img.height <= 65536 else img.resize((256, 256), Image.Resampling.NEAREST)
    )
    colours = sample.getcolors(maxcolors=sample.width * sample.height) or []
    if len(colours) <= LINE_ART_MAX_COLOURS:
        return True
    return (
        max(count for count, _ in colours)
        >= LINE_ART_BACKGROUND_SHARE * sample.width * sample.height
    )


def encode_pixels(
    pixels: Any, icc: bytes | None, max_bytes: int
) -> tuple[bytes, str, tuple[int, int]]:
    """`encode_within` for a numpy array of RGB or L pixels, making a PIL image of them
    only when they aren't line art or don't fit in max_bytes as PNG."""
    import numpy as np
    from PIL import Image

    height, width = pixels.shape[:2]
    ys = ((np.arange(256) + 0.5) * height / 256).astype(np.intp)
    xs = ((np.arange(256) + 0.5) * width / 256).astype(np.intp)
    sample = pixels if width * height <= 65536 else pixels.take(ys, axis=0).take(xs, axis=1)
    line_art = is_line_art(Image.fromarray(sample))
    if line_art:
        png = _png(pixels, icc)
        if len(png) <= max_bytes:
            return png, "image/png", (width, height)
    img = Image.fromarray(pixels)
    if icc:
        img.info["icc_profile"] = icc
    return encode_within(img, line_art, max_bytes)


def encode_within(img: Any, as_png: bool, max_bytes: int) -> tuple[bytes, str, tuple[int, int]]:
    """Encode as PNG (line art, alpha) or JPEG (photos), stepping quality then size down
    until the result fits in max_bytes."""
    from PIL import Image

    alpha = img.mode == "RGBA"
    while True:
        if as_png:
            out = _png_bytes(img)
            if len(out) <= max_bytes:
                return out, "image/png", img.size
            if not alpha:
                as_png = False
                continue
        else:
            for quality in JPEG_QUALITIES:
                out = save_bytes(img, "JPEG", quality=quality)
                if len(out) <= max_bytes:
                    return out, "image/jpeg", img.size
        factor = min(0.9, max(0.5, 0.95 * (max_bytes / len(out)) ** 0.5))
        size = (max(1, int(img.width * factor)), max(1, int(img.height * factor)))
        if size == img.size:
            raise ImageError(f"the image can't be made smaller than {max_bytes} bytes")
        img = img.resize(size, Image.Resampling.LANCZOS)


def save_bytes(img: Any, fmt: str, **options: Any) -> bytes:
    """A PIL image saved by Pillow in `fmt`, as bytes."""
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def _png_bytes(img: Any) -> bytes:
    """PNG bytes of a PIL image: `_png` for L, RGB and RGBA, Pillow's encoder for the rest."""
    if img.mode not in ("L", "RGB", "RGBA"):
        return save_bytes(img, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    import numpy as np

    return _png(np.asarray(img), img.info.get("icc_profile"))


def _png(pixels: Any, icc: bytes | None = None) -> bytes:
    """PNG bytes of a numpy array of L, RGB or RGBA pixels, written here: every row
    Up-filtered (no per-row search for the best filter, which is most of Pillow's
    encoding time), then deflated by ISA-L (zlib when isal isn't installed)."""
    import struct

    import numpy as np

    height, width = pixels.shape[:2]
    colour_type = {2: 0, 3: 2, 4: 6}[pixels.shape[2] if pixels.ndim == 3 else 2]
    rows = pixels.reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = 2  # Up: each byte minus the one above it
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    zlib = _zlib()
    chunks = [(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0))]
    if icc:
        chunks.append((b"iCCP", b"ICC profile\0\0" + zlib.compress(icc)))
    chunks += [(b"IDAT", zlib.compress(filtered, PNG_DEFLATE_LEVEL)), (b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        for kind, body in chunks
    )


@functools.cache
def _zlib() -> Any:
    """ISA-L's zlib module (same API, deflates several times faster at its levels 0-3),
    else zlib."""
    try:
        from isal import isal_zlib
    except ImportError:
        import zlib

        return zlib
    return isal_zlib
