"""A function's signature as a pydantic model: the tool's JSON input schema (descriptions
from the docstring) and the check of a tool_use input before the call (lax mode, so `"2"`
becomes `2` for an `int`; `Annotated[int, Field(ge=1)]` constraints are in the schema and
enforced). Imported lazily: pydantic loads with the first tool.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema

from .docstrings import Docstring, own_doc, parse_docstring

_MODEL_MARK = "x-pydantic-model"  # set on pydantic models' own schemas while building
_REF = "#/$defs/"
_ANNOTATED: Any = Annotated  # subscripted with tuples built at run time
_DATA_KEYS = {"default", "enum", "const", "examples"}  # values, not schemas
_MAP_KEYS = {"properties", "patternProperties", "dependentSchemas"}  # name -> schema
# JSON Schema keywords in `Annotated[X, {...}]` that pydantic can also enforce
_CONSTRAINTS = {
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "multipleOf": "multiple_of",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minItems": "min_length",
    "maxItems": "max_length",
    "pattern": "pattern",
}


class InvalidToolInput(ValueError):
    """Claude's input does not fit the signature; one line per problem, pydantic's words."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


# --------------------------------------------------------------------------- the JSON schema


def _describe_class(json_schema: dict[str, Any], cls: Any) -> None:
    """A class's summary and per-field descriptions from its own docstring."""
    doc = parse_docstring(own_doc(cls)) if isinstance(cls, type) else Docstring("")
    json_schema.pop("description", None)
    if doc.summary:
        json_schema["description"] = doc.summary
    for name, prop in json_schema.get("properties", {}).items():
        if doc.params.get(name) and "description" not in prop:
            prop["description"] = doc.params[name]


class _ToolJsonSchema(GenerateJsonSchema):
    """pydantic's JSON schema without titles, with docstring descriptions for dataclasses,
    TypedDicts and enums, named tuples as objects, and `{}` for what JSON cannot express."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def sort(self, value: Any, parent_key: str | None = None) -> Any:  # keep the written order
        return value

    def model_schema(self, schema: Any) -> Any:
        json_schema = super().model_schema(schema)
        json_schema[_MODEL_MARK] = True
        return json_schema

    def dataclass_schema(self, schema: Any) -> Any:
        json_schema = super().dataclass_schema(schema)
        _describe_class(json_schema, schema["cls"])
        return json_schema

    def typed_dict_schema(self, schema: Any) -> Any:
        json_schema = super().typed_dict_schema(schema)
        _describe_class(json_schema, schema.get("cls"))
        return json_schema

    def enum_schema(self, schema: Any) -> Any:
        json_schema = super().enum_schema(schema)
        _describe_class(json_schema, schema["cls"])
        return json_schema

    def named_tuple_schema(self, schema: Any) -> Any:  # by field name (pydantic takes both)
        properties = {f["name"]: self.generate_inner(f["schema"]) for f in schema["fields"]}
        required = [f["name"] for f in schema["fields"] if f["schema"]["type"] != "default"]
        return {
            "type": "object",
            "properties": properties,
            **({"required": required} if required else {}),
        }

    def handle_invalid_for_json_schema(self, schema: Any, error_info: str) -> Any:
        return {}

    def emit_warning(self, kind: Any, detail: str) -> None:  # e.g. a default that is no JSON
        return None


def _refs(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*map(_refs, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["$ref"][len(_REF) :]} if str(node.get("$ref", "")).startswith(_REF) else set()
    for key, value in node.items():
        if key in _MAP_KEYS and isinstance(value, dict):
            found |= _refs(list(value.values()))
        elif key not in _DATA_KEYS:
            found |= _refs(value)
    return found


def _recursive(defs: dict[str, Any]) -> set[str]:
    """The definitions that refer back to themselves, directly or not."""
    edges = {name: _refs(schema) & set(defs) for name, schema in defs.items()}
    looping = set()
    for start in defs:
        seen, todo = set(), list(edges[start])
        while todo:
            name = todo.pop()
            if name == start:
                looping.add(start)
                break
            if name not in seen:
                seen.add(name)
                todo.extend(edges[name])
    return looping


def tidy_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Definitions inlined where they are used, except recursive ones and those inside a
    pydantic model's own schema (as `model_json_schema` gives it); no titles or no-op
    keywords (`additionalProperties: true`, `items: {}`)."""
    defs = schema.get("$defs", {})
    keep_ref = _recursive(defs)
    kept: dict[str, Any] = {}

    def visit(node: Any, in_model: bool) -> Any:
        if isinstance(node, list):
            return [visit(item, in_model) for item in node]
        if not isinstance(node, dict):
            return node
        ref = str(node.get("$ref", ""))
        name = ref[len(_REF) :] if ref.startswith(_REF) else None
        if name is not None and name in defs:
            siblings = visit({k: v for k, v in node.items() if k != "$ref"}, in_model)
            if in_model or name in keep_ref:
                if name not in kept:
                    kept[name] = {}
                    kept[name] = visit(defs[name], _MODEL_MARK in defs[name])
                return {"$ref": ref, **siblings}
            return {**visit(defs[name], _MODEL_MARK in defs[name]), **siblings}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if (
                key in ("$defs", _MODEL_MARK)
                or (key == "title" and isinstance(value, str))
                or (key == "additionalProperties" and value is True)
                or (key == "items" and value == {})
            ):
                continue
            if key in _DATA_KEYS:
                out[key] = value
            elif key in _MAP_KEYS and isinstance(value, dict):
                out[key] = {k: visit(v, in_model) for k, v in value.items()}
            else:
                out[key] = visit(value, in_model)
        return out

    root = visit(schema, False)
    if kept:
        root["$defs"] = kept
    return root


