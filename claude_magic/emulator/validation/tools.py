"""Validation of `tools`, `tool_choice` and `anthropic_beta`: custom tools, the
computer-use tool versions of the catalogue, and the beta flags Bedrock accepts."""

from __future__ import annotations

import re
from typing import Any

from ...core.context_edits import COMPACT_BETA, CONTEXT_BETA
from ...models.catalog import MODELS, ROUTE_BETAS, ComputerUse, Model
from ..errors import validation

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
CUSTOM_TOOL_KEYS = {"type", "name", "description", "input_schema", "cache_control"}
TOOL_EXAMPLES_BETA = "tool-examples-2025-10-29"
# Fields of a custom tool that need a beta flag.
CUSTOM_TOOL_BETA_KEYS = {"input_examples": TOOL_EXAMPLES_BETA}
COMPUTER_TOOL_KEYS = {
    "type",
    "name",
    "display_width_px",
    "display_height_px",
    "display_number",
    "enable_zoom",
    "cache_control",
}
PLAIN_TOOL_KEYS = {"type", "name", "cache_control"}
# Fields only some versions of a computer-use tool take.
TOOL_VERSION_KEYS = {"text_editor_20250728": {"max_characters"}}
TOOL_CHOICE_KEYS = {
    "auto": {"type", "disable_parallel_tool_use"},
    "any": {"type", "disable_parallel_tool_use"},
    "tool": {"type", "name", "disable_parallel_tool_use"},
    "none": {"type", "disable_parallel_tool_use"},
}
TOOL_CHOICE_TYPES = tuple(TOOL_CHOICE_KEYS)
COMPUTER_USE_VERSIONS: tuple[ComputerUse, ...] = tuple(
    dict.fromkeys(c for m in MODELS for c in m.computer_use)
)
OTHER_BETAS = (
    "token-efficient-tools-2025-02-19",
    "interleaved-thinking-2025-05-14",
    "output-128k-2025-02-19",
    "dev-full-thinking-2025-05-14",
    "context-1m-2025-08-07",
    "context-management-2025-06-27",
    "effort-2025-11-24",
    "tool-search-tool-2025-10-19",
    TOOL_EXAMPLES_BETA,
)
KNOWN_BETAS = frozenset({c.beta for c in COMPUTER_USE_VERSIONS} | set(OTHER_BETAS))


def computer_use_kind(version: ComputerUse, tool_type: str) -> str:
    """`computer`, `bash` or `text_editor`: which tool of `version` a type names."""
    return {version.computer: "computer", version.bash: "bash"}.get(tool_type, "text_editor")


def expected_name(version: ComputerUse, tool_type: str) -> str:
    kind = computer_use_kind(version, tool_type)
    return version.text_editor_name if kind == "text_editor" else kind


def computer_use_version(model: Model, tool_type: str, betas: list[str]) -> ComputerUse | None:
    """The model's computer-use version that enables `tool_type` under `betas`."""
    return next(
        (c for c in model.computer_use if tool_type in c.tool_types and c.beta in betas), None
    )


def check_betas(model: Model, betas: list[str], route: str = "invoke") -> None:
    """Each beta must be one Bedrock knows, taken on `route` (the catalogue's route_betas)
    and by the model (computer use)."""
    for beta in betas:
        routes = ROUTE_BETAS.get(beta)
        if (beta not in KNOWN_BETAS and routes is None) or (
            routes is not None and route not in routes
        ):
            raise validation("invalid beta flag")
        if beta.startswith("computer-use-") and model.computer_use_for(beta) is None:
            raise validation(f"{model.api_model} does not support the beta flag {beta}.")
        if (beta == CONTEXT_BETA and not model.context_editing) or (
            beta == COMPACT_BETA and not model.compaction
        ):
            raise validation(f"{model.api_model} does not support the beta flag {beta}.")


def _check_custom(tool: dict[str, Any], where: str, betas: list[str]) -> None:
    for key in tool:
        if key not in CUSTOM_TOOL_KEYS and CUSTOM_TOOL_BETA_KEYS.get(key) not in betas:
            raise validation(f"{where}.{key}: Extra inputs are not permitted")
    examples = tool.get("input_examples")
    if examples is not None and not (
        isinstance(examples, list) and all(isinstance(e, dict) for e in examples)
    ):
        raise validation(f"{where}.input_examples: Input should be a valid list of dictionaries")
    if "name" not in tool:
        raise validation(f"{where}.name: Field required")
    name = tool["name"]
    if not isinstance(name, str):
        raise validation(f"{where}.name: Input should be a valid string")
    if not TOOL_NAME.match(name):
        raise validation(f"{where}.name: String should match pattern '{TOOL_NAME.pattern}'")
    if "description" in tool and not isinstance(tool["description"], str):
        raise validation(f"{where}.description: Input should be a valid string")
    if "input_schema" not in tool:
        raise validation(f"{where}.input_schema: Field required")
    schema = tool["input_schema"]
    if not isinstance(schema, dict):
        raise validation(f"{where}.input_schema: Input should be a valid dictionary")
    if schema.get("type") != "object":
        raise validation(f"{where}.input_schema.type: Input should be 'object'")
    if not _is_valid_schema(schema):
        raise validation(
            f"{where}.input_schema: JSON schema is invalid - please consult "
            "https://json-schema.org or our documentation at "
            "https://docs.anthropic.com/en/docs/tool-use"
        )


