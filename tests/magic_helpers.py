"""Helpers for driving `%%claude` in a real IPython shell against the emulator."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

from IPython.core.interactiveshell import InteractiveShell


@dataclass
class CellRun:
    """What running one cell produced."""

    success: bool
    result: Any
    stdout: str
    stderr: str
    error: BaseException | None


class Shell:
    """A fresh InteractiveShell with claude_magic loaded."""

    def __init__(self, *, load: bool = True) -> None:
        InteractiveShell.clear_instance()
        self.ip = InteractiveShell.instance()
        if load:
            self.run("%load_ext claude_magic")

    def run(self, source: str, cell_id: str | None = None) -> CellRun:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result = self.ip.run_cell(source, store_history=True, cell_id=cell_id)
        error = result.error_in_exec or result.error_before_exec
        return CellRun(result.success, result.result, out.getvalue(), err.getvalue(), error)

    def ask(self, options: str, prompt: str, cell_id: str | None = None) -> CellRun:
        return self.run(f"%%claude {options}\n{prompt}", cell_id=cell_id)

    @property
    def magic(self) -> Any:
        import claude_magic

        return claude_magic._loaded[id(self.ip)]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.run("%unload_ext claude_magic")
        InteractiveShell.clear_instance()


def last_body(emulator: Any) -> dict[str, Any]:
    return emulator.requests()[-1]["body"]
