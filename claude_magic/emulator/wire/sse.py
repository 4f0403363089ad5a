"""The Messages API's wire (bedrock-mantle): server-sent events with Anthropic's event
names, and errors in Anthropic's JSON shape, `{"type": "error", "error": {"type",
"message"}, "request_id"}`, with the statuses Anthropic's clients know (429 with
`retry-after`, 529 overloaded)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ...core.messages import Message
from ..errors import BedrockError
from .events import stream_events

RETRY_AFTER = {"retry-after": "1", "retry-after-ms": "100"}  # what a throttled client waits
_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_BY_CODE: dict[str, tuple[int, str]] = {
    "MissingAuthenticationTokenException": (401, "authentication_error"),
    "InvalidSignatureException": (401, "authentication_error"),
    "IncompleteSignatureException": (401, "authentication_error"),
    "UnrecognizedClientException": (401, "authentication_error"),
    "UnknownOperationException": (404, "not_found_error"),
    "ThrottlingException": (429, "rate_limit_error"),
    "ServiceQuotaExceededException": (429, "rate_limit_error"),
    "ModelNotReadyException": (429, "rate_limit_error"),
    "ServiceUnavailableException": (529, "overloaded_error"),
    "ModelTimeoutException": (504, "timeout_error"),
    "ModelErrorException": (500, "api_error"),
    "ModelStreamErrorException": (500, "api_error"),
    "InternalServerException": (500, "api_error"),
}
# An event-stream exception type (a stream fault) as the error event's type.
STREAM_ERROR_TYPES = {
    "modelStreamErrorException": "api_error",
    "internalServerException": "api_error",
    "validationException": "invalid_request_error",
    "throttlingException": "rate_limit_error",
    "modelTimeoutException": "timeout_error",
    "serviceUnavailableException": "overloaded_error",
}
_compact = json.JSONEncoder(separators=(",", ":")).encode
_STOP = b'{"type":"message_stop"'


def error_payload(kind: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id:
        payload["request_id"] = request_id
    return payload


def anthropic_error(
    error: BedrockError, request_id: str | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A Bedrock error as the Messages API answers it: status, JSON body, extra headers."""
    status, kind = _BY_CODE.get(
        error.code, (error.status, _STATUS_TYPES.get(error.status, "api_error"))
    )
    if error.code == "AccessDeniedException" and error.message.startswith("Authentication failed"):
        status, kind = 401, "authentication_error"  # a wrong API key
    headers = dict(RETRY_AFTER) if status == 429 else {}
    return status, error_payload(kind, error.message, request_id), headers


def event_bytes(event: bytes) -> bytes:
    """One event JSON (`{"type":"...",...}`, compact) as an SSE event."""
    name = event[9 : event.index(b'"', 9)]
    return b"event: %b\ndata: %b\n\n" % (name, event)


def error_event(kind: str, message: str) -> bytes:
    return event_bytes(_compact(error_payload(kind, message)).encode())


def corrupt_event() -> bytes:
    """An event whose data is not JSON (the stream's "bad_crc" fault)."""
    return b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":\n\n'


def sse_frames(message: Message, started: float) -> Iterator[tuple[bytes, bool, bytes]]:
    """(SSE event, is a content delta, event JSON) for each event of `message`: Anthropic's
    sequence, with a `ping` after `message_start` and a bare `message_stop`."""
    for sequence, (event, is_delta) in enumerate(stream_events(message, started)):
        if event.startswith(_STOP):
            event = b'{"type":"message_stop"}'
        yield event_bytes(event), is_delta, event
        if sequence == 0:
            yield b'event: ping\ndata: {"type":"ping"}\n\n', False, b'{"type":"ping"}'
