"""The size limits an image is prepared within: the long edge Claude gets, and the
pixel count above which an image is refused as a decompression bomb."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..core.messages import MAX_IMAGE_PIXELS_PER_SIDE

DEFAULT_MAX_EDGE = 1568
MAX_PIXELS = 400_000_000  # larger images are refused as decompression bombs
TOO_LARGE = (
    f"the image has more than {MAX_PIXELS // 1_000_000} million pixels, too many "
    "to decode safely: downscale it first"
)
_pixel_limit_lock = threading.RLock()


def clamp_edge(max_edge: int) -> int:
    """`max_edge` within what Claude accepts: 1 to MAX_IMAGE_PIXELS_PER_SIDE pixels."""
    return max(1, min(int(max_edge), MAX_IMAGE_PIXELS_PER_SIDE))


@contextmanager
def pixel_limit() -> Iterator[None]:
    """Raise Pillow's decompression-bomb limit to MAX_PIXELS for the duration."""
    from PIL import Image

    with _pixel_limit_lock:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2  # Pillow refuses above twice this
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved
