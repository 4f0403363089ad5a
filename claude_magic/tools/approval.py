"""Approval: asking the user before a tool marked `confirm=True` runs."""

from __future__ import annotations

import builtins
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DECLINED = "The user declined to run this tool."
NO_ONE_TO_ASK = (
    "Not run: this tool needs the user's approval and no one can answer here "
    "(set ClaudeMagic.auto_approve_tools = True to allow)."
)
STEP_LIMIT_REACHED = "Not run: the step limit was reached."
INTERRUPTED = "Interrupted by the user before the tool finished."
NOT_RUN_INTERRUPTED = "Not run: the user interrupted the tool calls."


def stdin_available(shell: Any = None) -> bool:
    """Whether someone can answer `input()` here: in a kernel, whether the frontend allows
    stdin (nbclient and papermill don't); in plain Python, whether stdin is a terminal.
    Without `shell`, the running IPython shell (if any) is used."""
    if shell is None:
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None else None
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        return bool(getattr(kernel, "_allow_stdin", False))
    stdin = sys.stdin
    try:
        return stdin is not None and stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _ask_with_input(prompt: str) -> str:
    return builtins.input(prompt)  # looked up at call time: ipykernel swaps it per request


def _brief_json(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Approver:
    """Asks the user before tools marked `confirm=True` (and computer-use tools) run."""

    auto_approve: bool = False
    stdin_available: Callable[[], bool] = stdin_available
    ask: Callable[[str], str] = _ask_with_input
    before_asking: Callable[[], None] | None = None  # the answer's view makes room for the question

    def refusal(self, name: str, tool_input: Any) -> str | None:
        """None when the call may run; otherwise what to tell the model."""
        if self.auto_approve:
            return None
        if not self.stdin_available():
            return NO_ONE_TO_ASK
        if self.before_asking is not None:
            self.before_asking()
        answer = answer_or_none(self.ask, f"Run tool {name} with {_brief_json(tool_input)}? [y/N] ")
        if answer is None:
            return NO_ONE_TO_ASK
        return None if str(answer).strip().lower() in ("y", "yes") else DECLINED


def answer_or_none(ask: Callable[[str], Any], prompt: str) -> Any:
    """`ask(prompt)`, or None when it turns out no one can answer (stdin closed, or a
    front end that doesn't take input)."""
    try:
        return ask(prompt)
    except EOFError:
        return None
    except Exception as exc:
        if type(exc).__name__ == "StdinNotImplementedError":
            return None
        raise
