"""Images for Claude: sniff, convert, orient, downscale and encode within the API's limits.

`prepare_image(data)` turns any image bytes into a `PreparedImage` that Claude
accepts (PNG, JPEG, GIF or WebP, long edge <= max_edge, <= max_bytes). Images
already within limits pass through byte for byte. `image_from_object(obj)` turns
notebook objects (figures, PIL images, arrays, IPython Images, paths) into bytes.
Big 8-bit PNGs (plots saved at high dpi) are decoded and downscaled by libvips
(pyvips) in one streamed pass; without libvips, and for everything else, Pillow
decodes and resizes. PNGs are written here (numpy, ISA-L's deflate). Pillow, pyvips,
numpy, isal and matplotlib are imported lazily.
"""

from __future__ import annotations

import base64
import functools
import io
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .messages import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS_PER_SIDE,
    Block,
    estimate_image_tokens,
    image_block,
)

DEFAULT_MAX_EDGE = 1568
MAX_PIXELS = 400_000_000  # larger images are refused as decompression bombs
JPEG_QUALITIES = (90, 80, 70, 60)
PNG_COMPRESS_LEVEL = 3  # Pillow's encoder: fast, and plots still compress well
PNG_DEFLATE_LEVEL = 2  # the PNG writer here: ISA-L's default (a few ms for a 1568-px plot)
LINE_ART_MAX_COLOURS = 1024  # distinct colours in a 256x256 sample: PNG at or below
LINE_ART_BACKGROUND_SHARE = 0.2  # ... or when one colour (the background) covers this much

_MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg",
                "GIF": "image/gif", "WEBP": "image/webp"}
# Pixel modes that pass through untouched, per format (anything else is converted).
_PASS_MODES = {"PNG": {"RGB", "RGBA", "L"}, "JPEG": {"RGB", "L"}, "MPO": {"RGB", "L"},
               "GIF": {"P", "L"}, "WEBP": {"RGB", "RGBA"}}
_OPEN_FORMATS = ("PNG", "JPEG", "MPO", "GIF", "WEBP", "TIFF", "BMP", "DIB", "ICO", "PPM",
                 "AVIF")
_ORIENTATION_TAG = 0x0112
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
SVG_REFUSAL = ("SVG can't be sent as an image: save the figure as PNG "
               "(fig.savefig('x.png')) and attach that.")
CORRUPT = "the image data is corrupt or truncated: save it again as PNG or JPEG"
TOO_LARGE = (f"the image has more than {MAX_PIXELS // 1_000_000} million pixels, too many "
             "to decode safely: downscale it first")
_pixel_limit_lock = threading.RLock()


class ImageError(ValueError):
    """Image data that can't be turned into an image Claude accepts (message says why)."""


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
            small = img.convert("RGBA" if _has_alpha(img) else "RGB")
        out = io.BytesIO()
        small.save(out, "PNG")
        return out.getvalue()


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
    if _looks_like_svg(data):
        return "SVG"
    return None


def _looks_like_svg(data: bytes) -> bool:
    text = bytes(data[:4096]).decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")
    return text.startswith("<svg") or (text.startswith(("<?xml", "<!--", "<!DOCTYPE")) and "<svg" in text)


def prepare_image(
    data: bytes, *, max_edge: int = DEFAULT_MAX_EDGE, max_bytes: int = MAX_IMAGE_BYTES
) -> PreparedImage:
    """Make `data` an image Claude accepts: passed through when already fine, else
    converted (EXIF orientation applied, long edge <= max_edge, size <= max_bytes).
    Raises ImageError with a one-line reason."""
    data = bytes(data)
    if not data:
        raise ImageError("the image is empty (0 bytes)")
    max_edge = max(1, min(int(max_edge), MAX_IMAGE_PIXELS_PER_SIDE))
    kind = sniff_format(data)
    if kind == "SVG":
        data = _rasterise_svg(data)
    elif kind == "PDF":
        raise ImageError("this is a PDF, not an image: attach it with --doc instead")
    elif kind == "HEIF":
        raise ImageError("HEIC/HEIF images aren't supported: export it as JPEG or PNG first")
    with _pixel_limit():
        return _prepare(data, "SVG" if kind == "SVG" else None, max_edge, max_bytes)


