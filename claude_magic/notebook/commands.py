"""The `%claude COMMAND` line commands. Each prints plain text (model output
included in history is never rendered as HTML here)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import ClaudeMagicError
from ..models import catalog

if TYPE_CHECKING:
    from .magics import ClaudeMagic


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ClaudeMagicError(f"%claude {self.prog}: {message}.")


def _parse(command: str, words: list[str], *specs: tuple[tuple[str, ...], dict[str, Any]]) -> argparse.Namespace:
    parser = _Parser(prog=command, add_help=False)
    for flags, options in specs:
        parser.add_argument(*flags, **options)
    return parser.parse_args(words)


_CHAT = (("--chat",), {"default": None, "metavar": "NAME"})
_FILE = (("file",), {"metavar": "FILE"})


def _chat_name(magic: ClaudeMagic, name: str | None) -> str:
    chats = magic.session.chats
    if name is not None and name not in chats.names():
        known = ", ".join(chats.names()) or "none yet"
        raise ClaudeMagicError(f"No chat named {name!r} (chats: {known}).")
    return name or chats.default_name


def cmd_help(magic: ClaudeMagic, words: list[str]) -> None:
    print(magic.claude.__doc__)


def cmd_history(magic: ClaudeMagic, words: list[str]) -> None:
    args = _parse("history", words, _CHAT)
    conversation = magic.session.chats.get(_chat_name(magic, args.chat))
    print(conversation.history_text())


def cmd_reset(magic: ClaudeMagic, words: list[str]) -> None:
    args = _parse("reset", words, _CHAT, (("--all",), {"action": "store_true"}))
    chats = magic.session.chats
    if args.all:
        for name in list(chats.names()):
            chats.reset(name)
        print("All conversations cleared.")
        return
    name = _chat_name(magic, args.chat)
    chats.reset(name)
    print(f"Conversation {name!r} cleared.")


def cmd_undo(magic: ClaudeMagic, words: list[str]) -> None:
    args = _parse("undo", words, _CHAT)
    name = _chat_name(magic, args.chat)
    turn = magic.session.chats.get(name).undo()
    print(f"Removed the last turn of {name!r}." if turn else f"Conversation {name!r} is already empty.")


def cmd_chats(magic: ClaudeMagic, words: list[str]) -> None:
    _parse("chats", words)
    chats = magic.session.chats
    for name in chats.names():
        conversation = chats.get(name)
        print(f"{name}: {len(conversation.turns)} turns")


def cmd_models(magic: ClaudeMagic, words: list[str]) -> None:
    _parse("models", words)
    rows = [("alias", "model id", "profiles", "can take", "$ in/out per MTok")]
    for model in catalog.MODELS:
        abilities = [k for k in ("images", "tools", "documents") if getattr(model, k)]
        if model.computer_use:
            abilities.append("computer-use")
        rows.append((
            model.aliases[0],
            model.id + ("" if model.on_demand else "  (profile only)"),
            ",".join(model.profiles) or "-",
            ",".join(abilities) or "text",
            f"{model.input_price:g}/{model.output_price:g}",
        ))
    print(_table(rows))


def cmd_config(magic: ClaudeMagic, words: list[str]) -> None:
    _parse("config", words)
    settings = magic.client_settings()
    traits = magic.traits(config=True)
    for name in sorted(traits):
        value = getattr(magic, name)
        if name == "tools":
            value = [getattr(t, "__name__", t) for t in value]
        print(f"ClaudeMagic.{name} = {value!r}")
    print(f"# endpoint in use: {settings.endpoint_url or 'AWS (boto3 default)'}"
          + ("  [offline emulator]" if settings.offline else ""))
    print(f"# model in use: {_describe_model(magic.model, settings.region)}")
    print(f"# authentication: {_describe_auth(settings)}")


def cmd_usage(magic: ClaudeMagic, words: list[str]) -> None:
    from ..core.costs import summarise

    _parse("usage", words)
    rows = [("chat", "turns", "input tokens", "cache written", "cache read", "output tokens",
             "est. cost $", "uncached $")]
    for name in magic.session.chats.names():
        conversation = magic.session.chats.get(name)
        summary = summarise(conversation.turns, magic.cache_ttl)
        usage = summary.usage
        rows.append((name, str(len(conversation.turns)), str(usage.input_tokens),
                     str(usage.cache_creation_input_tokens), str(usage.cache_read_input_tokens),
                     str(usage.output_tokens), f"{summary.cost:.4f}", f"{summary.uncached_cost:.4f}"))
    print(_table(rows))
    print("# input tokens: uncached input; uncached $: the same turns without prompt caching")


def cmd_offline(magic: ClaudeMagic, words: list[str]) -> None:
    args = _parse("offline", words, (("--pace",), {"type": float, "default": None}),
                  (("--off",), {"action": "store_true"}))
    if args.off:
        magic.offline = False
        print("Offline mode off: requests go to Amazon Bedrock.")
        return
    magic.offline = True
    if args.pace is not None:
        magic.offline_pace = args.pace
    url = magic.session.start_emulator(magic.offline_pace).url
    print(f"Offline mode: using the built-in Bedrock emulator at {url}. "
          "Its answers say they come from the emulator; no model is called.")


def cmd_save(magic: ClaudeMagic, words: list[str]) -> None:
    args = _parse("save", words, _FILE)
    path = Path(args.file).expanduser()
    magic.session.chats.save(path)
    print(f"Saved {len(magic.session.chats.names())} conversation(s) to {path}.")


def cmd_load(magic: ClaudeMagic, words: list[str]) -> None:
    args = _parse("load", words, _FILE)
    path = Path(args.file).expanduser()
    if not path.exists():
        raise ClaudeMagicError(f"No such file: {path}.")
    try:
        magic.session.chats.load(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise ClaudeMagicError(f"{path} is not a saved claude-magic conversation ({exc}).") from None
    print(f"Loaded {len(magic.session.chats.names())} conversation(s) from {path}.")


def cmd_export(magic: ClaudeMagic, words: list[str]) -> None:
    args = _parse("export", words, _FILE, _CHAT)
    from .export import export_notebook

    path = Path(args.file).expanduser()
    if path.suffix != ".ipynb":
        raise ClaudeMagicError("Export to a notebook file name ending in .ipynb.")
    name = _chat_name(magic, args.chat)
    export_notebook(magic.session.chats.get(name), path)
    print(f"Exported conversation {name!r} to {path}.")


def cmd_tools(magic: ClaudeMagic, words: list[str]) -> None:
    args = _parse("tools", words, (("names",), {"nargs": "?", "default": None}))
    from .turn import toolset_for

    toolset = toolset_for(magic, args.names)
    print(toolset.render_text() if toolset else "No tools: pass --tools f,g, decorate functions with "
          "@claude_magic.tool, or set %config ClaudeMagic.tools = [...].")


def cmd_fix(magic: ClaudeMagic, words: list[str]) -> None:
    args = _parse("fix", words, (("cell",), {"nargs": "?", "type": int, "default": None, "metavar": "N"}),
                  _CHAT)
    recorder = magic.session.recorder
    number = args.cell
    if number is None:
        number = recorder.last_error(before=magic.session.cell.execution_count)
        if number is None:
            print("No cell has raised an error since %load_ext claude_magic: nothing to fix.")
            return
    elif recorder.record(number) is None:
        raise ClaudeMagicError(f"Cell [{number}] isn't recorded: run it again (after %load_ext claude_magic).")
    elif not recorder.error_report(number):
        print(f"Cell [{number}] ran without an error: nothing to fix "
              f"(ask about it with %%claude --cell {number}).")
        return
    from .background import run_cell
    from .context import FIX_PROMPT, fix_context

    options = magic.claude.parser.parse_args(["--code"])  # %%claude's defaults, the code goes below
    options.chat = args.chat
    options.notebook_context = fix_context(recorder, number, magic.context_max_chars)
    run_cell(magic, options, FIX_PROMPT.format(n=number))


def _describe_auth(settings: Any) -> str:
    from ..bedrock.settings import describe_auth

    return describe_auth(settings)
def cmd_jobs(magic: ClaudeMagic, words: list[str]) -> None:
    args = _parse("jobs", words, _CHAT)
    from .background import cmd_jobs

    cmd_jobs(magic, args.chat)


def cmd_stop(magic: ClaudeMagic, words: list[str]) -> None:
    args = _parse("stop", words, _CHAT, (("--all",), {"action": "store_true"}))
    from .background import cmd_stop

    cmd_stop(magic, args.chat, args.all)


def cmd_wait(magic: ClaudeMagic, words: list[str]) -> None:
    args = _parse("wait", words, _CHAT, (("--timeout",), {"type": float, "default": None, "metavar": "S"}))
    from .background import cmd_wait

    cmd_wait(magic, args.chat, args.timeout)


def _describe_model(name: str, region: str | None) -> str:
    try:
        resolved = catalog.resolve(name, region)
    except catalog.UnknownModel:
        return f"{name} (not in the catalogue)"
    label = resolved.model.name if resolved.model else "unknown model"
    return f"{resolved.invoke_id} ({label})"


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
