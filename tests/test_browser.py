"""A real JupyterLab in a real browser (Debian chromium driven by Playwright): answers
stream into the page, end as rendered Markdown with a footer, and model output that
tries to run script in the page runs none.

JupyterLab runs on loopback with a token, offline (the built-in emulator, paced so that
streaming can be seen). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from kernel_helpers import python_notebook

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "claude-magic-browser-test"
PACE = 50  # tokens per second: an answer takes a few seconds to arrive
XSS_REPLY = (
    'Injected: <img src=x onerror="window.__pwned=1"> and <script>window.__pwned=2</script>\n\n'
    '[x](javascript:window.__pwned=3) and [y](http://127.0.0.1:9/ "harmless")\n'
)
README_IMAGE_MAX_BYTES = 150_000

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a copy of notebooks/ offline; yields its base URL."""
    with _jupyter_lab(tmp_path_factory.mktemp("lab")) as running:
        yield running


@pytest.fixture(scope="module")
def lab_without_anywidget(tmp_path_factory):
    """The same JupyterLab with anywidget's front-end extension disabled."""
    with _jupyter_lab(tmp_path_factory.mktemp("lab-plain"), disabled=("anywidget",)) as running:
        yield running


@contextlib.contextmanager
def _jupyter_lab(base: Path, disabled: tuple[str, ...] = ()):
    if disabled:
        (base / "config" / "labconfig").mkdir(parents=True)
        (base / "config" / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {name: True for name in disabled}})
        )
    root = base / "notebooks"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = base / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"checkForUpdates": False, "fetchNews": "false"})
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CLAUDE_MAGIC_", "JUPYTER"))
    }
    env.update(
        CLAUDE_MAGIC_OFFLINE="1",
        CLAUDE_MAGIC_OFFLINE_PACE=str(PACE),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_SHARED_CREDENTIALS_FILE=str(base / "no-credentials"),
        AWS_CONFIG_FILE=str(base / "no-config"),
        JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
    )
    port = _free_port()
    log = (base / "lab.log").open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("jupyter-lab")),
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={TOKEN}",
            "--LabApp.expose_app_in_browser=True",
            f"--ServerApp.root_dir={root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (base / "lab.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=5):
                    break
            except (urllib.error.URLError, OSError):
                assert time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.5)
        yield {"url": url, "root": root}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Lab:
    """One JupyterLab page with one notebook open, driven through `window.jupyterapp`."""

    def __init__(self, browser, url: str, notebook: str, height: int = 900) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": height})
        self.page.set_default_timeout(60_000)
        workspace = re.sub(r"\W", "-", notebook)  # a workspace of its own: only this notebook open
        self.page.goto(f"{url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={TOKEN}")
        self.page.wait_for_function(
            """(name) => {
                const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                return !!(w && w.context && w.context.path === name && w.content.widgets.length
                    && w.sessionContext.session && w.sessionContext.session.kernel
                    && w.sessionContext.session.kernel.status === 'idle');
            }""",
            arg=notebook,
            timeout=90_000,
        )

    def count(self) -> int:
        return self.page.evaluate("() => jupyterapp.shell.currentWidget.content.widgets.length")

    def cell(self, i: int) -> dict:
        return self.page.evaluate(
            """(i) => {
                const cell = jupyterapp.shell.currentWidget.content.widgets[i];
                const area = cell.node.querySelector('.jp-OutputArea');
                const prompt = cell.node.querySelector('.jp-InputPrompt');
                return {type: cell.model.type, source: cell.model.sharedModel.getSource(),
                        count: cell.model.type === 'code' ? cell.model.executionCount : null,
                        prompt: prompt ? prompt.textContent : '',
                        text: area ? area.textContent : '',
                        html: area ? area.innerHTML : ''};
            }""",
            i,
        )

    def run(self, i: int) -> None:
        """Start running cell i; returns at once (the command's promise ends with the cell)."""
        self.page.evaluate(
            """(i) => {
                const notebook = jupyterapp.shell.currentWidget.content;
                notebook.activeCellIndex = i;
                jupyterapp.commands.execute('notebook:run-cell');
            }""",
            i,
        )

    def run_and_watch(
        self, i: int, timeout: float = 120, snapshot: Path | None = None
    ) -> tuple[dict, list[dict]]:
        """Run cell i to the end; also return what it looked like while it ran (and save a
        screenshot to `snapshot` the first time an answer is seen arriving)."""
        before = self.cell(i)
        self.run(i)
        if before["type"] != "code":
            return self.cell(i), []
        seen, deadline = [], time.monotonic() + timeout
        while True:
            state = self.cell(i)
            if "*" in state["prompt"]:
                seen.append(state)
                if snapshot is not None and "You wrote" in state["text"]:
                    self.cell_locator(i).screenshot(path=str(snapshot))
                    snapshot = None
            elif state["count"] is not None and state["count"] != before["count"] and self._idle():
                return self._settled(i), seen
            assert time.monotonic() < deadline, f"cell {i} did not finish: {state['source'][:60]!r}"
            time.sleep(0.05)

    def _settled(self, i: int) -> dict:
        """Cell i once its output stops changing (rendering the last update is asynchronous)."""
        state = self.cell(i)
        for _ in range(100):
            time.sleep(0.2)
            again = self.cell(i)
            if again["html"] == state["html"]:
                return again
            state = again
        return state

    def _idle(self) -> bool:
        return self.page.evaluate(
            "() => jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'"
        )

    def outputs(self) -> list[list[dict]]:
        return self.page.evaluate(
            """() => jupyterapp.shell.currentWidget.content.widgets.map(
                c => c.model.type === 'code' ? c.model.outputs.toJSON() : [])"""
        )

    def cell_locator(self, i: int):
        widget = self.page.evaluate("() => jupyterapp.shell.currentWidget.id")
        return self.page.locator(f"[id='{widget}'] .jp-Notebook .jp-Cell").nth(i)


