"""Prompt text helpers: `{name}` substitution in a cell body, and code blocks in a reply.

Pure: no IPython imports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)$")
MAX_VALUE_CHARS = 100_000


def substitute_names(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace `{name}` by `str(namespace[name])`.

    Only plain identifiers are substituted, nothing is evaluated; `{{` and `}}`
    give literal braces; unknown names and anything else in braces stay as they are,
    so code with braces (dicts, f-strings, JSON) is safe.
    """

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name not in namespace:
            return token
        value = str(namespace[name])
        if len(value) > MAX_VALUE_CHARS:
            value = value[:MAX_VALUE_CHARS] + f"\n… [{name} truncated at {MAX_VALUE_CHARS} characters]"
        return value

    return _PLACEHOLDER.sub(replace, text)


def code_blocks(markdown: str, languages: tuple[str, ...] = ("", "python", "py", "python3", "ipython")) -> list[str]:
    """The fenced code blocks of a Markdown text whose language is Python (or unnamed)."""
    blocks: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence = opening.group("fence")
        language = opening.group("info").strip().split(" ")[0].lower()
        body: list[str] = []
        i += 1
        while i < len(lines):
            closing = lines[i].strip()
            if closing.startswith(fence[0] * len(fence)) and set(closing) <= {fence[0]}:
                break
            body.append(lines[i])
            i += 1
        i += 1
        if language in languages:
            blocks.append("\n".join(body))
    return blocks
