"""Images for Claude: sniff, convert, orient, downscale and encode within the API's limits.

`prepare_image(data)` turns any image bytes into a `PreparedImage` that Claude
accepts (PNG, JPEG, GIF or WebP, long edge <= max_edge, <= max_bytes). Images
already within limits pass through byte for byte. Big 8-bit PNGs (plots saved at
high dpi) are decoded and downscaled by libvips (`libvips`); without libvips, and
for everything else, Pillow decodes and resizes; `encoding` writes the result.
Pillow is imported lazily.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any

from ..core.messages import MAX_IMAGE_BYTES, Block, estimate_image_tokens, image_block
from .encoding import encode_pixels, encode_within, is_line_art
from .errors import ImageError
from .formats import sniff_format
from .libvips import usable_vips, vips_downscale, vips_reads
from .limits import DEFAULT_MAX_EDGE, TOO_LARGE, clamp_edge, pixel_limit

_MEDIA_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
# Pixel modes that pass through untouched, per format (anything else is converted).
_PASS_MODES = {
    "PNG": {"RGB", "RGBA", "L"},
    "JPEG": {"RGB", "L"},
    "MPO": {"RGB", "L"},
    "GIF": {"P", "L"},
    "WEBP": {"RGB", "RGBA"},
}
_OPEN_FORMATS = ("PNG", "JPEG", "MPO", "GIF", "WEBP", "TIFF", "BMP", "DIB", "ICO", "PPM", "AVIF")
_ORIENTATION_TAG = 0x0112
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
SVG_REFUSAL = (
    "SVG can't be sent as an image: save the figure as PNG (fig.savefig('x.png')) and attach that."
)
CORRUPT = "the image data is corrupt or truncated: save it again as PNG or JPEG"


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to send: encoded bytes plus what was done to them."""

    data: bytes = field(repr=False)
    media_type: str
    width: int
    height: int
    original_width: int
    original_height: int
    original_format: str
    converted: bool = False
    resized: bool = False

    @property
    def tokens(self) -> int:
        """Claude's estimate of the input tokens this image costs (w × h / 750)."""
        return estimate_image_tokens(self.width, self.height)

    def to_block(self) -> Block:
        """The Messages API image block (base64 source)."""
        return image_block(base64.b64encode(self.data).decode("ascii"), self.media_type)

    def thumbnail_png(self, max_edge: int = 256) -> bytes:
        """A small PNG of this image, for showing what was sent."""
        from PIL import Image

        with Image.open(io.BytesIO(self.data)) as img:
            img.draft("RGB", (max_edge, max_edge))
            img.thumbnail((max_edge, max_edge))
            small = img.convert("RGBA" if has_alpha(img) else "RGB")
        out = io.BytesIO()
        small.save(out, "PNG")
        return out.getvalue()


def prepare_image(
    data: bytes, *, max_edge: int = DEFAULT_MAX_EDGE, max_bytes: int = MAX_IMAGE_BYTES
) -> PreparedImage:
    """Make `data` an image Claude accepts: passed through when already fine, else
    converted (EXIF orientation applied, long edge <= max_edge, size <= max_bytes).
    Raises ImageError with a one-line reason."""
    data = bytes(data)
    if not data:
        raise ImageError("the image is empty (0 bytes)")
    max_edge = clamp_edge(max_edge)
    kind = sniff_format(data)
    if kind == "SVG":
        data = _rasterise_svg(data)
    elif kind == "PDF":
        raise ImageError("this is a PDF, not an image: attach it with --doc instead")
    elif kind == "HEIF":
        raise ImageError("HEIC/HEIF images aren't supported: export it as JPEG or PNG first")
    with pixel_limit():
        return _prepare(data, "SVG" if kind == "SVG" else None, max_edge, max_bytes)


