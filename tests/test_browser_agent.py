"""Agent cells in a real JupyterLab with claude-magic's extension (Debian chromium driven
by Playwright): the agent cell returns at once, each step asks with buttons, an approved
step becomes a cell inserted below and run by the front end (a plot goes back to Claude
as an image), a rejected one goes back with its reason; auto runs without asking; a
re-run offers to remove the earlier step cells; Stop (interrupting the running step) and a
kernel interrupt end the loop with what ran kept."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import nbformat
import pytest
from kernel_helpers import python_notebook
from test_browser import CHROMIUM, Lab, browser, lab  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]

PLOT = "import matplotlib.pyplot as plt\nprint('plotting')\nplt.plot([1, 3, 2])\nplt.show()"


def _admin(url: str, route: str, payload=None, method: str | None = None):
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        url + route,
        data=data,
        method=method or ("POST" if data else "GET"),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _results(url: str) -> list[dict]:
    body = _admin(url, "/_emulator/requests")["requests"][-1]["body"]
    return [
        b
        for m in body["messages"]
        if m["role"] == "user"
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
    ]


def _wait(what, condition, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if condition(value):
            return value
        assert time.monotonic() < deadline, repr(value)[-600:]
        time.sleep(0.1)


def _info(notebook: Lab, i: int) -> dict:
    return notebook.page.evaluate(
        """(i) => {
            const cell = jupyterapp.shell.currentWidget.content.widgets[i];
            return {id: cell.model.id, source: cell.model.sharedModel.getSource(),
                    metadata: cell.model.sharedModel.getMetadata(), count: cell.model.executionCount,
                    outputs: cell.model.type === 'code' ? cell.model.outputs.toJSON() : []};
        }""",
        i,
    )


def _open(browser, lab, name: str, *sources: str) -> tuple[Lab, str]:  # noqa: F811
    nb = python_notebook(
        "%load_ext claude_magic\n%claude offline",
        *sources,
    )
    nbformat.write(nb, lab["root"] / name)
    notebook = Lab(browser, lab["url"], name)
    setup, _ = notebook.run_and_watch(0)
    url = re.search(r"http://127\.0\.0\.1:\d+", setup["text"]).group(0)
    return notebook, url


def _click(notebook: Lab, cell: int, name: str, exact: bool = True) -> None:
    notebook.cell_locator(cell).get_by_role("button", name=name, exact=exact).last.click()


def test_ask_approve_reject_then_auto_and_a_rerun(lab, browser):  # noqa: F811
    notebook, url = _open(
        browser,
        lab,
        "agent-ask.ipynb",
        "%%claude --agent\nPlot, then clean up.",
        "print('a cell of my own')",
    )
    _admin(
        url,
        "/_emulator/script",
        [
            {"tool": "run_code", "input": {"code": PLOT}},
            {"tool": "run_code", "input": {"code": "cleaned = True"}},
            "**Offline emulator** (scripted reply): plotted; the clean-up was rejected.",
        ],
    )
    notebook.run(1)
    _wait(lambda: notebook.cell(1), lambda s: "Run step 1?" in s["text"] and "*" not in s["prompt"])
    assert notebook.count() == 3  # the agent cell returned; nothing inserted before the approval
    _click(notebook, 1, "Approve")
    _wait(lambda: notebook.cell(1), lambda s: "Run step 2?" in s["text"])
    step = _info(notebook, 2)  # inserted right below the agent cell, run by the front end
    agent = _info(notebook, 1)
    assert step["source"] == PLOT and step["count"] is not None
    assert step["metadata"]["claude_magic"] == {
        "agent_cell": agent["id"],
        "chat": "default",
        "step": 1,
    }
    assert {o["output_type"] for o in step["outputs"]} >= {"stream", "display_data"}
    assert any("image/png" in o.get("data", {}) for o in step["outputs"])
    notebook.cell_locator(1).get_by_placeholder("Reason for Reject").last.fill("not now, thanks")
    _click(notebook, 1, "Reject")
    final = _wait(lambda: notebook.cell(1), lambda s: "out tokens" in s["text"])
    assert "1 step run" in final["text"] and "Step 2 rejected: not now, thanks" in final["text"]
    assert notebook.count() == 4 and _info(notebook, 3)["source"] == "print('a cell of my own')"
    plotted, rejected = _results(url)[-2:]
    assert [part["type"] for part in plotted["content"]] == ["text", "image"]
    assert rejected["is_error"] and "not now, thanks" in json.dumps(rejected["content"])

    # re-run in auto mode: offers to remove the earlier step cell, runs the new step without asking
    notebook.page.evaluate("""() => jupyterapp.shell.currentWidget.content.widgets[1].model.sharedModel
        .setSource('%%claude --agent auto\\nAgain, without asking.')""")
    _admin(
        url,
        "/_emulator/script",
        [
            {"tool": "run_code", "input": {"code": "print('auto step')"}},
            "**Offline emulator** (scripted reply): done again.",
        ],
    )
    notebook.run(1)
    _wait(lambda: notebook.cell(1), lambda s: "out tokens" in s["text"])
    assert "auto: steps run without asking" in notebook.cell(1)["text"]
    assert "Run step" not in notebook.cell(1)["text"]
    sources = [_info(notebook, i)["source"] for i in range(notebook.count())]
    assert sources.count(PLOT) == 1 and "print('auto step')" in sources
    assert "This cell inserted 1 cell(s) last time." in notebook.cell(1)["text"]
    _click(notebook, 1, "Remove the 1 earlier step cell(s)", exact=False)
    _wait(lambda: notebook.cell(1), lambda s: "Removed 1 earlier step cell(s)" in s["text"])
    sources = [_info(notebook, i)["source"] for i in range(notebook.count())]
    assert (
        PLOT not in sources
        and "print('auto step')" in sources
        and "print('a cell of my own')" in sources
    )
    notebook.page.close()


def test_stop_and_interrupt_end_the_loop_with_what_ran_kept(lab, browser):  # noqa: F811
    notebook, url = _open(
        browser,
        lab,
        "agent-stop.ipynb",
        "%%claude --agent auto\nSlow steps.",
        "%%claude --agent auto --chat other\nSlow again.",
        "%%claude --chat other\nStill there?",
    )
    # the kernel hears the click once the step ends; the extension interrupts the step
    slow = "import time\nprint('started', flush=True)\ntime.sleep(60)\nprint('never')"
    _admin(
        url,
        "/_emulator/script",
        [
            {"tool": "run_code", "input": {"code": "first = 1"}},
            {"tool": "run_code", "input": {"code": slow}},
            {"tool": "run_code", "input": {"code": "third = 3"}},
            "Never.",
        ],
    )
    notebook.run(1)
    _wait(lambda: notebook.count(), lambda n: n == 6)  # two steps inserted below the agent cell
    _wait(lambda: _info(notebook, 3)["outputs"], lambda outs: "started" in json.dumps(outs))
    _click(notebook, 1, "Stop", exact=False)
    final = _wait(lambda: notebook.cell(1), lambda s: "Stopped" in s["text"], timeout=30)
    assert "Traceback" not in final["text"]
    assert notebook.count() == 6  # the third step never came
    step_outputs = _info(notebook, 3)["outputs"]  # interrupted mid-step, not waited for
    assert [o.get("ename") for o in step_outputs if o["output_type"] == "error"] == [
        "KeyboardInterrupt"
    ]
    assert "never" not in "".join(o.get("text", "") for o in step_outputs)
    _wait(lambda: notebook._idle(), bool)

    _admin(url, "/_emulator/script", method="DELETE")  # what the stopped run left unused
    _admin(
        url,
        "/_emulator/script",
        [
            {"tool": "run_code", "input": {"code": slow}},
            {"tool": "run_code", "input": {"code": "after = 1"}},
            "Never.",
        ],
    )
    notebook.run(4)  # the second agent cell, now at index 4
    _wait(lambda: notebook.count(), lambda n: n == 7)
    _wait(lambda: _info(notebook, 5)["outputs"], lambda outs: "started" in json.dumps(outs))
    notebook.page.evaluate(
        "() => jupyterapp.shell.currentWidget.sessionContext.session.kernel.interrupt()"
    )
    final = _wait(lambda: notebook.cell(4), lambda s: "Interrupted" in s["text"], timeout=30)
    assert "Traceback" not in final["text"] and notebook.count() == 7
    _wait(lambda: notebook._idle(), bool)
    _admin(url, "/_emulator/script", method="DELETE")
    follow_up, _ = notebook.run_and_watch(6)  # the chat is still valid: the cut step was answered
    assert "out tokens" in follow_up["text"]
    body = _admin(url, "/_emulator/requests")["requests"][-1]["body"]
    # without tools, the earlier tool blocks go as text: the interrupted step is in it
    assert "run_code failed: Interrupted" in json.dumps(body["messages"])
    notebook.page.close()
