"""Request validation for the emulator: model identifiers, InvokeModel bodies and
CountTokens bodies, answered with Bedrock's own error texts where they are known.

Two layers, as on Bedrock: a JSON-schema check of the top-level keys (Bedrock's
`Malformed input request: #/...` messages), then the Messages API rules
(`messages.0.content.1...` messages). Every problem raises BedrockError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ...core.messages import MAX_BODY_BYTES, MAX_STOP_SEQUENCES
from ...models.catalog import MODELS, PROFILE_GEOGRAPHIES, Model, lookup
from ..cache import check_breakpoints
from ..errors import malformed, validation
from ..json_body import load_json
from ..tokens import estimate_input_tokens
from .context import check_context
from .messages import BLOCK_KEYS, check_messages
from .rules import check_count_tokens, check_lifecycle, check_rules
from .thinking import check_thinking, check_unmodified
from .tools import check_betas, check_tool_choice, check_tools

INVALID_MODEL = "The provided model identifier is invalid."
ON_DEMAND = (
    "Invocation of model ID {id} with on-demand throughput isn’t supported. Retry your "
    "request with the ID or ARN of an inference profile that contains this model."
)
REQUIRED_KEYS = ("anthropic_version", "max_tokens", "messages")
TOP_LEVEL_TYPES: dict[str, tuple[str, ...]] = {
    "anthropic_version": ("String",),
    "anthropic_beta": ("JSONArray",),
    "max_tokens": ("Integer",),
    "system": ("String", "JSONArray"),
    "messages": ("JSONArray",),
    "temperature": ("Number",),
    "top_p": ("Number",),
    "top_k": ("Integer",),
    "stop_sequences": ("JSONArray",),
    "tools": ("JSONArray",),
    "tool_choice": ("JSONObject",),
    "metadata": ("JSONObject",),
    "thinking": ("JSONObject",),
    "output_config": ("JSONObject",),
    "context_management": ("JSONObject",),
}
RANGES: dict[str, tuple[float, float | None]] = {
    "max_tokens": (1, None),
    "temperature": (0, 1),
    "top_p": (0, 1),
    "top_k": (0, 500),
}
METADATA_KEYS = ("user_id",)
_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:(\d{12})?:(inference-profile|foundation-model)/(.+)$"
)
_JSON_TYPES = {"application/json", "*/*"}


def json_type(value: Any) -> str:
    """The JSON-schema validator's name for a value's type."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "BigDecimal"
    if isinstance(value, str):
        return "String"
    return "JSONArray" if isinstance(value, list) else "JSONObject"


def _fits(value: Any, expected: str) -> bool:
    actual = json_type(value)
    return actual == expected or (expected == "Number" and actual in ("Integer", "BigDecimal"))


# -- model identifiers ---------------------------------------------------------------------


def _base_model(model_id: str, models: Any = None) -> Model | None:
    if models is not None:
        return models.base(model_id)
    return next((m for m in MODELS if m.id == model_id), None)


def resolve_model(
    model_id: str, *, on_demand_check: bool = True, models: Any = None, today: Any = None
) -> Model:
    """The model a request path names (base id, profile id or ARN), from the catalogue or
    `models` (the emulator's own list); a model past its end of life answers 404."""
    model = _named_model(model_id, on_demand_check, models)
    check_lifecycle(model, today)
    return model


def _named_model(model_id: str, on_demand_check: bool, models: Any) -> Model:
    arn = _ARN.match(model_id)
    resource_kind, resource = (arn.group(2), arn.group(3)) if arn else (None, model_id)
    prefix = resource.split(".", 1)[0]
    if prefix in PROFILE_GEOGRAPHIES:
        found = models.lookup(resource) if models is not None else lookup(resource)
        model = found if resource_kind != "foundation-model" else None
        if model is None:
            raise validation(INVALID_MODEL)
        return model
    model = _base_model(resource, models) if resource_kind != "inference-profile" else None
    if model is None:
        raise validation(INVALID_MODEL)
    if on_demand_check and not model.on_demand:
        raise validation(ON_DEMAND.format(id=model.id))
    return model


# -- bodies --------------------------------------------------------------------------------


def check_content_type(headers: Mapping[str, str]) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    content_type = lowered.get("content-type")
    if content_type and content_type.split(";")[0].strip().lower() not in _JSON_TYPES:
        raise validation(
            f"The provided Content-Type {content_type} is not supported for this "
            "model; use application/json."
        )


def parse_body(body: bytes) -> dict[str, Any]:
    """The JSON object in a request body, or a ValidationException."""
    if len(body) > MAX_BODY_BYTES:
        raise validation(
            f"The request body is {len(body)} bytes; the maximum payload size is "
            f"{MAX_BODY_BYTES} bytes (20 MB)."
        )
    if not body.strip():
        raise malformed("#: expected type: JSONObject, found: Null (the request body is empty)")
    try:
        data = load_json(body)
    except ValueError as exc:
        raise malformed(str(exc)) from None
    if not isinstance(data, dict):
        raise malformed(f"#: expected type: JSONObject, found: {json_type(data)}")
    return data


