"""Time `prepare_image` on the images a notebook sends.

Headline: a 4000×3000 PNG (a matplotlib figure saved at high dpi) prepared for
Claude (decode, downscale to 1568 px, re-encode), target <= 150 ms. Each input is
prepared two ways, interleaved in one run: as `prepare_image` does it (libvips
decodes and downscales big 8-bit PNGs in one streamed pass) and Pillow only (what
runs where libvips can't be loaded). Inputs: that plot PNG, the same plot held as
a Figure (saved whole and prepared vs drawn at the target size), a 4000×3000
photo-like PNG, a 6000×4000 JPEG (decoded at reduced scale) and a small PNG that
passes through; plus the bare decode of each big PNG by Pillow and by libvips
(the floor a preparation that reads every pixel can't go below).

    python bench/images.py [--repeat N]

Prints a table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time

from claude_magic.media.images import prepare_image

TARGET_MS = 150.0


def plot_png(width: int, height: int) -> bytes:
    import matplotlib.pyplot as plt

    fig = plot_figure(width, height)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=fig.dpi)
    plt.close(fig)
    return out.getvalue()


def plot_figure(width: int, height: int):
    """The matplotlib figure plot_png saves (the caller closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    dpi = 100
    fig, axes = plt.subplots(2, 2, figsize=(width / dpi, height / dpi), dpi=dpi)
    x = np.linspace(0, 10, 2000)
    rng = np.random.default_rng(0)
    for k, ax in enumerate(axes.flat):
        for j in range(4):
            ax.plot(x, np.sin(x * (k + 1) + j) + rng.normal(0, 0.05, x.size), lw=1.5)
        ax.scatter(rng.uniform(0, 10, 300), rng.normal(0, 1, 300), s=8, alpha=0.5)
        ax.set_title(f"Panel {k}: signal and noise")
        ax.grid(True)
    return fig


def figure_ways(repeat: int = 5) -> dict:
    """A 4000x3000 figure held as a Figure (e.g. `--image fig`): saved whole then
    prepared, as before, against drawn at the size Claude gets (prepare_figure);
    interleaved, medians."""
    import matplotlib.pyplot as plt

    from claude_magic.media.figures import image_from_object, prepare_figure

    fig = plot_figure(4000, 3000)
    ways = {
        "saved whole, then prepare_image": lambda: prepare_image(image_from_object(fig)),
        "prepare_figure (drawn at the target size)": lambda: prepare_figure(fig),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    sizes = {name: way() for name, way in ways.items()}
    for _ in range(repeat):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            times[name].append((time.perf_counter() - start) * 1000)
    plt.close(fig)
    result = {
        name: {
            "median_ms": round(statistics.median(t), 1),
            "min_ms": round(min(t), 1),
            "result": f"{sizes[name].width}x{sizes[name].height}",
        }
        for name, t in times.items()
    }
    names = list(ways)
    result["ratio"] = round(result[names[1]]["median_ms"] / result[names[0]]["median_ms"], 2)
    return result


def photo(width: int, height: int, fmt: str) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:height, 0:width]
    pixels = np.stack([(xx / 16) % 256, (yy / 12) % 256, ((xx + yy) / 28) % 256], -1)
    pixels = np.clip(pixels + rng.normal(0, 12, pixels.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return out.getvalue()


def timed(func, repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1)}


def interleaved(ways: dict, repeat: int) -> dict[str, dict[str, float]]:
    """`timed` for several ways at once: one run of each in turn, `repeat` times."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeat):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            times[name].append((time.perf_counter() - start) * 1000)
    return {
        name: {"median_ms": round(statistics.median(t), 1), "min_ms": round(min(t), 1)}
        for name, t in times.items()
    }


def pillow_only(data: bytes):
    """prepare_image as it runs where libvips can't be loaded (Pillow decodes and resizes)."""
    from claude_magic.core.messages import MAX_IMAGE_BYTES
    from claude_magic.media import images
    from claude_magic.media.limits import DEFAULT_MAX_EDGE, pixel_limit

    with pixel_limit():
        return images._prepare(data, None, DEFAULT_MAX_EDGE, MAX_IMAGE_BYTES, use_vips=False)


def decode_only(data: bytes) -> None:
    """Pillow's decode of the whole image."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()


def vips_decode_only(data: bytes) -> None:
    """libvips' decode of the whole PNG into memory."""
    import pyvips

    pyvips.Image.pngload_buffer(data, access="sequential", fail_on="error").copy_memory()


def _result(prepared) -> str:
    result = f"{prepared.media_type.split('/')[1]} {prepared.width}x{prepared.height}"
    return result if prepared.converted else result + " (same)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat

    inputs = {
        "plot_png_4000x3000": plot_png(4000, 3000),
        "photo_png_4000x3000": photo(4000, 3000, "PNG"),
        "photo_jpeg_6000x4000": photo(6000, 4000, "JPEG"),
        "plot_png_640x480_passthrough": plot_png(640, 480),
    }
    prepare_image(inputs["plot_png_640x480_passthrough"])  # warm up imports
    ways = {}
    for name, data in inputs.items():
        ways[(name, "libvips")] = lambda data=data: prepare_image(data)
        ways[(name, "pillow")] = lambda data=data: pillow_only(data)
        if name.endswith("_4000x3000"):
            ways[(name, "decode")] = lambda data=data: decode_only(data)
            ways[(name, "vips_decode")] = lambda data=data: vips_decode_only(data)
    made = {key: way() for key, way in ways.items() if key[1] in ("libvips", "pillow")}
    figures = interleaved(ways, repeat)
    results: dict = {}
    print(
        f"{'input':30} {'bytes':>10} {'result':>20} {'median ms':>10} {'min ms':>7}"
        f" {'Pillow only':>12} {'min ms':>7} {'out bytes':>10} {'Pillow only':>12}"
    )
    for name, data in inputs.items():
        new, old = figures[(name, "libvips")], figures[(name, "pillow")]
        fast, slow = made[(name, "libvips")], made[(name, "pillow")]
        results[name] = {
            "bytes": len(data),
            "out_bytes": len(fast.data),
            "result": _result(fast),
            **new,
            "pillow_only": {"out_bytes": len(slow.data), "result": _result(slow), **old},
        }
        print(
            f"{name:30} {len(data):>10} {_result(fast):>20} {new['median_ms']:>10} {new['min_ms']:>7}"
            f" {old['median_ms']:>12} {old['min_ms']:>7} {len(fast.data):>10} {len(slow.data):>12}"
        )
    for name in inputs:
        if (name, "decode") in figures:
            pillow, vips = figures[(name, "decode")], figures[(name, "vips_decode")]
            results[f"{name}_decode_only"] = pillow
            results[f"{name}_vips_decode_only"] = vips
            print(
                f"{name + ' decode only':30} {'':>10} {'libvips | Pillow':>20} {vips['median_ms']:>10}"
                f" {vips['min_ms']:>7} {pillow['median_ms']:>12} {pillow['min_ms']:>7}"
            )
    ways = figure_ways(max(3, repeat // 2))
    results["figure_4000x3000"] = ways
    for name, row in ways.items():
        if name != "ratio":
            print(
                f"{'figure: ' + name:46} {row['result']:>14} {row['median_ms']:>10} {row['min_ms']:>7}"
            )
    print(f"figure drawn at the target size ÷ saved whole and prepared: {ways['ratio']}")
    headline = results["plot_png_4000x3000"]["median_ms"]
    print(
        f"\n4000x3000 plot PNG prepared in {headline} ms (target {TARGET_MS:.0f} ms; Pillow only "
        f"{results['plot_png_4000x3000']['pillow_only']['median_ms']} ms); decoding it alone takes libvips "
        f"{results['plot_png_4000x3000_vips_decode_only']['median_ms']} ms, Pillow "
        f"{results['plot_png_4000x3000_decode_only']['median_ms']} ms"
    )
    print(
        json.dumps(
            {
                "bench": "images",
                "headline_ms": headline,
                "target_ms": TARGET_MS,
                "within_target": headline <= TARGET_MS,
                "scenarios": results,
            }
        )
    )


if __name__ == "__main__":
    main()
