"""A reply as ConverseStream's event-stream frames: `messageStart`, per block
`contentBlockStart` (tool use only, as on Bedrock), `contentBlockDelta` (text, toolUse
input, reasoningContent text / signature / redactedContent) and `contentBlockStop`, then
`messageStop` and `metadata` (usage and latency).

Each frame names its event in `:event-type`; the payload is the event's JSON with the
random-length `p` padding field Bedrock adds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from ...core.messages import Block, Message, split_tokens
from ..citations import converse_citation
from ..wire.events import json_fragments
from ..wire.eventstream import JSON, encode_frame, encode_headers
from .request import ConverseRequest
from .response import (
    additional_fields,
    document_titles,
    guardrail_trace,
    redacted_bytes,
    token_usage,
)

_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_HEADERS: dict[str, bytes] = {}
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

# (event type, payload, is a content delta)
Event = tuple[str, dict[str, Any], bool]


def _headers(event_type: str) -> bytes:
    headers = _HEADERS.get(event_type)
    if headers is None:
        headers = _HEADERS[event_type] = encode_headers(
            {":event-type": event_type, ":content-type": JSON, ":message-type": "event"}
        )
    return headers


def _padding(sequence: int) -> str:
    return _PADDING[: 1 + (sequence * 7) % len(_PADDING)]


def event_payload(payload: dict[str, Any], sequence: int = 0) -> bytes:
    """An event's JSON payload with the `p` padding field."""
    return _compact({**payload, "p": _padding(sequence)}).encode("utf-8")


def event_frame(event_type: str, payload: dict[str, Any], sequence: int = 0) -> bytes:
    """One ConverseStream event frame."""
    return encode_frame(_headers(event_type), event_payload(payload, sequence))


def _text_delta_payload(index: int, text: str, sequence: int) -> bytes:
    """The hot path: a text delta's payload formatted directly."""
    return b'{"contentBlockIndex":%d,"delta":{"text":%b},"p":"%b"}' % (
        index,
        json.dumps(text).encode(),
        _padding(sequence).encode(),
    )


def _block_events(index: int, block: Block, titles: list[str]) -> Iterator[Event]:
    kind = block.get("type")
    if kind == "text":
        for piece in split_tokens(block.get("text", "")):
            yield "contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}, True
        for citation in block.get("citations") or []:
            delta = {"citation": converse_citation(citation, titles)}
            yield "contentBlockDelta", {"contentBlockIndex": index, "delta": delta}, False
    elif kind == "tool_use":
        start = {"toolUse": {"toolUseId": block["id"], "name": block["name"]}}
        yield "contentBlockStart", {"contentBlockIndex": index, "start": start}, False
        for piece in json_fragments(block.get("input") or {}):
            delta = {"toolUse": {"input": piece}}
            yield "contentBlockDelta", {"contentBlockIndex": index, "delta": delta}, True
    elif kind == "thinking":
        for piece in split_tokens(block.get("thinking", "")):
            delta = {"reasoningContent": {"text": piece}}
            yield "contentBlockDelta", {"contentBlockIndex": index, "delta": delta}, True
        if block.get("signature"):
            delta = {"reasoningContent": {"signature": block["signature"]}}
            yield "contentBlockDelta", {"contentBlockIndex": index, "delta": delta}, False
    elif kind == "redacted_thinking":
        delta = {"reasoningContent": {"redactedContent": redacted_bytes(block)}}
        yield "contentBlockDelta", {"contentBlockIndex": index, "delta": delta}, False
    else:
        return
    yield "contentBlockStop", {"contentBlockIndex": index}, False


def converse_events(
    message: Message,
    request: ConverseRequest,
    started: float,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Event]:
    """The ConverseStream events for `message`; latency is measured when `metadata` is made."""
    yield "messageStart", {"role": "assistant"}, False
    index = 0
    titles = document_titles(request)
    for block in message.content:
        events = list(_block_events(index, block, titles))
        if events:
            yield from events
            index += 1
    stop: dict[str, Any] = {"stopReason": message.stop_reason or "end_turn"}
    extra = additional_fields(message, request)
    if extra is not None:
        stop["additionalModelResponseFields"] = extra
    yield "messageStop", stop, False
    latency = round((clock() - started) * 1000)
    metadata: dict[str, Any] = {
        "usage": token_usage(message, request),
        "metrics": {"latencyMs": latency},
    }
    trace = guardrail_trace(message, request)
    if trace is not None:
        metadata["trace"] = trace
    yield "metadata", metadata, False


def converse_frames(
    message: Message, request: ConverseRequest, started: float
) -> Iterator[tuple[bytes, bool, bytes]]:
    """(frame, is a content delta, the event's payload JSON) for each ConverseStream event."""
    delta_headers = _headers("contentBlockDelta")
    for sequence, (event_type, payload, is_delta) in enumerate(
        converse_events(message, request, started)
    ):
        delta = payload.get("delta") if is_delta else None
        if delta is not None and len(delta) == 1 and "text" in delta:
            body = _text_delta_payload(payload["contentBlockIndex"], delta["text"], sequence)
            yield encode_frame(delta_headers, body), True, body
        else:
            body = event_payload(payload, sequence)
            yield encode_frame(_headers(event_type), body), is_delta, body
