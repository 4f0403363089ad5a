"""Images through `%%claude`: a plot from a real kernel, every source kind in a shell,
downscaling, and Bedrock's 20-image limit across turns."""

from __future__ import annotations

import base64
import io

import pytest
from kernel_helpers import python_notebook
from magic_helpers import Shell, last_body
from PIL import Image


def _images(body):
    return [
        b
        for m in body["messages"]
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "image"
    ]


def _size(block) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(block["source"]["data"]))).size


@pytest.fixture
def env(magic_env, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    return magic_env


@pytest.fixture
def shell(env):
    sh = Shell()
    sh.run("%config ClaudeMagic.max_attempts = 1")
    yield sh
    sh.close()


def test_plot_in_a_kernel_is_sent_as_the_image_it_showed(env, run_notebook, tmp_path):
    nb = python_notebook(
        "%load_ext claude_magic",
        "%matplotlib inline",
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(4, 3), dpi=100)\n"
        "ax.plot([1, 3, 2, 5], marker='o')\nax.set_title('A small plot')",
        "%%claude --image 3\nWhat does the plot show?",
        "%%claude --image _\nAnd the latest plot?",
    )
    run_notebook(nb, tmp_path)
    shown = [o for o in nb.cells[2].outputs if "image/png" in o.get("data", {})]
    assert shown, nb.cells[2].outputs
    shown_png = base64.b64decode(shown[0]["data"]["image/png"])
    requests = env.requests()
    assert len(requests) == 2
    for request in requests:
        blocks = _images({"messages": request["body"]["messages"][-1:]})
        assert len(blocks) == 1
        assert blocks[0]["source"]["media_type"] == "image/png"
        assert _size(blocks[0]) == Image.open(io.BytesIO(shown_png)).size
    assert base64.b64decode(_images(requests[0]["body"])[0]["source"]["data"]) == shown_png
    answer = nb.cells[3].outputs[-1]["data"]["text/plain"]
    assert "PNG" in answer


def test_every_variable_source_kind(shell, env):
    shell.run(
        "import numpy as np, matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "from PIL import Image\nimport io\nfrom IPython.display import Image as IPImage\n"
        "fig = plt.figure(figsize=(2, 1), dpi=50)\n"
        "pil = Image.new('RGB', (30, 20), 'red')\n"
        "gray = np.zeros((10, 12), dtype=np.uint8)\nrgb = np.zeros((10, 12, 3), dtype=np.uint8)\n"
        "rgba = np.zeros((10, 12, 4), dtype=np.uint8)\n"
        "buf = io.BytesIO(); Image.new('RGB', (16, 8)).save(buf, 'PNG'); raw = buf.getvalue()\n"
        "ipimg = IPImage(data=raw)\n"
        "Image.new('RGB', (40, 30), 'blue').save('a.png'); Image.new('RGB', (41, 31)).save('b.png')\n"
    )
    run = shell.ask(
        "--image fig --image pil --image gray --image rgb --image rgba --image raw "
        "--image ipimg --image a.png --image '*.png'",
        "Describe them",
    )
    assert run.success, run.stdout + run.stderr
    sizes = [_size(b) for b in _images(last_body(env))]
    width, height = sizes.pop(0)  # the figure, saved with a tight bounding box
    assert 90 <= width <= 130 and 40 <= height <= 70
    assert sizes == [
        (30, 20),
        (12, 10),
        (12, 10),
        (12, 10),
        (16, 8),
        (16, 8),
        (40, 30),
        (40, 30),
        (41, 31),
    ]


def test_cell_number_sources_and_cell_context(shell, env):
    shell.run(
        "from IPython.display import Image as IPImage, display\nfrom PIL import Image\nimport io"
    )
    shell.run(
        "b = io.BytesIO(); Image.new('RGB', (20, 10)).save(b, 'PNG')\n"
        "c = io.BytesIO(); Image.new('RGB', (22, 11)).save(c, 'PNG')\n"
        "display(IPImage(data=b.getvalue())); display(IPImage(data=c.getvalue()))"
    )
    shown = shell.ip.execution_count - 1
    shell.run("print('numbers: 1 2 3')")
    printed = shell.ip.execution_count - 1
    run = shell.ask(
        f"--image {shown} --image Out[{shown}] --image {shown}:2 --image -1 --cell {printed}",
        "Compare",
    )
    assert run.success, run.stdout + run.stderr
    body = last_body(env)
    assert [_size(b) for b in _images(body)] == [
        (20, 10),
        (22, 11),
        (20, 10),
        (22, 11),
        (22, 11),
        (20, 10),
        (22, 11),
    ]
    texts = [b["text"] for b in body["messages"][-1]["content"] if b["type"] == "text"]
    assert any("print('numbers: 1 2 3')" in t and "numbers: 1 2 3" in t for t in texts)


def test_big_image_is_downscaled_and_shown_with_tokens(shell, env):
    shell.run("from PIL import Image\nbig = Image.new('RGB', (6000, 4000), 'white')")
    run = shell.ask("--image big", "Big one")
    assert run.success, run.stderr
    assert [_size(b) for b in _images(last_body(env))] == [(1568, 1045)]
    assert "1568×1045" in run.stdout or "1568x1045" in run.stdout
    assert "tokens" in run.stdout


@pytest.mark.parametrize(
    ("setup", "source", "needle"),
    [
        ("", "7", "Cell [7]"),
        ("x = 1", "x", "can't make an image from"),
        ("bad = b'not an image at all'", "bad", "image"),
        ("", "missing.png", "missing.png"),
        ("", "nothing-*.png", "nothing-*.png"),
        ("", "no_such_var", "no_such_var"),
    ],
)
def test_bad_image_sources_are_one_line(shell, env, setup, source, needle):
    if setup:
        shell.run(setup)
    run = shell.ask(f"--image {source}", "x")
    text = run.stdout + run.stderr
    assert not run.success
    assert needle in text
    assert "Traceback" not in text
    assert env.requests() == []


def test_twenty_one_images_across_turns(shell, env):
    shell.run("from PIL import Image")
    for n in range(21):
        shell.run(f"img = Image.new('RGB', (32, 32), ({n * 10}, 0, 0))")
        run = shell.ask("--image img", f"image {n}")
        assert run.success, run.stdout + run.stderr
    body = last_body(env)
    assert len(_images(body)) == 20
    texts = [
        b.get("text", "") for m in body["messages"] for b in m["content"] if isinstance(b, dict)
    ]
    assert any("omitted]" in t for t in texts)
    assert "older image" in run.stdout
    assert env.requests()[-1]["status"] == 200
    conversation = shell.magic.session.chats.get()
    assert sum(1 for t in conversation.turns for _ in t.images()) == 21
