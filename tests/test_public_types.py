"""The public names are visible to type checkers (and so to IDEs), although they load
lazily: a user's code that calls them is checked against their real signatures."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import claude_magic

PACKAGE = Path(claude_magic.__file__).parent


def test_the_package_is_typed():
    assert (PACKAGE / "py.typed").is_file()


def test_public_names_have_their_signatures_for_mypy(tmp_path):
    user_code = tmp_path / "user_code.py"
    user_code.write_text(
        textwrap.dedent("""
        import claude_magic

        reveal_type(claude_magic.ask)
        reveal_type(claude_magic.map)
        reveal_type(claude_magic.Emulator)
        reveal_type(claude_magic.tool)
        claude_magic.ask("Hi", max_tokens="many")
    """)
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(user_code),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(PACKAGE.parent)},
    )  # an editable install
    # hides it from mypy
    out = "\n".join(line for line in run.stdout.splitlines() if line.startswith("user_code.py"))
    assert (
        "def (prompt: Any, *, model: builtins.str | None" in out
        or "def (prompt: Any, *, model: str | None" in out
    )
    assert "claude_magic.core.reply.Reply" in out and "claude_magic.emulator.Emulator" in out
    assert 'Argument "max_tokens" to "ask" has incompatible type "str"' in out
    assert "has no attribute" not in out
