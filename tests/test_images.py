"""The media layer's images: sniffing, pass-through, conversion, orientation, downscaling, byte limits, objects."""

from __future__ import annotations

import base64
import io
import os
import signal
import struct
import sys
import zlib

import numpy as np
import pytest
from helpers import png
from PIL import Image, ImageDraw

from claude_magic.media.errors import ImageError
from claude_magic.media.figures import image_from_object
from claude_magic.media.formats import sniff_format
from claude_magic.media.images import SVG_REFUSAL, prepare_image


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def line_art(size=(400, 300)) -> Image.Image:
    """A plot-like picture: white background, a few coloured lines and boxes."""
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.rectangle([w // 10, h // 10, w // 2, h // 2], outline="black", width=3)
    draw.line([0, h - 1, w - 1, 0], fill=(31, 119, 180), width=5)
    draw.ellipse([w // 2, h // 2, w - 10, h - 10], fill=(255, 127, 14))
    return img


def photo(size=(400, 300), seed=0) -> Image.Image:
    """A photo-like picture: smooth gradients plus sensor noise (many distinct colours)."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], -1)
    arr = arr + rng.normal(0, 10, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height, with a tiny (bogus) body."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------ pass-through


@pytest.mark.parametrize(
    "fmt,media_type",
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
    ],
)
def test_images_within_limits_pass_through_byte_for_byte(fmt, media_type):
    data = encode(line_art(), fmt)
    prepared = prepare_image(data)
    assert prepared.data == data
    assert prepared.media_type == media_type
    assert (prepared.width, prepared.height) == (400, 300)
    assert not prepared.converted and not prepared.resized
    assert prepared.original_format == fmt


def test_small_png_is_returned_unchanged_with_block_and_tokens():
    data = encode(line_art((200, 150)), "PNG")
    prepared = prepare_image(data)
    assert prepared.data is data or prepared.data == data
    block = prepared.to_block()
    assert block["type"] == "image"
    assert block["source"]["type"] == "base64"
    assert block["source"]["media_type"] == "image/png"
    assert base64.b64decode(block["source"]["data"]) == data
    assert prepared.tokens == round(200 * 150 / 750)


def test_thumbnail_is_a_small_png_of_the_image():
    prepared = prepare_image(encode(photo((1200, 600)), "JPEG"))
    thumb = decode(prepared.thumbnail_png(max_edge=128))
    assert thumb.format == "PNG"
    assert max(thumb.size) == 128
    assert thumb.size[0] == 2 * thumb.size[1]


# ------------------------------------------------------------------ conversion table


@pytest.mark.parametrize(
    "name,make,expected_type",
    [
        ("tiff line art", lambda: encode(line_art(), "TIFF"), "image/png"),
        ("tiff photo", lambda: encode(photo(), "TIFF"), "image/jpeg"),
        ("bmp line art", lambda: encode(line_art(), "BMP"), "image/png"),
        ("bmp photo", lambda: encode(photo(), "BMP"), "image/jpeg"),
        ("ico", lambda: encode(line_art((64, 64)), "ICO", sizes=[(64, 64)]), "image/png"),
        ("cmyk jpeg", lambda: encode(photo().convert("CMYK"), "JPEG"), "image/jpeg"),
        ("palette png", lambda: encode(line_art().convert("P"), "PNG"), "image/png"),
        ("gray+alpha png", lambda: encode(line_art().convert("LA"), "PNG"), "image/png"),
        ("1-bit png", lambda: encode(line_art().convert("1"), "PNG"), "image/png"),
    ],
)
def test_formats_claude_does_not_take_are_converted(name, make, expected_type):
    data = make()
    prepared = prepare_image(data)
    assert prepared.converted
    assert prepared.media_type == expected_type
    assert prepared.data != data
    img = decode(prepared.data)
    assert img.format == expected_type.split("/")[1].upper()
    assert img.mode in ("RGB", "RGBA", "L")
    assert (
        img.size
        == (prepared.width, prepared.height)
        == (prepared.original_width, prepared.original_height)
    )
    assert not prepared.resized


def test_converted_line_art_is_lossless():
    source = line_art()
    prepared = prepare_image(encode(source, "BMP"))
    assert prepared.media_type == "image/png"
    assert decode(prepared.data).convert("RGB").tobytes() == source.tobytes()


def test_cmyk_jpeg_keeps_its_colours():
    red = Image.new("RGB", (64, 64), (230, 20, 20))
    prepared = prepare_image(encode(red.convert("CMYK"), "JPEG", quality=95))
    assert prepared.media_type == "image/jpeg"
    r, g, b = decode(prepared.data).convert("RGB").getpixel((32, 32))
    assert r > 200 and g < 60 and b < 60


def test_16_bit_png_is_scaled_to_8_bits():
    values = np.zeros((50, 60), dtype=np.uint16)
    values[:, 20:40] = 32768
    values[:, 40:] = 65535
    data = encode(Image.fromarray(values), "PNG")
    assert decode(data).mode.startswith("I")
    prepared = prepare_image(data)
    assert prepared.converted and prepared.media_type == "image/png"
    img = decode(prepared.data)
    assert img.mode == "L"
    assert [img.getpixel((x, 10)) for x in (5, 30, 55)] == [0, 128, 255]


def test_16_bit_rgb_png_is_converted_not_passed_through():
    rgb16 = np.full((20, 30, 3), 40000, dtype=">u2")
    raw = rgb16.tobytes()
    rows = b"".join(b"\0" + raw[i * 30 * 6 : (i + 1) * 30 * 6] for i in range(20))

    def chunk(kind, body):
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 30, 20, 16, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    prepared = prepare_image(data)
    assert prepared.converted
    assert decode(prepared.data).size == (30, 20)


def test_transparency_is_kept_as_png_and_opaque_alpha_is_dropped():
    transparent = line_art().convert("RGBA")
    transparent.putpixel((0, 0), (0, 0, 0, 0))
    prepared = prepare_image(encode(transparent, "TIFF"))
    img = decode(prepared.data)
    assert prepared.media_type == "image/png" and img.mode == "RGBA"
    assert img.getpixel((0, 0))[3] == 0

    opaque = photo((2000, 1000)).convert("RGBA")
    prepared = prepare_image(encode(opaque, "PNG", compress_level=1))
    assert prepared.resized
    assert decode(prepared.data).mode == "RGB"


# ------------------------------------------------------------------ size


def test_6000x4000_png_is_downscaled_to_1568x1045():
    img = line_art((6000, 4000))
    prepared = prepare_image(encode(img, "PNG", compress_level=1))
    assert (prepared.width, prepared.height) == (1568, 1045)
    assert (prepared.original_width, prepared.original_height) == (6000, 4000)
    assert prepared.resized and prepared.converted
    assert decode(prepared.data).size == (1568, 1045)
    assert prepared.tokens == round(1568 * 1045 / 750)


def test_large_jpeg_is_downscaled_keeping_aspect_ratio():
    prepared = prepare_image(encode(photo((3000, 2000)), "JPEG"), max_edge=1000)
    assert (prepared.width, prepared.height) == (1000, 667)
    assert prepared.media_type == "image/jpeg"


def test_very_wide_image_is_downscaled_not_refused():
    img = Image.new("RGB", (20_000, 200), "white")
    ImageDraw.Draw(img).line([0, 100, 19_999, 100], fill="black", width=9)
    prepared = prepare_image(encode(img, "PNG"))
    assert (prepared.width, prepared.height) == (1568, 16)
    assert prepared.original_width == 20_000


def test_max_edge_is_capped_at_the_api_limit():
    img = Image.new("L", (9000, 100), 128)
    prepared = prepare_image(encode(img, "PNG"), max_edge=20_000)
    assert prepared.width == 8000


def test_noisy_image_is_reencoded_until_within_the_byte_limit():
    rng = np.random.default_rng(7)
    noise = Image.fromarray(rng.integers(0, 256, (4000, 4000, 3), dtype=np.uint8))
    data = encode(noise, "PNG", compress_level=0)
    assert len(data) > 3_932_160
    prepared = prepare_image(data, max_edge=4000)
    assert len(prepared.data) <= 3_932_160
    assert prepared.media_type == "image/jpeg"
    assert decode(prepared.data).size == (prepared.width, prepared.height)
    assert prepared.width == prepared.height  # aspect ratio kept while shrinking


def test_noisy_transparent_image_shrinks_as_png_until_within_the_byte_limit():
    rng = np.random.default_rng(8)
    noise = Image.fromarray(rng.integers(0, 256, (600, 800, 4), dtype=np.uint8), "RGBA")
    data = encode(noise, "PNG", compress_level=0)
    prepared = prepare_image(data, max_bytes=500_000)
    assert len(prepared.data) <= 500_000
    assert prepared.media_type == "image/png"
    assert prepared.resized and prepared.width < 800
    assert abs(prepared.width / prepared.height - 800 / 600) < 0.02


def test_too_large_file_within_size_is_reencoded():
    data = encode(photo((1000, 800)), "PNG", compress_level=0)
    prepared = prepare_image(data, max_bytes=len(data) - 1)
    assert prepared.converted and len(prepared.data) < len(data)


# ------------------------------------------------------------------ orientation


@pytest.mark.parametrize("max_edge", [1568, 1000])
def test_exif_rotated_jpeg_is_shown_upright(max_edge):
    stored = Image.new("RGB", (4000, 2000), (220, 30, 30))
    ImageDraw.Draw(stored).rectangle([2000, 0, 3999, 1999], fill=(30, 30, 220))  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display: left (red) becomes the top
    prepared = prepare_image(encode(stored, "JPEG", exif=exif.tobytes()), max_edge=max_edge)
    assert (prepared.original_width, prepared.original_height) == (2000, 4000)
    assert (prepared.width, prepared.height) == (max_edge // 2, max_edge)
    img = decode(prepared.data).convert("RGB")
    top = img.getpixel((img.width // 2, img.height // 4))
    bottom = img.getpixel((img.width // 2, 3 * img.height // 4))
    assert top[0] > 180 and top[2] < 80
    assert bottom[2] > 180 and bottom[0] < 80


def test_small_rotated_jpeg_is_not_passed_through():
    exif = Image.Exif()
    exif[0x0112] = 8
    prepared = prepare_image(encode(photo((300, 200)), "JPEG", exif=exif.tobytes()))
    assert prepared.converted
    assert (prepared.width, prepared.height) == (200, 300)


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    "data,words",
    [
        (b"", "empty"),
        (b"this is not an image at all" * 10, "corrupt"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "corrupt"),
        (b"%PDF-1.4\n%...", "--doc"),
        (b"\0\0\0\x18ftypheic\0\0\0\0", "HEIC"),
    ],
)
def test_unreadable_bytes_are_refused_with_a_clear_message(data, words):
    with pytest.raises(ImageError) as error:
        prepare_image(data)
    assert words in str(error.value)
    assert "\n" not in str(error.value)


def test_truncated_png_is_refused_even_when_small():
    data = encode(photo((300, 200)), "PNG")
    with pytest.raises(ImageError, match="corrupt"):
        prepare_image(data[: len(data) // 2])


def test_decompression_bomb_is_refused():
    with pytest.raises(ImageError, match="million pixels"):
        prepare_image(png_header_only(30_000, 30_000))


def test_pillow_bomb_limit_is_left_as_it_was():
    before = Image.MAX_IMAGE_PIXELS
    prepare_image(encode(line_art(), "TIFF"))
    with pytest.raises(ImageError):
        prepare_image(png_header_only(30_000, 30_000))
    assert Image.MAX_IMAGE_PIXELS == before


def test_svg_is_rasterised_or_refused_with_advice():
    svg = (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
        b'<rect width="40" height="20" fill="red"/></svg>'
    )
    assert sniff_format(svg) == "SVG"
    try:
        import cairosvg  # noqa: F401
    except (ImportError, OSError):
        with pytest.raises(ImageError) as error:
            prepare_image(svg)
        assert str(error.value) == SVG_REFUSAL
    else:
        prepared = prepare_image(svg)
        assert prepared.media_type == "image/png" and (prepared.width, prepared.height) == (40, 20)


@pytest.mark.parametrize(
    "fmt,name",
    [
        ("PNG", "PNG"),
        ("JPEG", "JPEG"),
        ("GIF", "GIF"),
        ("WEBP", "WEBP"),
        ("TIFF", "TIFF"),
        ("BMP", "BMP"),
    ],
)
def test_sniffing_uses_content_not_names(fmt, name):
    assert sniff_format(encode(line_art((60, 40)), fmt)) == name


# ------------------------------------------------------------------ objects


def test_matplotlib_figure_becomes_png_at_its_dpi():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=50)
    ax.plot([0, 1], [0, 1])
    fig2, ax2 = plt.subplots(figsize=(4, 3), dpi=100)
    ax2.plot([0, 1], [0, 1])
    try:
        small = decode(image_from_object(fig))
        large = decode(image_from_object(ax2))  # an Axes means its figure
    finally:
        plt.close(fig)
        plt.close(fig2)
    assert small.format == large.format == "PNG"
    assert abs(large.width - 2 * small.width) <= 4
    assert small.width <= 4 * 50 and small.height <= 3 * 50


def test_grid_of_axes_and_svg_markup():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(4, 4), dpi=40)
    try:
        assert decode(image_from_object(axes)).size == decode(image_from_object(fig)).size
        svg = io.StringIO()
        fig.savefig(svg, format="svg")
    finally:
        plt.close(fig)
    data = image_from_object(svg.getvalue())
    assert sniff_format(data) == "SVG"


@pytest.mark.parametrize(
    "array,mode,size",
    [
        (np.zeros((10, 20), dtype=np.uint8), "L", (20, 10)),
        (np.zeros((10, 20, 3), dtype=np.uint8), "RGB", (20, 10)),
        (np.zeros((10, 20, 4), dtype=np.uint8), "RGBA", (20, 10)),
        (np.ones((10, 20, 1), dtype=np.float32), "L", (20, 10)),
        (np.eye(8, dtype=bool), "L", (8, 8)),
    ],
)
def test_numpy_arrays_become_png(array, mode, size):
    img = decode(image_from_object(array))
    assert (img.mode, img.size) == (mode, size)


def test_float_and_bool_arrays_are_scaled_to_0_255():
    gray = decode(image_from_object(np.array([[0.0, 0.5, 1.0]])))
    assert [gray.getpixel((x, 0)) for x in range(3)] == [0, 128, 255]
    mask = decode(image_from_object(np.array([[True, False]])))
    assert [mask.getpixel((x, 0)) for x in range(2)] == [255, 0]


@pytest.mark.parametrize(
    "array,words",
    [
        (np.zeros((4, 4, 2), dtype=np.uint8), "shape"),
        (np.zeros((2, 3, 4, 5), dtype=np.uint8), "shape"),
        (np.full((4, 4), 200.0), "0..1"),
        (np.full((4, 4), 1000, dtype=np.int32), "0..255"),
        (np.array([["a"]]), "dtype"),
    ],
)
def test_arrays_that_are_not_images_are_refused(array, words):
    with pytest.raises(ImageError, match=words):
        image_from_object(array)


def test_pil_bytes_path_and_ipython_images(tmp_path):
    from IPython.display import Image as IPImage

    png = encode(line_art((30, 20)), "PNG")
    path = tmp_path / "plot.png"
    path.write_bytes(png)
    assert decode(image_from_object(line_art((30, 20)))).size == (30, 20)
    assert image_from_object(png) == png
    assert image_from_object(bytearray(png)) == png
    assert image_from_object(memoryview(png)) == png
    assert image_from_object(path) == png
    assert image_from_object(str(path)) == png
    assert image_from_object(IPImage(png)) == png
    assert image_from_object(IPImage(filename=str(path))) == png
    assert image_from_object(IPImage(url=str(path), embed=False)) == png


def test_objects_that_are_not_images_are_refused(tmp_path):
    from IPython.display import Image as IPImage

    with pytest.raises(ImageError, match="can't make an image from a dict"):
        image_from_object({"a": 1})
    with pytest.raises(ImageError, match="no such file"):
        image_from_object(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="folder"):
        image_from_object(tmp_path)
    with pytest.raises(ImageError, match="URL"):
        image_from_object(IPImage(url="https://example.org/x.png", embed=False))


def _busy_figure(width_in: float, height_in: float, dpi: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(width_in, height_in), dpi=dpi)
    x = np.linspace(0, 10, 400)
    for k, ax in enumerate(axes):
        ax.plot(x, np.sin(x * (k + 1)), lw=2)
        ax.set_title(f"Panel {k}")
    return fig


@pytest.mark.parametrize("size,dpi", [((40, 30), 100), ((6, 4), 100)])
def test_a_figure_is_drawn_at_the_size_claude_gets(size, dpi):
    import matplotlib.pyplot as plt

    from claude_magic.media.figures import prepare_figure
    from claude_magic.media.limits import DEFAULT_MAX_EDGE

    fig = _busy_figure(*size, dpi)
    canvas = fig.canvas
    try:
        via_png = prepare_image(image_from_object(fig))
        drawn = prepare_figure(fig)
        assert fig.dpi == dpi and fig.canvas is canvas  # the figure is left as it was
        again = prepare_image(image_from_object(fig))
    finally:
        plt.close(fig)
    assert again.data == via_png.data
    # the same picture, at the same size, as saving it whole and downscaling it
    assert abs(drawn.width - via_png.width) <= 3 and abs(drawn.height - via_png.height) <= 3
    assert max(drawn.width, drawn.height) <= DEFAULT_MAX_EDGE
    assert abs(drawn.original_width - via_png.original_width) <= 3
    assert drawn.media_type == "image/png" and drawn.resized == via_png.resized
    a = np.asarray(decode(drawn.data).convert("L").resize((64, 48)), dtype=float)
    b = np.asarray(decode(via_png.data).convert("L").resize((64, 48)), dtype=float)
    assert np.abs(a - b).mean() < 6


# ------------------------------------------------------------------ big PNGs: libvips, Pillow only


def plot_like(size=(3200, 2400), transparent=False) -> Image.Image:
    """A high-dpi plot: white (or clear) background, thin lines, small text, a grid."""
    img = Image.new("RGBA", size, (255, 255, 255, 0 if transparent else 255))
    draw = ImageDraw.Draw(img)
    w, h = size
    for x in range(0, w, w // 16):
        draw.line([x, 0, x, h - 1], fill=(200, 200, 200, 255), width=1)
    for k, colour in enumerate([(31, 119, 180), (255, 127, 14), (44, 160, 44)]):
        points = [(x, h / 2 + (h / 3) * np.sin(x / (120 + 60 * k))) for x in range(0, w, 4)]
        draw.line(points, fill=(*colour, 255), width=3)
    for y in range(40, h, 200):
        draw.text(
            (40, y), f"Panel {y}: signal and noise, thin text", fill=(0, 0, 0, 255), font_size=28
        )
    return img


def pillow_only(data: bytes, max_edge: int = 1568, max_bytes: int = 3_932_160):
    """prepare_image as it runs where libvips can't be loaded."""
    from claude_magic.media import images

    return images._prepare(data, None, max_edge, max_bytes, use_vips=False)


@pytest.fixture
def without(monkeypatch):
    """without("pyvips"): that package fails to import, as where it isn't installed."""
    from claude_magic.media import encoding, libvips

    def block(name):
        monkeypatch.setitem(sys.modules, name, None)
        libvips._load_vips.cache_clear()
        encoding._zlib.cache_clear()

    yield block
    monkeypatch.undo()
    libvips._load_vips.cache_clear()
    encoding._zlib.cache_clear()


def test_libvips_loads_here():
    from claude_magic.media import libvips

    assert libvips.usable_vips() is not None  # a dependency: the fast path is what users get


def test_big_plot_png_is_downscaled_legibly_close_to_pillows_box():
    source = plot_like()
    data = encode(source, "PNG", compress_level=1)
    prepared = prepare_image(data)
    assert (prepared.width, prepared.height) == (1568, 1176)
    assert prepared.media_type == "image/png" and prepared.resized and prepared.converted
    assert (prepared.original_width, prepared.original_height) == (3200, 2400)
    got = np.asarray(decode(prepared.data), dtype=float)
    assert got.shape == (1176, 1568, 3)  # opaque alpha dropped
    box = np.asarray(source.convert("RGB").resize((1568, 1176), Image.Resampling.BOX), dtype=float)
    nearest = np.asarray(
        source.convert("RGB").resize((1568, 1176), Image.Resampling.NEAREST), dtype=float
    )
    error, ink = np.abs(got - box), (box < 250).any(axis=-1)  # ink: lines and text
    assert error.mean() < 2.0 and np.percentile(error, 99) < 60
    assert error[ink].mean() < 0.5 * np.abs(nearest - box)[ink].mean()  # averaged, not picked
    # the Pillow-only path makes the same picture
    fallback = np.asarray(decode(pillow_only(data).data), dtype=float)
    assert np.abs(got - fallback).mean() < 2.0


def test_big_grey_and_rgb_pngs_keep_their_mode():
    grey = plot_like((2000, 1000)).convert("L")
    prepared = prepare_image(encode(grey, "PNG"))
    assert decode(prepared.data).mode == "L" and (prepared.width, prepared.height) == (1568, 784)
    box = np.asarray(grey.resize((1568, 784), Image.Resampling.BOX), dtype=float)
    assert np.abs(np.asarray(decode(prepared.data), dtype=float) - box).mean() < 2.0
    prepared = prepare_image(encode(plot_like((2000, 1000)).convert("RGB"), "PNG"))
    assert decode(prepared.data).mode == "RGB" and prepared.media_type == "image/png"


def test_big_photo_png_becomes_a_jpeg():
    prepared = prepare_image(encode(photo((2400, 1600)), "PNG", compress_level=1))
    assert prepared.media_type == "image/jpeg"
    assert (prepared.width, prepared.height) == (1568, 1045)


@pytest.mark.parametrize("hole", [False, True])
def test_transparent_big_png_becomes_what_it_became_before(hole):
    """Transparent pixels (a clear background, or one clear hole in the middle) make
    the result Pillow's premultiplied BOX downscale, pixel for pixel, as RGBA PNG."""
    source = plot_like((2400, 1800), transparent=not hole)
    if hole:
        ImageDraw.Draw(source).rectangle([1200, 900, 1203, 903], fill=(0, 0, 0, 0))
    data = encode(source, "PNG", compress_level=1)
    prepared = prepare_image(data)
    img = decode(prepared.data)
    assert prepared.media_type == "image/png" and img.mode == "RGBA"
    assert (prepared.width, prepared.height) == (1568, 1176)
    before = source.resize((1568, 1176), Image.Resampling.BOX, reducing_gap=1.0)
    assert img.tobytes() == before.tobytes()
    assert decode(pillow_only(data).data).tobytes() == before.tobytes()


@pytest.mark.parametrize("size", [(1569, 1), (1, 1569), (5001, 3), (2999, 1571), (1570, 1569)])
def test_awkward_sizes_get_exactly_the_target_size(size):
    data = png((10, 200, 30), size)
    scale = 1568 / max(size)
    target = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    prepared = prepare_image(data)
    assert (prepared.width, prepared.height) == target == decode(prepared.data).size
    assert decode(prepared.data).convert("RGB").getpixel((0, 0)) == (10, 200, 30)


def test_truncated_big_png_is_refused():
    data = encode(photo((2000, 1500)), "PNG", compress_level=1)
    with pytest.raises(ImageError, match="corrupt or truncated"):
        prepare_image(data[: len(data) * 2 // 3])


def test_big_png_libvips_refuses_is_prepared_by_pillow(capfd):
    """An IDAT checksum that doesn't match: libvips refuses the file, Pillow (which doesn't
    check it) reads it, as before."""
    source = plot_like((2000, 1500))
    data = encode(source, "PNG", compress_level=1)
    at = data.find(b"IDAT") - 4
    crc = at + 8 + struct.unpack(">I", data[at : at + 4])[0]
    data = data[:crc] + bytes(b ^ 0xFF for b in data[crc : crc + 4]) + data[crc + 4 :]
    prepared = prepare_image(data)
    assert (prepared.width, prepared.height) == (1568, 1176)
    before = source.convert("RGB").resize((1568, 1176), Image.Resampling.BOX, reducing_gap=1.0)
    assert decode(prepared.data).tobytes() == before.tobytes()
    assert capfd.readouterr() == ("", "")  # nothing printed about it


def test_icc_profile_is_kept_when_downscaled():
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for source in (plot_like((2000, 1500)), plot_like((2000, 1500), transparent=True)):
        prepared = prepare_image(encode(source, "PNG", icc_profile=icc))
        assert prepared.media_type == "image/png"
        assert decode(prepared.data).info.get("icc_profile") == icc


def test_without_libvips_pillow_prepares_big_pngs(without):
    from claude_magic.media import libvips

    without("pyvips")
    assert libvips.usable_vips() is None
    source = plot_like()
    prepared = prepare_image(encode(source, "PNG", compress_level=1))
    assert (prepared.width, prepared.height) == (1568, 1176) and prepared.media_type == "image/png"
    before = source.convert("RGB").resize((1568, 1176), Image.Resampling.BOX, reducing_gap=1.0)
    assert decode(prepared.data).tobytes() == before.tobytes()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_process_prepares_big_pngs_with_pillow():
    """libvips' threads don't survive a fork: a child of a process that used it (a
    notebook kernel running multiprocessing, say) must not call it, or it hangs."""
    data = encode(plot_like((2000, 1500)), "PNG", compress_level=1)
    expected = pillow_only(data).data
    prepare_image(data)  # libvips loaded and its threads started
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status
        signal.alarm(20)
        os._exit(0 if prepare_image(data).data == expected else 1)
    _, status = os.waitpid(child, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


@pytest.mark.parametrize(
    "mode,size",
    [
        ("L", (300, 200)),
        ("RGB", (300, 200)),
        ("RGBA", (300, 200)),
        ("RGB", (1568, 1176)),
        ("RGB", (1, 1)),
    ],
)
def test_png_writer_round_trips(mode, size, without):
    """L, RGB and RGBA, deflated by ISA-L and by zlib: lossless, with valid chunks and stream."""
    from claude_magic.media import encoding

    img = photo(size).convert(mode)
    for blocked in (None, "isal"):
        if blocked:
            without(blocked)
            assert encoding._zlib() is zlib
        data = encoding._png_bytes(img)
        back = decode(data)
        assert back.mode == mode and back.tobytes() == img.tobytes()
        idat = b"".join(body for kind, body in png_chunks(data) if kind == b"IDAT")
        assert zlib.decompress(idat)[:1] == b"\x02"  # a valid zlib stream (checksum too), Up rows


def png_chunks(data: bytes):
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        yield kind, body
        pos += 12 + length
