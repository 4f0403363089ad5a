"""The agent's reading tools: the cells run so far, the variables, one variable.

Cells as `--above` sends them, the notebook's variables in one line each, one variable as
`--var` describes it. Each answer is text; a name or range that finds nothing is one line
saying so."""

from __future__ import annotations

import functools
import inspect
import reprlib
import types
from typing import TYPE_CHECKING, Any

from .attachments import _DOTTED_NAME, AttachmentError, _lookup
from .context import DEFAULT_MAX_CHARS, MAGIC_PREFIX, cell_block, describe_value

if TYPE_CHECKING:
    from .outputs import OutputRecorder
    from .session import KernelSession

MAX_READ_CHARS = 24_000  # one read_cells answer
MAX_VARIABLES = 200
SUMMARY_CHARS = 80
IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython"})


# ------------------------------------------------------------------ read_cells


def read_cells(
    session: KernelSession,
    start: int | None = None,
    end: int | None = None,
    *,
    current: int | None = None,
    max_chars: int | None = None,
) -> str:
    """The recorded cells with execution counts in [start, end] (both optional), oldest
    first, each cut to `max_chars` (ClaudeMagic.context_max_chars); the magic's own commands
    and the cell `current` (the agent cell) left out. Past MAX_READ_CHARS the cells farthest
    from `start` (or, without it, the oldest) are left out, and the answer says how to read them."""
    recorder = session.recorder
    limit = max_chars or session.config().context_max_chars
    return cells_text(recorder, start, end, current=current, max_chars=limit)


def cells_text(
    recorder: OutputRecorder,
    start: int | None,
    end: int | None,
    *,
    current: int | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    budget: int = MAX_READ_CHARS,
) -> str:
    if start is not None and end is not None and start > end:
        return f"start ({start}) is after end ({end}): give start <= end."
    numbers = [
        n
        for n in recorder.cells()
        if n != current
        and (start is None or n >= start)
        and (end is None or n <= end)
        and not (recorder.source(n) or "").lstrip().startswith(MAGIC_PREFIX)
    ]
    if not numbers:
        where = _range(start, end)
        return (
            f"No cells{where} recorded. Only cells run since claude_magic was loaded are kept; "
            "cells with %%claude are not cells of code."
        )
    forward = start is not None
    order = numbers if forward else list(reversed(numbers))
    kept: dict[int, str] = {}
    for n in order:
        block = _with_images(recorder, n, cell_block(recorder, n, max_chars))
        if kept and len(block) > budget:
            break
        budget -= len(block)
        kept[n] = block
    shown = sorted(kept)
    text = "\n".join(kept[n] for n in shown)
    left = [n for n in numbers if n not in kept]
    if left and forward:
        text += f"\n[{len(left)} later cell(s) not shown: read them with start={left[0]}]"
    elif left:
        text = (
            f"[{len(left)} older cell(s) not shown: read them with start and end, "
            f"e.g. start={left[0]}, end={left[-1]}]\n"
        ) + text
    return text


def _range(start: int | None, end: int | None) -> str:
    if start is None and end is None:
        return ""
    if start is None:
        return f" up to [{end}]"
    if end is None:
        return f" from [{start}] on"
    return f" from [{start}] to [{end}]"


def _with_images(recorder: OutputRecorder, n: int, block: str) -> str:
    count = len(recorder.images(n))
    if not count:
        return block
    return (
        block
        + f"(cell [{n}] also showed {count} image{'s' if count != 1 else ''}, not included here)\n"
    )


# ------------------------------------------------------------------ list_variables


def list_variables(shell: Any, *, limit: int = MAX_VARIABLES) -> str:
    """One line per variable of the user's namespace: `name: type — summary`. Names with
    `_`, IPython's own and those hidden from `%who`, modules, classes and functions are
    left out."""
    namespace = getattr(shell, "user_ns", None) or {}
    hidden = getattr(shell, "user_ns_hidden", None) or {}
    missing = object()
    lines = []
    names = [
        name
        for name, value in list(namespace.items())
        if not name.startswith("_")
        and name not in IPYTHON_NAMES
        and hidden.get(name, missing) is not value
        and not _is_code_object(value)
    ]
    for name in names[:limit]:
        value = namespace[name]
        summary = summarize(value)
        lines.append(f"{name}: {type(value).__name__}" + (f" — {summary}" if summary else ""))
    if not lines:
        return "No variables are defined in the notebook yet."
    if len(names) > limit:
        lines.append(f"[... {len(names) - limit} more variables not listed]")
    return "\n".join(lines)


def _is_code_object(value: Any) -> bool:
    """Modules, classes and functions: the notebook's code, not its data."""
    return isinstance(value, (types.ModuleType, type, functools.partial)) or inspect.isroutine(
        value
    )


def summarize(value: Any) -> str:
    """A one-line summary: the shape of DataFrames and arrays, the length of collections,
    a short repr of scalars and everything else."""
    try:
        return _summary(value)
    except Exception as exc:  # noqa: BLE001 - a value that can't describe itself
        return f"(no summary: {type(exc).__name__})"


def _summary(value: Any) -> str:
    module = type(value).__module__.split(".")[0]
    if module == "pandas" and hasattr(value, "shape"):
        if hasattr(value, "columns"):
            columns = ", ".join(str(c) for c in list(value.columns)[:12])
            more = ", …" if len(value.columns) > 12 else ""
            return _cut(f"shape {tuple(value.shape)}, columns: {columns}{more}", SUMMARY_CHARS + 40)
        if hasattr(value, "dtype"):
            return f"length {len(value):,}, dtype {value.dtype}"
        return f"shape {tuple(value.shape)}"
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if isinstance(shape, tuple) and dtype is not None and module != "builtins":
        if shape == ():  # a numpy scalar or a 0-d array
            return _short_repr(value)
        return f"shape {shape}, dtype {dtype}"
    if isinstance(value, (bool, int, float, complex, str, bytes, type(None))):
        return _short_repr(value)
    if hasattr(value, "__len__") and not isinstance(value, (str, bytes)):
        return f"len {len(value):,}: {_short_repr(value)}"
    return _short_repr(value)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict, _REPR.maxset = 2, 6, 6, 4, 6
_REPR.maxstring, _REPR.maxother = 60, 60


def _short_repr(value: Any) -> str:
    return _cut(" ".join(_REPR.repr(value).split()), SUMMARY_CHARS)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------ inspect_variable


def inspect_variable(shell: Any, name: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """What `--var name` sends (shape, dtypes, head and describe() of a DataFrame; shape,
    range and sample of an array; a shortened repr of anything else); a name that finds
    nothing is one line saying so."""
    name = (name or "").strip()
    if not _DOTTED_NAME.match(name):
        return f"{name!r} is not a variable name: give a name, or a dotted attribute path such as model.coef_."
    try:
        found, value = _lookup(shell, name)
    except AttachmentError:
        head, _, rest = name.partition(".")
        return f"{head} has no attribute path {rest!r}."
    if not found:
        return f"No variable named {name.split('.')[0]!r} in the notebook (list_variables shows what there is)."
    return describe_value(name, value, max_chars)
