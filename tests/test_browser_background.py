"""Background answers in a real JupyterLab (Debian chromium driven by Playwright): the
answer keeps growing in its own cell while another cell runs and prints, and the Stop
button in its header stops it."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import nbformat
import pytest
from kernel_helpers import python_notebook
from test_browser import ARTIFACTS, CHROMIUM, Lab, browser, lab  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]

TICKS = "import time\nfor i in range(8):\n    print('tick', i, flush=True)\n    time.sleep(0.4)"


def _script(emulator_url: str, text: str) -> None:
    request = urllib.request.Request(
        f"{emulator_url}/_emulator/script",
        method="POST",
        data=json.dumps({"content": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["queued"] == 1


def _wait(notebook: Lab, i: int, condition, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = notebook.cell(i)
        if condition(state):
            return state
        assert time.monotonic() < deadline, f"cell {i}: {state['text'][-300:]!r}"
        time.sleep(0.05)


def test_background_answer_grows_while_another_cell_runs(lab, browser):  # noqa: F811
    name = "background.ipynb"
    nb = python_notebook(
        "%load_ext claude_magic\n%claude offline",
        "%%claude -b\nTell me a long story.",
        TICKS,
        "%%claude -b --chat other\nAnother long one.",
    )
    nbformat.write(nb, lab["root"] / name)
    notebook = Lab(browser, lab["url"], name)
    setup, _ = notebook.run_and_watch(0)
    emulator_url = re.search(r"http://127\.0\.0\.1:\d+", setup["text"]).group(0)
    _script(emulator_url, "Story: " + "word " * 250)
    _script(emulator_url, "Other: " + "word " * 400)

    notebook.run(1)
    _wait(notebook, 1, lambda s: s["count"] is not None and "*" not in s["prompt"])  # returned
    notebook.run(2)
    lengths, ticks_running = [], False
    while True:
        ticks, answer = notebook.cell(2), notebook.cell(1)
        if "*" not in ticks["prompt"] and ticks["count"] is not None:
            break
        ticks_running = True
        if "word" in answer["text"]:
            lengths.append(answer["text"].count("word"))
        time.sleep(0.1)
    assert ticks_running
    assert len(set(lengths)) >= 3 and lengths == sorted(lengths), lengths  # it grew meanwhile
    assert "tick 7" in ticks["text"] and "word" not in ticks["text"]
    notebook.cell_locator(1).screenshot(path=str(ARTIFACTS / "background-streaming.png"))

    final = _wait(
        notebook, 1, lambda s: re.search(r"\d+ in (\(.*?\) )?/ \d+ out tokens", s["text"])
    )
    assert "Story: word" in final["text"] and "tick" not in final["text"]
    assert "Stop" not in [
        b.strip() for b in notebook.cell_locator(1).locator("button").all_inner_texts()
    ]

    # the Stop button in the header of a streaming answer stops it, keeping what arrived
    notebook.run(3)
    _wait(notebook, 3, lambda s: "word word" in s["text"])
    # streamed by the delta widget, its Stop button rendered inside that widget's header
    assert (
        notebook.cell_locator(3).locator(".claude-magic-delta .claude-magic-head button").count()
        == 1
    )
    notebook.cell_locator(3).get_by_role("button", name="Stop").click()
    stopped = _wait(notebook, 3, lambda s: "Stopped." in s["text"], timeout=20)
    assert "Other: word" in stopped["text"] and stopped["text"].count("word") < 400
    notebook.cell_locator(3).screenshot(path=str(ARTIFACTS / "background-stopped.png"))
    for outputs in notebook.outputs():
        assert not [o for o in outputs if o["output_type"] == "error"]
    notebook.page.close()