def _schema_violations(body: dict[str, Any]) -> list[str]:
    violations = [f"#: required key [{k}] not found" for k in REQUIRED_KEYS if k not in body]
    violations += [
        f"#: extraneous key [{k}] is not permitted" for k in body if k not in TOP_LEVEL_TYPES
    ]
    for key, value in body.items():
        expected = TOP_LEVEL_TYPES.get(key)
        if expected is None:
            continue
        if not any(_fits(value, e) for e in expected):
            violations.append(
                f"#/{key}: expected type: {' or '.join(expected)}, found: {json_type(value)}"
            )
            continue
        low, high = RANGES.get(key, (None, None))
        if low is not None and value < low:
            violations.append(f"#/{key}: {value} is not greater or equal to {low}")
        if high is not None and value > high:
            violations.append(f"#/{key}: {value} is not less or equal to {high}")
        if key == "messages" and not value:
            violations.append("#/messages: expected minimum item count: 1, found: 0")
        if key in ("anthropic_beta", "stop_sequences"):
            violations += [
                f"#/{key}/{i}: expected type: String, found: {json_type(item)}"
                for i, item in enumerate(value)
                if not isinstance(item, str)
            ]
        if key == "stop_sequences" and len(value) > MAX_STOP_SEQUENCES:
            violations.append(
                f"#/stop_sequences: expected maximum item count: "
                f"{MAX_STOP_SEQUENCES}, found: {len(value)}"
            )
    return violations


def _check_system(model: Model, system: str | list[Any]) -> None:
    if not model.system:
        raise validation(f"{model.api_model} does not support system prompts.")
    if isinstance(system, str):
        return
    for i, block in enumerate(system):
        where = f"system.{i}"
        if not isinstance(block, dict) or block.get("type") != "text":
            raise validation(
                f'{where}: Input should be a text block: {{"type": "text", "text": ...}}'
            )
        for key in block:
            if key not in BLOCK_KEYS["text"]:
                raise validation(f"{where}.{key}: Extra inputs are not permitted")
        if not isinstance(block.get("text"), str):
            raise validation(f"{where}.text: Input should be a valid string")
        if not block["text"].strip():
            raise validation("system: text content blocks must be non-empty")


def _check_metadata(metadata: dict[str, Any]) -> None:
    for key, value in metadata.items():
        if key not in METADATA_KEYS:
            raise validation(f"metadata.{key}: Extra inputs are not permitted")
        if value is not None and not isinstance(value, str):
            raise validation("metadata.user_id: Input should be a valid string")


def check_body(model: Model, body: dict[str, Any], route: str = "invoke") -> None:
    """Raise BedrockError for the first problem of an InvokeModel body for `model` (sent
    on `route`: invoke, converse or mantle, which take different betas)."""
    violations = _schema_violations(body)
    if violations:
        raise malformed("".join(violations))
    check_rules(model, body)
    betas = body.get("anthropic_beta", [])
    check_betas(model, betas, route)
    if body["max_tokens"] > model.max_output_tokens:
        raise validation(
            f"max_tokens: {body['max_tokens']} > {model.max_output_tokens}, which is "
            f"the maximum allowed number of output tokens for {model.api_model}"
        )
    if "system" in body:
        _check_system(model, body["system"])
    check_thinking(model, body)
    if "metadata" in body:
        _check_metadata(body["metadata"])
    tools = body.get("tools")
    if tools is not None:
        check_tools(model, tools, betas)
    if "tool_choice" in body:
        check_tool_choice(body["tool_choice"], tools)
    check_messages(model, body["messages"], has_tools=bool(tools))
    check_unmodified(body["messages"])
    check_breakpoints(model, body)
    check_context(model, body, betas)
    window = model.context_window
    if model.long_context and model.long_context[1] in betas:
        window = model.long_context[0]
    from ..context import manage  # the window holds what the model reads, after context management

    if estimate_input_tokens(manage(body).body) > window:
        raise validation("Input is too long for requested model.")


# -- operations ----------------------------------------------------------------------------


def validate_invoke(
    model_id: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    models: Any = None,
    today: Any = None,
    route: str = "invoke",
) -> tuple[Model, dict]:
    """Check an InvokeModel / InvokeModelWithResponseStream request; the model and body."""
    model = resolve_model(model_id, models=models, today=today)
    check_content_type(headers)
    data = parse_body(body)
    check_body(model, data, route)
    return model, data


def _count_tokens_inner(data: dict[str, Any], model: Model) -> bytes:
    """The InvokeModel body inside a CountTokens request (`input.invokeModel.body`,
    base64 on the wire; `input.converse` is turned into an equivalent body)."""
    from ..converse import converse_to_invoke_body
    from ..media import decode_base64

    request = data.get("input")
    if not isinstance(request, dict) or len(request) != 1:
        raise validation("input: exactly one of invokeModel or converse is required.")
    if "converse" in request:
        converse = request["converse"]
        if not isinstance(converse, dict):
            raise validation("input.converse: expected an object.")
        return json.dumps(converse_to_invoke_body(converse, model.max_output_tokens)).encode()
    invoke = request.get("invokeModel")
    if not isinstance(invoke, dict) or not isinstance(invoke.get("body"), str):
        raise validation("input.invokeModel.body: a request body is required.")
    text = invoke["body"]
    try:
        return decode_base64(text)
    except ValueError:
        return text.encode("utf-8")  # a hand-written request may carry the JSON itself


def validate_count_tokens(
    model_id: str, body: bytes, *, models: Any = None, today: Any = None
) -> tuple[Model, dict]:
    """Check a CountTokens request; the model and the inner InvokeModel body."""
    model = resolve_model(model_id, on_demand_check=False, models=models, today=today)
    check_count_tokens(model, model_id)
    outer = parse_body(body)
    inner = parse_body(_count_tokens_inner(outer, model))
    check_body(model, inner)
    return model, inner
