"""attachments.py: --image sources, --cell context and --doc files, in a real InteractiveShell."""

from __future__ import annotations

import base64
import dataclasses
import io

import numpy as np
import pytest
from helpers import png
from PIL import Image

from claude_magic.models.catalog import lookup, resolve
from claude_magic.notebook.attachments import (
    AttachmentError,
    cell_context,
    resolve_documents,
    resolve_images,
)
from claude_magic.notebook.outputs import OutputRecorder


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    InteractiveShell.clear_instance()
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.user_ns.update(red=png("red"), blue=png("blue"), green=png("green", (60, 20)))
    shell.run_cell("from IPython.display import Image, display", store_history=False)
    yield shell
    InteractiveShell.clear_instance()


@pytest.fixture
def recorder(shell):
    recorder = OutputRecorder(shell)
    recorder.install()
    yield recorder
    recorder.uninstall()


def run(shell, code: str) -> int:
    return shell.run_cell(code, store_history=True).execution_count


def attach(shell, recorder, *sources, current_cell=None, **options):
    return resolve_images(list(sources), shell, recorder, current_cell=current_cell, **options)


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(AttachmentError) as error:
        call(*args, **kwargs)
    message = str(error.value)
    assert "\n" not in message and message
    return message


# ------------------------------------------------------------------ cells


def test_cell_number_and_out_n_attach_every_image_the_cell_showed(shell, recorder):
    one = run(shell, "display(Image(red))")
    two = run(shell, "display(Image(blue))\ndisplay(Image(green))")
    for source in (str(one), f"Out[{one}]"):
        [image] = attach(shell, recorder, source)
        assert image.label == f"cell {one}"
        assert image.prepared.data == shell.user_ns["red"]
        assert image.to_block()["source"]["data"] == base64.b64encode(shell.user_ns["red"]).decode()
        assert image.placeholder == f"[image from cell {one} omitted]"
    images = attach(shell, recorder, str(two))
    assert [i.label for i in images] == [f"cell {two}:1", f"cell {two}:2"]
    assert [i.prepared.data for i in images] == [shell.user_ns["blue"], shell.user_ns["green"]]


def test_n_colon_k_picks_one_image(shell, recorder):
    n = run(shell, "display(Image(blue))\ndisplay(Image(green))")
    [second] = attach(shell, recorder, f"{n}:2")
    assert second.label == f"cell {n}:2"
    assert (second.prepared.width, second.prepared.height) == (60, 20)
    [first] = attach(shell, recorder, f"Out[{n}]:1")
    assert first.prepared.data == shell.user_ns["blue"]


def test_underscore_and_minus_one_mean_the_latest_earlier_image_cell(shell, recorder):
    a = run(shell, "display(Image(red))")
    b = run(shell, "display(Image(blue))")
    run(shell, "print('no image here')")
    current = b + 2
    for source in ("_", "-1"):
        [image] = attach(shell, recorder, source, current_cell=current)
        assert image.label == f"cell {b}"
    [image] = attach(shell, recorder, "-2", current_cell=current)
    assert image.label == f"cell {a}"
    [image] = attach(shell, recorder, "_", current_cell=b)
    assert image.label == f"cell {a}"
    [image] = attach(shell, recorder, "_")
    assert image.label == f"cell {b}"


# ------------------------------------------------------------------ variables


def test_matplotlib_figure_variable(shell, recorder):
    shell.run_cell(
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(4, 3), dpi=50)\nax.plot([0, 1], [1, 0])\n"
        "class Result:\n    pass\nresult = Result()\nresult.fig = fig\n"
    )
    try:
        [image] = attach(shell, recorder, "fig")
        assert image.label == "fig" and image.prepared.media_type == "image/png"
        assert image.prepared.width <= 200 and image.prepared.height <= 150
        [dotted] = attach(shell, recorder, "result.fig")
        assert dotted.label == "result.fig" and dotted.prepared.data == image.prepared.data
    finally:
        shell.run_cell("plt.close('all')")


def test_a_large_figure_variable_is_drawn_at_max_edge(shell, recorder):
    shell.run_cell(
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "big, ax = plt.subplots(figsize=(30, 20), dpi=100)\nax.plot([0, 1, 0.5], [1, 0, 0.3])\n"
    )
    try:
        [image] = attach(shell, recorder, "big", max_edge=800)
        [axes] = attach(shell, recorder, "ax", max_edge=800)  # an Axes means its figure
        assert shell.run_cell("big.dpi").result == 100  # the figure is left as it was
    finally:
        shell.run_cell("plt.close('all')")
    assert max(image.prepared.width, image.prepared.height) == 800 and image.prepared.resized
    assert image.prepared.original_width > 2000 and image.prepared.media_type == "image/png"
    assert axes.prepared.data == image.prepared.data


