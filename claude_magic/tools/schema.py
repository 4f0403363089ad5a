"""Python functions as tool definitions: the JSON input schema from a function's
signature, type hints and docstring; the `@tool` marker; and calling a function with
a tool_use input (light coercion back to dataclasses, enums, tuples ...).

Pure: standard library only (pydantic models are used only when pydantic is loaded).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ClaudeMagicError
from .docstrings import own_doc, parse_docstring

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
TOOL_ATTRIBUTE = "__claude_tool__"


class ToolDefinitionError(ClaudeMagicError):
    """A function that cannot become a tool, or a tool name that cannot be found."""


class ToolError(Exception):
    """An expected failure inside a tool: its message goes to the model as is,
    marked as an error, without a traceback."""


_NONE_TYPES = (type(None), None)
_ARRAY_ORIGINS = {list, set, frozenset}
_SEQUENCE_ABCS = {"Sequence", "MutableSequence", "Iterable", "Collection", "Set", "MutableSet",
                  "Iterator"}
_MAPPING_ABCS = {"Mapping", "MutableMapping"}


def _is_union(origin: Any) -> bool:
    return origin is typing.Union or origin is types.UnionType


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _is_namedtuple(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


def _pydantic_model(tp: Any) -> bool:
    pydantic = sys.modules.get("pydantic")
    base = getattr(pydantic, "BaseModel", None)
    return base is not None and isinstance(tp, type) and issubclass(tp, base)


def _json_type_of(values: Iterable[Any]) -> str | None:
    kinds = {type(v) for v in values}
    for py, js in ((str, "string"), (bool, "boolean"), (int, "integer"), (float, "number")):
        if kinds == {py}:
            return js
    return None


def _has_own_description(tp: Any) -> bool:
    """Whether `Annotated[...]` metadata describes this hint (that wins over the docstring)."""
    if typing.get_origin(tp) is not typing.Annotated:
        return False
    return "description" in _annotated_extras(typing.get_args(tp)[1:])


def _annotated_extras(metadata: Iterable[Any]) -> dict[str, Any]:
    """Schema keywords from `Annotated[X, ...]`: a str is a description, a dict is merged,
    a pydantic `Field(description=...)` gives its description."""
    extra: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, str):
            extra["description"] = item
        elif isinstance(item, Mapping):
            extra.update(item)
        elif isinstance(getattr(item, "description", None), str):
            extra["description"] = item.description
    return extra


@dataclass
class _Context:
    """Shared state while building one input schema: definitions and the class stack."""

    defs: dict[str, Any] = field(default_factory=dict)
    stack: list[type] = field(default_factory=list)
    recursive: set[type] = field(default_factory=set)


def _type_hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        raw = getattr(obj, "__annotations__", {}) or {}
        return {k: (v if not isinstance(v, str) else Any) for k, v in raw.items()}


def _class_schema(cls: type, ctx: _Context) -> dict[str, Any]:
    if cls in ctx.stack:
        ctx.recursive.add(cls)
        return {"$ref": f"#/$defs/{cls.__name__}"}
    ctx.stack.append(cls)
    try:
        hints = _type_hints(cls)
        doc = parse_docstring(own_doc(cls))
        if dataclasses.is_dataclass(cls):
            fields = [f for f in dataclasses.fields(cls) if f.init]
            names = [f.name for f in fields]
            required = [
                f.name for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            ]
            defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
        elif _is_namedtuple(cls):
            names = list(cls._fields)
            defaults = dict(cls._field_defaults)
            required = [n for n in names if n not in defaults]
        else:  # TypedDict
            names = list(hints)
            required = [n for n in names if n in cls.__required_keys__]
            defaults = {}
        properties = {}
        for name in names:
            prop = _schema_for(hints.get(name, Any), ctx)
            if doc.params.get(name) and not _has_own_description(hints.get(name)):
                prop["description"] = doc.params[name]
            _add_default(prop, defaults.get(name, inspect.Parameter.empty))
            properties[name] = prop
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        if doc.summary:
            schema["description"] = doc.summary
    finally:
        ctx.stack.pop()
    if cls in ctx.recursive:
        ctx.defs[cls.__name__] = schema
        return {"$ref": f"#/$defs/{cls.__name__}"}
    return schema


def _pydantic_schema(cls: type, ctx: _Context) -> dict[str, Any]:
    schema = cls.model_json_schema(ref_template="#/$defs/{model}")
    ctx.defs.update(schema.pop("$defs", {}))
    return schema


def _enum_schema(cls: type[enum.Enum]) -> dict[str, Any]:
    values = [m.value for m in cls]
    schema: dict[str, Any] = {"enum": values}
    kind = _json_type_of(values)
    if kind:
        schema = {"type": kind, **schema}
    doc = own_doc(cls)
    if doc:
        schema["description"] = parse_docstring(doc).summary
    return schema


_SCALARS: dict[Any, dict[str, Any]] = {
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bytes: {"type": "string"},
    list: {"type": "array"},
    tuple: {"type": "array"},
    set: {"type": "array", "uniqueItems": True},
    frozenset: {"type": "array", "uniqueItems": True},
    dict: {"type": "object"},
}


def _special_scalar(tp: Any) -> dict[str, Any] | None:
    """datetime, date, time, Path, UUID and Decimal, known without importing them."""
    name = f"{getattr(tp, '__module__', '')}.{getattr(tp, '__qualname__', '')}"
    formats = {
        "datetime.datetime": {"type": "string", "format": "date-time"},
        "datetime.date": {"type": "string", "format": "date"},
        "datetime.time": {"type": "string", "format": "time"},
        "uuid.UUID": {"type": "string", "format": "uuid"},
        "decimal.Decimal": {"type": "number"},
    }
    if name in formats:
        return dict(formats[name])
    if isinstance(tp, type) and tp.__module__ == "pathlib":
        return {"type": "string"}
    return None


def _schema_for(tp: Any, ctx: _Context) -> dict[str, Any]:
    """The JSON schema for a type hint (no constraint, `{}`, for what it cannot express)."""
    if tp is Any or tp is inspect.Parameter.empty or tp is object or isinstance(tp, (str, typing.ForwardRef)):
        return {}
    if tp in _NONE_TYPES:
        return {"type": "null"}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is None and getattr(tp, "__module__", "") == "collections.abc":
        origin = tp  # a bare Sequence, Mapping ...
    if origin is typing.Annotated:
        return {**_schema_for(args[0], ctx), **_annotated_extras(args[1:])}
    if origin is typing.Literal:
        values = [a.value if isinstance(a, enum.Enum) else a for a in args]
        kind = _json_type_of(values)
        return {"type": kind, "enum": values} if kind else {"enum": values}
    if _is_union(origin):
        options = [_schema_for(a, ctx) for a in args]
        return options[0] if len(options) == 1 else {"anyOf": options}
    if origin is tuple:
        if not args or args == ((),):
            return {"type": "array"} if not args else {"type": "array", "maxItems": 0}
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _schema_for(args[0], ctx)}
        items = [_schema_for(a, ctx) for a in args]
        return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
    origin_name = getattr(origin, "__name__", "")
    if origin in _ARRAY_ORIGINS or origin_name in _SEQUENCE_ABCS:
        schema: dict[str, Any] = {"type": "array"}
        if args and args[0] is not Any:
            schema["items"] = _schema_for(args[0], ctx)
        if origin in (set, frozenset) or origin_name in ("Set", "MutableSet"):
            schema["uniqueItems"] = True
        return schema
    if origin is dict or origin_name in _MAPPING_ABCS:
        schema = {"type": "object"}
        if len(args) == 2 and args[1] is not Any:
            schema["additionalProperties"] = _schema_for(args[1], ctx)
        return schema
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    special = _special_scalar(tp)
    if special is not None:
        return special
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_schema(tp)
    if _pydantic_model(tp):
        return _pydantic_schema(tp, ctx)
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or _is_typeddict(tp) or _is_namedtuple(tp)):
        return _class_schema(tp, ctx)
    return {}


def _json_value(value: Any) -> Any:
    """A default value as JSON, or `inspect.Parameter.empty` if it has none."""
    if isinstance(value, enum.Enum):
        value = value.value
    elif isinstance(value, (tuple, set, frozenset)):
        value = list(value)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return inspect.Parameter.empty
    return value


def _add_default(schema: dict[str, Any], default: Any) -> None:
    """Report a default value (None, meaning "absent", is left out)."""
    if default is inspect.Parameter.empty or default is None or isinstance(default, dataclasses.Field):
        return
    value = _json_value(default)
    if value is not inspect.Parameter.empty:
        schema["default"] = value


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    """`X | None` → (X, True); anything else → (tp, False). Keeps `Annotated` wrappers."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        inner, optional = _strip_optional(args[0])
        return (typing.Annotated[(inner, *args[1:])], optional) if optional else (tp, False)
    if _is_union(origin) and any(a in _NONE_TYPES for a in args):
        rest = tuple(a for a in args if a not in _NONE_TYPES)
        if not rest:
            return tp, False
        return (rest[0] if len(rest) == 1 else typing.Union[rest]), True  # noqa: UP007
    return tp, False


