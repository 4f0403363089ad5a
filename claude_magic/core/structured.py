"""Structured output: a schema from a dict, a pydantic model, a dataclass or a TypedDict;
the way a model is asked for it; and the answer parsed, validated and converted.

Three ways, by what the model accepts (the catalogue says): `output_config.format`
(`format`), a tool the model must call (`tool`), or, where it takes neither forced tools
nor output formats (or thinks, which forbids forcing a tool), the tool offered with
`tool_choice` auto and an instruction, the answer validated and asked for once more
(`auto`). pydantic and jsonschema are imported only when a schema is used.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ..models.catalog import Model
from .messages import Block, Message

TOOL_NAME = "structured_answer"
MODES = {
    "format": "JSON via output_config.format",
    "tool": "JSON via a forced tool call",
    "auto": "JSON via a tool call (asked, not forced)",
}
INSTRUCTION = (
    f"\n\nGive your answer by calling the `{TOOL_NAME}` tool: its input is the answer, "
    "matching the tool's schema exactly."
)


class SchemaError(ValueError):
    """A schema that can't be used, or an answer that doesn't match it."""


@dataclass
class Structured:
    """The schema asked for, and what to turn a valid answer into."""

    name: str
    schema: dict[str, Any]
    target: Any = None  # a pydantic model or a dataclass to build; None: plain data
    wrapped: bool = False  # a non-object schema sent as {"value": ...} in tool modes

    @classmethod
    def resolve(cls, name: str, namespace: dict[str, Any]) -> Structured:
        """The schema the namespace variable `name` holds or describes."""
        if name not in namespace:
            raise SchemaError(f"--json {name}: no variable of that name in the namespace.")
        value = namespace[name]
        if isinstance(value, dict):
            _check_schema(value)
            return cls(name, copy.deepcopy(value))
        if isinstance(value, type) and hasattr(value, "model_json_schema"):
            return cls(name, value.model_json_schema(), target=value)
        if isinstance(value, type) and (dataclasses.is_dataclass(value) or _is_typeddict(value)):
            from pydantic import TypeAdapter

            described = value if dataclasses.is_dataclass(value) else _portable_typeddict(value)
            try:
                schema = TypeAdapter(described).json_schema()
            except Exception as exc:  # pydantic's errors for types it can't describe
                raise SchemaError(f"--json {name}: {str(exc).splitlines()[0]}") from None
            return cls(name, schema, target=value if dataclasses.is_dataclass(value) else None)
        raise SchemaError(
            f"--json {name}: expected a JSON Schema dict, a pydantic model, a "
            f"dataclass or a TypedDict, not {type(value).__name__}."
        )

    # -- what goes into the request

    def strict_schema(self) -> dict[str, Any]:
        """The schema with `additionalProperties: false` on every object (Bedrock's rule
        for output formats) where it says nothing."""
        return _close_objects(copy.deepcopy(self.schema))

    def tool(self) -> dict[str, Any]:
        schema = self.strict_schema()
        if schema.get("type") != "object":
            self.wrapped = True
            schema = {
                "type": "object",
                "properties": {"value": schema},
                "required": ["value"],
                "additionalProperties": False,
            }
        return {
            "name": TOOL_NAME,
            "description": f"Record the answer (schema {self.name}).",
            "input_schema": schema,
        }

    # -- the answer

    def extract(self, reply: Message, mode: str) -> Any:
        """The answer's data (validated) from a reply; SchemaError when there is none."""
        if mode == "format":
            text = reply.text.strip()
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise SchemaError(f"the answer is not JSON ({exc})") from None
        else:
            calls = [b for b in reply.tool_uses if b.get("name") == TOOL_NAME]
            if not calls:
                raise SchemaError(f"the model did not call {TOOL_NAME}")
            data = calls[-1].get("input")
            if self.wrapped:
                if not isinstance(data, dict) or "value" not in data:
                    raise SchemaError("the tool input has no 'value'")
                data = data["value"]
        self.validate(data)
        return data

    def validate(self, data: Any) -> None:
        import jsonschema

        try:
            jsonschema.validate(data, self.schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            raise SchemaError(f"{where + ': ' if where else ''}{exc.message}") from None
        except jsonschema.SchemaError as exc:
            raise SchemaError(f"the schema is not valid JSON Schema: {exc.message}") from None

    def convert(self, data: Any) -> Any:
        """Valid data as the given type: a pydantic model or dataclass instance."""
        if self.target is None:
            return data
        try:
            if hasattr(self.target, "model_validate"):
                return self.target.model_validate(data)
            from pydantic import TypeAdapter

            return TypeAdapter(self.target).validate_python(data)
        except Exception as exc:  # pydantic's ValidationError, without importing it eagerly
            raise SchemaError(str(exc).splitlines()[0]) from None


def choose_mode(model: Model | None, thinking: bool) -> str:
    """`format`, `tool` or `auto` for `model` (unknown models: a forced tool)."""
    if model is None:
        return "tool"
    if model.structured_output:
        return "format"
    if model.forced_tool_choice and not thinking:
        return "tool"
    return "auto"


def retry_content(reply: Message, error: str) -> list[Block]:
    """The user content asking once more after a failed structured answer."""
    calls = [b for b in reply.tool_uses]
    text = f"That answer does not match the schema ({error}). {INSTRUCTION}"
    if calls:
        return [
            {"type": "tool_result", "tool_use_id": b["id"], "is_error": True, "content": text}
            for b in calls
        ]
    return [{"type": "text", "text": text}]


def _is_typeddict(value: type) -> bool:
    return (
        isinstance(value, type)
        and issubclass(value, dict)
        and hasattr(value, "__annotations__")
        and hasattr(value, "__total__")
    )


def _portable_typeddict(value: type) -> Any:
    """A TypedDict pydantic can read on every Python (it needs typing_extensions' before 3.12)."""
    import typing

    import typing_extensions

    hints = typing.get_type_hints(value)
    typed_dict: Any = typing_extensions.TypedDict  # made from a name and fields at run time
    return typed_dict(value.__name__, hints, total=getattr(value, "__total__", True))


def _check_schema(schema: dict[str, Any]) -> None:
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise SchemaError(f"the schema is not valid JSON Schema: {exc.message}") from None


def _close_objects(schema: Any) -> Any:
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for value in schema.values():
            _close_objects(value)
    elif isinstance(schema, list):
        for item in schema:
            _close_objects(item)
    return schema
