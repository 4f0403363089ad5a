"""`output_config.format` (structured output): its form, the models that take it, a schema
that is one by its metaschema, and the rule that every object in the schema closes with
`additionalProperties: false`."""

from __future__ import annotations

from typing import Any

from ...models.catalog import Model
from ..errors import validation

FORMAT_KEYS = ("type", "schema")
NOT_SUPPORTED = "output_config.format: structured outputs are not supported for this model."
OPEN_OBJECT = (
    "output_config.format.schema: For 'object' type, 'additionalProperties' must be "
    "explicitly set to false"
)


def _open_object(schema: Any) -> bool:
    if isinstance(schema, dict):
        if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
            return True
        return any(_open_object(v) for k, v in schema.items() if k != "enum" and k != "const")
    if isinstance(schema, list):
        return any(_open_object(v) for v in schema)
    return False


def check_format(model: Model, fmt: Any) -> None:
    """Raise BedrockError unless `fmt` is a json_schema format `model` accepts."""
    if not isinstance(fmt, dict):
        raise validation("output_config.format: Input should be a valid dictionary")
    if fmt.get("type") != "json_schema":
        raise validation("output_config.format.type: Input should be 'json_schema'")
    for key in fmt:
        if key not in FORMAT_KEYS:
            raise validation(f"output_config.format.{key}: Extra inputs are not permitted")
    if not isinstance(fmt.get("schema"), dict):
        raise validation("output_config.format.schema: Field required")
    if not model.structured_output:
        raise validation(NOT_SUPPORTED)
    _check_schema(fmt["schema"])
    if _open_object(fmt["schema"]):
        raise validation(OPEN_OBJECT)


def _check_schema(schema: dict[str, Any]) -> None:
    """Raise a ValidationException unless `schema` is a JSON Schema (by its metaschema)."""
    import jsonschema

    validator = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
    try:
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise validation(
            f"output_config.format.schema: Invalid JSON schema: {exc.message}"
        ) from None