def prepare_figure(
    figure: Any, *, max_edge: int = DEFAULT_MAX_EDGE, max_bytes: int = MAX_IMAGE_BYTES,
    shown_size: tuple[int, int] | None = None,
) -> PreparedImage:
    """A matplotlib Figure as `prepare_image(image_from_object(figure))` makes it (its
    tight bounding box, as the notebook shows it; long edge <= max_edge), but drawn
    at that size instead of drawn at full size, PNG-encoded, decoded and downscaled
    (a figure that fits is saved as the notebook shows it).
    `shown_size`, the pixel size of the figure's tight PNG at its own dpi (e.g. the
    one the notebook showed), saves a layout pass that would measure it. The figure
    is left as it was (dpi, canvas)."""
    import math

    import matplotlib
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    max_edge = max(1, min(int(max_edge), MAX_IMAGE_PIXELS_PER_SIDE))
    pad = matplotlib.rcParams["savefig.pad_inches"]
    pad = pad if isinstance(pad, (int, float)) else 0.1
    canvas, dpi = figure.canvas, figure.dpi
    try:
        agg = FigureCanvasAgg(figure)
        if shown_size is None:
            figure.draw_without_rendering()
            box = figure.get_tightbbox(agg.get_renderer()).padded(pad)  # inches
            shown_size = (max(1, round(box.width * dpi)), max(1, round(box.height * dpi)))
        if max(shown_size) <= max_edge:  # nothing to save: the figure as the notebook shows it
            figure.set_canvas(canvas)
            return prepare_image(image_from_object(figure), max_edge=max_edge, max_bytes=max_bytes)
        figure.dpi = at = dpi * max_edge / max(shown_size)
        agg.draw()
        box = figure.get_tightbbox(agg.get_renderer()).padded(pad)
        pixels = np.asarray(agg.buffer_rgba())
        height, width = pixels.shape[:2]
        x0, x1 = max(0, math.floor(box.x0 * at)), min(width, math.ceil(box.x1 * at))
        y0, y1 = max(0, math.floor(height - box.y1 * at)), min(height, math.ceil(height - box.y0 * at))
        img = Image.fromarray(np.ascontiguousarray(pixels[y0:y1, x0:x1]), "RGBA")
    finally:
        figure.dpi = dpi
        figure.set_canvas(canvas)
    img = _normalise_mode(img)
    if max(img.size) > max_edge:
        scale = max_edge / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.BOX)
    as_png = img.mode == "RGBA" or _is_line_art(img)
    encoded, media_type, (w, h) = _encode_within(img, as_png, max_bytes)
    return PreparedImage(encoded, media_type, w, h, shown_size[0], shown_size[1], "PNG",
                         converted=True, resized=True)


@contextmanager
def _pixel_limit():
    """Raise Pillow's decompression-bomb limit to MAX_PIXELS for the duration."""
    from PIL import Image

    with _pixel_limit_lock:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2  # Pillow refuses above twice this
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _vips() -> Any:
    """The pyvips module, or None when libvips can't be loaded here, or was loaded before
    this process was forked (its worker threads don't survive a fork: it would hang).
    Pillow does it all then."""
    vips, pid = _load_vips()
    return vips if pid == os.getpid() else None


@functools.cache
def _load_vips() -> tuple[Any, int]:
    try:
        import pyvips
    except (ImportError, OSError):
        return None, os.getpid()
    # libvips' operation cache would keep each image's pipeline alive (tens of MB apiece)
    pyvips.cache_set_max(0)
    return pyvips, os.getpid()