# --------------------------------------------------------------------------- the model


def _type_hints(func: Callable) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:  # unresolvable forward references: no constraint for those
        raw = getattr(func, "__annotations__", {}) or {}
        return {k: (Any if isinstance(v, str) else v) for k, v in raw.items()}


def _as_field_info(item: Any) -> Any:
    """`Annotated` metadata pydantic reads: a str is a description; a dict of JSON Schema
    keywords becomes constraints (enforced) and extra schema."""
    if isinstance(item, str):
        return Field(description=item)
    if isinstance(item, Mapping):
        known = {_CONSTRAINTS[k]: v for k, v in item.items() if k in _CONSTRAINTS}
        rest = {k: v for k, v in item.items() if k not in _CONSTRAINTS and k != "description"}
        return Field(description=item.get("description"), json_schema_extra=rest or None, **known)
    return item


def _field_hint(hint: Any) -> Any:
    if typing.get_origin(hint) is not Annotated:
        return hint
    base, *metadata = typing.get_args(hint)
    return _ANNOTATED[tuple([base, *map(_as_field_info, metadata)])]


def _has_own_description(hint: Any) -> bool:
    if typing.get_origin(hint) is not Annotated:
        return False
    for item in typing.get_args(hint)[1:]:
        if (
            isinstance(item, str)
            or (isinstance(item, Mapping) and "description" in item)
            or (isinstance(item, FieldInfo) and item.description)
        ):
            return True
    return False


def _is_optional(hint: Any) -> bool:
    """`X | None` (also inside `Annotated`)."""
    if typing.get_origin(hint) is Annotated:
        return _is_optional(typing.get_args(hint)[0])
    return type(None) in typing.get_args(hint) and typing.get_origin(hint) in (
        typing.Union,
        type(int | None),
    )


def _without_null(prop: dict[str, Any]) -> None:
    """Absent means None: say only what a given value must be."""
    if prop.get("default", 0) is None:
        del prop["default"]
    options = prop.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        del prop["anyOf"]
        if len(rest) == 1:
            prop.update({**rest[0], **prop})
        else:
            prop["anyOf"] = rest


@dataclass(frozen=True)
class _Param:
    name: str
    kind: Any
    default: Any  # inspect.Parameter.empty when there is none


