"""The `%claude COMMAND` line commands, one domain per module, each declared once in
the registry. Each prints plain text (model output in history is never rendered as
HTML here). A command imports what it runs when it runs (the cell pipeline, background
answers, the catalogue), so the registry, and with it `%load_ext`, stays light."""

from . import account, chats, compact, files, fix, help, jobs, mcp, tools  # noqa: F401  (registers them)
from .registry import COMMANDS, help_text, markdown_table, run_line

__all__ = ["COMMANDS", "help_text", "markdown_table", "run_line"]
