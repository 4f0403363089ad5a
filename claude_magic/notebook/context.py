"""Notebook context on request: the cells above (`--above`), a compact description of
variables (`--var`), and a failed cell with its error (`%claude fix`).

Each is one fenced text block placed before the prompt. Nothing large goes in whole:
every cell and every variable is cut to `max_chars`, DataFrames and arrays are
described (shape, dtypes, a head, a sample), never dumped. pandas and numpy are
never imported here: values are recognised by their type's module.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.messages import estimate_text_tokens
from .attachments import AttachmentError, _clip, _fenced, _lookup

if TYPE_CHECKING:
    from ..core.conversation import Conversation
    from .options import CellOptions
    from .outputs import OutputRecorder
    from .session import KernelSession

DEFAULT_MAX_CHARS = 4000  # per cell, per variable
HEAD_ROWS = 5
MAX_COLUMNS = 30  # columns shown in head() and describe()
MAGIC_PREFIX = "%claude"
MAX_ABOVE_CELLS = 25  # --above sends at most this many cells' worth of characters


@dataclass
class Context:
    """The context blocks for one turn and what they hold, for the header's notice."""

    blocks: list[str] = field(default_factory=list)
    cells: list[int] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)
    left_out: int = 0  # older cells that did not fit

    @property
    def tokens(self) -> int:
        return sum(estimate_text_tokens(block) for block in self.blocks)

    def notice(self) -> str:
        """ "Context: cells [3], [4]; variables df (~812 tokens).", or "" when empty."""
        parts = []
        if self.cells:
            parts.append(
                ("cell " if len(self.cells) == 1 else "cells ")
                + ", ".join(f"[{n}]" for n in self.cells)
            )
        if self.variables:
            parts.append(
                ("variable " if len(self.variables) == 1 else "variables ")
                + ", ".join(self.variables)
            )
        if not parts:
            return ""
        older = f"; {self.left_out} older cell(s) left out" if self.left_out else ""
        return f"Context: {'; '.join(parts)} (~{self.tokens:,} tokens{older})."


def turn_context(
    session: KernelSession, options: CellOptions, conversation: Conversation, max_chars: int
) -> Context:
    """The context a `%%claude` cell asked for: `--above`, `--var`, or what `%claude fix`
    prepared (`options.context`). Raises AttachmentError with a one-line message."""
    prepared = options.context
    above, names = options.above, list(options.var)
    context = (
        Context(
            list(prepared.blocks), list(prepared.cells), list(prepared.variables), prepared.left_out
        )
        if isinstance(prepared, Context)
        else Context()
    )
    if above is None and not names:
        return context
    if above is not None:
        if above < -1 or above == 0:
            raise AttachmentError(
                "--above takes a number of cells, 1 or more (or none: the cells "
                "since this chat's last question)"
            )
        since = _last_question(conversation, session.cell.cell_id)
        numbers = cells_above(
            session.recorder, session.cell.execution_count, None if above == -1 else above, since
        )
        if not numbers:
            raise AttachmentError(
                "--above: no earlier cell recorded since %load_ext claude_magic "
                "(or since this chat's last question); run some cells first"
            )
        found = above_context(session.recorder, numbers, max_chars)
        context.blocks += found.blocks
        context.cells += found.cells
        context.left_out += found.left_out
    if names:
        found = variables_context(session.shell, names, max_chars)
        context.blocks += found.blocks
        context.variables += found.variables
    return context


def _last_question(conversation: Conversation, cell_id: str | None) -> int | None:
    """The execution count of the chat's last turn, not counting this cell's own earlier
    turn and those after it (a re-run replaces them)."""
    turns = list(conversation.turns)
    if cell_id:
        first = next((i for i, turn in enumerate(turns) if turn.cell_id == cell_id), None)
        turns = turns[:first] if first is not None else turns
    return turns[-1].execution_count if turns else None


# ------------------------------------------------------------------ --above


def cells_above(
    recorder: OutputRecorder, current: int | None, count: int | None, since: int | None
) -> list[int]:
    """The cells to send for `--above`: the `count` recorded cells executed before
    `current`, or (count None) those executed after cell `since`, oldest first. The
    magic's own line commands are left out."""
    numbers = [
        n
        for n in recorder.cells()
        if (current is None or n < current)
        and not (recorder.source(n) or "").lstrip().startswith(MAGIC_PREFIX)
    ]
    if count is not None:
        return numbers[-count:] if count > 0 else []
    return [n for n in numbers if since is None or n > since]


