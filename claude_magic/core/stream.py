"""Fold Anthropic streaming events into a Message snapshot.

`fold_event` is a pure function in the style of an accumulator: it **mutates the
Message it is given and returns it**, so a caller keeps one snapshot per reply and
hands it to the view after every event. While a `tool_use` block is streaming its
JSON input, the raw fragments collect under the private key `_partial_json` of that
block; the key is removed at `content_block_stop`, when the input is parsed once.
Use `close_interrupted` on a snapshot whose stream stopped early.

Pure: no boto3, no I/O.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .eventstream import event_of
from .messages import Block, Message, Usage, as_blocks

PARTIAL_JSON = "_partial_json"
_UNESCAPED_QUOTE = re.compile(r'(?<!\\)(?:\\\\)*"')  # opens or closes a string
_NUMBER_START = frozenset("-0123456789")
METRICS_KEY = "amazon-bedrock-invocationMetrics"


class StreamError(Exception):
    """An error reported inside a stream (an in-band `error` event or exception item)."""

    def __init__(self, message: str, kind: str | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind  # e.g. "overloaded_error", "modelStreamErrorException"


def decode_chunk(item: dict[str, Any]) -> dict[str, Any]:
    """The event dict inside one boto3 stream item `{"chunk": {"bytes": b"..."}}`.

    boto3 has already base64-decoded `bytes`. An item that is not a chunk (an
    exception member) raises StreamError.
    """
    chunk = item.get("chunk")
    if chunk is None:
        kind, body = next(iter(item.items()), ("unknown", {}))
        text = body.get("message") if isinstance(body, dict) else None
        raise StreamError(text or f"the stream reported {kind}", kind)
    try:
        return event_of(chunk.get("bytes", b""))
    except ValueError as exc:
        raise StreamError(str(exc)) from exc


def fold_event(message: Message, event: dict[str, Any]) -> Message:
    """Fold one streaming event into `message` (mutated in place) and return it.

    Raises StreamError for an in-band `error` event or a malformed stream.
    Unknown event and delta types are ignored, so newer streams still fold.
    """
    kind = event.get("type")
    if kind == "content_block_delta":  # nearly every event: tested first
        _apply_delta(_block_at(message, event), event.get("delta") or {})
    elif kind == "message_start":
        _start_message(message, event.get("message") or {})
    elif kind == "content_block_start":
        _start_block(message, event)
    elif kind == "content_block_stop":
        _stop_block(_block_at(message, event))
    elif kind == "message_delta":
        delta = event.get("delta") or {}
        if "stop_reason" in delta:
            message.stop_reason = delta["stop_reason"]
        if "stop_sequence" in delta:
            message.stop_sequence = delta["stop_sequence"]
        if delta.get("stop_details"):
            message.stop_details = delta["stop_details"]
        if isinstance(event.get("context_management"), dict):
            message.context_management = event["context_management"]
        _replace_usage(message, event.get("usage"))
    elif kind == "message_stop":
        metrics = event.get(METRICS_KEY)
        if isinstance(metrics, dict):
            message.metrics = dict(metrics)
    elif kind == "error":
        error = event.get("error") or {}
        raise StreamError(error.get("message") or "the model stream failed", error.get("type"))
    return message


# Streamed delta types whose string field grows by concatenation: (block field, delta field).
_GROWING = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "input_json_delta": (PARTIAL_JSON, "partial_json"),
}


class DeltaRun:
    """A run of consecutive deltas to one block's text (or thinking, or tool input),
    folded into the Message in one go.

    Folding each delta copies the whole text so far, which is quadratic in the
    length of a reply; `take` keeps a delta back and `flush` folds the run into
    the message with a single concatenation. Take and flush give exactly what
    `fold_event` on each event gives; flush before folding any other event.
    """

    def __init__(self, message: Message) -> None:
        self.message = message
        self._index = -1
        self._kind = ""
        self._field = ""  # the delta's field that grows
        self._pieces: list[str] = []

    def take(self, event: dict[str, Any]) -> bool:
        """Keep `event` back if it is a growing delta for an existing block (flushing
        a run of another block or kind first); False, keeping nothing, otherwise."""
        if event.get("type") != "content_block_delta":
            return False
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return False
        kind = delta.get("type")
        if (
            kind == self._kind and self._field and event.get("index", -1) == self._index
        ):  # the run goes on
            self._pieces.append(delta.get(self._field) or "")
            return True
        if kind not in _GROWING:
            return False
        index = event.get("index", -1)
        if not (isinstance(index, int) and 0 <= index < len(self.message.content)):
            return False
        self.flush()
        self._index, self._kind, self._field = index, kind, _GROWING[kind][1]
        self._pieces.append(delta.get(self._field) or "")
        return True

    def flush(self) -> bool:
        """Fold the deltas kept back into the message; whether there were any."""
        if not self._pieces:
            return False
        pieces, self._pieces = self._pieces, []
        block = self.message.content[self._index]
        field = _GROWING[self._kind][0]
        block[field] = block.get(field, "") + "".join(pieces)
        return True


def close_interrupted(message: Message) -> Message:
    """Make a snapshot of an interrupted stream safe to keep: drop tool_use blocks
    whose input never completed and empty text blocks (mutates, returns)."""
    kept: list[Block] = []
    for block in message.content:
        if block.get("type") == "tool_use" and PARTIAL_JSON in block:
            continue
        if block.get("type") == "text" and not block.get("text"):
            continue
        kept.append(block)
    message.content = kept
    return message


def _start_message(message: Message, data: dict[str, Any]) -> None:
    message.id = data.get("id") or message.id
    message.model = data.get("model") or message.model
    message.role = data.get("role") or message.role
    if data.get("content"):
        message.content = as_blocks(data["content"])
    message.usage = Usage.from_dict(data.get("usage"))
    iterations = (data.get("usage") or {}).get("iterations")
    if isinstance(iterations, list):
        message.iterations = iterations


def _start_block(message: Message, event: dict[str, Any]) -> None:
    index = event.get("index", len(message.content))
    block: Block = dict(event.get("content_block") or {})
    if block.get("type") == "tool_use":
        block.setdefault("input", {})
        block[PARTIAL_JSON] = ""
    elif block.get("type") == "text":
        block.setdefault("text", "")
    if index == len(message.content):
        message.content.append(block)
    elif 0 <= index < len(message.content):
        message.content[index] = block
    else:
        raise StreamError(f"content block {index} started out of order")


def _block_at(message: Message, event: dict[str, Any]) -> Block:
    index = event.get("index", -1)
    if not 0 <= index < len(message.content):
        raise StreamError(f"event for unknown content block {index}")
    return message.content[index]


def _apply_delta(block: Block, delta: dict[str, Any]) -> None:
    kind = delta.get("type")
    if kind == "text_delta":
        block["text"] = block.get("text", "") + (delta.get("text") or "")
    elif kind == "input_json_delta":
        block[PARTIAL_JSON] = block.get(PARTIAL_JSON, "") + (delta.get("partial_json") or "")
    elif kind == "thinking_delta":
        block["thinking"] = block.get("thinking", "") + (delta.get("thinking") or "")
    elif kind == "signature_delta":
        block["signature"] = delta.get("signature") or ""
    elif kind == "citations_delta" and delta.get("citation") is not None:
        block.setdefault("citations", []).append(delta["citation"])
    elif kind == "compaction_delta":
        block["content"] = (block.get("content") or "") + (delta.get("content") or "")


def _stop_block(block: Block) -> None:
    if PARTIAL_JSON not in block:
        return
    raw = block.pop(PARTIAL_JSON)
    if not raw.strip():
        block["input"] = block.get("input") or {}
        return
    try:
        block["input"] = json.loads(raw)
    except ValueError as exc:
        raise StreamError(f"tool input for {block.get('name', '?')} is not valid JSON") from exc


def _replace_usage(message: Message, data: dict[str, Any] | None) -> None:
    """message_delta usage fields are running totals: present, non-null ones replace."""
    usage = message.usage
    data = dict(data or {})
    iterations = data.pop("iterations", None)
    if isinstance(iterations, list):
        message.iterations = iterations
    details = data.pop("output_tokens_details", None)
    if isinstance(details, dict):
        data["thinking_tokens"] = details.get("thinking_tokens")
    for key, value in data.items():
        if value is not None and key in Usage.__dataclass_fields__:
            setattr(usage, key, int(value))


def lenient_partial_json(text: str) -> dict[str, Any] | None:
    """The object a partial JSON text is heading for, for showing tool input live.

    Incomplete string values are kept as far as they go, unfinished keys, numbers and
    literals are dropped, open containers are closed. Returns {} for blank text and None
    when the text is not the start of a JSON object.
    """
    if not text.strip():
        return {}
    from pydantic_core import from_json  # loaded with the first tool already, as a rule

    start = len(text.rstrip("0123456789+-.eE"))  # a number at the end may go on: held back
    if text[start : start + 1] in _NUMBER_START and len(_UNESCAPED_QUOTE.findall(text)) % 2 == 0:
        text = text[:start]
    try:
        value = from_json(text, allow_partial="trailing-strings")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
