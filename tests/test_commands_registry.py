"""Line commands come from one registry: dispatch, `%claude help`, the unknown-command
line, `%%claude?` and the documentation's table all say the same."""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

import pytest

from claude_magic.core.errors import ClaudeMagicError
from claude_magic.notebook.commands import COMMANDS, help_text, markdown_table
from claude_magic.notebook.commands.registry import command

DOCS = Path(__file__).resolve().parents[1] / "docs"


def docs_hooks():
    """docs/hooks.py, which makes the documentation's reference tables from the code."""
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_command_is_declared_once_with_help_and_usage():
    assert {
        "history",
        "reset",
        "undo",
        "chats",
        "models",
        "config",
        "usage",
        "offline",
        "save",
        "load",
        "export",
        "tools",
        "jobs",
        "stop",
        "wait",
        "help",
        "fix",
        "mcp",
        "compact",
    } == set(COMMANDS)
    for name, cmd in COMMANDS.items():
        assert cmd.name == name and cmd.help and cmd.usage.startswith(name)
        assert not cmd.help.endswith(".")  # one line in a table, like the others
    with pytest.raises(ValueError, match="declared twice"):
        command("help", "again")(lambda session, args: None)


def test_help_unknown_and_the_cell_help_list_the_registry(shell):
    help_run = shell.run("%claude help")
    assert help_run.success, help_run.stderr
    for cmd in COMMANDS.values():
        assert cmd.usage in " ".join(help_run.stdout.split())
    assert "--max-tokens" in help_run.stdout  # the cell's options too
    unknown = shell.run("%claude frobnicate")
    assert not unknown.success
    assert f"use one of {', '.join(sorted(COMMANDS))}." in unknown.stdout + unknown.stderr
    empty = shell.run("%claude")
    assert ", ".join(sorted(COMMANDS)) in empty.stdout + empty.stderr
    doc = shell.ip.magics_manager.magics["cell"]["claude"].__doc__
    assert help_text() in doc and "--max-tokens" in doc


def test_a_command_option_error_is_one_line(shell):
    run = shell.run("%claude wait --timeout soon")
    assert not run.success
    assert (
        "%claude wait: argument --timeout: invalid float value: 'soon'." in run.stdout + run.stderr
    )
    assert "Traceback" not in run.stdout + run.stderr


def test_usage_comes_from_the_options():
    assert COMMANDS["history"].usage == "history [--chat NAME]"
    assert COMMANDS["wait"].usage == "wait [--chat NAME] [--timeout S]"
    assert COMMANDS["fix"].usage == "fix [N] [--chat NAME]"
    parsed = COMMANDS["wait"].parser().parse_args(["--timeout", "2"])
    assert parsed == argparse.Namespace(chat=None, timeout=2.0)
    with pytest.raises(ClaudeMagicError, match="unrecognized arguments"):
        COMMANDS["chats"].parser().parse_args(["--nope"])


def test_the_documented_table_is_the_registry():
    """docs/reference/commands.md asks for the table; the docs build makes it from the registry."""
    page = (DOCS / "reference" / "commands.md").read_text()
    assert "<!-- generated: commands -->" in page
    built = docs_hooks().generate(page)
    assert markdown_table() in built and "<!-- generated" not in built


def test_the_docs_document_each_admin_route_once_in_its_table():
    from claude_magic.emulator.routes import ADMIN, ROUTES

    lines = (DOCS / "emulator.md").read_text().splitlines()
    rows = [n for n, line in enumerate(lines) if line.startswith("| ") and "/_emulator/" in line]
    assert rows == list(range(rows[0], rows[0] + len(rows))), "admin route rows outside their table"
    documented = [
        (method, path)
        for n in rows
        for path in re.findall(r"/_emulator/\w+", lines[n].split(" | ")[0])
        for method in re.findall(r"`(GET|POST|DELETE)", lines[n].split(" | ")[0])
    ]
    served = [(r.method, r.shown) for r in ROUTES if r.service is ADMIN]
    assert sorted(documented) == sorted(served)  # each once
