"""The JupyterLab extension and its kernel-side bridge in a real JupyterLab (Debian
chromium driven by Playwright): the handshake makes the bridge ready, a worker thread's
steps become cells inserted below the agent cell, run as ordinary executions whose outputs
come back to the thread; a step that runs too long is interrupted; step cells the user
did not edit can be removed."""

from __future__ import annotations

import json
import time

import nbformat
import pytest
from kernel_helpers import python_notebook
from test_browser import CHROMIUM, Lab, _jupyter_lab, browser, lab  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]

PLOT = "import matplotlib.pyplot as plt\nprint('plotting')\nplt.plot([1, 3, 2])\nplt.show()"
SLOW = "import time\ntime.sleep(30)\nprint('never')"

SETUP = """%load_ext claude_magic
import concurrent.futures, json, threading
from claude_magic.notebook.frontend import FrontEndError
from claude_magic.notebook.session import session_of
session = session_of(get_ipython())"""

AGENT = f"""agent = session.cell.cell_id
results = {{}}

def step(name, after, code, timeout=60, stop=None):
    meta = {{"claude_magic": {{"agent_cell": agent, "chat": "default", "step": len(results) + 1}}}}
    cell = session.frontend.run_step(agent_cell=agent, after=after, code=code, metadata=meta,
                                     timeout=timeout, stop=stop or threading.Event())
    results[name] = cell
    return cell.cell_id

def work():
    try:
        after = step("plot", None, {PLOT!r})
        after = step("error", after, "1/0")
        after = step("slow", after, {SLOW!r}, timeout=2)
        stop = threading.Event()
        threading.Timer(1.5, stop.set).start()
        step("stopped", after, {SLOW!r}, stop=stop)
        session.frontend.run_step(agent_cell="no-such-cell", after=None, code="1")
    except FrontEndError as exc:
        results["failed"] = str(exc)

worker = threading.Thread(target=work)
worker.start()"""

REPORT = """worker.join(30)
print(json.dumps({"failed": results.get("failed"), **{name: vars(cell) for name, cell in results.items()
                  if name != "failed"}}))"""

STATE = "print(session.frontend.state, '|', session.frontend.frontend)"
AGAIN = """again = concurrent.futures.ThreadPoolExecutor(1).submit(
    lambda: session.frontend.run_step(agent_cell=agent, after=None, code="print('again')").status)"""

REMOVE = f"""removal = {{}}
session.frontend.remove_cells(agent_cell=agent, cells={{results["plot"].cell_id: {PLOT!r},
                              results["error"].cell_id: "1/0"}},
                              on_done=lambda removed, kept: removal.update(removed=removed, kept=kept))"""


def _cell_info(notebook: Lab, i: int) -> dict:
    return notebook.page.evaluate(
        """(i) => {
            const cell = jupyterapp.shell.currentWidget.content.widgets[i];
            return {id: cell.model.id, source: cell.model.sharedModel.getSource(),
                    metadata: cell.model.sharedModel.getMetadata(),
                    count: cell.model.executionCount, outputs: cell.model.outputs.toJSON()};
        }""",
        i,
    )


def _printed(notebook: Lab, i: int) -> str:
    cell, _ = notebook.run_and_watch(i)
    return cell["text"].strip()


def _state(notebook: Lab, i: int) -> str:
    """What cell i prints about the bridge, once the kernel has had an idle moment to take
    the page's answer (a reply waits until no cell runs)."""
    for _ in range(5):
        printed = _printed(notebook, i)
        if not printed.startswith("unknown"):
            return printed
        time.sleep(0.5)
    return printed


