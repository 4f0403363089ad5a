"""Line commands as a registry: each `%claude COMMAND` is declared once, with its
options, its one-line help and its handler. The dispatch, `%claude help`, the
"unknown command" line, the `%%claude?` text and the documentation table all come
from here."""

from __future__ import annotations

import argparse
import shlex
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...core.errors import ClaudeMagicError

if TYPE_CHECKING:
    from ..session import KernelSession

Handler = Callable[["KernelSession", argparse.Namespace], Any]


@dataclass(frozen=True)
class Option:
    """One argument of a command, as argparse's `add_argument` takes it."""

    flags: tuple[str, ...]
    settings: tuple[tuple[str, Any], ...]


def option(*flags: str, **settings: Any) -> Option:
    return Option(flags, tuple(settings.items()))


CHAT = option("--chat", default=None, metavar="NAME")
ALL = option("--all", action="store_true")
FILE = option("file", metavar="FILE")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own error exits the process
        raise ClaudeMagicError(f"%claude {self.prog}: {message}.")


@dataclass(frozen=True)
class Command:
    """A `%claude` line command."""

    name: str
    help: str
    options: tuple[Option, ...]
    handler: Handler
    usage_text: str | None = None  # when argparse's usage reads worse than a hand-written one

    def parser(self) -> argparse.ArgumentParser:
        parser = _Parser(prog=self.name, add_help=False)
        for opt in self.options:
            parser.add_argument(*opt.flags, **dict(opt.settings))
        return parser

    @property
    def usage(self) -> str:
        """`fix [N] [--chat NAME]`: the command with its options."""
        if self.usage_text is not None:
            return self.usage_text
        text = self.parser().format_usage().removeprefix("usage: ").strip()
        return " ".join(text.split())

    def run(self, session: KernelSession, words: list[str]) -> Any:
        return self.handler(session, self.parser().parse_args(words))


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help: str, *options: Option, usage: str | None = None
) -> Callable[[Handler], Handler]:
    """Register the decorated function as `%claude NAME`."""

    def register(handler: Handler) -> Handler:
        if name in COMMANDS:
            raise ValueError(f"%claude {name} is declared twice")
        COMMANDS[name] = Command(name, help, tuple(options), handler, usage)
        return handler

    return register


def ordered() -> list[Command]:
    """The commands in alphabetical order, as every list shows them."""
    return [COMMANDS[name] for name in sorted(COMMANDS)]


def names() -> str:
    return ", ".join(sorted(COMMANDS))


def run_line(session: KernelSession, line: str) -> Any:
    """Run `%claude LINE`."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise ClaudeMagicError(f"Could not read the command: {exc}.") from None
    if not words:
        raise ClaudeMagicError(
            f"Use %%claude as a cell magic to ask, or %claude COMMAND with one of: {names()}."
        )
    found = COMMANDS.get(words[0])
    if found is None:
        raise ClaudeMagicError(f"Unknown command {words[0]!r}: use one of {names()}.")
    return found.run(session, words[1:])


def help_text(width: int = 88) -> str:
    """The commands, one paragraph each: what `%claude help` and `%%claude?` show."""
    lines = ["Line commands (%claude COMMAND):"]
    for cmd in ordered():
        lines += textwrap.wrap(
            f"{cmd.usage}: {cmd.help}", width, initial_indent="  ", subsequent_indent="      "
        )
    return "\n".join(lines)


def markdown_table() -> str:
    """The commands as the documentation's Markdown table."""
    rows = ["| command | effect |", "|---|---|"]
    for cmd in ordered():
        usage = cmd.usage.replace("|", "\\|")
        rows.append(f"| `{usage}` | {cmd.help.replace('|', chr(92) + '|')} |")
    return "\n".join(rows)
