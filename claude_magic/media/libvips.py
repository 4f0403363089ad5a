"""The libvips fast path: big 8-bit PNGs decoded and downscaled in one streamed pass
(pyvips, imported lazily). Where libvips can't be loaded, Pillow does it all."""

from __future__ import annotations

import functools
import os
from typing import Any


def usable_vips() -> Any:
    """The pyvips module, or None when libvips can't be loaded here, or was loaded before
    this process was forked (its worker threads don't survive a fork: it would hang).
    Pillow does it all then."""
    module, pid = _load_vips()
    return module if pid == os.getpid() else None


@functools.cache
def _load_vips() -> tuple[Any, int]:
    try:
        import pyvips
    except (ImportError, OSError):
        return None, os.getpid()
    # libvips' operation cache would keep each image's pipeline alive (tens of MB apiece)
    pyvips.cache_set_max(0)
    return pyvips, os.getpid()


def vips_reads(img: Any, data: bytes) -> bool:
    """True for the PNGs the libvips path handles: 8-bit grey, RGB or RGBA, no tRNS colour key."""
    bit_depth, colour_type = data[24:25], data[25:26]
    return (
        img.format == "PNG"
        and bit_depth == b"\x08"
        and colour_type in (b"\x00", b"\x02", b"\x06")
        and "transparency" not in img.info
    )


def vips_downscale(
    vips: Any, data: bytes, size: tuple[int, int], target: tuple[int, int]
) -> tuple[Any, Any]:
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
            small = (
                _vips_load(vips, data)
                .resize(target[0] / size[0], vscale=target[1] / size[1], kernel="cubic")
                .copy_memory()
            )
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
