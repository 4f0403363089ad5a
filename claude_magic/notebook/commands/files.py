"""Commands that write or read files: save, load, export."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.errors import ClaudeMagicError
from .chats import chat_name
from .registry import CHAT, FILE, command

if TYPE_CHECKING:
    from ..session import KernelSession


@command("save", "all conversations, images included, as JSON", FILE, usage="save FILE.json")
def save(session: KernelSession, args: argparse.Namespace) -> None:
    path = Path(args.file).expanduser()
    try:
        session.chats.save(path)
    except OSError as exc:
        raise ClaudeMagicError(f"Can't write {path}: {exc.strerror or exc}.") from None
    print(f"Saved {len(session.chats.names())} conversation(s) to {path}.")


@command(
    "load",
    "conversations saved with save (they replace the ones of the same name)",
    FILE,
    usage="load FILE.json",
)
def load(session: KernelSession, args: argparse.Namespace) -> None:
    path = Path(args.file).expanduser()
    if not path.exists():
        raise ClaudeMagicError(f"No such file: {path}.")
    try:
        session.chats.load(path)
    except OSError as exc:
        raise ClaudeMagicError(f"Can't read {path}: {exc.strerror or exc}.") from None
    except ValueError as exc:  # not JSON, or not the saved format: the first bad place
        raise ClaudeMagicError(f"Can't load {path}: {exc}. The chats are unchanged.") from None
    print(f"Loaded {len(session.chats.names())} conversation(s) from {path}.")


@command(
    "export",
    "a conversation as a notebook (nbformat)",
    FILE,
    CHAT,
    usage="export FILE.ipynb [--chat NAME]",
)
def export(session: KernelSession, args: argparse.Namespace) -> None:
    from ..export import export_notebook

    path = Path(args.file).expanduser()
    if path.suffix != ".ipynb":
        raise ClaudeMagicError("Export to a notebook file name ending in .ipynb.")
    name = chat_name(session, args.chat)
    try:
        export_notebook(session.chats.get(name), path)
    except OSError as exc:
        raise ClaudeMagicError(f"Can't write {path}: {exc.strerror or exc}.") from None
    print(f"Exported conversation {name!r} to {path}.")
