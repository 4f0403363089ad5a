"""Converse replies back in the Anthropic forms the rest of the package reads: a
Converse response as a Message, ConverseStream events as the Anthropic event dicts
`core.stream.fold_event` folds (so the same view, fold and errors serve both APIs)."""

from __future__ import annotations

from typing import Any

from ..core.messages import Block, Message, Usage

METRICS_KEY = "amazon-bedrock-invocationMetrics"


def _redacted_data(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


_LOCATIONS = {  # Converse location -> (Anthropic citation type, start field, end field)
    "documentChar": ("char_location", "start_char_index", "end_char_index"),
    "documentPage": ("page_location", "start_page_number", "end_page_number"),
    "documentChunk": ("content_block_location", "start_block_index", "end_block_index"),
}


def anthropic_citation(citation: dict[str, Any]) -> dict[str, Any]:
    """A Converse citation as an InvokeModel one (`char_location`, `page_location`, ...)."""
    cited = "".join(
        str(c.get("text", "")) for c in citation.get("sourceContent") or [] if isinstance(c, dict)
    )
    out: dict[str, Any] = {
        "type": "char_location",
        "cited_text": cited,
        "document_title": citation.get("title"),
    }
    for key, (kind, start, end) in _LOCATIONS.items():
        where = (citation.get("location") or {}).get(key)
        if isinstance(where, dict):
            out.update(
                {
                    "type": kind,
                    "document_index": where.get("documentIndex", 0),
                    start: where.get("start"),
                    end: where.get("end"),
                }
            )
            break
    return out


def anthropic_block(block: dict[str, Any]) -> Block | None:
    """One Converse ContentBlock of a reply as an Anthropic block (None: nothing to keep)."""
    if "text" in block:
        return {"type": "text", "text": block["text"]}
    cited = block.get("citationsContent")
    if isinstance(cited, dict):
        text = "".join(
            str(c.get("text", "")) for c in cited.get("content") or [] if isinstance(c, dict)
        )
        return {
            "type": "text",
            "text": text,
            "citations": [
                anthropic_citation(c) for c in cited.get("citations") or [] if isinstance(c, dict)
            ],
        }
    if "toolUse" in block:
        use = block["toolUse"]
        return {
            "type": "tool_use",
            "id": use["toolUseId"],
            "name": use["name"],
            "input": use.get("input") or {},
        }
    reasoning = block.get("reasoningContent")
    if isinstance(reasoning, dict):
        if "redactedContent" in reasoning:
            return {
                "type": "redacted_thinking",
                "data": _redacted_data(reasoning["redactedContent"]),
            }
        reasoned = reasoning.get("reasoningText") or {}
        return {
            "type": "thinking",
            "thinking": reasoned.get("text", ""),
            "signature": reasoned.get("signature", ""),
        }
    return None


def usage_of(usage: dict[str, Any] | None) -> dict[str, int]:
    """Converse TokenUsage as Anthropic usage fields."""
    usage = usage or {}
    return {
        "input_tokens": int(usage.get("inputTokens") or 0),
        "output_tokens": int(usage.get("outputTokens") or 0),
        "cache_read_input_tokens": int(usage.get("cacheReadInputTokens") or 0),
        "cache_creation_input_tokens": int(usage.get("cacheWriteInputTokens") or 0),
    }


def _stop_sequence(fields: Any) -> str | None:
    value = fields.get("stop_sequence") if isinstance(fields, dict) else None
    return value if isinstance(value, str) else None


def message_from_response(response: dict[str, Any], model_id: str) -> Message:
    """A Converse response as a Message (metrics: latency and token counts)."""
    output = (response.get("output") or {}).get("message") or {}
    content = [b for b in map(anthropic_block, output.get("content") or []) if b is not None]
    usage = usage_of(response.get("usage"))
    message = Message(
        content=content,
        model=model_id,
        stop_reason=response.get("stopReason"),
        stop_sequence=_stop_sequence(response.get("additionalModelResponseFields")),
        usage=Usage.from_dict(usage),
    )
    message.metrics = {
        "inputTokenCount": usage["input_tokens"],
        "outputTokenCount": usage["output_tokens"],
        "invocationLatency": int((response.get("metrics") or {}).get("latencyMs") or 0),
    }
    return message


class ConverseEvents:
    """Turns ConverseStream events into Anthropic stream events, one call per event.

    Converse starts only tool-use blocks explicitly; text and reasoning blocks start
    here at their first delta. `messageStop` and `metadata` together make
    `message_delta` (stop reason, usage) and `message_stop` (invocation metrics).
    """

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self._indexes: dict[int, int] = {}  # Converse block index -> ours
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None

    def __call__(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        kind, data = next(iter(item.items()), ("", {}))
        data = data if isinstance(data, dict) else {}
        if kind == "contentBlockDelta":
            return self._delta(data.get("contentBlockIndex", 0), data.get("delta") or {})
        if kind == "messageStart":
            return [
                {
                    "type": "message_start",
                    "message": {
                        "id": "",
                        "type": "message",
                        "role": data.get("role", "assistant"),
                        "model": self.model_id,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 0, "output_tokens": 0},
                    },
                }
            ]
        if kind == "contentBlockStart":
            use = (data.get("start") or {}).get("toolUse")
            if isinstance(use, dict):
                return self._start(
                    data.get("contentBlockIndex", 0),
                    {
                        "type": "tool_use",
                        "id": use.get("toolUseId", ""),
                        "name": use.get("name", ""),
                        "input": {},
                    },
                )
            return []
        if kind == "contentBlockStop":
            index = self._indexes.get(data.get("contentBlockIndex", 0))
            return [] if index is None else [{"type": "content_block_stop", "index": index}]
        if kind == "messageStop":
            self._stop_reason = data.get("stopReason")
            self._stop_sequence = _stop_sequence(data.get("additionalModelResponseFields"))
            return []
        if kind == "metadata":
            usage = usage_of(data.get("usage"))
            latency = int((data.get("metrics") or {}).get("latencyMs") or 0)
            return [
                {
                    "type": "message_delta",
                    "usage": usage,
                    "delta": {
                        "stop_reason": self._stop_reason,
                        "stop_sequence": self._stop_sequence,
                    },
                },
                {
                    "type": "message_stop",
                    METRICS_KEY: {
                        "inputTokenCount": usage["input_tokens"],
                        "outputTokenCount": usage["output_tokens"],
                        "invocationLatency": latency,
                    },
                },
            ]
        return []

    def _start(self, converse_index: int, block: Block) -> list[dict[str, Any]]:
        index = self._indexes[converse_index] = len(self._indexes)
        return [{"type": "content_block_start", "index": index, "content_block": block}]

    def _delta(self, converse_index: int, delta: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        reasoning = delta.get("reasoningContent")
        if converse_index not in self._indexes:
            if "text" in delta or "citation" in delta:
                events = self._start(converse_index, {"type": "text", "text": ""})
            elif isinstance(reasoning, dict) and "redactedContent" in reasoning:
                return self._start(
                    converse_index,
                    {
                        "type": "redacted_thinking",
                        "data": _redacted_data(reasoning["redactedContent"]),
                    },
                )
            elif isinstance(reasoning, dict):
                events = self._start(
                    converse_index, {"type": "thinking", "thinking": "", "signature": ""}
                )
            else:
                return []
        index = self._indexes[converse_index]
        if "text" in delta:
            events.append(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": delta["text"]},
                }
            )
        elif isinstance(delta.get("citation"), dict):
            events.append(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {
                        "type": "citations_delta",
                        "citation": anthropic_citation(delta["citation"]),
                    },
                }
            )
        elif isinstance(delta.get("toolUse"), dict):
            events.append(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {
                        "type": "input_json_delta",
                        "partial_json": delta["toolUse"].get("input", ""),
                    },
                }
            )
        elif isinstance(reasoning, dict):
            if "text" in reasoning:
                events.append(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "thinking_delta", "thinking": reasoning["text"]},
                    }
                )
            if "signature" in reasoning:
                events.append(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "signature_delta", "signature": reasoning["signature"]},
                    }
                )
        return events
