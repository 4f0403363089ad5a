"""outputs.py: OutputRecorder in a real IPython InteractiveShell and in a real ipykernel."""

from __future__ import annotations

import base64
import hashlib
import sys

import pytest
from helpers import png
from kernel_helpers import run_in_kernel

from claude_magic.notebook.outputs import WIDGET_MIME, OutputRecorder


@pytest.fixture
def shell():
    """A fresh InteractiveShell (history in memory), cleared afterwards."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    InteractiveShell.clear_instance()
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.user_ns.update({colour: png(colour, (20, 10)) for colour in ("red", "blue", "green")})
    shell.run_cell(
        "from IPython.display import Image, Markdown, display, clear_output", store_history=False
    )
    yield shell
    InteractiveShell.clear_instance()


@pytest.fixture
def recorder(shell):
    recorder = OutputRecorder(shell)
    recorder.install()
    yield recorder
    recorder.uninstall()


def run(shell, code: str) -> int:
    """Run a cell as a notebook would and return its execution count."""
    result = shell.run_cell(code, store_history=True)
    return result.execution_count


def test_displayed_and_returned_images_are_recorded_by_execution_count(shell, recorder):
    first = run(shell, "display(Image(red))\ndisplay(Image(blue))")
    second = run(shell, "Image(green)")
    assert second == first + 1
    assert [i.data for i in recorder.images(first)] == [shell.user_ns["red"], shell.user_ns["blue"]]
    assert [i.mime for i in recorder.images(first)] == ["image/png", "image/png"]
    assert recorder.image(first, 2).data == shell.user_ns["blue"]
    assert recorder.image(first, 3) is None
    assert recorder.image(second, 1).data == shell.user_ns["green"]
    assert recorder.cells() == [first, second]
    assert recorder.source(first) == "display(Image(red))\ndisplay(Image(blue))"


def test_text_outputs_are_recorded_in_order(shell, recorder, capsys):
    n = run(
        shell,
        "print('hello')\ndisplay(Markdown('**bold**'))\nprint('bye', file=__import__('sys').stderr)\n6 * 7",
    )
    assert recorder.text(n) == f"hello\n**bold**\nbye\nOut[{n}]: 42\n"
    assert "hello" in capsys.readouterr().out  # the user still sees it


def test_errors_are_part_of_the_text(shell, recorder):
    n = run(shell, "print('before')\n1 / 0")
    assert recorder.text(n) == "before\nZeroDivisionError: division by zero\n"


def test_latest_with_image_skips_cells_without_images(shell, recorder):
    a = run(shell, "display(Image(red))")
    b = run(shell, "print('no image')")
    c = run(shell, "display(Image(blue))")
    d = run(shell, "x = 1")
    assert recorder.latest_with_image() == c
    assert recorder.latest_with_image(before=c) == a
    assert recorder.latest_with_image(before=a) is None
    assert recorder.images(b) == [] and recorder.images(d) == []


def test_svg_and_jpeg_bundles_are_recorded(shell, recorder):
    shell.user_ns["jpeg"] = png("white", (8, 8), fmt="JPEG")
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'
    shell.user_ns["svg"] = svg
    n = run(
        shell,
        "display(Image(jpeg))\ndisplay({'image/svg+xml': svg, 'text/plain': 'svg'}, raw=True)",
    )
    assert [i.mime for i in recorder.images(n)] == ["image/jpeg", "image/svg+xml"]
    assert recorder.images(n)[0].data == shell.user_ns["jpeg"]
    assert recorder.images(n)[1].data == svg.encode()


def test_claude_cells_and_widget_views_are_not_recorded(shell, recorder):
    def claude(line, cell):
        from IPython.display import Image, display

        display(Image(shell.user_ns["red"]))
        print("answer")

    shell.register_magic_function(claude, magic_kind="cell", magic_name="claude")
    skipped = run(shell, "%%claude --image 1\nWhat is this?")
    widget = run(
        shell, f"display({{'{WIDGET_MIME}': {{'model_id': 'abc'}}, 'text/plain': 'W'}}, raw=True)"
    )
    assert skipped not in recorder.cells()
    assert recorder.text(widget) == ""
    assert recorder.images(widget) == []


def test_cells_not_stored_in_history_are_not_recorded(shell, recorder):
    shell.run_cell("display(Image(red))", store_history=False)
    assert recorder.cells() == []


def test_clear_output_forgets_what_the_cell_showed_before(shell, recorder):
    n = run(
        shell,
        "for data in (red, blue, green):\n    clear_output(wait=True)\n    display(Image(data))\n",
    )
    assert [i.data for i in recorder.images(n)] == [shell.user_ns["green"]]
    m = run(shell, "display(Image(red))\nclear_output()\nprint('after')")
    assert recorder.images(m) == [] and recorder.text(m) == "after\n"


def test_display_updates_replace_the_recorded_image(shell, recorder):
    n = run(shell, "handle = display(Image(red), display_id=True)")
    run(shell, "handle.update(Image(blue))")
    assert [i.data for i in recorder.images(n)] == [shell.user_ns["blue"]]


def test_memory_bound_keeps_the_last_cells(shell):
    recorder = OutputRecorder(shell, max_cells=3)
    recorder.install()
    try:
        numbers = [run(shell, f"display(Image(red))\nprint({i})") for i in range(5)]
        assert recorder.cells() == numbers[-3:]
        assert recorder.images(numbers[0]) == [] and recorder.source(numbers[0]) is None
        assert recorder.image_bytes == 3 * len(shell.user_ns["red"])
    finally:
        recorder.uninstall()


def test_memory_bound_drops_the_oldest_images_first(shell):
    size = len(shell.user_ns["red"])
    recorder = OutputRecorder(shell, max_image_bytes=int(2.5 * size))
    recorder.install()
    try:
        a = run(shell, "display(Image(red))")
        b = run(shell, "display(Image(blue))")
        c = run(shell, "display(Image(green))")
        assert recorder.images(a) == []
        assert recorder.record(a).images_dropped == 1
        assert recorder.source(a) == "display(Image(red))"
        assert [i.data for i in recorder.images(b) + recorder.images(c)] == [
            shell.user_ns["blue"],
            shell.user_ns["green"],
        ]
        d = run(shell, "for _ in range(10):\n    display(Image(red))")
        assert recorder.image_bytes <= 2.5 * size
        assert len(recorder.images(d)) == 2 and recorder.images(b) == recorder.images(c) == []
    finally:
        recorder.uninstall()


def test_text_per_cell_is_bounded(shell):
    recorder = OutputRecorder(shell, max_text_chars=1000)
    recorder.install()
    try:
        n = run(shell, "for i in range(500):\n    print('line', i)")
        text = recorder.text(n)
        assert text.startswith("line 0\nline 1\n")
        assert "more characters of output not kept" in text
        assert len(text) < 1100
    finally:
        recorder.uninstall()


def test_recorder_installed_inside_a_cell_records_later_cells(shell):
    shell.user_ns["OutputRecorder"] = OutputRecorder
    installing = run(
        shell, "rec = OutputRecorder(get_ipython())\nrec.install()\ndisplay(Image(red))"
    )
    recorder = shell.user_ns["rec"]
    try:
        later = run(shell, "display(Image(blue))")
        assert installing not in recorder.cells()
        assert [i.data for i in recorder.images(later)] == [shell.user_ns["blue"]]
    finally:
        recorder.uninstall()


def test_uninstall_restores_every_method_and_removes_every_callback(shell):
    display_pub, displayhook = shell.display_pub, shell.displayhook
    before = {
        "callbacks": {event: list(cbs) for event, cbs in shell.events.callbacks.items()},
        "display_pub": dict(vars(display_pub)),
        "displayhook": dict(vars(displayhook)),
        "stdout_write": vars(sys.stdout).get("write", "absent")
        if hasattr(sys.stdout, "__dict__")
        else None,
    }
    recorder = OutputRecorder(shell)
    recorder.install()
    run(shell, "display(Image(red))\nprint('x')")
    assert "publish" in vars(display_pub)
    recorder.uninstall()

    assert shell.display_pub is display_pub and shell.displayhook is displayhook
    for name in ("publish", "clear_output"):
        assert name not in vars(display_pub)
        assert getattr(display_pub, name).__func__ is getattr(type(display_pub), name)
    assert "write_format_data" not in vars(displayhook)
    assert displayhook.write_format_data.__func__ is type(displayhook).write_format_data
    assert {e: list(c) for e, c in shell.events.callbacks.items()} == before["callbacks"]
    assert dict(vars(display_pub)).keys() == before["display_pub"].keys()
    assert dict(vars(displayhook)).keys() == before["displayhook"].keys()
    if hasattr(sys.stdout, "__dict__"):
        assert vars(sys.stdout).get("write", "absent") == before["stdout_write"]

    cells = recorder.cells()
    run(shell, "display(Image(blue))")
    assert recorder.cells() == cells  # nothing recorded any more
    recorder.uninstall()  # a second uninstall is harmless


def test_uninstall_keeps_a_wrapper_installed_over_ours(shell):
    recorder = OutputRecorder(shell)
    recorder.install()
    ours = shell.display_pub.publish
    seen = []

    def theirs(data, metadata=None, *args, **kwargs):
        seen.append(data)
        return ours(data, metadata, *args, **kwargs)

    shell.display_pub.publish = theirs
    recorder.uninstall()
    assert shell.display_pub.publish is theirs
    n = run(shell, "display(Image(red))")
    assert len(seen) == 1 and recorder.images(n) == []


# ---------------------------------------------------------------- a real kernel


@pytest.fixture(scope="module")
def kernel(new_kernel):
    with new_kernel() as client:
        yield client


def test_matplotlib_inline_figures_are_recorded_in_a_real_kernel(kernel):
    run_in_kernel(
        kernel,
        (
            "%matplotlib inline\n"
            "%config InlineBackend.print_figure_kwargs = {'bbox_inches': None}\n"
            "from claude_magic.notebook.outputs import OutputRecorder\n"
            "rec = OutputRecorder(get_ipython())\n"
            "rec.install()\n"
        ),
    )
    plot, messages = run_in_kernel(
        kernel,
        (
            "import matplotlib.pyplot as plt\n"
            "fig = plt.figure(figsize=(3, 2), dpi=80)\n"
            "plt.plot([1, 3, 2])\n"
            "print('plotted')\n"
        ),
    )
    n = plot["execution_count"]
    shown = [
        m["content"]["data"]["image/png"]
        for m in messages
        if m["msg_type"] == "display_data" and "image/png" in m["content"]["data"]
    ]
    assert len(shown) == 1
    shown_png = base64.b64decode(shown[0])

    _, messages = run_in_kernel(
        kernel,
        (
            "import hashlib, io, json, PIL.Image\n"
            f"images = rec.images({n})\n"
            "print(json.dumps({'count': len(images), 'mime': images[0].mime,\n"
            "    'size': PIL.Image.open(io.BytesIO(images[0].data)).size,\n"
            "    'sha': hashlib.sha256(images[0].data).hexdigest(),\n"
            f"    'text': rec.text({n}), 'source': rec.source({n})}}))\n"
        ),
    )
    import json

    stdout = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    found = json.loads(stdout)
    assert found["count"] == 1 and found["mime"] == "image/png"
    assert tuple(found["size"]) == (3 * 80, 2 * 80)
    assert found["sha"] == hashlib.sha256(shown_png).hexdigest()
    assert found["text"].startswith("plotted\n")
    assert found["source"].startswith("import matplotlib.pyplot as plt")

    _, messages = run_in_kernel(
        kernel,
        (
            "rec.uninstall()\n"
            "import sys\n"
            "ip = get_ipython()\n"
            "print(json.dumps({'pub': 'publish' in vars(ip.display_pub),\n"
            "    'hook': 'write_format_data' in vars(ip.displayhook),\n"
            "    'pre': rec._pre_run_cell in ip.events.callbacks['pre_run_cell'],\n"
            "    'post': rec._post_run_cell in ip.events.callbacks['post_run_cell']}))\n"
        ),
    )
    stdout = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert json.loads(stdout) == {"pub": False, "hook": False, "pre": False, "post": False}
