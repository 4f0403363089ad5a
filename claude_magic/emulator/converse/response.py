"""A reply (an Anthropic Message) in Converse's shapes: `output.message`, `stopReason`,
`usage` (cache fields and `cacheDetails` included) and `metrics.latencyMs`."""

from __future__ import annotations

import base64
from typing import Any

from ...core.messages import Block, Message, as_blocks
from .request import ConverseRequest

GUARDRAIL_INTERVENED = "guardrail_intervened"


def document_titles(request: ConverseRequest) -> list[str]:
    """The names of the request's documents, in order (what Converse citations name)."""
    return [
        str(b.get("title") or "document")
        for m in request.body.get("messages") or []
        for b in as_blocks(m.get("content") or [])
        if isinstance(b, dict) and b.get("type") == "document"
    ]


def converse_block(block: Block, titles: list[str] | None = None) -> dict[str, Any] | None:
    """One Anthropic content block as a Converse ContentBlock (None: no Converse form); a
    text block with citations is a `citationsContent` block."""
    kind = block.get("type")
    if kind == "text" and block.get("citations"):
        from ..citations import converse_citation

        return {
            "citationsContent": {
                "content": [{"text": block.get("text", "")}],
                "citations": [converse_citation(c, titles or []) for c in block["citations"]],
            }
        }
    if kind == "text":
        return {"text": block.get("text", "")}
    if kind == "tool_use":
        return {
            "toolUse": {
                "toolUseId": block["id"],
                "name": block["name"],
                "input": block.get("input") or {},
            }
        }
    if kind == "thinking":
        text: dict[str, Any] = {"text": block.get("thinking", "")}
        if block.get("signature"):
            text["signature"] = block["signature"]
        return {"reasoningContent": {"reasoningText": text}}
    if kind == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": redacted_bytes(block)}}
    return None


def redacted_bytes(block: Block) -> str:
    """A redacted_thinking block's data as the base64 of a Converse blob."""
    return base64.b64encode(str(block.get("data", "")).encode("utf-8")).decode("ascii")


def token_usage(message: Message, request: ConverseRequest) -> dict[str, Any]:
    """Converse's TokenUsage: input excludes cache reads and writes, the total counts all."""
    usage = message.usage
    read, write = usage.cache_read_input_tokens, usage.cache_creation_input_tokens
    result: dict[str, Any] = {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.input_tokens + usage.output_tokens + read + write,
    }
    if read or write or request.cache_ttls:
        result["cacheReadInputTokens"] = read
        result["cacheWriteInputTokens"] = write
    if write:
        ttl = "1h" if "1h" in request.cache_ttls else "5m"
        result["cacheDetails"] = [{"ttl": ttl, "inputTokens": write}]
    return result


def additional_fields(message: Message, request: ConverseRequest) -> dict[str, Any] | None:
    """The model's own response fields the request asked for by path."""
    if "/stop_sequence" in request.response_field_paths:
        return {"stop_sequence": message.stop_sequence}
    return None


def converse_response(
    message: Message, request: ConverseRequest, latency_ms: int
) -> dict[str, Any]:
    """The Converse response body for `message`."""
    titles = document_titles(request)
    content = [
        b for b in (converse_block(block, titles) for block in message.content) if b is not None
    ]
    body: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": message.stop_reason or "end_turn",
        "usage": token_usage(message, request),
        "metrics": {"latencyMs": latency_ms},
    }
    extra = additional_fields(message, request)
    if extra is not None:
        body["additionalModelResponseFields"] = extra
    trace = guardrail_trace(message, request)
    if trace is not None:
        body["trace"] = trace
    return body


def guardrail_trace(message: Message, request: ConverseRequest) -> dict[str, Any] | None:
    """The trace of an intervention, when the request asked for guardrail traces."""
    if message.stop_reason != GUARDRAIL_INTERVENED:
        return None
    if (request.guardrail or {}).get("trace") not in ("enabled", "enabled_full"):
        return None
    return {"guardrail": {"actionReason": "Guardrail blocked."}}