def cell_block(recorder: OutputRecorder, n: int, max_chars: int) -> str:
    """Cell [n]'s source and text output (its error included), cut to about `max_chars`."""
    source = _clip((recorder.source(n) or "").rstrip(), max_chars)
    output = recorder.text(n).rstrip()
    parts = [f"Cell [{n}]:\n{_fenced(source, 'python')}"]
    if output:
        room = max(max_chars - len(source), max_chars // 4)
        parts.append(f"Output of cell [{n}]:\n{_fenced(_clip(output, room))}")
    return "\n".join(parts)


def above_context(recorder: OutputRecorder, numbers: list[int], max_chars: int) -> Context:
    """The cells as one block, oldest first; past `MAX_ABOVE_CELLS` cells' worth of
    characters the oldest are left out (and the notice says how many)."""
    kept: list[tuple[int, str]] = []
    budget = MAX_ABOVE_CELLS * max_chars
    for n in reversed(numbers):
        block = cell_block(recorder, n, max_chars)
        if kept and len(block) > budget:
            break
        budget -= len(block)
        kept.insert(0, (n, block))
    if not kept:
        return Context()
    intro = "The notebook cells run before this question, oldest first:\n\n"
    return Context(
        blocks=[intro + "\n".join(block for _, block in kept)],
        cells=[n for n, _ in kept],
        left_out=len(numbers) - len(kept),
    )


# ------------------------------------------------------------------ --var


def variables_context(shell: Any, names: list[str], max_chars: int) -> Context:
    """One block describing each named variable (dotted attribute paths work too)."""
    blocks = []
    for name in names:
        try:
            found, value = _lookup(shell, name)
        except AttachmentError:
            found = False
        if not found:
            raise AttachmentError(f"--var {name}: no such variable in the notebook's namespace")
        blocks.append(describe_value(name, value, max_chars))
    return Context(blocks=blocks, variables=list(names)) if blocks else Context()


def describe_value(name: str, value: Any, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """A compact, honest description of `value`: what it is, never all of it."""
    module = type(value).__module__.split(".")[0]
    try:
        if module == "pandas" and hasattr(value, "dtypes") and hasattr(value, "head"):
            body = _describe_pandas(value, max_chars)
        elif module == "numpy" and hasattr(value, "shape") and hasattr(value, "dtype"):
            body = _describe_array(value)
        else:
            body = _describe_other(value, max_chars)
    except Exception as exc:  # noqa: BLE001 - a value that can't describe itself
        body = f"(could not describe it: {type(exc).__name__}: {exc})\n{_describe_other(value, max_chars)}"
    title = f"Variable `{name}` ({_type_name(value)}):\n"
    return title + _clip(body.rstrip(), max_chars) + "\n"


def _type_name(value: Any) -> str:
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _describe_pandas(value: Any, max_chars: int) -> str:
    is_frame = hasattr(value, "columns")
    lines = [f"shape: {tuple(value.shape)}"]
    if is_frame:
        columns = list(value.columns)
        shown = value.iloc[:, :MAX_COLUMNS] if len(columns) > MAX_COLUMNS else value
        more = (
            f" (first {MAX_COLUMNS} of {len(columns)} columns shown)"
            if len(columns) > MAX_COLUMNS
            else ""
        )
        dtypes = "\n".join(
            f"  {col}: {dtype}" for col, dtype in list(value.dtypes.items())[:MAX_COLUMNS]
        )
        lines.append(f"dtypes{more}:\n{dtypes}")
    else:
        shown = value
        lines.append(f"name: {value.name!r}, dtype: {value.dtype}")
    head = shown.head(HEAD_ROWS)
    lines.append(f"head({HEAD_ROWS}):\n{_markdown(head)}")
    if len(value):
        lines.append(f"describe():\n{_markdown(shown.describe())}")
    return "\n\n".join(lines)


def _markdown(frame: Any) -> str:
    """A DataFrame or Series as a Markdown table (pandas' own, via tabulate), cells cut short."""
    frame = frame.to_frame() if not hasattr(frame, "columns") else frame
    cells = getattr(frame, "map", None) or frame.applymap  # DataFrame.map: pandas >= 2.1
    clean = cells(lambda v: v if isinstance(v, (int, float)) else _cut(str(v), 60))
    return clean.to_markdown()


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_array(value: Any) -> str:
    import numpy as np

    lines = [f"shape: {tuple(value.shape)}, dtype: {value.dtype}, {value.size:,} elements"]
    if (
        value.size
        and np.issubdtype(value.dtype, np.number)
        and not np.issubdtype(value.dtype, np.complexfloating)
    ):
        with np.errstate(all="ignore"):
            lines.append(
                f"min {np.nanmin(value)!s}, max {np.nanmax(value)!s}, mean {np.nanmean(value)!s}"
            )
    sample = np.array2string(value, threshold=40, edgeitems=3, max_line_width=100)
    lines.append(f"sample (numpy's summary):\n{sample}")
    return "\n".join(lines)


def _describe_other(value: Any, max_chars: int) -> str:
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxtuple, short.maxdict, short.maxset = 3, 20, 20, 20, 20
    short.maxstring = short.maxother = max(40, max_chars)
    size = (
        f"len {len(value):,}\n" if hasattr(value, "__len__") and not isinstance(value, str) else ""
    )
    try:
        return size + short.repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__
        return f"{size}(repr failed: {type(exc).__name__})"


# ------------------------------------------------------------------ %claude fix

FIX_PROMPT = (
    "Cell [{n}] failed with the error above. Explain in a sentence or two what went wrong, "
    "then give the corrected cell as one complete Python code block."
)


def fix_context(recorder: OutputRecorder, n: int, max_chars: int) -> Context:
    """Cell [n]'s source and its error (the user's own traceback frames)."""
    source = _clip((recorder.source(n) or "").rstrip(), max_chars)
    report = (recorder.error_report(n) or "").rstrip()
    block = (
        f"Cell [{n}]:\n{_fenced(source, 'python')}\nIt raised:\n{_fenced(_clip(report, max_chars))}"
    )
    return Context(blocks=[block], cells=[n])
