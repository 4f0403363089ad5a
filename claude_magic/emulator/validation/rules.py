"""The request rules that differ by model, from the catalogue, with Bedrock's messages:
API versions, sampling, prefill, which thinking forms a model takes, forced tool choice,
CountTokens, and the end of a model's life. (The shape of `thinking` and `output_config`
and the rules that come with thinking: thinking.py and output_format.py.)

Every rule reads a catalogue field (`api_versions`, `sampling`, `prefill`, `thinking`,
`manual_thinking`, `forced_tool_choice`, `count_tokens`, `end_of_life`), so a model added
to the catalogue (or to a running emulator) brings its rules with it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ...models.catalog import Model, current_date
from ..errors import BedrockError, validation

END_OF_LIFE = (
    "This model version has reached the end of its life. Please refer to the AWS "
    "documentation for more details."
)
MODEL_ERRORS = "The model returned the following errors: "
DEPRECATED = MODEL_ERRORS + "`{name}` is deprecated for this model."
NO_PREFILL = "This model does not support assistant message prefill"
MANUAL_UNSUPPORTED = (
    '"thinking.type.enabled" is not supported for this model. Use '
    '"thinking.type.adaptive" and "output_config.effort" to control thinking '
    "behavior."
)
ADAPTIVE_UNSUPPORTED = (
    '"thinking.type.adaptive" is not supported for this model. Use '
    '"thinking.type.enabled" with "budget_tokens" to control thinking behavior.'
)
ALWAYS_ON = (
    '"thinking.type.disabled" is not supported for this model: its thinking is always on. '
    'Use "output_config.effort" to control thinking behavior.'
)
NO_COUNT_TOKENS = "The provided model doesn't support counting tokens."
NO_FORCED_TOOL_CHOICE = 'tool_choice: type "tool" and "any" are not supported for this model.'


def check_lifecycle(model: Model, today: date | None = None) -> None:
    """A model past its end of life answers 404, as Bedrock does."""
    if model.status(today or current_date()) == "retired":
        raise BedrockError("ResourceNotFoundException", END_OF_LIFE)


def check_count_tokens(model: Model, model_id: str) -> None:
    """CountTokens takes bare model ids only, and not every model."""
    resource = model_id.rsplit("/", 1)[-1]
    if resource != model.id or not model.count_tokens:
        raise validation(NO_COUNT_TOKENS)


def check_rules(model: Model, body: dict[str, Any]) -> None:
    """Raise BedrockError for the first per-model rule the body breaks."""
    version = body.get("anthropic_version")
    if version not in model.api_versions:
        raise validation(f"Invalid API version: {version}")
    _check_sampling(model, body)
    messages = body.get("messages")
    if not model.prefill and isinstance(messages, list) and messages:
        last = messages[-1]
        if isinstance(last, dict) and last.get("role") == "assistant":
            raise validation(NO_PREFILL)
    if isinstance(body.get("thinking"), dict):
        _check_thinking_form(model, body["thinking"])
    choice = body.get("tool_choice")
    if (
        not model.forced_tool_choice
        and isinstance(choice, dict)
        and choice.get("type") in ("any", "tool")
    ):
        raise validation(NO_FORCED_TOOL_CHOICE)


def _check_sampling(model: Model, body: dict[str, Any]) -> None:
    """Models without sampling take only the defaults (temperature 1, top_p >= top_p_min)."""
    if model.sampling:
        return
    if "temperature" in body and body["temperature"] != 1:
        raise validation(DEPRECATED.format(name="temperature"))
    top_p = body.get("top_p")
    if "top_p" in body and not (isinstance(top_p, (int, float)) and top_p >= model.top_p_min):
        raise validation(DEPRECATED.format(name="top_p"))
    if "top_k" in body:
        raise validation(DEPRECATED.format(name="top_k"))


def _check_thinking_form(model: Model, thinking: dict[str, Any]) -> None:
    """Which `thinking.type` the model takes: manual (budget_tokens), adaptive, off."""
    kind = thinking.get("type")
    if kind == "disabled":
        if model.thinking == "always":
            raise validation(ALWAYS_ON)
        return
    if kind not in ("enabled", "adaptive") or model.thinking == "none":
        return  # an unknown type, or a model that doesn't think: thinking.py says so
    if kind == "enabled" and not model.takes_manual_thinking:
        raise validation(MANUAL_UNSUPPORTED)
    if kind == "adaptive" and model.thinking not in ("adaptive", "always"):
        raise validation(ADAPTIVE_UNSUPPORTED)