def test_pil_numpy_bytes_and_ipython_image_variables(shell, recorder):
    shell.user_ns.update(
        pil=Image.new("RGB", (30, 20), "orange"),
        gray=np.zeros((12, 16), dtype=np.uint8),
        rgb=np.zeros((12, 16, 3), dtype=np.uint8),
        rgba=np.zeros((12, 16, 4), dtype=np.float64),
        raw=png("purple"),
    )
    shell.run_cell("ipimage = Image(raw)")
    images = attach(shell, recorder, "pil", "gray", "rgb", "rgba", "raw", "ipimage")
    assert [i.label for i in images] == ["pil", "gray", "rgb", "rgba", "raw", "ipimage"]
    assert [(i.prepared.width, i.prepared.height) for i in images] == [(30, 20)] + [
        (16, 12)
    ] * 3 + [(40, 30)] * 2
    modes = [Image.open(io.BytesIO(i.prepared.data)).mode for i in images[1:4]]
    assert modes == ["L", "RGB", "RGBA"]
    assert images[4].prepared.data == images[5].prepared.data == shell.user_ns["raw"]


# ------------------------------------------------------------------ files


def test_paths_and_sorted_globs(shell, recorder, tmp_path, monkeypatch):
    for name, colour in (("b.png", "blue"), ("a.png", "red"), ("c.jpg", "green")):
        Image.new("RGB", (10, 10), colour).save(tmp_path / name)
    monkeypatch.chdir(tmp_path)
    [single] = attach(shell, recorder, "c.jpg")
    assert single.label == "c.jpg" and single.prepared.media_type == "image/jpeg"
    globbed = attach(shell, recorder, "*.png")
    assert [i.label for i in globbed] == ["a.png", "b.png"]
    absolute = attach(shell, recorder, str(tmp_path / "*.png"))
    assert [i.label for i in absolute] == [str(tmp_path / "a.png"), str(tmp_path / "b.png")]


def test_large_images_are_downscaled_to_max_edge(shell, recorder, tmp_path):
    Image.new("RGB", (3000, 1500), "white").save(tmp_path / "big.png")
    [image] = attach(shell, recorder, str(tmp_path / "big.png"), max_edge=1000)
    assert (image.prepared.width, image.prepared.height) == (1000, 500)


# ------------------------------------------------------------------ errors


def test_cell_errors_name_the_fix(shell, recorder):
    no_image = run(shell, "x = 1")
    two = run(shell, "display(Image(red))\ndisplay(Image(blue))")
    assert error_of(attach, shell, recorder, "7") == (
        "Cell [7] has no recorded output; run it first, or use --image _ for the latest plot"
    )
    assert error_of(attach, shell, recorder, str(no_image)).startswith(
        f"Cell [{no_image}] showed no image; use --image _ for the latest plot"
    )
    assert error_of(attach, shell, recorder, f"{two}:3") == (
        f"Cell [{two}] showed 2 image(s), not 3: use {two}:1 to {two}:2"
    )
    assert "start at 1" in error_of(attach, shell, recorder, f"{two}:0")
    assert "Only 1 earlier cell(s) showed images" in error_of(attach, shell, recorder, "-2")


def test_no_earlier_image_cell(shell, recorder):
    run(shell, "print('text only')")
    assert error_of(attach, shell, recorder, "_").startswith("No earlier cell has shown an image")


def test_dropped_images_say_to_run_the_cell_again(shell):
    recorder = OutputRecorder(shell, max_image_bytes=len(shell.user_ns["red"]) + 10)
    recorder.install()
    try:
        old = run(shell, "display(Image(red))")
        run(shell, "display(Image(blue))")
        assert "no longer kept" in error_of(attach, shell, recorder, str(old))
    finally:
        recorder.uninstall()


def test_missing_recorder_says_to_load_the_extension(shell):
    assert "%load_ext claude_magic" in error_of(attach, shell, None, "3")


