"""Time `prepare_image` on the images a notebook sends.

Headline: a 4000×3000 PNG (a matplotlib figure saved at high dpi) prepared for
Claude (decode, downscale to 1568 px, re-encode), target <= 150 ms. Also the same
plot held as a Figure, saved whole and prepared vs drawn at the target size; a
4000×3000 photo-like PNG, a 6000×4000 JPEG (decoded at reduced scale), a small
PNG that passes through, and the bare Pillow decode of each big PNG (the floor
no preparation can go below).

    python bench/images.py [--repeat N]

Prints a table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time

from claude_magic.core.images import prepare_image

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

    from claude_magic.core.images import image_from_object, prepare_figure

    fig = plot_figure(4000, 3000)
    ways = {"saved whole, then prepare_image": lambda: prepare_image(image_from_object(fig)),
            "prepare_figure (drawn at the target size)": lambda: prepare_figure(fig)}
    times: dict[str, list[float]] = {name: [] for name in ways}
    sizes = {name: way() for name, way in ways.items()}
    for _ in range(repeat):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            times[name].append((time.perf_counter() - start) * 1000)
    plt.close(fig)
    result = {name: {"median_ms": round(statistics.median(t), 1), "min_ms": round(min(t), 1),
                     "result": f"{sizes[name].width}x{sizes[name].height}"} for name, t in times.items()}
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


def decode_only(data: bytes) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()


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
    results = {}
    print(f"{'input':32} {'bytes':>10} {'result':>24} {'median ms':>10} {'min ms':>8}")
    for name, data in inputs.items():
        prepared = prepare_image(data)
        figures = timed(lambda data=data: prepare_image(data), repeat)
        result = f"{prepared.media_type.split('/')[1]} {prepared.width}x{prepared.height}"
        if not prepared.converted:
            result += " (same)"
        results[name] = {"bytes": len(data), "out_bytes": len(prepared.data), "result": result, **figures}
        print(f"{name:32} {len(data):>10} {result:>24} {figures['median_ms']:>10} {figures['min_ms']:>8}")
    for name in ("plot_png_4000x3000", "photo_png_4000x3000"):
        figures = timed(lambda name=name: decode_only(inputs[name]), repeat)
        results[f"{name}_decode_only"] = figures
        print(f"{name + ' decode only':32} {'':>10} {'':>24} {figures['median_ms']:>10} {figures['min_ms']:>8}")
    ways = figure_ways(max(3, repeat // 2))
    results["figure_4000x3000"] = ways
    for name, row in ways.items():
        if name != "ratio":
            print(f"{'figure: ' + name:48} {row['result']:>16} {row['median_ms']:>10} {row['min_ms']:>8}")
    print(f"figure drawn at the target size ÷ saved whole and prepared: {ways['ratio']}")
    headline = results["plot_png_4000x3000"]["median_ms"]
    print(f"\n4000x3000 plot PNG prepared in {headline} ms (target {TARGET_MS:.0f} ms); "
          f"Pillow's decode alone takes {results['plot_png_4000x3000_decode_only']['median_ms']} ms")
    print(json.dumps({"bench": "images", "headline_ms": headline, "target_ms": TARGET_MS,
                      "within_target": headline <= TARGET_MS, "scenarios": results}))


if __name__ == "__main__":
    main()
