"""Commands on the conversations: history, reset, undo, chats."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ...core.errors import ClaudeMagicError
from .registry import ALL, CHAT, command

if TYPE_CHECKING:
    from ..session import KernelSession


def chat_name(session: KernelSession, name: str | None) -> str:
    """`name` if such a chat exists (one line if not), else the default chat's name."""
    chats = session.chats
    if name is not None and name not in chats.names():
        known = ", ".join(chats.names()) or "none yet"
        raise ClaudeMagicError(f"No chat named {name!r} (chats: {known}).")
    return name or chats.default_name


@command("history", "the conversation as readable text, with token totals", CHAT)
def history(session: KernelSession, args: argparse.Namespace) -> None:
    print(session.chats.get(chat_name(session, args.chat)).history_text())


@command("reset", "empty a conversation", CHAT, ALL, usage="reset [--chat NAME | --all]")
def reset(session: KernelSession, args: argparse.Namespace) -> None:
    chats = session.chats
    if args.all:
        for name in list(chats.names()):
            chats.reset(name)
        print("All conversations cleared.")
        return
    name = chat_name(session, args.chat)
    chats.reset(name)
    print(f"Conversation {name!r} cleared.")


@command("undo", "drop the last turn", CHAT)
def undo(session: KernelSession, args: argparse.Namespace) -> None:
    name = chat_name(session, args.chat)
    turn = session.chats.get(name).undo()
    print(
        f"Removed the last turn of {name!r}."
        if turn
        else f"Conversation {name!r} is already empty."
    )


@command("chats", "the conversations and their lengths")
def chats(session: KernelSession, args: argparse.Namespace) -> None:
    for name in session.chats.names():
        print(f"{name}: {len(session.chats.get(name).turns)} turns")