def test_variable_file_and_glob_errors(shell, recorder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (tmp_path / "plots").mkdir()
    shell.user_ns["numbers"] = [1, 2, 3]
    assert error_of(attach, shell, recorder, "nosuchvar").startswith(
        "No variable or file named 'nosuchvar'"
    )
    assert error_of(attach, shell, recorder, "numbers").startswith(
        "--image numbers: can't make an image from a list"
    )
    assert error_of(attach, shell, recorder, "missing.png") == "No such file: 'missing.png'"
    assert error_of(attach, shell, recorder, "*.gif") == "--image '*.gif' matched no files"
    assert "is a folder" in error_of(attach, shell, recorder, "plots")
    assert error_of(attach, shell, recorder, "broken.png").startswith(
        "broken.png: the image data is corrupt"
    )
    assert "--image needs a value" in error_of(attach, shell, recorder, " ")


def test_too_many_images_in_one_turn(shell, recorder):
    n = run(shell, "for _ in range(21):\n    display(Image(red))")
    message = error_of(attach, shell, recorder, str(n))
    assert message.startswith("21 images in one turn, but Claude takes at most 20")
    assert len(attach(shell, recorder, f"{n}:1", f"{n}:2")) == 2


def test_nothing_is_returned_when_one_source_is_bad(shell, recorder):
    n = run(shell, "display(Image(red))")
    with pytest.raises(AttachmentError):
        attach(shell, recorder, str(n), "nosuchvar")


def test_models_without_images_are_refused(shell, recorder):
    run(shell, "display(Image(red))")
    no_images = dataclasses.replace(resolve("haiku-4.5").model, images=False)
    assert "can't read images" in error_of(attach, shell, recorder, "_", model=no_images)


# ------------------------------------------------------------------ --cell


def test_cell_context_fences_source_and_output(shell, recorder):
    n = run(shell, "total = 40 + 2\nprint('total is', total)\ntotal")
    context = cell_context(n, recorder)
    assert context == (
        f"Cell [{n}]:\n```python\ntotal = 40 + 2\nprint('total is', total)\ntotal\n```\n\n"
        f"Output of cell [{n}]:\n```\ntotal is 42\nOut[{n}]: 42\n```\n"
    )


def test_cell_context_uses_a_longer_fence_when_the_source_has_one(shell, recorder):
    n = run(shell, 's = """\n```python\nx\n```\n"""')
    context = cell_context(n, recorder)
    assert context.startswith(f"Cell [{n}]:\n````python\n")
    assert "Output of" not in context


def test_cell_context_of_an_error_and_of_cells_run_before_recording(shell):
    before = run(shell, "y = 'from before'")
    recorder = OutputRecorder(shell)
    recorder.install()
    try:
        failing = run(shell, "int('x')")
        assert "ValueError: invalid literal for int()" in cell_context(failing, recorder)
        assert (
            cell_context(before, recorder)
            == f"Cell [{before}]:\n```python\ny = 'from before'\n```\n"
        )
        assert (
            error_of(cell_context, 99, recorder) == "Cell [99] has no recorded source; run it first"
        )
    finally:
        recorder.uninstall()


def test_cell_context_clips_long_output(shell, recorder):
    n = run(shell, "for i in range(3000):\n    print('row', i)")
    context = cell_context(n, recorder, max_chars=2000)
    assert "characters omitted" in context
    assert "row 0\n" in context and "row 2999" in context
    assert len(context) < 2300


# ------------------------------------------------------------------ --doc


@pytest.fixture
def pdf_path(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    path = tmp_path / "report.pdf"
    with PdfPages(path) as pages:
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.set_title("Quarterly report")
        pages.savefig(fig)
        plt.close(fig)
    return path


def test_pdf_and_text_documents(tmp_path, pdf_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\nThe outliers are sensor glitches. ✓\n", encoding="utf-8")
    sonnet = resolve("sonnet").model
    pdf, text = resolve_documents([str(pdf_path), str(notes)], sonnet)
    assert pdf["type"] == "document" and pdf["title"] == "report.pdf"
    assert pdf["source"]["type"] == "base64" and pdf["source"]["media_type"] == "application/pdf"
    assert base64.b64decode(pdf["source"]["data"]) == pdf_path.read_bytes()
    assert text == {
        "type": "document",
        "title": "notes.md",
        "source": {
            "type": "text",
            "media_type": "text/plain",
            "data": "# Notes\nThe outliers are sensor glitches. ✓\n",
        },
    }
    assert resolve_documents([], None) == []
    assert len(resolve_documents([str(tmp_path / "*")], None)) == 2


def test_document_errors(tmp_path, pdf_path):
    for i in range(6):
        (tmp_path / f"part{i}.txt").write_text(f"part {i}")
    assert error_of(resolve_documents, [str(tmp_path / "part*.txt")], None) == (
        "6 documents in one turn, but Claude takes at most 5: attach fewer"
    )
    haiku3 = lookup("anthropic.claude-3-haiku-20240307-v1:0")
    assert haiku3 is not None and not haiku3.documents
    assert error_of(resolve_documents, [str(pdf_path)], haiku3).startswith(
        "Claude 3 Haiku can't read documents"
    )
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * 5_000_000)
    assert "at most 4.5 MB" in error_of(resolve_documents, [str(big)], None)
    binary = tmp_path / "data.bin"
    binary.write_bytes(bytes(range(256)))
    assert "neither a PDF nor UTF-8 text" in error_of(resolve_documents, [str(binary)], None)
    assert error_of(resolve_documents, [str(tmp_path / "nope.pdf")], None).startswith(
        "No such file"
    )
    assert "matched no files" in error_of(resolve_documents, [str(tmp_path / "*.docx")], None)
    (tmp_path / "empty.txt").write_text("  \n")
    assert "is empty" in error_of(resolve_documents, [str(tmp_path / "empty.txt")], None)
