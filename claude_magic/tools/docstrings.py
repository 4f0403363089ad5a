"""Read Python docstrings with `docstring-parser`: the summary (first paragraph),
per-parameter descriptions and the return description, in Google, NumPy or reST style.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Docstring:
    """What a docstring says: a summary (its first paragraph), parameter descriptions
    and what it returns."""

    summary: str
    params: dict[str, str] = field(default_factory=dict)
    returns: str = ""


def _one_line(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def parse_docstring(doc: str | None) -> Docstring:
    """The summary, per-parameter descriptions and return description of a docstring."""
    if not doc or not doc.strip():
        return Docstring("")
    import docstring_parser

    # The leading newline lets a docstring open with a section ("Args:") in Google style.
    parsed = docstring_parser.parse("\n" + inspect.cleandoc(doc))
    summary = parsed.short_description or ""
    if summary and parsed.long_description and not parsed.blank_after_short_description:
        summary += " " + parsed.long_description.split("\n\n")[0]
    params: dict[str, str] = {}
    for param in parsed.params:
        text = _one_line(param.description)
        if text and not params.get(param.arg_name.lstrip("*")):
            params[param.arg_name.lstrip("*")] = text
    returns = _one_line(parsed.returns.description) if parsed.returns else ""
    return Docstring(_one_line(summary), params, returns)


def own_doc(cls: type) -> str | None:
    """A class's docstring if its author wrote one (not dataclass's generated signature)."""
    doc = cls.__dict__.get("__doc__")
    if not doc or doc == "An enumeration." or doc.startswith(f"{cls.__name__}("):
        return None
    return doc