def check_tool_name(name: str) -> str:
    """The name itself, if Bedrock accepts it as a tool name; else a clear error."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ToolDefinitionError(
            f"Tool name {name!r} is not allowed: use 1-64 letters, digits, '_' or '-' "
            "(pass name=... to choose another)."
        )
    return name


@dataclass(frozen=True)
class _Param:
    name: str
    hint: Any  # the type hint with a top-level Optional removed
    kind: inspect._ParameterKind
    default: Any  # inspect.Parameter.empty when there is none
    required: bool
    optional: bool  # `X | None` without a default: omitted means None


def _params(func: Callable) -> tuple[list[_Param], bool]:
    """The parameters a tool exposes, and whether the function takes **kwargs."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"Cannot read the signature of {func!r}: {exc}") from None
    hints = _type_hints(func)
    params, var_keyword = [], False
    for p in signature.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_keyword = True
            continue
        if p.kind is p.VAR_POSITIONAL:
            continue
        hint = hints.get(p.name, inspect.Parameter.empty)
        stripped, optional = _strip_optional(hint)
        if optional and p.default is not p.empty and p.default is not None:
            stripped = hint  # None is a meaningful value distinct from the default
        params.append(_Param(p.name, stripped, p.kind, p.default,
                             p.default is p.empty and not optional, optional and p.default is p.empty))
    return params, var_keyword


