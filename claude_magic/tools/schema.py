"""Python functions as tools: the tool definition (`name`, `description`, `input_schema`)
from a function's signature, type hints and docstring; the `@tool` marker; and calling a
function with a tool_use input, validated first. The schema and the check are one pydantic
model (`signature.py`, loaded with the first tool).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import ClaudeMagicError

if TYPE_CHECKING:
    from .signature import Signature

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
TOOL_ATTRIBUTE = "__claude_tool__"


class ToolDefinitionError(ClaudeMagicError):
    """A function that cannot become a tool, or a tool name that cannot be found."""


class ToolError(Exception):
    """An expected failure inside a tool: its message goes to the model as is,
    marked as an error, without a traceback."""


def check_tool_name(name: str) -> str:
    """The name itself, if Bedrock accepts it as a tool name; else a clear error."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ToolDefinitionError(
            f"Tool name {name!r} is not allowed: use 1-64 letters, digits, '_' or '-' "
            "(pass name=... to choose another)."
        )
    return name


def signature_of(func: Callable) -> Signature:
    """The function's parameters as a pydantic model (schema and input check)."""
    from .signature import Signature

    try:
        return Signature.of(func)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"Cannot read the signature of {func!r}: {exc}") from None


def tool_schema(
    func: Callable,
    name: str | None = None,
    description: str | None = None,
    signature: Signature | None = None,
) -> dict[str, Any]:
    """The tool definition (`name`, `description`, `input_schema`) for a Python function.

    Types come from the type hints (anything pydantic reads, `Annotated[X, Field(...)]`
    constraints included), descriptions from the docstring (its first paragraph, and
    per-parameter text in Google, NumPy or reST style) or from `Annotated[X, "text"]`.
    `*args` and `**kwargs` are left out; parameters with defaults, or typed `X | None`,
    are not required. The description is left out when there is none.
    """
    options = getattr(func, TOOL_ATTRIBUTE, None) or ToolOptions()
    if name is None:
        name = options.name or getattr(func, "__name__", None) or ""
    check_tool_name(name)
    signature = signature or signature_of(func)
    description = description or options.description or signature.doc.summary
    definition: dict[str, Any] = {"name": name}
    if description:
        definition["description"] = description
    definition["input_schema"] = signature.input_schema()
    return definition


def call_with_input(
    func: Callable,
    tool_input: Mapping[str, Any],
    tool_name: str | None = None,
    signature: Signature | None = None,
) -> Any:
    """Call `func` with a tool's JSON input, validated and coerced first (lax mode).

    Input that does not fit raises ToolError (the function does not run) with one line per
    problem, in pydantic's words, so the model can correct its call.
    """
    from .signature import InvalidToolInput

    signature = signature or signature_of(func)
    try:
        args, kwargs = signature.validate(tool_input)
    except InvalidToolInput as exc:
        name = tool_name or getattr(func, "__name__", "tool")
        raise ToolError(f"Invalid input for {name} (not run):\n" + "\n".join(exc.lines)) from None
    return func(*args, **kwargs)


# --------------------------------------------------------------------------- @tool


@dataclass(frozen=True)
class ToolOptions:
    """What `@tool` records on a function."""

    name: str | None = None
    confirm: bool = False
    description: str | None = None


def tool(
    func: Callable | None = None,
    *,
    name: str | None = None,
    confirm: bool = False,
    description: str | None = None,
) -> Any:
    """Mark a function as a Claude tool (`@tool` or `@tool(confirm=True)`).

    The function is returned unchanged; `confirm=True` makes every call ask the user first.
    """
    if name is not None:
        check_tool_name(name)

    def mark(f: Callable) -> Callable:
        if not callable(f):
            raise ToolDefinitionError(f"@tool needs a function, not {type(f).__name__}.")
        try:
            setattr(f, TOOL_ATTRIBUTE, ToolOptions(name, confirm, description))
        except (AttributeError, TypeError):
            raise ToolDefinitionError(
                f"Cannot mark {f!r} as a tool: wrap it in a def and decorate that."
            ) from None
        return f

    return mark(func) if func is not None else mark


def is_tool(obj: Any) -> bool:
    """Whether `obj` was marked with `@tool`."""
    return callable(obj) and isinstance(getattr(obj, TOOL_ATTRIBUTE, None), ToolOptions)
