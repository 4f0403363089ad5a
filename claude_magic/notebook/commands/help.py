"""`%claude help`: the cell's options and the line commands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .registry import command

if TYPE_CHECKING:
    from ..session import KernelSession


@command("help", "this list, and the options of %%claude cells")
def help(session: KernelSession, args: argparse.Namespace) -> None:
    print(session.cell_help)
