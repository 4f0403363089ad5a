"""Tool sets: the functions a conversation may call, by name, with their request definitions."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .schema import (
    TOOL_ATTRIBUTE,
    ToolDefinitionError,
    ToolOptions,
    call_with_input,
    is_tool,
    signature_of,
    tool_schema,
)


@dataclass
class Tool:
    """One tool the model may call: its definition for the request and how to run it."""

    name: str
    definition: dict[str, Any]  # what goes in the request body's `tools` list
    handler: Callable[[dict[str, Any]], Any]  # takes the tool_use input
    confirm: bool = False  # ask the user before every call
    beta: str | None = None  # the anthropic_beta flag the definition needs
    func: Callable | None = None
    thread_safe: bool = False  # may run on a background answer's thread (touches no kernel state)

    @classmethod
    def from_function(
        cls,
        func: Callable,
        *,
        name: str | None = None,
        description: str | None = None,
        confirm: bool | None = None,
    ) -> Tool:
        options = getattr(func, TOOL_ATTRIBUTE, None) or ToolOptions()
        signature = signature_of(func)
        definition = tool_schema(func, name=name, description=description, signature=signature)
        tool_name = definition["name"]
        return cls(
            name=tool_name,
            definition=definition,
            handler=lambda tool_input: call_with_input(func, tool_input, tool_name, signature),
            confirm=options.confirm if confirm is None else confirm,
            func=func,
        )


def _lookup(name: str, namespace: Mapping[str, Any]) -> Any:
    head, *rest = name.split(".")
    if head not in namespace:
        raise ToolDefinitionError(f"No function named {name!r} in the notebook: define it first.")
    obj = namespace[head]
    for attr in rest:
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise ToolDefinitionError(f"No function named {name!r} in the notebook.") from None
    if not callable(obj):
        raise ToolDefinitionError(f"{name!r} is a {type(obj).__name__}, not a function.")
    return obj


class ToolSet:
    """The tools offered in one request, by name."""

    def __init__(self, tools: Iterable[Tool | Callable] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    @classmethod
    def resolve(
        cls, spec: str | Iterable[str | Callable] | None, namespace: Mapping[str, Any]
    ) -> ToolSet:
        """Tools from `--tools f,g` or `ClaudeMagic.tools`: names looked up in `namespace`
        (dotted names allowed), or callables."""
        if spec is None:
            return cls()
        items = [s for s in re.split(r"[,\s]+", spec) if s] if isinstance(spec, str) else list(spec)
        return cls(_lookup(i, namespace) if isinstance(i, str) else i for i in items)

    @classmethod
    def decorated_in(cls, namespace: Mapping[str, Any]) -> ToolSet:
        """Every `@tool`-marked function in `namespace` (e.g. the notebook's globals)."""
        return cls(v for k, v in namespace.items() if not k.startswith("_") and is_tool(v))

    def add(self, item: Tool | Callable) -> Tool:
        """Add a Tool or a function; the same function twice is kept once."""
        new = item if isinstance(item, Tool) else Tool.from_function(item)
        old = self._tools.get(new.name)
        if old is not None:
            if old.func is not None and old.func is new.func:
                return old
            raise ToolDefinitionError(
                f"Two tools are named {new.name!r}: rename one with @tool(name=...)."
            )
        self._tools[new.name] = new
        return new

    def __or__(self, other: ToolSet) -> ToolSet:
        merged = ToolSet(self)
        for item in other:
            merged.add(item)
        return merged

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self):
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def definitions(self) -> list[dict[str, Any]]:
        """The request body's `tools` list."""
        return [t.definition for t in self]

    def betas(self) -> list[str]:
        """The `anthropic_beta` flags the tools need (computer use)."""
        return sorted({t.beta for t in self if t.beta})

    def render_text(self) -> str:
        """Plain text for `%claude tools`: each tool, its description and parameters."""
        if not self._tools:
            return (
                "No tools. Pass --tools f,g, mark functions with @tool, or set ClaudeMagic.tools."
            )
        return "\n\n".join(_tool_text(t) for t in self)

    def render_table(self) -> str:
        """An HTML table (everything escaped) for `%claude tools` in a notebook."""
        rows = []
        for t in self:
            body = {k: v for k, v in t.definition.items() if k not in ("name", "description")}
            rows.append(
                "<tr><td><code>{}</code>{}</td><td>{}</td><td><pre>{}</pre></td></tr>".format(
                    html.escape(t.name),
                    "<br><small>asks before running</small>" if t.confirm else "",
                    html.escape(t.definition.get("description", "")),
                    html.escape(json.dumps(body, indent=2)),
                )
            )
        if not rows:
            return f"<p>{html.escape(self.render_text())}</p>"
        head = "<tr><th>tool</th><th>description</th><th>schema</th></tr>"
        return f"<table>{head}{''.join(rows)}</table>"

    def _repr_html_(self) -> str:
        return self.render_table()

    def __repr__(self) -> str:
        return f"ToolSet({', '.join(self._tools)})"


def _type_label(schema: dict[str, Any]) -> str:
    """A short human label for a property schema: "integer", "array of string" ..."""
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_type_label(s) for s in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"array of {_type_label(schema['items'])}"
    if kind == "object" and isinstance(schema.get("properties"), dict):
        return "object {" + ", ".join(schema["properties"]) + "}"
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or "any"


def _tool_text(t: Tool) -> str:
    lines = [t.name + ("  (asks before running)" if t.confirm else "")]
    if t.definition.get("description"):
        lines.append(f"    {t.definition['description']}")
    schema = t.definition.get("input_schema")
    if schema is None:  # a built-in tool type (computer use)
        extra = {k: v for k, v in t.definition.items() if k not in ("name", "description")}
        lines.append(f"    {json.dumps(extra)}")
        return "\n".join(lines)
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        notes = [_type_label(prop)]
        if name in required:
            notes.append("required")
        if "default" in prop:
            notes.append(f"default {json.dumps(prop['default'])}")
        text = f"    {name}: {', '.join(notes)}"
        if prop.get("description"):
            text += f" — {prop['description']}"
        lines.append(text)
    return "\n".join(lines)


def tool_choice_for(option: str | None, toolset: ToolSet) -> dict[str, Any] | None:
    """The request's tool_choice for `--tool-choice auto|any|none|NAME` (None: not given)."""
    if option is None or not option.strip():
        return None
    value = option.strip()
    if value in ("auto", "any", "none"):
        return {"type": value}
    if value not in toolset:
        available = ", ".join(toolset.names) or "none (pass --tools)"
        raise ToolDefinitionError(
            f"--tool-choice {value}: no tool of that name; tools: {available}."
        )
    return {"type": "tool", "name": value}
