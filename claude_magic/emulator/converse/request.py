"""A Converse / ConverseStream request turned into the InvokeModel body it stands for.

Converse's own checks happen on the way, with Bedrock's Converse texts where they are
known (role order, blank text, missing toolConfig, maxTokens above the model's limit);
`validation.converse` then checks the body by the InvokeModel rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...models.catalog import ANTHROPIC_VERSION, Model
from ..errors import validation
from ..json_body import load_json
from .blocks import cache_control, content_blocks

FIRST_USER = (
    "A conversation must start with a user message. Try again with a conversation "
    "that starts with a user message."
)
ALTERNATE = (
    "A conversation must alternate between user and assistant roles. Make sure the "
    "conversation alternates between user and assistant roles and try again."
)
NO_TOOL_CONFIG = (
    "The toolConfig field must be defined when using toolUse and toolResult content blocks."
)
MAX_TOKENS = (
    "The maximum tokens you requested exceeds the model limit of {limit}. Try again with "
    "a maximum tokens value that is lower than {limit}."
)
_RESPONSE_FIELD_PATHS = {"/stop_sequence"}


@dataclass
class ConverseRequest:
    """What the reply needs to know about the Converse request it answers."""

    body: dict[str, Any]  # the InvokeModel form
    guardrail: dict[str, Any] | None = None
    cache_ttls: list[str] = field(default_factory=list)  # of every cache point, in order
    response_field_paths: list[str] = field(default_factory=list)


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise validation(f"{key}: expected an object.")
    return value


def _messages(converse: dict[str, Any]) -> list[dict[str, Any]]:
    messages = converse.get("messages")
    if messages is None:
        messages = []
    if not isinstance(messages, list):
        raise validation("messages: expected a list of messages.")
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise validation(f"messages.{i}: expected an object.")
        role = message.get("role")
        if i == 0 and role != "user":
            raise validation(FIRST_USER)
        if role not in ("user", "assistant") or (out and out[-1]["role"] == role):
            raise validation(ALTERNATE)
        out.append(
            {
                "role": role,
                "content": content_blocks(message.get("content"), f"messages.{i}.content"),
            }
        )
    if not out:
        raise validation(FIRST_USER)
    return out


def _system(converse: dict[str, Any]) -> str | list[dict[str, Any]] | None:
    system = converse.get("system")
    if system is None:
        return None
    blocks = content_blocks(system, "system", "SystemContentBlock")
    if not blocks:
        return None
    if any("cache_control" in b for b in blocks):
        return blocks
    return "\n".join(b["text"] for b in blocks)


def _tools(config: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    entries = config.get("tools")
    if not isinstance(entries, list) or not entries:
        raise validation("toolConfig.tools: at least one tool is required.")
    tools: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        where = f"toolConfig.tools.{i}"
        if not isinstance(entry, dict) or len(entry) != 1:
            raise validation(
                f"{where}: a tool holds exactly one of toolSpec, systemTool or cachePoint."
            )
        ((kind, value),) = entry.items()
        if kind == "cachePoint":
            if not tools:
                raise validation(
                    f"{where}.cachePoint: a cache point must follow the tools it caches."
                )
            tools[-1]["cache_control"] = cache_control(value, where)
        elif kind == "toolSpec" and isinstance(value, dict):
            schema = value.get("inputSchema")
            tool: dict[str, Any] = {
                "name": value.get("name"),
                "input_schema": schema.get("json") if isinstance(schema, dict) else None,
            }
            if value.get("description"):
                tool["description"] = value["description"]
            tools.append(tool)
        else:
            raise validation(
                f"{where}.{kind}: the emulator offers toolSpec tools to Claude models."
            )
    choice = config.get("toolChoice")
    if choice is None:
        return tools, None
    if not isinstance(choice, dict) or len(choice) != 1:
        raise validation("toolConfig.toolChoice: holds exactly one of auto, any or tool.")
    ((kind, value),) = choice.items()
    if kind == "tool":
        return tools, {
            "type": "tool",
            "name": value.get("name") if isinstance(value, dict) else None,
        }
    if kind in ("auto", "any"):
        return tools, {"type": kind}
    raise validation(f"toolConfig.toolChoice.{kind}: use auto, any or tool.")


def _output_config(converse: dict[str, Any]) -> dict[str, Any]:
    config = _object(converse, "outputConfig")
    out: dict[str, Any] = {}
    if "effort" in config:
        out["effort"] = config["effort"]
    text_format = config.get("textFormat")
    if text_format is not None:
        try:
            schema = load_json(text_format["structure"]["jsonSchema"]["schema"].encode("utf-8"))
        except (AttributeError, TypeError, ValueError, KeyError):
            raise validation(
                "outputConfig.textFormat.structure.jsonSchema.schema: a JSON schema, "
                "as a string, is required."
            ) from None
        out["format"] = {"type": "json_schema", "schema": schema}
    return out


def _guardrail(converse: dict[str, Any]) -> dict[str, Any] | None:
    config = _object(converse, "guardrailConfig")
    if not config:
        return None
    if not config.get("guardrailIdentifier") or not config.get("guardrailVersion"):
        raise validation(
            "guardrailConfig: both guardrailIdentifier and guardrailVersion are required."
        )
    return config


def _uses_tools(messages: list[dict[str, Any]]) -> bool:
    return any(b.get("type") in ("tool_use", "tool_result") for m in messages for b in m["content"])


def cache_ttls(body: dict[str, Any]) -> list[str]:
    """The TTL of every cache breakpoint in an InvokeModel body (tools, system, messages)."""
    blocks: list[Any] = list(body.get("tools") or [])
    if isinstance(body.get("system"), list):
        blocks += body["system"]
    for message in body["messages"]:
        if isinstance(message.get("content"), list):
            blocks += message["content"]
    controls = [b.get("cache_control") for b in blocks if isinstance(b, dict)]
    return [c.get("ttl", "5m") for c in controls if isinstance(c, dict)]


def converse_to_invoke_body(converse: dict[str, Any], max_output_tokens: int) -> dict[str, Any]:
    """The InvokeModel body a Converse request stands for (Converse's own checks on the way);
    `max_output_tokens` is the model's limit, and the default when maxTokens is not given."""
    inference = _object(converse, "inferenceConfig")
    max_tokens = inference.get("maxTokens", max_output_tokens)
    if isinstance(max_tokens, int) and max_tokens > max_output_tokens:
        raise validation(MAX_TOKENS.format(limit=max_output_tokens))
    messages = _messages(converse)
    body: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION, "max_tokens": max_tokens}
    system = _system(converse)
    if system:
        body["system"] = system
    body["messages"] = messages
    for key, name in (("temperature", "temperature"), ("topP", "top_p")):
        if key in inference:
            body[name] = inference[key]
    if inference.get("stopSequences"):
        body["stop_sequences"] = inference["stopSequences"]
    if "toolConfig" in converse:
        tools, choice = _tools(_object(converse, "toolConfig"))
        body["tools"] = tools
        if choice is not None:
            body["tool_choice"] = choice
    elif _uses_tools(messages):
        raise validation(NO_TOOL_CONFIG)
    output_config = _output_config(converse)
    if output_config:
        body["output_config"] = output_config
    extra = converse.get("additionalModelRequestFields")
    if extra is not None:
        if not isinstance(extra, dict):
            raise validation("additionalModelRequestFields: expected an object.")
        body.update(extra)
    return body


def converse_request(converse: dict[str, Any], model: Model) -> ConverseRequest:
    """A parsed Converse request for `model` in the InvokeModel form (not yet checked by the
    InvokeModel rules)."""
    if converse.get("promptVariables"):
        raise validation(
            "promptVariables apply to prompts from Prompt management; this emulator "
            "serves models only."
        )
    paths = converse.get("additionalModelResponseFieldPaths")
    paths = paths if isinstance(paths, list) else []
    return ConverseRequest(
        converse_to_invoke_body(converse, model.max_output_tokens),
        guardrail=_guardrail(converse),
        response_field_paths=[
            p for p in paths if isinstance(p, str) and p in _RESPONSE_FIELD_PATHS
        ],
    )
