"""`%claude fix`: a failed cell, its error and the frames of your own code, sent for a
corrected version that goes into a new cell below (never run)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ...core.errors import ClaudeMagicError
from ..options import CellOptions
from .registry import CHAT, command, option

if TYPE_CHECKING:
    from ..session import KernelSession


@command(
    "fix",
    "send the last cell that raised (or cell [N]) with its error, the traceback "
    "frames of your own code only, and ask for a corrected version: the answer streams as "
    "usual, its Python code goes into a new cell below for review (never run). No failed "
    "cell: one line says so",
    option("cell", nargs="?", type=int, default=None, metavar="N"),
    CHAT,
    usage="fix [N] [--chat NAME]",
)
def fix(session: KernelSession, args: argparse.Namespace) -> None:
    from ..cell import run_cell
    from ..context import FIX_PROMPT, fix_context

    recorder = session.recorder
    number = args.cell
    if number is None:
        number = recorder.last_error(before=session.cell.execution_count)
        if number is None:
            print("No cell has raised an error since %load_ext claude_magic: nothing to fix.")
            return
    elif recorder.record(number) is None:
        raise ClaudeMagicError(
            f"Cell [{number}] isn't recorded: run it again (after %load_ext claude_magic)."
        )
    elif not recorder.error_report(number):
        print(
            f"Cell [{number}] ran without an error: nothing to fix "
            f"(ask about it with %%claude --cell {number})."
        )
        return
    context = fix_context(recorder, number, session.config().context_max_chars)
    options = CellOptions(code=True, chat=args.chat, context=context)
    run_cell(session, options, FIX_PROMPT.format(n=number))
