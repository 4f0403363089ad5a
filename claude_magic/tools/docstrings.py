"""Read Python docstrings: the summary (first paragraph) and per-parameter
descriptions, in Google (`Args:`), NumPy (`Parameters` / `----------`) or reST
(`:param x:`) style. Pure: standard library only.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

_GOOGLE_PARAM_SECTIONS = {
    "args", "arguments", "parameters", "params", "keyword args", "keyword arguments",
    "kwargs", "attributes", "other parameters",
}
_GOOGLE_SECTIONS = _GOOGLE_PARAM_SECTIONS | {
    "returns", "return", "yields", "yield", "raises", "examples", "example", "notes",
    "note", "see also", "warnings", "warning", "todo", "references",
}
_GOOGLE_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*:\s*$")
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:(.*)$")
_NUMPY_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_REST_FIELD = re.compile(
    r"^:(?:param|parameter|arg|argument|key|keyword)\s+(?:[^:]*\s)?\*{0,2}(\w+)\s*:(.*)$"
)


@dataclass(frozen=True)
class Docstring:
    """What a docstring says: a summary (its first paragraph) and parameter descriptions."""

    summary: str
    params: dict[str, str]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_google_header(lines: list[str], i: int, names: set[str]) -> bool:
    match = _GOOGLE_HEADER.match(lines[i])
    return bool(match) and match.group(1).lower() in names


def _is_numpy_header(lines: list[str], i: int) -> bool:
    return (
        bool(lines[i].strip())
        and i + 1 < len(lines)
        and bool(_NUMPY_UNDERLINE.match(lines[i + 1]))
    )


def _section_starts(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    return (
        line.startswith((":", ">>>"))
        or _is_google_header(lines, i, _GOOGLE_SECTIONS)
        or _is_numpy_header(lines, i)
    )


def _join(parts: list[str]) -> str:
    return " ".join(p.strip() for p in parts if p.strip())


def _google_params(lines: list[str]) -> dict[str, str]:
    params: dict[str, list[str]] = {}
    i = 0
    while i < len(lines):
        if not _is_google_header(lines, i, _GOOGLE_PARAM_SECTIONS):
            i += 1
            continue
        header_indent = _indent(lines[i])
        entry_indent: int | None = None
        current: list[str] | None = None
        i += 1
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.strip():
                continue
            indent = _indent(line)
            if indent <= header_indent:
                i -= 1
                break
            entry_indent = indent if entry_indent is None else entry_indent
            match = _GOOGLE_ENTRY.match(line.strip()) if indent <= entry_indent else None
            if match:
                current = params.setdefault(match.group(1), [])
                current.append(match.group(2))
            elif current is not None:
                current.append(line)
    return {name: _join(parts) for name, parts in params.items()}


def _numpy_params(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    i = 0
    while i < len(lines):
        title = lines[i].strip().lower()
        if not (_is_numpy_header(lines, i) and title in ("parameters", "other parameters")):
            i += 1
            continue
        base = _indent(lines[i])
        names: list[str] = []
        i += 2
        while i < len(lines) and not _is_numpy_header(lines, i):
            line = lines[i]
            if line.strip() and _indent(line) <= base:
                names = [n.strip().lstrip("*") for n in line.split(":")[0].split(",")]
                for name in names:
                    params.setdefault(name, "")
            elif line.strip() and names:
                for name in names:
                    params[name] = _join([params[name], line])
            i += 1
    return params


def _rest_params(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    current: str | None = None
    for line in lines:
        match = _REST_FIELD.match(line.strip())
        if match:
            current = match.group(1)
            params[current] = match.group(2).strip()
        elif line.strip().startswith(":") or not line.strip():
            current = None
        elif current is not None and _indent(line) > 0:
            params[current] = _join([params[current], line])
    return params


def parse_docstring(doc: str | None) -> Docstring:
    """The summary and per-parameter descriptions of a Google, NumPy or reST docstring."""
    if not doc or not doc.strip():
        return Docstring("", {})
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    for i, line in enumerate(lines):
        if not line.strip() or _section_starts(lines, i):
            break
        summary.append(line)
    params: dict[str, str] = {}
    for parser in (_rest_params, _numpy_params, _google_params):
        for name, text in parser(lines).items():
            if text and not params.get(name):
                params[name] = text
    return Docstring(_join(summary), params)


def own_doc(cls: type) -> str | None:
    """A class's docstring if its author wrote one (not dataclass's generated signature)."""
    doc = cls.__dict__.get("__doc__")
    if not doc or doc == "An enumeration." or doc.startswith(f"{cls.__name__}("):
        return None
    return doc
