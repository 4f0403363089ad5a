"""The rows of a `map`: a list, a pandas Series or a DataFrame as (label, value) pairs,
one prompt per row from a `{name}` template or a function, and the replies put back
in the input's shape (a list, or a Series with the input's index).

Pure: pandas objects are recognised by duck typing and never imported here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ClaudeMagicError
from .reply import Replies, Reply, reply_series

_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Rows:
    """What a `map` was given, ready to be prompted row by row."""

    values: list[Any]  # the items (a DataFrame's rows as Series)
    kind: str  # "list" | "series" | "frame"
    index: Any = None  # the pandas index, for Series and DataFrame
    name: Any = None  # the Series' name
    columns: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.values)

    def labels(self) -> list[Any]:
        return list(self.index) if self.index is not None else list(range(len(self.values)))


def rows_of(items: Any) -> Rows:
    """A list (or any iterable), a pandas Series or a DataFrame as Rows."""
    if _is_frame(items):
        values = [row for _, row in items.iterrows()]
        return Rows(values, "frame", items.index, columns=tuple(str(c) for c in items.columns))
    if _is_series(items):
        return Rows(list(items.to_list()), "series", items.index, items.name)
    if isinstance(items, (str, bytes)) or isinstance(items, Mapping):
        raise ClaudeMagicError(
            "map takes a list, a pandas Series or a DataFrame of rows, "
            "not a single string or dict: wrap it in a list."
        )
    if not isinstance(items, Iterable):
        raise ClaudeMagicError(
            f"map takes a list, a pandas Series or a DataFrame, not {type(items).__name__}."
        )
    return Rows(list(items), "list")


def _is_frame(obj: Any) -> bool:
    return hasattr(obj, "iterrows") and hasattr(obj, "columns") and hasattr(obj, "index")


def _is_series(obj: Any) -> bool:
    return hasattr(obj, "to_list") and hasattr(obj, "index") and hasattr(obj, "dtype")


def template_fields(template: str) -> list[str]:
    """The `{name}` fields of a template, in order, once each."""
    return list(dict.fromkeys(m.group(1) for m in _FIELD.finditer(template) if m.group(1)))


def fields_of(value: Any, label: Any, rows: Rows) -> dict[str, Any]:
    """What a template may name for one row: a DataFrame's columns or a dict's keys,
    `item` (the value itself) and `index` (its label)."""
    fields: dict[str, Any] = {"index": label, "item": value}
    if rows.kind == "frame":
        fields.update({str(k): v for k, v in value.items()})
    elif isinstance(value, Mapping):
        fields.update({str(k): v for k, v in value.items()})
    return fields


def fill(template: str, fields: Mapping[str, Any]) -> str:
    """`{name}` replaced by `str(fields[name])`; `{{`/`}}` are literal braces."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return str(fields[match.group(1)])

    return _FIELD.sub(replace, template)


def prompts_for(rows: Rows, prompt: str | Callable[[Any], Any] | None) -> list[Any]:
    """One prompt per row (text, or content blocks a function returned). A template
    naming a field a row lacks is refused before anything is sent."""
    labels = rows.labels()
    if callable(prompt):
        return [prompt(value) for value in rows.values]
    if prompt is None:
        if rows.kind == "frame":
            raise ClaudeMagicError(
                "Give a prompt template for a DataFrame, e.g. "
                'prompt="Summarise: {' + (rows.columns[0] if rows.columns else "column") + '}".'
            )
        return [value if isinstance(value, (str, list)) else str(value) for value in rows.values]
    if not isinstance(prompt, str):
        raise ClaudeMagicError(
            f"prompt must be a template string or a function of the row, "
            f"not {type(prompt).__name__}."
        )
    names = template_fields(prompt)
    out = []
    for value, label in zip(rows.values, labels, strict=True):
        fields = fields_of(value, label, rows)
        missing = [n for n in names if n not in fields]
        if missing:
            known = ", ".join(f"{{{k}}}" for k in fields)
            raise ClaudeMagicError(
                f"The prompt names {{{missing[0]}}}, which row {label!r} doesn't have: "
                f"use one of {known}."
            )
        out.append(fill(prompt, fields))
    return out


def aligned(rows: Rows, replies: Sequence[Reply | None]) -> Any:
    """Replies in the input's shape: a `Replies` list, or a Series with the input's index."""
    if rows.kind == "list":
        return Replies(replies)
    return reply_series(replies, rows.index, rows.name)
