"""The documentation's generated parts, made from the code each time the site is built, so
they cannot drift from it: a page asks for one with a line `<!-- generated: NAME -->`,
NAME a key of GENERATORS (an unknown name fails the build)."""

from __future__ import annotations

import argparse
import ast
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "claude_magic"
MARKER = re.compile(r"^<!-- generated: ([\w-]+) -->$", re.MULTILINE)


def _cell(text: str) -> str:
    """Text for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`".replace("|", "\\|")


# ---------------------------------------------------------------- %%claude options


def _option_name(action: argparse.Action) -> str:
    flags = ", ".join(_code(flag) for flag in action.option_strings[:-1])
    last = action.option_strings[-1]
    if action.nargs == 0:  # store_true and the like
        shown = last
    elif action.choices:
        shown = f"{last} {'|'.join(map(str, action.choices))}"
    else:
        metavar = action.metavar or action.dest.upper()
        shown = f"{last} [{metavar}]" if action.nargs == "?" else f"{last} {metavar}"
    return f"{flags}, {_code(shown)}" if flags else _code(shown)


def cell_options() -> str:
    """Every option of a `%%claude` cell, from the magic's own argument parser."""
    from claude_magic.notebook.magics import ClaudeMagic

    parser: argparse.ArgumentParser = ClaudeMagic.claude.parser  # type: ignore[attr-defined]
    rows = ["| option | effect |", "|---|---|"]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        rows.append(f"| {_option_name(action)} | {_cell(action.help or '')} |")
    return "\n".join(rows)


# ---------------------------------------------------------------- %claude commands


def line_commands() -> str:
    """The `%claude` line commands, from the command registry."""
    from claude_magic.notebook.commands import markdown_table

    return markdown_table()


# ---------------------------------------------------------------- %config ClaudeMagic.*


def _trait_type(trait: Any) -> str:
    import traitlets

    if isinstance(trait, traitlets.Enum):
        return " \\| ".join(_code(value) for value in trait.values)
    if isinstance(trait, traitlets.Union):
        return " or ".join(_trait_type(t) for t in trait.trait_types)
    names = {
        traitlets.Unicode: "str",
        traitlets.Int: "int",
        traitlets.Float: "float",
        traitlets.Bool: "bool",
        traitlets.List: "list",
        traitlets.Dict: "dict",
    }
    for kind, name in names.items():
        if isinstance(trait, kind):
            return name
    return type(trait).__name__


def settings() -> str:
    """The configuration traits of `ClaudeMagic`, in the order the class declares them."""
    import traitlets

    from claude_magic.notebook.magics import ClaudeMagic

    rows = ["| setting | type | default | meaning |", "|---|---|---|---|"]
    for name, trait in vars(ClaudeMagic).items():
        if not isinstance(trait, traitlets.TraitType) or not trait.metadata.get("config"):
            continue
        default = trait.default_value
        if default is traitlets.Undefined and hasattr(trait, "make_dynamic_default"):
            default = trait.make_dynamic_default()  # a List's or Dict's fresh value
        shown = _code(f'"{default}"' if isinstance(default, str) else repr(default))
        rows.append(f"| {_code(name)} | {_trait_type(trait)} | {shown} | {_cell(trait.help)} |")
    return "\n".join(rows)


# ---------------------------------------------------------------- the model catalogue


def _tokens(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}K"


def _price(value: float) -> str:
    return f"${value:g}"


def models() -> str:
    """The catalogue's models with their aliases, profiles, limits, thinking and prices,
    newest first; retired ones in a second table."""
    from claude_magic.models import catalog

    today = catalog.current_date()
    family_names = {
        id(model): name
        for name, model in catalog.aliases(today).items()
        if name in catalog.FAMILIES
    }
    ordered = sorted(
        catalog.MODELS, key=lambda m: (m.launched is not None, m.launched), reverse=True
    )
    current = [m for m in ordered if m.status(today) != "retired"]
    retired = [m for m in ordered if m.status(today) == "retired"]
    head = (
        "| model | aliases | profiles | window | max output | thinking | effort | "
        "$ / M in, out | status |"
    )
    rows = [head, "|---|---|---|---|---|---|---|---|---|"]
    for m in current:
        aliases = ([family_names[id(m)]] if id(m) in family_names else []) + list(
            m.versioned_aliases[:1]
        )
        window = _tokens(m.context_window) + (
            f" ({_tokens(m.long_context[0])} with a beta)" if m.long_context else ""
        )
        status = m.status(today) + (f" until {m.end_of_life}" if m.end_of_life else "")
        rows.append(
            f"| {m.name}<br>{_code(m.id)} | {', '.join(_code(a) for a in aliases)} | "
            f"{', '.join(m.profiles) or 'none'}{', bare id' if m.on_demand else ''} | "
            f"{window} | {_tokens(m.max_output_tokens)} | {m.thinking} | "
            f"{', '.join(m.effort_levels) or '—'} | "
            f"{_price(m.input_price)}, {_price(m.output_price)} | {status} |"
        )
    gone = ["| model | id | retired on |", "|---|---|---|"]
    gone += [f"| {m.name} | {_code(m.id)} | {m.end_of_life} |" for m in retired]
    return (
        f"Prices as of {catalog.PRICES_AS_OF}; lifecycles judged on {today}.\n\n"
        + "\n".join(rows)
        + "\n\n**Retired models** (choosing one stops before any request):\n\n"
        + "\n".join(gone)
    )


# ---------------------------------------------------------------- the module map


def _summary(path: Path) -> str:
    """A module's first docstring sentence, shortened."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    first = " ".join(doc.split("\n\n")[0].split()).split(". ")[0].rstrip(".")
    return first if len(first) <= 76 else textwrap.shorten(first, 76, placeholder=" …")


def module_map() -> str:
    """Every module and subpackage of claude_magic with the first line of its docstring."""
    out = ["```", "claude_magic/"]

    def walk(folder: Path, depth: int) -> None:
        for path in sorted(folder.iterdir(), key=lambda p: (p.is_dir(), p.name)):
            if path.name.startswith(("_", ".")) or (path.is_file() and path.suffix != ".py"):
                continue
            if path.is_dir():
                init = path / "__init__.py"
                if not init.exists():
                    continue  # not a package (the built JupyterLab extension)
                out.append(f"{'  ' * depth}{path.name + '/':<22}{_summary(init)}")
                walk(path, depth + 1)
            else:
                out.append(f"{'  ' * depth}{path.name:<22}{_summary(path)}")

    walk(PACKAGE, 1)
    out.append("```")
    return "\n".join(out)


# ---------------------------------------------------------------- the changelog


def changelog() -> str:
    """CHANGELOG.md, below its title."""
    text = (ROOT / "CHANGELOG.md").read_text()
    return text.split("\n", 1)[1].strip()


GENERATORS: dict[str, Callable[[], str]] = {
    "options": cell_options,
    "commands": line_commands,
    "settings": settings,
    "models": models,
    "modules": module_map,
    "changelog": changelog,
}


def generate(markdown: str, where: str = "") -> str:
    """`markdown` with each marker replaced by what its generator makes now."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            from mkdocs.exceptions import PluginError

            raise PluginError(
                f"{where}: no generator named {name!r} (known: {', '.join(GENERATORS)})"
            )
        return GENERATORS[name]()

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    return generate(markdown, page.file.src_uri)


# Files from elsewhere in the repository that pages show, served from the site as is.
BORROWED = {"images/streamed-answer.png": ROOT / "notebooks" / "images" / "streamed-answer.png"}


def on_files(files: Any, config: Any, **kwargs: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, source in BORROWED.items():
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files