def _wait(condition, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_steps_run_in_cells_inserted_below_the_agent_cell(lab, browser):  # noqa: F811
    name = "frontend.ipynb"
    nb = python_notebook(
        SETUP,
        STATE,
        AGENT,
        REPORT,
        REMOVE,
        "print(json.dumps(removal))",
        AGAIN,
        "print(again.result(30))",
    )
    nbformat.write(nb, lab["root"] / name)
    notebook = Lab(browser, lab["url"], name)

    notebook.run_and_watch(0)
    # the kernel's hello is answered once the kernel is idle: a later cell sees "ready"
    state = _state(notebook, 1)
    assert state.startswith("ready | JupyterLab 4."), state

    agent_id = _cell_info(notebook, 2)["id"]
    notebook.run_and_watch(2)
    _wait(lambda: notebook.count() == 12, "four step cells inserted")
    _wait(
        lambda: _cell_info(notebook, 6)["count"] is not None and notebook._idle(), "the steps ran"
    )
    # the user's active cell stayed where it was
    assert (
        notebook.page.evaluate("() => jupyterapp.shell.currentWidget.content.activeCell.model.id")
        == agent_id
    )

    plot, error, slow, stopped = (_cell_info(notebook, i) for i in (3, 4, 5, 6))
    assert [plot["source"], error["source"], slow["source"], stopped["source"]] == [
        PLOT,
        "1/0",
        SLOW,
        SLOW,
    ]
    for n, cell in enumerate((plot, error, slow, stopped), 1):
        assert cell["metadata"]["claude_magic"] == {
            "agent_cell": agent_id,
            "chat": "default",
            "step": n,
        }
        assert isinstance(cell["count"], int)
    assert _cell_info(notebook, 7)["source"] == REPORT  # the cells below moved down

    report = json.loads(_printed(notebook, 7).splitlines()[-1])
    assert report["failed"] == "The agent cell is not in an open notebook of this kernel."
    # the thread got what the page shows: the same cells, counts and outputs
    for step, cell in zip(
        ("plot", "error", "slow", "stopped"), (plot, error, slow, stopped), strict=True
    ):
        got = report[step]
        assert (got["cell_id"], got["execution_count"], got["outputs"]) == (
            cell["id"],
            cell["count"],
            cell["outputs"],
        )
        assert got["queued_at"] <= got["started_at"] <= got["ended_at"]
    assert report["plot"]["status"] == "ok"
    kinds = {(o["output_type"], o.get("name")) for o in plot["outputs"]}
    assert ("stream", "stdout") in kinds and ("display_data", None) in kinds
    assert any("image/png" in o.get("data", {}) for o in plot["outputs"])
    assert "plotting" in "".join(o.get("text", "") for o in plot["outputs"])

    assert report["error"]["status"] == "error"
    assert [o["ename"] for o in error["outputs"] if o["output_type"] == "error"] == [
        "ZeroDivisionError"
    ]

    # the slow step was interrupted after its 2 seconds; the kernel went on (the report ran)
    assert report["slow"]["status"] == "timeout"
    assert 1.9 <= report["slow"]["ended_at"] - report["slow"]["started_at"] < 10
    assert [o["ename"] for o in slow["outputs"] if o["output_type"] == "error"] == [
        "KeyboardInterrupt"
    ]
    assert not [o for o in slow["outputs"] if o["output_type"] == "stream"]  # never printed
    # setting `stop` interrupts the step that runs
    assert report["stopped"]["status"] == "interrupted"
    assert report["stopped"]["ended_at"] - report["stopped"]["started_at"] < 10
    assert [o["ename"] for o in stopped["outputs"] if o["output_type"] == "error"] == [
        "KeyboardInterrupt"
    ]

    # removing: the user edited the error step's cell, so it stays; the plot's cell goes
    notebook.page.evaluate(
        "() => jupyterapp.shell.currentWidget.content.widgets[4].model.sharedModel.setSource('1/0  # mine')"
    )
    notebook.run(8)
    _wait(lambda: notebook.count() == 11 and notebook._idle(), "the plot step's cell removed")
    removal = json.loads(_printed(notebook, 8))
    assert removal == {"removed": [plot["id"]], "kept": [error["id"]]}
    sources = [_cell_info(notebook, i)["source"] for i in range(notebook.count())]
    assert PLOT not in sources and "1/0  # mine" in sources and SLOW in sources

    # a new page on the kernel (a reload): its extension greets the kernel, which has
    # claude_magic loaded already, and serves the steps from then on
    notebook.page.evaluate("() => jupyterapp.commands.execute('docmanager:save')")
    notebook.page.close()
    notebook = Lab(browser, lab["url"], name)
    assert notebook.count() == 11 and _cell_info(notebook, 2)["id"] == agent_id
    assert _state(notebook, 1).startswith("ready | JupyterLab 4.")
    notebook.run(9)
    _wait(
        lambda: notebook.count() == 12 and _cell_info(notebook, 3)["count"] is not None,
        "the step ran",
    )
    assert _cell_info(notebook, 3)["source"] == "print('again')"
    assert _printed(notebook, 11) == "ok"
    notebook.page.close()


@pytest.fixture(scope="module")
def lab_without_extension(tmp_path_factory):
    """The same JupyterLab with claude-magic's extension disabled."""
    with _jupyter_lab(tmp_path_factory.mktemp("lab-no-ext"), disabled=("claude-magic",)) as running:
        yield running


def test_a_page_without_the_extension_closes_the_hello(lab_without_extension, browser):  # noqa: F811
    name = "no-extension.ipynb"
    nb = python_notebook(
        SETUP,
        "print(session.frontend.state, session.frontend.ready)",
    )
    nbformat.write(nb, lab_without_extension["root"] / name)
    notebook = Lab(browser, lab_without_extension["url"], name)
    notebook.run_and_watch(0)
    assert _printed(notebook, 1) == "absent False"
    notebook.page.close()