def _is_claude(cell: dict) -> bool:
    return cell["type"] == "code" and cell["source"].startswith("%%claude")


def test_quickstart_streams_and_renders(lab, browser):
    notebook = Lab(browser, lab["url"], "01-quickstart.ipynb")
    partial_seen: dict[int, str] = {}
    finals: dict[int, dict] = {}
    for i in range(notebook.count()):
        final, seen = notebook.run_and_watch(
            i, snapshot=None if partial_seen else ARTIFACTS / "01-streaming.png"
        )
        if not _is_claude(final):
            continue
        finals[i] = final
        # a table shows once it is complete, never as raw Markdown rows while it streams
        assert not [s for s in seen if "| Request |" in s["text"] or "|---|" in s["text"]], final[
            "source"
        ]
        # the answer grows in the page while the cell's prompt still reads [*]
        partial = [
            s["text"]
            for s in seen
            if "Offline emulator" in s["text"]
            and "get Claude's answer" not in s["text"]
            and "out tokens" not in s["text"]
        ]
        if partial:
            partial_seen[i] = partial[0]
            # streamed by the delta widget (live_widget.py), not its fallback
            live = [st for st in seen if "claude-magic-delta" in st["html"]]
            assert live, final["source"]
            assert not [st for st in seen if "Error displaying widget" in st["text"]]
        if len(finals) == 1:
            notebook.cell_locator(i).screenshot(path=str(ARTIFACTS / "01-first-answer.png"))
    notebook.page.screenshot(path=str(ARTIFACTS / "01-quickstart.png"))

    assert len(finals) >= 8
    first = min(finals)
    assert first in partial_seen, "no partial answer was visible while the first answer streamed"
    assert "get Claude's answer" in finals[first]["text"]
    for final in finals.values():
        html, text = final["html"], final["text"]
        assert "Offline emulator" in text or "offline emulator" in text, final["source"]
        assert re.search(r"\d+ in (\(.*?\) )?/ \d+ out tokens", text), final["source"]  # the footer
        # rendered Markdown: emphasis became tags, no Markdown syntax is left to see
        assert re.search(r"<(strong|em|table|code|li|blockquote)\b", html), final["source"]
        assert "**Offline emulator**" not in text and "_(continued" not in text, final["source"]
    # rendered Markdown, not Markdown source: the request table is an HTML table
    assert "<table" in finals[first]["html"] and "|---|" not in finals[first]["text"]
    for outputs in notebook.outputs():
        assert not [o for o in outputs if o["output_type"] == "error"]
        # what a saved notebook keeps: the static bundle, no live widget
        assert not [
            o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
    notebook.page.close()


def test_model_output_cannot_run_script_in_the_page(lab, browser):
    name = "injection.ipynb"
    nb = python_notebook(
        "%load_ext claude_magic\n%claude offline",
        "%%claude\nShow me something.",
    )
    nbformat.write(nb, lab["root"] / name)
    notebook = Lab(browser, lab["url"], name)
    setup, _ = notebook.run_and_watch(0)
    emulator_url = re.search(r"http://127\.0\.0\.1:\d+", setup["text"]).group(0)
    request = urllib.request.Request(
        f"{emulator_url}/_emulator/script",
        method="POST",
        data=json.dumps({"content": XSS_REPLY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["queued"] == 1

    final, seen = notebook.run_and_watch(1)
    page = notebook.page
    # it streamed through the delta widget: the raw text as text, never as markup
    live = [st for st in seen if "claude-magic-delta" in st["html"] and "Injected" in st["text"]]
    assert live
    assert all("<script" not in st["html"].split("claude-magic-tail")[-1] for st in live)
    area = notebook.cell_locator(1).locator(".jp-OutputArea")
    assert page.evaluate("() => window.__pwned") is None
    lab_url = page.url
    links = area.locator("a").all()
    assert links  # the harmless link is kept
    for link in links:
        link.click()
    page.wait_for_timeout(500)
    assert page.url == lab_url
    assert page.evaluate("() => window.__pwned") is None
    assert area.locator("script").count() == 0
    assert area.locator("img[src='x']").count() == 0
    assert area.locator("[onerror], [onclick]").count() == 0
    assert not [
        h
        for h in area.locator("a").evaluate_all("els => els.map(e => e.href)")
        if h.lower().startswith("javascript:")
    ]
    # shown as text instead
    assert '<img src=x onerror="window.__pwned=1">' in final["text"]
    assert "<script>window.__pwned=2</script>" in final["text"]
    assert "javascript:window.__pwned=3" in final["text"]
    area.screenshot(path=str(ARTIFACTS / "injection.png"))
    page.close()


def test_screenshot_of_an_answer_about_a_plot(lab, browser):
    """Asks about a plot with --image _ and keeps a small picture of the answer."""
    notebook = Lab(browser, lab["url"], "02-plots-as-prompts.ipynb", height=1600)
    plot_index = answer_index = None
    for i in range(notebook.count()):
        final, _ = notebook.run_and_watch(i)
        if final["type"] == "code" and "plt.show()" in final["source"] and plot_index is None:
            plot_index = i
        if _is_claude(final) and "--image _" in final["source"]:
            answer_index = i
            break
    assert plot_index is not None and answer_index is not None
    answer = notebook.cell(answer_index)
    assert "Image 1: PNG" in answer["text"] and "data:image/png;base64," in answer["html"]

    # the plot (its code folded away) and the answer about it, nothing selected
    page = notebook.page
    page.evaluate(
        """(i) => {
            const notebook = jupyterapp.shell.currentWidget.content;
            notebook.widgets[i].inputHidden = true;
            notebook.activeCellIndex = 0;
            notebook.deselectAll();
            notebook.widgets[i].node.scrollIntoView({block: 'start'});
        }""",
        plot_index,
    )
    page.wait_for_timeout(500)
    first = notebook.cell_locator(plot_index).bounding_box()
    last = notebook.cell_locator(answer_index).bounding_box()
    shot = page.screenshot(
        clip={
            "x": first["x"],
            "y": first["y"],
            "width": first["width"],
            "height": last["y"] + last["height"] - first["y"] + 8,
        }
    )
    path = ARTIFACTS / "streamed-answer.png"
    path.write_bytes(_small_png(shot))
    assert path.stat().st_size <= README_IMAGE_MAX_BYTES
    page.close()


def _small_png(data: bytes, width: int = 900) -> bytes:
    """The screenshot scaled to `width` and palette-quantised, for the README."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        small = image.quantize(
            colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        out = io.BytesIO()
        small.save(out, "PNG", optimize=True)
        return out.getvalue()


def test_a_front_end_without_anywidget_gets_the_ipywidgets_view(lab_without_anywidget, browser):
    name = "plain-widgets.ipynb"
    nb = python_notebook(
        "%load_ext claude_magic\n%claude offline",
        "%%claude\nHello there.",
        "%%claude\nAnd once more.",
    )
    nbformat.write(nb, lab_without_anywidget["root"] / name)
    notebook = Lab(browser, lab_without_anywidget["url"], name)
    notebook.run_and_watch(0)
    first, _ = notebook.run_and_watch(
        1
    )  # the delta widget can't load here: the answer still ends rendered
    assert (
        re.search(r"\d+ in (\(.*?\) )?/ \d+ out tokens", first["text"])
        and "<strong>" in first["html"]
    )
    second, seen = notebook.run_and_watch(
        2
    )  # the kernel has learnt it: the ipywidgets view streams
    live = [
        s
        for s in seen
        if "claude-magic-live" in s["html"]
        and "Offline emulator" in s["text"]
        and "out tokens" not in s["text"]
    ]
    assert live and not [s for s in seen if "claude-magic-delta" in s["html"]]
    assert (
        re.search(r"\d+ in (\(.*?\) )?/ \d+ out tokens", second["text"])
        and "<strong>" in second["html"]
    )
    for outputs in notebook.outputs():
        assert not [
            o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
    notebook.page.close()


def test_a_failed_answer_says_so_once_and_run_all_stops_there(lab, browser):
    """The error shows in the answer (⚠) and nowhere else; the cell still fails."""
    name = "failing.ipynb"
    nb = python_notebook(
        "%load_ext claude_magic\n%claude offline\n%config ClaudeMagic.max_attempts = 1",
        "%%claude\nAnything.",
        "print('ran after the failure')",
    )
    nbformat.write(nb, lab["root"] / name)
    notebook = Lab(browser, lab["url"], name)
    setup, _ = notebook.run_and_watch(0)
    emulator_url = re.search(r"http://127\.0\.0\.1:\d+", setup["text"]).group(0)
    request = urllib.request.Request(
        f"{emulator_url}/_emulator/faults",
        method="POST",
        data=json.dumps({"type": "throttle", "times": 5}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()
    page = notebook.page
    page.evaluate("() => jupyterapp.commands.execute('notebook:run-all-below')")
    page.wait_for_function(
        "() => jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
        " === 'idle' && jupyterapp.shell.currentWidget.content.widgets[1].model"
        ".outputs.toJSON().some(o => o.output_type === 'error')",
        timeout=60_000,
    )
    failed = notebook._settled(1)
    assert failed["text"].count("throttling requests") == 1, failed["text"]
    assert "⚠" in failed["text"] and "claude-magic:" not in failed["text"]
    [error] = [o for o in notebook.outputs()[1] if o["output_type"] == "error"]
    assert "throttling requests" in error["evalue"]
    # the error output renders as (next to) nothing, and the cells below did not run
    height = page.evaluate("""() => {
        const area = jupyterapp.shell.currentWidget.content.widgets[1].node;
        const boxes = [...area.querySelectorAll("[data-mime-type='application/vnd.jupyter.stderr']")];
        return Math.max(0, ...boxes.map(b => b.getBoundingClientRect().height));
    }""")
    assert height <= 8, height
    assert notebook.cell(2)["count"] is None and "ran after" not in notebook.cell(2)["text"]
    notebook.cell_locator(1).screenshot(path=str(ARTIFACTS / "failed-answer.png"))
    page.close()
