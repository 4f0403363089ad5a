"""Extended and adaptive thinking: the request rules that come with it, and signatures.

Rules (Bedrock's messages): `thinking` is `{"type": "enabled", "budget_tokens": N}`
(N ≥ 1024 and below max_tokens), `{"type": "adaptive"}` or `{"type": "disabled"}`,
optionally with `"display": "summarized" | "omitted"`; `output_config.effort` takes the
model's effort levels. While a model thinks: temperature only 1, no top_k, top_p from
0.95 to 1, and no tool_choice that forces a tool. Which model takes which thinking type
is the per-model rules' business, not this module's.

Signatures are an HMAC of the thinking text as the reply carried it, so a thinking
block sent back modified (text or signature) is detected; redacted data carries its
own MAC. The latest assistant message's blocks must come back unmodified.
"""

from __future__ import annotations

from typing import Any

from ...core.messages import as_blocks
from ...models.catalog import Model
from ..errors import validation
from ..signatures import block_intact

MIN_BUDGET = 1024
THINKING_TAGS = ("enabled", "disabled", "adaptive")
THINKING_KEYS = {
    "enabled": {"type", "budget_tokens", "display"},
    "adaptive": {"type", "display"},
    "disabled": {"type"},
}
OUTPUT_CONFIG_KEYS = ("effort", "format")
DISPLAYS = ("summarized", "omitted")
EFFORTS = ("low", "medium", "high", "xhigh", "max")
FORCED_TOOL = (
    "The model returned the following errors: Thinking may not be enabled when "
    "tool_choice forces tool use."
)
MODIFIED = (
    "`thinking` or `redacted_thinking` blocks in the latest assistant message cannot be "
    "modified. These blocks must remain as they were in the original response."
)


def _continues_tool_use(messages: list[Any]) -> bool:
    last = messages[-1] if messages else None
    content = last.get("content") if isinstance(last, dict) else None
    return (
        isinstance(last, dict)
        and isinstance(content, list)
        and last.get("role") == "user"
        and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    )


def check_unmodified(messages: list[Any]) -> None:
    """In a tool loop (the request ends with tool results), the latest assistant
    message's thinking blocks must be exactly as sent."""
    if not _continues_tool_use(messages):
        return
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if not isinstance(content, list):
            return
        for position, block in enumerate(as_blocks(content)):
            if (
                isinstance(block, dict)
                and block.get("type") in ("thinking", "redacted_thinking")
                and not block_intact(block)
            ):
                raise validation(f"messages.{index}.content.{position}: {MODIFIED}")
        return


# -- request rules ---------------------------------------------------------------------------


def thinking_on(model: Model, body: dict[str, Any]) -> bool:
    """Whether the reply to `body` thinks: asked for, or always on for the model."""
    kind = (
        (body.get("thinking") or {}).get("type") if isinstance(body.get("thinking"), dict) else None
    )
    if kind in ("enabled", "adaptive"):
        return True
    return model.thinking == "always" and kind != "disabled"


def shows_thinking_text(model: Model, body: dict[str, Any]) -> bool:
    """Whether the thinking text is returned (else only its signature)."""
    from ...core.thinking import omits_thinking_text

    display = (body.get("thinking") or {}).get("display")
    if display == "omitted":
        return False
    return display == "summarized" or not omits_thinking_text(model)


def _check_thinking_object(model: Model, body: dict[str, Any]) -> None:
    thinking = body["thinking"]
    kind = thinking.get("type")
    if kind not in THINKING_TAGS:
        raise validation(
            f"thinking: Input tag '{kind}' found using 'type' does not match any of "
            "the expected tags: " + ", ".join(f"'{t}'" for t in THINKING_TAGS)
        )
    for key in thinking:
        if key not in THINKING_KEYS[kind]:
            raise validation(f"thinking.{kind}.{key}: Extra inputs are not permitted")
    if "display" in thinking and thinking["display"] not in DISPLAYS:
        raise validation(
            f"thinking.{kind}.display: Input should be " + " or ".join(f"'{d}'" for d in DISPLAYS)
        )
    if kind == "disabled":
        return
    if model.thinking == "none":
        raise validation(f"{model.api_model} does not support extended thinking.")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if isinstance(budget, bool) or not isinstance(budget, int):
            raise validation(
                "thinking.enabled.budget_tokens: "
                + ("Field required" if budget is None else "Input should be a valid integer")
            )
        if budget < MIN_BUDGET:
            raise validation(
                f"thinking.enabled.budget_tokens: Input should be greater than or "
                f"equal to {MIN_BUDGET}"
            )
        if body["max_tokens"] <= budget:
            raise validation("`max_tokens` must be greater than `thinking.budget_tokens`.")


def _check_output_config(model: Model, config: Any) -> None:
    if not isinstance(config, dict):
        raise validation("output_config: Input should be a valid dictionary")
    for key in config:
        if key not in OUTPUT_CONFIG_KEYS:
            raise validation(f"output_config.{key}: Extra inputs are not permitted")
    if "format" in config:
        from .output_format import check_format

        check_format(model, config["format"])
    if "effort" in config:
        effort = config["effort"]
        levels = model.effort_levels
        if effort not in EFFORTS:
            raise validation(
                "output_config.effort: Input should be "
                + ", ".join(f"'{e}'" for e in EFFORTS[:-1])
                + f" or '{EFFORTS[-1]}'"
            )
        if not levels:
            raise validation(
                f"output_config.effort: {model.api_model} does not support the effort parameter."
            )
        if effort not in levels:
            raise validation(
                f"output_config.effort: '{effort}' is not supported for this model; "
                "use " + ", ".join(f"'{e}'" for e in levels) + "."
            )


def check_thinking(model: Model, body: dict[str, Any]) -> None:
    """Raise BedrockError for the first thinking rule `body` breaks on `model`."""
    if "thinking" in body:
        _check_thinking_object(model, body)
    if "output_config" in body:
        _check_output_config(model, body["output_config"])
    kind = body["thinking"].get("type") if isinstance(body.get("thinking"), dict) else None
    if kind not in ("enabled", "adaptive"):
        return  # models that always think have their own rules for sampling and tools
    if body.get("temperature", 1) != 1:
        raise validation("`temperature` may only be set to 1 when thinking is enabled.")
    if "top_k" in body:
        raise validation("`top_k` must be unset when thinking is enabled.")
    top_p = body.get("top_p")
    if top_p is not None and not 0.95 <= top_p <= 1:
        raise validation("`top_p` must be between 0.95 and 1 (or unset) when thinking is enabled.")
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        raise validation(FORCED_TOOL)
