"""A complete Message as the Anthropic streaming event sequence, and scripted
(partial) messages completed into full ones.

Events are produced as compact JSON bytes, ready to frame: the text deltas are the
hot path of every stream, so they are formatted directly rather than via dicts.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Callable, Iterator
from typing import Any

from ...core.messages import (
    STOP_REASONS,
    Message,
    Usage,
    as_blocks,
    estimate_text_tokens,
    split_tokens,
)
from ...models.catalog import Model
from ..signatures import redacted_data, sign_thinking

JSON_FRAGMENT_CHARS = 10
_ALPHABET = string.ascii_letters + string.digits
_compact = json.JSONEncoder(separators=(",", ":")).encode
_USAGE_FIELDS = set(Usage.__dataclass_fields__)


def new_id(prefix: str) -> str:
    """A Bedrock-looking id, e.g. `msg_bdrk_01...` or `toolu_bdrk_01...`."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(22))


def check_script(message: Any) -> None:
    """Raise ValueError unless `message` can be a scripted reply."""
    if not isinstance(message, dict):
        raise ValueError("a scripted message is a JSON object with 'content'")
    content = message.get("content")
    if content is None or not isinstance(content, (str, list)):
        raise ValueError("a scripted message needs 'content': a string or a list of blocks")
    for index, block in enumerate(as_blocks(content)):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise ValueError(f"content block {index} must be an object with a 'type'")
        kind = block["type"]
        if kind == "text" and not isinstance(block.get("text"), str):
            raise ValueError(f"content block {index}: a text block needs a string 'text'")
        if kind == "tool_use":
            if not isinstance(block.get("name"), str):
                raise ValueError(f"content block {index}: a tool_use block needs a string 'name'")
            if not isinstance(block.get("input", {}), dict):
                raise ValueError(f"content block {index}: tool_use 'input' must be an object")
        if kind == "thinking" and not isinstance(block.get("thinking"), str):
            raise ValueError(f"content block {index}: a thinking block needs a string 'thinking'")
        if kind == "redacted_thinking" and not isinstance(block.get("data", ""), str):
            raise ValueError(f"content block {index}: redacted_thinking 'data' must be a string")
    stop_reason = message.get("stop_reason")
    if stop_reason is not None and stop_reason not in STOP_REASONS:
        raise ValueError(f"stop_reason must be one of {', '.join(STOP_REASONS)}")
    if message.get("stop_details") is not None and not isinstance(message["stop_details"], dict):
        raise ValueError("stop_details must be an object or null")
    stop_sequence = message.get("stop_sequence")
    if stop_sequence is not None and not isinstance(stop_sequence, str):
        raise ValueError("stop_sequence must be a string or null")
    usage = message.get("usage")
    if usage is not None and (
        not isinstance(usage, dict)
        or set(usage) - _USAGE_FIELDS
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for v in usage.values()
            if v is not None
        )
    ):
        raise ValueError(
            f"usage may hold only non-negative integers: {', '.join(sorted(_USAGE_FIELDS))}"
        )


def estimate_output_tokens(content: list[dict[str, Any]]) -> int:
    """Output tokens for a reply's content, consistent with the stream's deltas."""
    total = 0
    for block in content:
        kind = block.get("type")
        if kind == "text":
            total += estimate_text_tokens(block.get("text", ""))
        elif kind == "thinking":
            total += estimate_text_tokens(block.get("thinking", ""))
        elif kind == "tool_use":
            total += 1 + estimate_text_tokens(_compact(block.get("input") or {}))
        else:
            total += 1
    return max(1, total)


def complete_message(script: dict[str, Any] | Message, model: Model, input_tokens: int) -> Message:
    """A full reply from a scripted (possibly partial) one: fills id, model, tool ids,
    stop_reason (`tool_use` when a tool is called, else `end_turn`) and usage."""
    if isinstance(script, Message):
        message = Message(**{**script.__dict__, "content": [dict(b) for b in script.content]})
        given_usage = {k: v for k, v in script.usage.to_dict().items() if v}
    else:
        message = Message.from_dict(script)
        message.content = [dict(b) for b in as_blocks(script.get("content") or [])]
        given_usage = {k: v for k, v in (script.get("usage") or {}).items() if v is not None}
    for index, block in enumerate(message.content):
        if block.get("type") == "thinking" and not block.get("signature"):
            block["signature"] = sign_thinking(block.get("thinking", ""))  # as the model signs
        elif block.get("type") == "redacted_thinking" and not block.get("data"):
            block["data"] = redacted_data(f"{message.id}:{index}")
        if block.get("type") == "tool_use":
            block.setdefault("id", new_id("toolu_bdrk_01"))
            block.setdefault("input", {})
    message.role = "assistant"
    message.id = message.id or new_id("msg_bdrk_01")
    message.model = message.model or model.api_model
    if message.stop_reason is None:
        message.stop_reason = "tool_use" if message.tool_uses else "end_turn"
    usage = {
        "input_tokens": input_tokens,
        "output_tokens": estimate_output_tokens(message.content),
        **given_usage,
    }
    message.usage = Usage.from_dict(usage)
    if not message.usage.thinking_tokens:
        message.usage.thinking_tokens = sum(
            estimate_text_tokens(b.get("thinking", "")) or 1
            for b in message.content
            if b.get("type") in ("thinking", "redacted_thinking")
        )
    return message