def _prepare(data: bytes, source_format: str | None, max_edge: int, max_bytes: int,
             use_vips: bool = True) -> PreparedImage:
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
        raise ImageError("the image data is corrupt or in an unsupported format: "
                         "save it as PNG or JPEG") from exc
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
        fast = use_vips and scale < 1 and orientation == 1 and _vips_reads(img, data)
        vips = _vips() if fast else None
        if vips is not None:
            pixels, decoded = _vips_downscale(vips, data, img.size, target)
            if decoded is not None:  # transparent pixels: Pillow averages them premultiplied
                img = _keep_icc(img, decoded)
        if pixels is None:
            img = _downscale(img, fmt, orientation, target)
    except Image.DecompressionBombError as exc:
        raise ImageError(TOO_LARGE) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise ImageError(CORRUPT) from exc

    if pixels is not None:
        encoded, media_type, (width, height) = _encode_pixels(
            pixels, img.info.get("icc_profile"), max_bytes)
    else:
        as_png = img.mode in ("RGBA", "LA") or (fmt not in ("JPEG", "MPO") and _is_line_art(img))
        encoded, media_type, (width, height) = _encode_within(img, as_png, max_bytes)
    return PreparedImage(
        encoded, media_type, width, height, orig_w, orig_h, fmt,
        converted=True, resized=(width, height) != (orig_w, orig_h),
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
    img = _normalise_mode(img)
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


def _passes_through(img: Any, data: bytes, fmt: str, orientation: int, max_edge: int,
                    max_bytes: int) -> bool:
    """True when the original bytes can be sent as they are."""
    if fmt not in _MEDIA_TYPES or img.mode not in _PASS_MODES[fmt]:
        return False
    if fmt == "PNG" and data[24:25] not in (b"\x01", b"\x02", b"\x04", b"\x08"):
        return False  # 16-bit samples
    return orientation == 1 and len(data) <= max_bytes and max(img.size) <= max_edge


def _vips_reads(img: Any, data: bytes) -> bool:
    """True for the PNGs the libvips path handles: 8-bit grey, RGB or RGBA, no tRNS colour key."""
    bit_depth, colour_type = data[24:25], data[25:26]
    return (img.format == "PNG" and bit_depth == b"\x08" and colour_type in (b"\x00", b"\x02", b"\x06")
            and "transparency" not in img.info)


def _vips_downscale(vips: Any, data: bytes, size: tuple[int, int],
                    target: tuple[int, int]) -> tuple[Any, Any]:
    """The PNG decoded and downscaled to `target` by libvips in one streamed pass, as a
    numpy array of RGB or L pixels (opaque alpha dropped): `(pixels, None)`. When some
    pixels are transparent, `(None, the full-size RGBA PIL image)`; `(None, None)` when
    libvips can't read it (Pillow tries then, and says what is wrong). The cubic kernel
    is stretched over the shrink factor, so every source pixel counts: thin lines and
    small text stay legible, as with area averaging."""
    import numpy as np
    from PIL import Image

    alpha = data[25:26] == b"\x06"
    try:
        # a transparent top row (a plot saved with transparent=True) skips the opaque try
        if not alpha or _vips_load(vips, data).crop(0, 0, size[0], 1).extract_band(3).min() == 255:
            small = _vips_load(vips, data).resize(target[0] / size[0], vscale=target[1] / size[1],
                                                  kernel="cubic").copy_memory()
            if not alpha or small.extract_band(3).min() == 255:
                shape = (small.height, small.width) + (() if small.bands == 1 else (3,))
                pixels = small.extract_band(0, n=1 if small.bands == 1 else 3).write_to_memory()
                return np.frombuffer(pixels, np.uint8).reshape(shape), None
        full = _vips_load(vips, data).write_to_memory()
    except vips.Error:
        return None, None
    return None, Image.frombuffer("RGBA", size, full, "raw", "RGBA", 0, 1)


def _vips_load(vips: Any, data: bytes) -> Any:
    return vips.Image.pngload_buffer(data, access="sequential", fail_on="error")


def _keep_icc(source: Any, img: Any) -> Any:
    """`img` with the ICC profile of `source` (the encoders write it out)."""
    if source.info.get("icc_profile"):
        img.info["icc_profile"] = source.info["icc_profile"]
    return img


def _normalise_mode(img: Any) -> Any:
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


def _has_alpha(img: Any) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _is_line_art(img: Any) -> bool:
    """Plots, diagrams and screenshots (PNG) rather than photos (JPEG): in a 256×256
    sample, few distinct colours or one dominant background colour."""
    from PIL import Image

    sample = img if img.width * img.height <= 65536 else img.resize((256, 256), Image.Resampling.NEAREST)
    colours = sample.getcolors(maxcolors=sample.width * sample.height) or []
    if len(colours) <= LINE_ART_MAX_COLOURS:
        return True
    return max(count for count, _ in colours) >= LINE_ART_BACKGROUND_SHARE * sample.width * sample.height


def _encode_pixels(pixels: Any, icc: bytes | None,
                   max_bytes: int) -> tuple[bytes, str, tuple[int, int]]:
    """`_encode_within` for a numpy array of RGB or L pixels, making a PIL image of them
    only when they aren't line art or don't fit in max_bytes as PNG."""
    import numpy as np
    from PIL import Image

    height, width = pixels.shape[:2]
    ys = ((np.arange(256) + 0.5) * height / 256).astype(np.intp)
    xs = ((np.arange(256) + 0.5) * width / 256).astype(np.intp)
    sample = pixels if width * height <= 65536 else pixels.take(ys, axis=0).take(xs, axis=1)
    line_art = _is_line_art(Image.fromarray(sample))
    if line_art:
        png = _png(pixels, icc)
        if len(png) <= max_bytes:
            return png, "image/png", (width, height)
    img = Image.fromarray(pixels)
    if icc:
        img.info["icc_profile"] = icc
    return _encode_within(img, line_art, max_bytes)


def _encode_within(img: Any, as_png: bool, max_bytes: int) -> tuple[bytes, str, tuple[int, int]]:
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
                out = _save(img, "JPEG", quality=quality)
                if len(out) <= max_bytes:
                    return out, "image/jpeg", img.size
        factor = min(0.9, max(0.5, 0.95 * (max_bytes / len(out)) ** 0.5))
        size = (max(1, int(img.width * factor)), max(1, int(img.height * factor)))
        if size == img.size:
            raise ImageError(f"the image can't be made smaller than {max_bytes} bytes")
        img = img.resize(size, Image.Resampling.LANCZOS)


def _png_bytes(img: Any) -> bytes:
    """PNG bytes of a PIL image: `_png` for L, RGB and RGBA, Pillow's encoder for the rest."""
    if img.mode not in ("L", "RGB", "RGBA"):
        return _save(img, "PNG", compress_level=PNG_COMPRESS_LEVEL)
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
        for kind, body in chunks)


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


def _save(img: Any, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def _rasterise_svg(data: bytes) -> bytes:
    """PNG bytes from SVG when cairosvg is available; otherwise a clear refusal."""
    try:
        import cairosvg  # optional: needs the cairo C library
    except (ImportError, OSError) as exc:
        raise ImageError(SVG_REFUSAL) from exc
    try:
        return cairosvg.svg2png(bytestring=data)
    except Exception as exc:  # cairosvg raises many kinds on bad SVG
        raise ImageError(f"the SVG could not be rasterised ({exc}): save the figure as PNG") from exc


# ---------------------------------------------------------------- objects to bytes

OBJECT_HINT = ("pass a matplotlib Figure, PIL Image, numpy array, bytes, "
               "IPython.display.Image or a file path")


def image_from_object(obj: Any) -> bytes:
    """Image bytes from a notebook object: matplotlib Figure (or Axes), PIL Image,
    numpy array, bytes-like, IPython.display.Image, or a file path."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if isinstance(obj, str) and _looks_like_svg(obj[:4096].encode("utf-8", "ignore")):
        return obj.encode("utf-8")  # SVG markup, e.g. from savefig(format="svg")
    if isinstance(obj, (str, os.PathLike)):
        return read_image_file(obj)
    module = type(obj).__module__ or ""
    if module.startswith("PIL.") and hasattr(obj, "save") and hasattr(obj, "mode"):
        return _pil_to_png(obj)
    if module.startswith("numpy") and hasattr(obj, "shape") and hasattr(obj, "dtype"):
        if obj.dtype == object and obj.size and figure_of(obj.flat[0]) is not None:
            return _figure_to_png(figure_of(obj.flat[0]))  # e.g. the axes from plt.subplots(2, 2)
        return _array_to_png(obj)
    figure = figure_of(obj)
    if figure is not None:
        return _figure_to_png(figure)
    if module.startswith("IPython") and type(obj).__name__ == "Image":
        return _ipython_image_bytes(obj)
    for method in ("_repr_png_", "_repr_jpeg_"):
        render = getattr(obj, method, None)
        if callable(render):
            value = render()
            value = value[0] if isinstance(value, tuple) else value
            if isinstance(value, (bytes, str)) and value:
                return decode_image_payload(value)
    raise ImageError(f"can't make an image from a {type(obj).__name__}: {OBJECT_HINT}")


def figure_of(obj: Any) -> Any:
    """The matplotlib Figure behind a Figure, Axes, SubFigure or a grid holding one (seaborn)."""
    for candidate in (obj, getattr(obj, "figure", None)):
        if type(candidate).__module__.startswith("matplotlib") and hasattr(candidate, "savefig"):
            return candidate
    return None


def read_image_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of an image file, with one-line errors for missing files and folders."""
    file = Path(path).expanduser()
    shown = repr(str(path)) if len(str(path)) <= 120 else repr(str(path)[:117] + "...")
    try:
        if file.is_dir():
            raise ImageError(f"{shown} is a folder: name a file, or a glob like '{file}/*.png'")
        return file.read_bytes()
    except FileNotFoundError as exc:
        raise ImageError(f"no such file: {shown}") from exc
    except OSError as exc:  # also names too long to be a path
        raise ImageError(f"can't read {shown}: {exc.strerror or exc}") from exc


def decode_image_payload(value: bytes | str) -> bytes:
    """Raw image bytes from a display-bundle value (raw bytes or base64 text)."""
    if isinstance(value, str):
        if _looks_like_svg(value.encode("utf-8", "ignore")):
            return value.encode("utf-8")
        return base64.b64decode("".join(value.split()))
    if sniff_format(value) is None:
        try:
            return base64.b64decode(b"".join(value.split()), validate=True)
        except ValueError:
            return value
    return value


def _pil_to_png(img: Any) -> bytes:
    if img.mode not in ("RGB", "RGBA", "L", "LA", "P", "1", "I;16", "I"):
        img = img.convert("RGBA" if _has_alpha(img) else "RGB")
    return _save(img, "PNG", compress_level=PNG_COMPRESS_LEVEL)


def _array_to_png(array: Any) -> bytes:
    import numpy as np
    from PIL import Image

    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))) or arr.size == 0:
        raise ImageError(f"an array of shape {arr.shape} isn't an image: "
                         "use H×W (gray), H×W×3 (RGB) or H×W×4 (RGBA)")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr.astype(np.float64), nan=0.0)
        if arr.min() < -1e-6 or arr.max() > 1 + 1e-6:
            raise ImageError("float arrays must hold values in 0..1: divide by 255, "
                             "or use arr.astype('uint8') for 0..255 data")
        arr = np.round(np.clip(arr, 0, 1) * 255).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer):
        if arr.dtype != np.uint8 and (arr.min() < 0 or arr.max() > 255):
            raise ImageError(f"{arr.dtype} arrays must hold values in 0..255: "
                             "scale them, or use uint8")
        arr = arr.astype(np.uint8)
    else:
        raise ImageError(f"an array of dtype {arr.dtype} isn't an image: use uint8, float (0..1) or bool")
    mode = {2: "L", 3: "RGB", 4: "RGBA"}[arr.shape[2] if arr.ndim == 3 else 2]
    return _save(Image.fromarray(np.ascontiguousarray(arr), mode), "PNG",
                 compress_level=PNG_COMPRESS_LEVEL)


def _figure_to_png(figure: Any) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi="figure", bbox_inches="tight")
    return out.getvalue()


def _ipython_image_bytes(image: Any) -> bytes:
    data = getattr(image, "data", None)
    if isinstance(data, (bytes, bytearray)) and data:
        return bytes(data)
    if isinstance(data, str) and data:
        return decode_image_payload(data)
    for attr in ("filename", "url"):
        where = getattr(image, attr, None)
        if where and not str(where).startswith(("http://", "https://", "data:")):
            return read_image_file(str(where).removeprefix("file://"))
    raise ImageError("this IPython Image only links to a URL: download the file "
                     "and attach it by path")