def _prepare(
    data: bytes, source_format: str | None, max_edge: int, max_bytes: int, use_vips: bool = True
) -> PreparedImage:
    """`prepare_image` once the bytes are a raster image (`use_vips=False`: Pillow only)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=_open_formats())
    except Image.DecompressionBombError as exc:
        raise ImageError(TOO_LARGE) from exc
    except (Image.UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(
            "the image data is corrupt or in an unsupported format: save it as PNG or JPEG"
        ) from exc
    fmt = source_format or img.format or "?"
    raw_w, raw_h = img.size
    orientation = _orientation(img)
    if orientation in _SWAPPING_ORIENTATIONS:
        orig_w, orig_h = raw_h, raw_w
    else:
        orig_w, orig_h = raw_w, raw_h

    scale = min(1.0, max_edge / max(raw_w, raw_h))
    target = (max(1, round(raw_w * scale)), max(1, round(raw_h * scale)))
    pixels = None  # the downscaled pixels, when libvips made them
    try:
        if _passes_through(img, data, fmt, orientation, max_edge, max_bytes):
            img.load()  # proves the bytes decode (a truncated file would be refused by Claude)
            return PreparedImage(data, _MEDIA_TYPES[fmt], raw_w, raw_h, raw_w, raw_h, fmt)
        fast = use_vips and scale < 1 and orientation == 1 and vips_reads(img, data)
        vips = usable_vips() if fast else None
        if vips is not None:
            pixels, decoded = vips_downscale(vips, data, img.size, target)
            if decoded is not None:  # transparent pixels: Pillow averages them premultiplied
                img = _keep_icc(img, decoded)
        if pixels is None:
            img = _downscale(img, fmt, orientation, target)
    except Image.DecompressionBombError as exc:
        raise ImageError(TOO_LARGE) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise ImageError(CORRUPT) from exc

    if pixels is not None:
        encoded, media_type, (width, height) = encode_pixels(
            pixels, img.info.get("icc_profile"), max_bytes
        )
    else:
        as_png = img.mode in ("RGBA", "LA") or (fmt not in ("JPEG", "MPO") and is_line_art(img))
        encoded, media_type, (width, height) = encode_within(img, as_png, max_bytes)
    return PreparedImage(
        encoded,
        media_type,
        width,
        height,
        orig_w,
        orig_h,
        fmt,
        converted=True,
        resized=(width, height) != (orig_w, orig_h),
    )


def _downscale(img: Any, fmt: str, orientation: int, target: tuple[int, int]) -> Any:
    """`img` decoded by Pillow, upright, in RGB, RGBA or L, at `target` (the upright
    size's counterpart when the orientation swaps width and height)."""
    from PIL import Image

    if max(target) < max(img.size) and fmt in ("JPEG", "MPO"):
        img.draft(None, target)  # decode at 1/2, 1/4 or 1/8 scale: much faster
    img.load()
    if orientation != 1:
        from PIL import ImageOps

        img = ImageOps.exif_transpose(img)
        if orientation in _SWAPPING_ORIENTATIONS:
            target = (target[1], target[0])
    img = normalise_mode(img)
    if img.size != target:
        # area averaging: fast, keeps thin plot lines and small text legible
        img = img.resize(target, Image.Resampling.BOX, reducing_gap=1.0)
    return img


def _open_formats() -> tuple[str, ...]:
    from PIL import Image

    Image.init()
    return tuple(f for f in _OPEN_FORMATS if f in Image.OPEN)


def _orientation(img: Any) -> int:
    """The EXIF orientation (1 = upright), read without decoding pixels."""
    if img.format == "PNG" and "exif" not in img.info:
        return 1  # PngImageFile.getexif() would decode the whole image
    try:
        value = int(img.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # a broken EXIF block must not stop the image
        return 1
    return value if 1 <= value <= 8 else 1


def _passes_through(
    img: Any, data: bytes, fmt: str, orientation: int, max_edge: int, max_bytes: int
) -> bool:
    """True when the original bytes can be sent as they are."""
    if fmt not in _MEDIA_TYPES or img.mode not in _PASS_MODES[fmt]:
        return False
    if fmt == "PNG" and data[24:25] not in (b"\x01", b"\x02", b"\x04", b"\x08"):
        return False  # 16-bit samples
    return orientation == 1 and len(data) <= max_bytes and max(img.size) <= max_edge


def _keep_icc(source: Any, img: Any) -> Any:
    """`img` with the ICC profile of `source` (the encoders write it out)."""
    if source.info.get("icc_profile"):
        img.info["icc_profile"] = source.info["icc_profile"]
    return img


def normalise_mode(img: Any) -> Any:
    """RGB, RGBA or L: modes PNG and JPEG both handle (alpha dropped when fully opaque)."""
    mode = img.mode
    if mode.startswith("I;16"):
        return img.convert("I").point(lambda v: v * (255 / 65535) + 0.5).convert("L")
    if mode == "I":
        lo, hi = img.getextrema()
        if 0 <= lo and hi <= 255:
            return img.convert("L")
        lo, hi = (0, 65535) if 0 <= lo and hi <= 65535 else (lo, hi)
        return img.point(lambda v: (v - lo) * (255 / (hi - lo)) + 0.5).convert("L")
    if mode == "F":
        lo, hi = img.getextrema()
        span = (hi - lo) or 1.0
        return img.point(lambda v: (v - lo) * (255 / span) + 0.5).convert("L")
    if mode == "1":
        return img.convert("L")
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    elif mode not in ("RGB", "RGBA", "L"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX
    if img.mode == "RGBA" and img.getchannel("A").getextrema()[0] == 255:
        img = img.convert("RGB")
    return img


def has_alpha(img: Any) -> bool:
    """True for a PIL image with an alpha channel or a transparent colour."""
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _rasterise_svg(data: bytes) -> bytes:
    """PNG bytes from SVG when cairosvg is available; otherwise a clear refusal."""
    try:
        import cairosvg  # optional: needs the cairo C library
    except (ImportError, OSError) as exc:
        raise ImageError(SVG_REFUSAL) from exc
    try:
        return cairosvg.svg2png(bytestring=data)
    except Exception as exc:  # cairosvg raises many kinds on bad SVG
        raise ImageError(
            f"the SVG could not be rasterised ({exc}): save the figure as PNG"
        ) from exc