def _is_valid_schema(schema: dict[str, Any]) -> bool:
    try:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError
    except ImportError:  # pragma: no cover - jsonschema comes with Jupyter
        return True
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        return False
    return True


def _check_positive_int(
    tool: dict[str, Any], key: str, where: str, minimum: int, required: bool
) -> None:
    if key not in tool or (tool[key] is None and not required):
        if required:
            raise validation(f"{where}.{key}: Field required")
        return
    value = tool[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation(f"{where}.{key}: Input should be a valid integer")
    if value < minimum:
        raise validation(f"{where}.{key}: Input should be greater than or equal to {minimum}")


def _check_computer_use(model: Model, tool: dict[str, Any], index: int, betas: list[str]) -> str:
    tool_type = tool["type"]
    known = [c for c in COMPUTER_USE_VERSIONS if tool_type in c.tool_types]
    if not any(c.beta in betas for c in known):
        raise validation(
            f"tools.{index}: tool type '{tool_type}' requires \"anthropic_beta\": "
            f'["{known[0].beta}"] in the request body.'
        )
    version = computer_use_version(model, tool_type, betas)
    if version is None:
        raise validation(
            f"tools.{index}: tool type '{tool_type}' is not supported by {model.api_model}."
        )
    where = f"tools.{index}.{tool_type}"
    kind = computer_use_kind(version, tool_type)
    allowed = COMPUTER_TOOL_KEYS if kind == "computer" else PLAIN_TOOL_KEYS
    allowed = allowed | TOOL_VERSION_KEYS.get(tool_type, set())
    for key in tool:
        if key not in allowed:
            raise validation(f"{where}.{key}: Extra inputs are not permitted")
    name = expected_name(version, tool_type)
    if tool.get("name") != name:
        raise validation(f"{where}.name: Input should be '{name}'")
    if kind == "computer":
        _check_positive_int(tool, "display_width_px", where, 1, required=True)
        _check_positive_int(tool, "display_height_px", where, 1, required=True)
        _check_positive_int(tool, "display_number", where, 0, required=False)
    _check_positive_int(tool, "max_characters", where, 1, required=False)
    return name


def check_tools(model: Model, tools: list[Any], betas: list[str]) -> None:
    """Raise a ValidationException for the first problem in `tools`."""
    if not model.tools:
        raise validation(f"{model.api_model} does not support tool use.")
    names: set[str] = set()
    types = ["custom", *sorted({t for c in model.computer_use for t in c.tool_types})]
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise validation(f"tools.{index}: Input should be a valid dictionary")
        tool_type = tool.get("type", "custom")
        if tool_type == "custom":
            _check_custom(tool, f"tools.{index}.custom", betas)
            name = tool["name"]
        elif isinstance(tool_type, str) and any(
            tool_type in c.tool_types for c in COMPUTER_USE_VERSIONS
        ):
            name = _check_computer_use(model, tool, index, betas)
        else:
            raise validation(
                f"tools.{index}: Input tag '{tool_type}' found using 'type' does not "
                f"match any of the expected tags: {', '.join(map(repr, types))}"
            )
        if name in names:
            raise validation("tools: Tool names must be unique.")
        names.add(name)


def check_tool_choice(tool_choice: dict[str, Any], tools: list[Any] | None) -> None:
    kind = tool_choice.get("type")
    if kind is None:
        raise validation("tool_choice: Unable to extract tag using discriminator 'type'")
    if kind not in TOOL_CHOICE_TYPES:
        raise validation(
            f"tool_choice: Input tag '{kind}' found using 'type' does not match any "
            f"of the expected tags: {', '.join(map(repr, TOOL_CHOICE_TYPES))}"
        )
    for key in tool_choice:
        if key not in TOOL_CHOICE_KEYS[kind]:
            raise validation(f"tool_choice.{kind}.{key}: Extra inputs are not permitted")
    if "disable_parallel_tool_use" in tool_choice and not isinstance(
        tool_choice["disable_parallel_tool_use"], bool
    ):
        raise validation(
            f"tool_choice.{kind}.disable_parallel_tool_use: Input should be a valid boolean"
        )
    if not tools:
        raise validation("tool_choice may only be specified while providing tools.")
    if kind == "tool":
        name = tool_choice.get("name")
        if name is None:
            raise validation("tool_choice.tool.name: Field required")
        if name not in {t.get("name") for t in tools}:
            raise validation(
                f"tool_choice.tool.name: no tool named {name!r} was provided in `tools`."
            )
