"""Which tools the offline responder calls.

`tool_choice` decides first: `none` calls nothing, `tool` calls the named tool. Otherwise
the tools the user's text names (`use get_weather`) are called; failing that, the one tool
the prompt plainly asks for: the one whose name, description and parameters share clearly
more meaningful words with the prompt than any other tool's (a word of the tool's name
counts double). `any` falls back to the first tool; `auto` with an unrelated prompt, or one
that fits two tools equally, calls none and the reply is text.
"""

from __future__ import annotations

import re
from typing import Any

from .words import stems

MAX_PARALLEL_TOOLS = 4
NAME_WEIGHT = 2


def names_tool(text: str, name: str) -> bool:
    """Whether `text` names `name` as a whole word (case-insensitive)."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE) is not None


def _schema_words(schema: Any, depth: int = 0) -> list[str]:
    """Property names, descriptions, titles and string enum members of a JSON schema."""
    if depth > 8:
        return []
    if isinstance(schema, list):
        return [w for item in schema for w in _schema_words(item, depth + 1)]
    if not isinstance(schema, dict):
        return []
    found = [schema[k] for k in ("description", "title") if isinstance(schema.get(k), str)]
    found += [m for m in schema.get("enum") or [] if isinstance(m, str)]
    properties = schema.get("properties")
    if isinstance(properties, dict):
        found += [str(name) for name in properties]
    for key, value in schema.items():
        if key not in ("description", "title", "enum", "const", "default", "examples"):
            found += _schema_words(value, depth + 1)
    return found


def tool_words(tool: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(stems of the tool's name, stems of its description and parameters)."""
    name = stems(str(tool.get("name", "")))
    described = [str(tool.get("description", "")), *_schema_words(tool.get("input_schema"))]
    return name, stems(" ".join(described)) - name


def relevance(tool: dict[str, Any], prompt: set[str]) -> int:
    """How strongly the prompt's word stems point at `tool`."""
    name, described = tool_words(tool)
    return NAME_WEIGHT * len(prompt & name) + len(prompt & described)


def asked_for(tools: list[dict[str, Any]], text: str) -> dict[str, Any] | None:
    """The one tool `text` plainly asks for, or None."""
    prompt = stems(text)
    scores = [relevance(t, prompt) for t in tools]
    best = max(scores, default=0)
    if best == 0 or scores.count(best) > 1:
        return None
    return tools[scores.index(best)]


def choose_tools(body: dict[str, Any], user_text: str) -> list[dict[str, Any]]:
    """The tools the emulator calls for `body`, whose last user turn says `user_text`."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice") or {"type": "auto"}
    kind = choice.get("type", "auto")
    if not tools or kind == "none":
        return []
    if kind == "tool":
        return [t for t in tools if t.get("name") == choice.get("name")][:1]
    chosen = [t for t in tools if names_tool(user_text, str(t.get("name", "")))]
    if not chosen:
        asked = asked_for(tools, user_text)
        chosen = [asked] if asked is not None else []
    if kind == "any" and not chosen:
        chosen = tools[:1]
    if choice.get("disable_parallel_tool_use"):
        chosen = chosen[:1]
    return chosen[:MAX_PARALLEL_TOOLS]