def _block_start(index: int, block: dict[str, Any]) -> bytes:
    kind = block.get("type")
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
    elif kind == "compaction":
        start = {"type": "compaction", "content": None}
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
    else:
        start = block
    return _compact(
        {"type": "content_block_start", "index": index, "content_block": start}
    ).encode()


def _deltas(index: int, kind: str, field: str, pieces: list[str]) -> Iterator[bytes]:
    head = b'{"type":"content_block_delta","index":%d,"delta":{"type":"%b","%b":' % (
        index,
        kind.encode(),
        field.encode(),
    )
    for piece in pieces:
        yield head + json.dumps(piece).encode() + b"}}"


def json_fragments(value: Any) -> list[str]:
    """A tool input as the partial JSON strings a stream carries."""
    text = _compact(value)
    return [text[i : i + JSON_FRAGMENT_CHARS] for i in range(0, len(text), JSON_FRAGMENT_CHARS)]


def _block_events(index: int, block: dict[str, Any]) -> Iterator[tuple[bytes, bool]]:
    yield _block_start(index, block), False
    kind = block.get("type")
    if kind == "text":
        for citation in block.get("citations") or []:
            yield (
                _compact(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "citations_delta", "citation": citation},
                    }
                ).encode(),
                False,
            )
        for event in _deltas(index, "text_delta", "text", split_tokens(block.get("text", ""))):
            yield event, True
    elif kind == "compaction":
        yield (
            _compact(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "compaction_delta", "content": block.get("content")},
                }
            ).encode(),
            False,
        )
    elif kind == "tool_use":
        for event in _deltas(
            index, "input_json_delta", "partial_json", json_fragments(block.get("input") or {})
        ):
            yield event, True
    elif kind == "thinking":
        for event in _deltas(index, "thinking_delta", "thinking", split_tokens(block["thinking"])):
            yield event, True
        if block.get("signature"):
            yield from (
                (e, False)
                for e in _deltas(index, "signature_delta", "signature", [block["signature"]])
            )
    yield b'{"type":"content_block_stop","index":%d}' % index, False


def stream_events(
    message: Message, started: float | None = None, clock: Callable[[], float] = time.monotonic
) -> Iterator[tuple[bytes, bool]]:
    """The event sequence for `message`, as (event JSON bytes, is_content_delta) pairs.

    `started` is the request's start on `clock`; the final `message_stop` carries the
    invocation metrics measured from it, computed when that event is produced.
    """
    started = clock() if started is None else started
    usage = message.usage.to_dict()
    head = message.to_dict()
    head["content"] = []
    head["stop_reason"] = None
    head["stop_sequence"] = None
    head.pop("stop_details", None)
    head.pop("context_management", None)
    head["usage"] = {**usage, "output_tokens": min(1, usage["output_tokens"])}
    first_byte = clock()
    yield _compact({"type": "message_start", "message": head}).encode(), False
    for index, block in enumerate(message.content):
        yield from _block_events(index, block)
    delta: dict[str, Any] = {
        "stop_reason": message.stop_reason,
        "stop_sequence": message.stop_sequence,
    }
    if message.stop_details:
        delta["stop_details"] = message.stop_details
    usage_delta: dict[str, Any] = {"output_tokens": usage["output_tokens"]}
    details = head["usage"].pop("output_tokens_details", None)
    if details:
        usage_delta["output_tokens_details"] = details
    if message.iterations:
        usage_delta["iterations"] = message.iterations
    end: dict[str, Any] = {"type": "message_delta", "delta": delta, "usage": usage_delta}
    if message.context_management is not None:
        end["context_management"] = message.context_management
    yield _compact(end).encode(), False
    now = clock()
    metrics = {
        "inputTokenCount": usage["input_tokens"],
        "outputTokenCount": usage["output_tokens"],
        "invocationLatency": round((now - started) * 1000),
        "firstByteLatency": round((first_byte - started) * 1000),
    }
    if usage["cache_read_input_tokens"] or usage["cache_creation_input_tokens"]:
        metrics["cacheReadInputTokenCount"] = usage["cache_read_input_tokens"]
        metrics["cacheWriteInputTokenCount"] = usage["cache_creation_input_tokens"]
    yield (
        _compact({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics}).encode(),
        False,
    )
