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
    args = _parse("models", words, (("--refresh",), {"action": "store_true"}),
                  (("--all",), {"action": "store_true"}))
    settings = magic.client_settings()
    if args.refresh:
        from ..bedrock.discovery import discover

        magic.session.offer = discover(settings)
    offer = magic.session.offer
    print(models_table(region=settings.region or _region(settings), geography=magic.geography,
                       offer=offer, show_retired=args.all))


def models_table(*, region: str, geography: str = "auto", offer: Any = None,
                 show_retired: bool = False) -> str:
    """The catalogue as a table: per model its alias, profiles, window, output, thinking,
    prices and status; with `offer` (from --refresh), what this account offers here."""
    today = catalog.current_date()
    table = catalog.aliases(today)
    by_model: dict[str, str] = {}
    for alias, model in table.items():  # the bare family alias wins, then the versioned one
        if alias in catalog.FAMILIES or model.id not in by_model:
            by_model[model.id] = alias
    header = ["alias", "model id", "profiles", "window", "output", "thinking", "$ in/out",
              "cache w/r", "status"]
    if offer is not None:
        header.append(f"in {offer.region}")
    rows = [tuple(header)]
    models = sorted(catalog.MODELS, key=lambda m: (m.status(today) == "retired", m.family,
                                                  -(m.launched or today).toordinal()))
    extra = list(offer.unknown_models()) if offer is not None else []
    retired = 0
    for model in [*models, *extra]:
        status = model.status(today) if model.known else "not in the built-in catalogue"
        if status == "retired":
            retired += 1
            if not show_retired:
                continue
            status = f"retired {model.end_of_life}"
        elif status == "legacy":
            status = f"legacy, retires {model.end_of_life}" if model.end_of_life else "legacy"
        if status == "active" and offer is not None and offer.lifecycle.get(model.id) == "LEGACY":
            status = "legacy (Bedrock says so)"
        p = model.prices
        row = [
            by_model.get(model.id, "-") if model.known else "-",
            model.id,
            _profiles(model, region, geography),
            _tokens(model.context_window) + (f" ({_tokens(model.long_context[0])} beta)"
                                             if model.long_context else ""),
            _tokens(model.max_output_tokens),
            model.thinking,
            f"{model.input_price:g}/{model.output_price:g}",
            f"{p.cache_write_5m:g}/{p.cache_read:g}" if p and model.caches else "-",
            status,
        ]
        if offer is not None:
            row.append("yes" if model.known and offer.available(model) or not model.known else "no")
        rows.append(tuple(row))
    lines = [_table(rows), _price_basis()]
    if retired and not show_retired:
        lines.append(f"{retired} retired models are not shown: %claude models --all lists them.")
    if offer is None:
        lines.append("%claude models --refresh asks Bedrock what this account offers here.")
    return "\n".join(lines)


def _profiles(model: catalog.Model, region: str, geography: str) -> str:
    """The model's profile geographies, the one an alias picks here marked with *."""
    if not model.profiles:
        return "on-demand"
    chosen = catalog.preferred_profile(model, region, geography).split(".", 1)[0]
    names = [g + ("*" if g == chosen else "") for g in model.profiles]
    return ",".join(names) + (" +on-demand" if model.on_demand else "")


def _tokens(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}K" if n >= 1000 else str(n)


def _price_basis() -> str:
    geographic = catalog.prices_for(1.0, 1.0).geographic
    return (f"Prices: USD per million tokens, catalogue of {catalog.PRICES_AS_OF}, for global. or "
            f"the bare id; geographic profiles (us., eu., ...) cost {geographic - 1:.0%} more. Cache write "
            "shown for 5 minutes (1 hour: 2x input); batch: half. * marks the profile an alias "
            "uses here.")


def _region(settings: Any) -> str:
    from ..bedrock.settings import effective_region

    return effective_region(settings)


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
    print(f"# model in use: {_describe_model(magic.model, settings.region, magic.geography)}")
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
    print(f"# estimated per turn by the model and profile called, at the catalogue's prices of "
          f"{catalog.PRICES_AS_OF} (USD); Bedrock's bill decides")


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


def _describe_model(name: str, region: str | None, geography: str = "auto") -> str:
    try:
        resolved = catalog.resolve(name, region, geography=geography)
    except catalog.RetiredModel as exc:
        from .turn import retired_message

        return retired_message(exc.model, exc.replacement)
    except catalog.UnknownModel:
        return f"{name} (not in the catalogue)"
    label = resolved.model.name if resolved.model else "unknown model"
    return f"{resolved.invoke_id} ({label})"


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