def tool_schema(func: Callable, name: str | None = None, description: str | None = None) -> dict[str, Any]:
    """The tool definition (`name`, `description`, `input_schema`) for a Python function.

    Types come from the type hints, descriptions from the docstring (its first paragraph,
    and per-parameter text in Google, NumPy or reST style) or from `Annotated[X, "text"]`.
    `*args` and `**kwargs` are left out; parameters with defaults, or typed `X | None`,
    are not required. The description is left out when there is none.
    """
    options = getattr(func, TOOL_ATTRIBUTE, None) or ToolOptions()
    if name is None:
        name = options.name or getattr(func, "__name__", None) or ""
    check_tool_name(name)
    params = _params(func)[0]
    doc = parse_docstring(inspect.getdoc(func))
    description = description or options.description or doc.summary
    ctx = _Context()
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in params:
        prop = _schema_for(param.hint, ctx)
        if doc.params.get(param.name) and not _has_own_description(param.hint):
            prop["description"] = doc.params[param.name]
        _add_default(prop, param.default)
        properties[param.name] = prop
        if param.required:
            required.append(param.name)
    input_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        input_schema["required"] = required
    if ctx.defs:
        input_schema["$defs"] = ctx.defs
    definition: dict[str, Any] = {"name": name}
    if description:
        definition["description"] = description
    definition["input_schema"] = input_schema
    return definition


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


# --------------------------------------------------------------------------- input coercion


_JSON_KINDS = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


def _checked_scalar(value: Any, tp: type) -> Any:
    """`value` as a bool, int, float or str, or a ValueError saying what was expected."""
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, tp) and (tp is bool or not isinstance(value, bool)):
        return value
    raise ValueError(f"expected {_JSON_KINDS[tp]}, got {json.dumps(value)[:80]}")


def _coerce(value: Any, tp: Any) -> Any:
    """Turn JSON input into what a hint asks for (dataclasses, enums, tuples ...), lightly."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _coerce(value, args[0])
    if value is None or tp is Any or tp is inspect.Parameter.empty or origin is typing.Literal:
        return value
    if _is_union(origin):
        rest = [a for a in args if a not in _NONE_TYPES]
        return _coerce(value, rest[0]) if len(rest) == 1 else value
    if isinstance(value, list):
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return tuple(_coerce(v, t) for v, t in zip(value, args, strict=False))
        item = args[0] if args else Any
        items = [_coerce(v, item) for v in value]
        if origin in (set, frozenset) or tp in (set, frozenset):
            return (origin or tp)(items)
        if origin is tuple or tp is tuple:
            return tuple(items)
        if _is_namedtuple(tp):
            return tp(*items)
        return items
    if isinstance(value, dict):
        if _pydantic_model(tp):
            return tp.model_validate(value)
        if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or _is_namedtuple(tp)):
            hints = _type_hints(tp)
            return tp(**{k: _coerce(v, hints.get(k, Any)) for k, v in value.items()})
        if _is_typeddict(tp):
            hints = _type_hints(tp)
            return {k: _coerce(v, hints.get(k, Any)) for k, v in value.items()}
        if len(args) == 2:
            return {k: _coerce(v, args[1]) for k, v in value.items()}
        return value
    if tp in _JSON_KINDS:
        return _checked_scalar(value, tp)
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum) and not isinstance(value, tp):
            return tp(value)
        if _special_scalar(tp) is not None and not isinstance(value, tp):
            parse = getattr(tp, "fromisoformat", None)
            return parse(value) if parse and isinstance(value, str) else tp(str(value))
    return value


def call_with_input(func: Callable, tool_input: Mapping[str, Any], tool_name: str | None = None) -> Any:
    """Call `func` with a tool's JSON input: checks the arguments, coerces them lightly."""
    name = tool_name or getattr(func, "__name__", "tool")
    params, var_keyword = _params(func)
    known = {p.name for p in params}
    unknown = [k for k in tool_input if k not in known]
    if unknown and not var_keyword:
        raise ToolError(f"Invalid input for {name}: unexpected argument(s) {', '.join(map(repr, unknown))}.")
    missing = [p.name for p in params if p.required and p.name not in tool_input]
    if missing:
        raise ToolError(f"Invalid input for {name}: missing argument(s) {', '.join(map(repr, missing))}.")
    args: list[Any] = []
    kwargs: dict[str, Any] = {k: tool_input[k] for k in unknown}
    for p in params:
        if p.name not in tool_input and not p.optional:
            continue
        try:
            value = _coerce(tool_input.get(p.name), p.hint)
        except Exception as exc:
            raise ToolError(f"Invalid input for {name}: argument {p.name!r}: {exc}") from None
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[p.name] = value
    return func(*args, **kwargs)
