"""`%claude tools`: what cells would offer Claude."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .registry import command, option

if TYPE_CHECKING:
    from ..session import KernelSession


@command(
    "tools",
    "the JSON schema of each tool that cells would offer",
    option("names", nargs="?", default=None, metavar="F,G"),
    usage="tools [F,G]",
)
def tools(session: KernelSession, args: argparse.Namespace) -> None:
    from ..prepare import toolset_for

    toolset = toolset_for(session, session.config(), args.names)
    print(
        toolset.render_text()
        if toolset
        else "No tools: pass --tools f,g, decorate functions with "
        "@claude_magic.tool, or set %config ClaudeMagic.tools = [...]."
    )