@dataclass
class Signature:
    """A function's parameters as a pydantic model; see the module docstring."""

    func: Callable
    model: type[BaseModel]
    params: list[_Param]
    var_keyword: bool
    doc: Docstring

    @classmethod
    def of(cls, func: Callable) -> Signature:
        signature = inspect.signature(func)  # TypeError/ValueError: the caller explains
        hints = _type_hints(func)
        doc = parse_docstring(inspect.getdoc(func))
        params, var_keyword = [], False
        for p in signature.parameters.values():
            if p.kind is p.VAR_KEYWORD:
                var_keyword = True
            elif p.kind is not p.VAR_POSITIONAL:
                params.append(_Param(p.name, p.kind, p.default))
        fields: dict[str, Any] = {
            f"p{i}": _field(p, hints.get(p.name, Any), doc) for i, p in enumerate(params)
        }
        # Unknown arguments are refused in `validate` (an `extra` setting here would reach
        # the dataclasses and TypedDicts inside too).
        config = ConfigDict()
        try:
            model = create_model("ToolInput", __config__=config, **fields)
        except Exception:  # a hint pydantic cannot build: that parameter takes anything
            for key, param in zip(list(fields), params, strict=True):
                try:
                    create_model("Probe", __config__=config, x=fields[key])
                except Exception:
                    fields[key] = _field(param, Any, doc)
            model = create_model("ToolInput", __config__=config, **fields)
        return cls(func, model, params, var_keyword, doc)

    def input_schema(self) -> dict[str, Any]:
        return tidy_schema(self.model.model_json_schema(schema_generator=_ToolJsonSchema))

    def validate(self, tool_input: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """The call's positional and keyword arguments, or InvalidToolInput."""
        names = {p.name for p in self.params}
        unknown = (
            {} if self.var_keyword else {k: v for k, v in tool_input.items() if k not in names}
        )
        problems = [
            _error_line({"loc": (k,), "msg": "Extra inputs are not permitted", "input": v})
            for k, v in unknown.items()
        ]
        try:
            data = self.model.model_validate(
                {k: v for k, v in tool_input.items() if k not in unknown}
            )
        except ValidationError as exc:
            problems = [_error_line(e) for e in exc.errors(include_url=False)] + problems
        if problems:
            raise InvalidToolInput(problems)
        given = data.model_fields_set
        args: list[Any] = []
        kwargs: dict[str, Any] = {k: v for k, v in tool_input.items() if k not in names}
        positional = [
            i for i, p in enumerate(self.params) if p.kind is inspect.Parameter.POSITIONAL_ONLY
        ]
        last_positional = max((i for i in positional if f"p{i}" in given), default=-1)
        for i, p in enumerate(self.params):
            key = f"p{i}"
            if p.kind is inspect.Parameter.POSITIONAL_ONLY:
                if i <= last_positional:
                    args.append(getattr(data, key) if key in given else p.default)
            elif key in given or p.default is inspect.Parameter.empty:
                kwargs[p.name] = getattr(data, key)
        return args, kwargs

    def call(self, tool_input: Mapping[str, Any]) -> Any:
        args, kwargs = self.validate(tool_input)
        return self.func(*args, **kwargs)


def _field(p: _Param, hint: Any, doc: Docstring) -> tuple[Any, FieldInfo]:
    if hint is inspect.Parameter.empty:
        hint = Any
    optional = _is_optional(hint)
    description = None if _has_own_description(hint) else doc.params.get(p.name)
    absent_is_none = p.default is None or (optional and p.default is inspect.Parameter.empty)
    default = (
        None if absent_is_none else (... if p.default is inspect.Parameter.empty else p.default)
    )
    extra: dict[str, Any] = {"description": description} if description else {}
    if absent_is_none:
        extra["json_schema_extra"] = _without_null
    return _field_hint(_compatible(hint)), Field(default, alias=p.name, **extra)


def _is_typing_typeddict(tp: Any) -> bool:
    return (
        isinstance(tp, type)
        and issubclass(tp, dict)
        and hasattr(tp, "__required_keys__")
        and type(tp).__module__ == "typing"
    )


def _compatible(hint: Any) -> Any:
    """On Python < 3.12 pydantic reads only `typing_extensions.TypedDict`: the same
    TypedDict rebuilt from it, anywhere inside a hint."""
    if sys.version_info >= (3, 12):
        return hint
    if _is_typing_typeddict(hint):
        import typing_extensions

        fields = {
            name: (
                typing_extensions.Required
                if name in hint.__required_keys__
                else typing_extensions.NotRequired
            )[_compatible(tp)]
            for name, tp in _type_hints(hint).items()
        }
        typed_dict: Any = typing_extensions.TypedDict  # made from a name and fields at run time
        rebuilt = typed_dict(hint.__name__, fields)
        rebuilt.__doc__, rebuilt.__module__ = hint.__doc__, hint.__module__
        return rebuilt
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is None or origin is typing.Literal or not args:
        return hint
    new = tuple(_compatible(a) for a in args)
    if new == args:
        return hint
    if origin is Annotated:
        return _ANNOTATED[tuple([new[0], *args[1:]])]
    if isinstance(hint, types.UnionType):
        return typing.Union[new]  # noqa: UP007
    if isinstance(hint, types.GenericAlias):
        return types.GenericAlias(origin, new)
    return hint.copy_with(new)


def _short_value(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_line(error: Mapping[str, Any]) -> str:
    """`where: what` for one pydantic error, with the value given when there is one."""
    where = ".".join(str(part) for part in error.get("loc", ())) or "input"
    line = f"{where}: {error['msg']}"
    if error.get("type") != "missing":
        line += f" (got {_short_value(error.get('input'))})"
    return line
