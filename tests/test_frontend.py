"""The front-end bridge where there is no JupyterLab: the extension is installed where
JupyterLab finds it, and a kernel run by nbclient (no extension to answer the hello) or a
terminal IPython never has a "ready" front end, so agent steps take the inline path."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from claude_magic.notebook.frontend import FrontEnd, FrontEndError


def test_the_extension_is_installed_and_enabled():
    jupyter = Path(sys.executable).with_name("jupyter")
    listed = subprocess.run(
        [str(jupyter), "labextension", "list"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    plain = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)
    assert re.search(r"claude-magic v0\.1\.0 enabled\s+OK \(python, claude-magic\)", plain), plain


def test_a_kernel_without_the_extension_never_gets_ready(run_notebook, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "%load_ext claude_magic\n"
            "from claude_magic.notebook.session import session_of\n"
            "frontend = session_of(get_ipython()).frontend\n"
            "hello = frontend._hello\n"
            "frontend.announce()"
        ),
        nbformat.v4.new_code_cell(
            "import threading\n"
            "from claude_magic.notebook.frontend import FrontEndError\n"
            "errors = []\n"
            "def step():\n"
            "    try:\n"
            "        frontend.run_step(agent_cell='x', after=None, code='1')\n"
            "    except FrontEndError as exc:\n"
            "        errors.append(str(exc))\n"
            "worker = threading.Thread(target=step)\n"
            "worker.start(); worker.join(10)\n"
            "print(frontend.state, frontend.ready, hello is not None,\n"
            "      frontend._hello is hello, errors)"
        ),
    ]
    run_notebook(nb, tmp_path)
    printed = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert printed.strip() == (
        'unknown False True True ["The notebook\'s claude-magic extension is not connected."]'
    )


def test_announce_does_nothing_outside_a_kernel():
    from magic_helpers import Shell

    shell = Shell()
    try:
        frontend = shell.magic.session.frontend
        frontend.announce()
        assert (frontend.state, frontend.ready, frontend._hello) == ("unknown", False, None)
        assert frontend._pre_run_cell not in shell.ip.events.callbacks["pre_run_cell"]
    finally:
        shell.close()


def test_run_step_is_for_worker_threads():
    frontend = FrontEnd(shell=None)
    with pytest.raises(RuntimeError, match="worker thread"):
        frontend.run_step(agent_cell="a", after=None, code="1")
    failures: list[str] = []

    def step() -> None:
        try:
            frontend.run_step(agent_cell="a", after=None, code="1")
        except FrontEndError as exc:
            failures.append(str(exc))

    worker = threading.Thread(target=step)
    worker.start()
    worker.join(10)
    assert failures == ["The notebook's claude-magic extension is not connected."]
    with pytest.raises(FrontEndError):
        frontend.remove_cells(agent_cell="a", cells={"b": "1"}, on_done=lambda removed, kept: None)
