"""Model ids and small test images that many test modules share."""

from __future__ import annotations

import base64
import io

HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
"""Claude Haiku 4.5's US inference profile: served on the pinned date, with vision and tools."""

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
"""Claude Sonnet 4.5's US inference profile."""


def png(
    colour: str | tuple[int, int, int] = (10, 120, 200),
    size: tuple[int, int] = (40, 30),
    *,
    noise: bool = False,
    seed: int = 0,
    fmt: str = "PNG",
) -> bytes:
    """An image file of `size` (width, height) in one colour, or of random pixels drawn from
    `seed` with `noise`; PNG unless `fmt` names another format Pillow writes."""
    from PIL import Image

    if noise:
        import numpy as np

        width, height = size
        pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
    else:
        image = Image.new("RGB", size, colour)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def png_b64(
    colour: str | tuple[int, int, int] = (10, 120, 200), size: tuple[int, int] = (40, 30), **options
) -> str:
    """`png(...)` as base64 text, as request bodies carry images."""
    return base64.b64encode(png(colour, size, **options)).decode()
