"""Notebook objects to image bytes: matplotlib figures (Axes, SubFigures, seaborn
grids), PIL images, numpy arrays, IPython Images, bytes, SVG markup and file paths;
and a figure drawn straight at the size Claude gets (`prepare_figure`). Pillow,
numpy and matplotlib are imported lazily."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from ..core.messages import MAX_IMAGE_BYTES
from .encoding import PNG_COMPRESS_LEVEL, encode_within, is_line_art, save_bytes
from .errors import ImageError
from .formats import decode_image_payload, looks_like_svg
from .images import PreparedImage, has_alpha, normalise_mode, prepare_image
from .limits import DEFAULT_MAX_EDGE, clamp_edge

OBJECT_HINT = (
    "pass a matplotlib Figure, PIL Image, numpy array, bytes, IPython.display.Image or a file path"
)


def prepare_figure(
    figure: Any,
    *,
    max_edge: int = DEFAULT_MAX_EDGE,
    max_bytes: int = MAX_IMAGE_BYTES,
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

    max_edge = clamp_edge(max_edge)
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
        y0, y1 = (
            max(0, math.floor(height - box.y1 * at)),
            min(height, math.ceil(height - box.y0 * at)),
        )
        img = Image.fromarray(np.ascontiguousarray(pixels[y0:y1, x0:x1]), "RGBA")
    finally:
        figure.dpi = dpi
        figure.set_canvas(canvas)
    img = normalise_mode(img)
    if max(img.size) > max_edge:
        scale = max_edge / max(img.size)
        img = img.resize(
            (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
            Image.Resampling.BOX,
        )
    as_png = img.mode == "RGBA" or is_line_art(img)
    encoded, media_type, (w, h) = encode_within(img, as_png, max_bytes)
    return PreparedImage(
        encoded, media_type, w, h, shown_size[0], shown_size[1], "PNG", converted=True, resized=True
    )


def image_from_object(obj: Any) -> bytes:
    """Image bytes from a notebook object: matplotlib Figure (or Axes), PIL Image,
    numpy array, bytes-like, IPython.display.Image, or a file path."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if isinstance(obj, str) and looks_like_svg(obj[:4096].encode("utf-8", "ignore")):
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


def _pil_to_png(img: Any) -> bytes:
    if img.mode not in ("RGB", "RGBA", "L", "LA", "P", "1", "I;16", "I"):
        img = img.convert("RGBA" if has_alpha(img) else "RGB")
    return save_bytes(img, "PNG", compress_level=PNG_COMPRESS_LEVEL)


def _array_to_png(array: Any) -> bytes:
    import numpy as np
    from PIL import Image

    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))) or arr.size == 0:
        raise ImageError(
            f"an array of shape {arr.shape} isn't an image: "
            "use H×W (gray), H×W×3 (RGB) or H×W×4 (RGBA)"
        )
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr.astype(np.float64), nan=0.0)
        if arr.min() < -1e-6 or arr.max() > 1 + 1e-6:
            raise ImageError(
                "float arrays must hold values in 0..1: divide by 255, "
                "or use arr.astype('uint8') for 0..255 data"
            )
        arr = np.round(np.clip(arr, 0, 1) * 255).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer):
        if arr.dtype != np.uint8 and (arr.min() < 0 or arr.max() > 255):
            raise ImageError(
                f"{arr.dtype} arrays must hold values in 0..255: scale them, or use uint8"
            )
        arr = arr.astype(np.uint8)
    else:
        raise ImageError(
            f"an array of dtype {arr.dtype} isn't an image: use uint8, float (0..1) or bool"
        )
    mode = {2: "L", 3: "RGB", 4: "RGBA"}[arr.shape[2] if arr.ndim == 3 else 2]
    return save_bytes(
        Image.fromarray(np.ascontiguousarray(arr), mode), "PNG", compress_level=PNG_COMPRESS_LEVEL
    )


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
    raise ImageError(
        "this IPython Image only links to a URL: download the file and attach it by path"
    )
