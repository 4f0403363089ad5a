"""Helpers for tests that drive a real ipykernel through jupyter_client or nbclient."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def python_notebook(*sources: str) -> Any:
    """A notebook of these code cells, for the python3 kernel."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


@contextlib.contextmanager
def running_kernel() -> Iterator[Any]:
    """A fresh python3 kernel and a started client; shut down afterwards."""
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        client.manager = manager
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run_notebook(notebook: Any, cwd: Path | str | None = None, *, timeout: float = 120) -> Any:
    """Execute every cell of `notebook` in a fresh python3 kernel working in `cwd` (nbclient's
    default when None), in place; return the notebook."""
    from nbclient import NotebookClient

    resources = {"metadata": {"path": str(cwd)}} if cwd is not None else {}
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources=resources).execute()
    return notebook


def run_in_kernel(
    client: Any, code: str, *, check: bool = True, timeout: float = 120
) -> tuple[dict, list[dict]]:
    """Execute code; return the execute reply's content and the IOPub messages it caused
    (up to, not including, the final idle status)."""
    messages: list[dict] = []
    reply = client.execute_interactive(code, timeout=timeout, output_hook=messages.append)
    messages = [
        m
        for m in messages
        if not (m["msg_type"] == "status" and m["content"]["execution_state"] == "idle")
    ]
    if check:
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        assert reply["content"]["status"] == "ok", errors or reply["content"]
    return reply["content"], messages


def message_bytes(msg: dict) -> int:
    """The size of a Jupyter message as sent: its four JSON parts plus buffers."""
    parts = [msg["header"], msg["parent_header"], msg["metadata"], msg["content"]]
    return len(json.dumps(parts, default=str)) + sum(len(b) for b in msg.get("buffers") or ())
