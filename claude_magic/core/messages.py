"""Messages API data: content blocks, Message, Usage, the request body and its limits.

Content blocks stay plain JSON-compatible dicts (exactly what goes on the wire);
this module gives them names and checks. Pure: no I/O, no third-party imports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Block = dict[str, Any]

MAX_IMAGES = 20
MAX_IMAGE_BYTES = 3_932_160  # 3.75 MB raw
MAX_IMAGE_BASE64_BYTES = 5_242_880  # 5 MB of base64
MAX_IMAGE_PIXELS_PER_SIDE = 8000
MAX_DOCUMENTS = 5
MAX_DOCUMENT_BYTES = 4_718_592  # 4.5 MB
MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_STOP_SEQUENCES = 8191
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
STOP_REASONS = (
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
    "compaction",
)


def text_block(text: str) -> Block:
    return {"type": "text", "text": text}


def image_block(data_b64: str, media_type: str) -> Block:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": data_b64},
    }


def document_block(data_b64: str, media_type: str, name: str | None = None) -> Block:
    block: Block = {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": data_b64},
    }
    if name:
        block["name"] = name
    return block


def tool_use_block(tool_id: str, name: str, tool_input: dict[str, Any]) -> Block:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}


def tool_result_block(
    tool_use_id: str, content: str | list[Block], is_error: bool = False
) -> Block:
    block: Block = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}
    if is_error:
        block["is_error"] = True
    return block


def as_blocks(content: str | list[Block]) -> list[Block]:
    """A message's content as a list of blocks (a string is one text block)."""
    return [text_block(content)] if isinstance(content, str) else list(content)


def text_of(content: str | list[Block]) -> str:
    """The concatenated text blocks of a content value."""
    return "".join(b.get("text", "") for b in as_blocks(content) if b.get("type") == "text")


@dataclass
class Usage:
    """Token usage; any field may be missing or None on the wire. `thinking_tokens` is
    `output_tokens_details.thinking_tokens` where Bedrock reports it (part of output)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    thinking_tokens: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage:
        data = dict(data or {})
        details = data.get("output_tokens_details")
        if isinstance(details, dict) and details.get("thinking_tokens") is not None:
            data["thinking_tokens"] = details["thinking_tokens"]
        return cls(**{k: int(data.get(k) or 0) for k in cls.__dataclass_fields__})

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(getattr(self, k) + getattr(other, k) for k in self.__dataclass_fields__))

    def to_dict(self) -> dict[str, Any]:
        """The wire form: thinking tokens nested as Bedrock reports them, when any."""
        data: dict[str, Any] = {
            k: getattr(self, k) for k in self.__dataclass_fields__ if k != "thinking_tokens"
        }
        if self.thinking_tokens:
            data["output_tokens_details"] = {"thinking_tokens": self.thinking_tokens}
        return data

    @classmethod
    def total(cls, usages: Iterable[Usage]) -> Usage:
        """The sum of several usages (zero for none)."""
        result = cls()
        for usage in usages:
            result = result + usage
        return result


@dataclass
class Message:
    """An assistant reply, as assembled from a response body or a stream."""

    content: list[Block] = field(default_factory=list)
    role: str = "assistant"
    id: str = ""
    model: str = ""
    stop_reason: str | None = None
    stop_sequence: str | None = None
    stop_details: dict[str, Any] | None = None  # e.g. {"type": "refusal", "category": ...}
    usage: Usage = field(default_factory=Usage)
    metrics: dict[str, Any] = field(default_factory=dict)  # amazon-bedrock-invocationMetrics
    # what Bedrock's context editing did ({"applied_edits": [...]}), when it did something
    context_management: dict[str, Any] | None = None
    # usage.iterations: a compaction's own usage beside the answer's (not in `usage`)
    iterations: list[dict[str, Any]] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        usage = data.get("usage")
        iterations = usage.get("iterations") if isinstance(usage, dict) else None
        managed = data.get("context_management")
        return cls(
            content=as_blocks(data.get("content") or []),
            role=data.get("role", "assistant"),
            id=data.get("id", ""),
            model=data.get("model", ""),
            stop_reason=data.get("stop_reason"),
            stop_sequence=data.get("stop_sequence"),
            stop_details=data.get("stop_details") or None,
            usage=Usage.from_dict(usage),
            context_management=managed if isinstance(managed, dict) else None,
            iterations=list(iterations) if isinstance(iterations, list) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": self.role,
            "model": self.model,
            "content": self.content,
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            **({"stop_details": self.stop_details} if self.stop_details else {}),
            "usage": {
                **self.usage.to_dict(),
                **({"iterations": self.iterations} if self.iterations else {}),
            },
            **({"context_management": self.context_management} if self.context_management else {}),
        }

    @property
    def billed_usage(self) -> Usage:
        """`usage` plus what a compaction in this reply used (Bedrock reports it apart,
        in `usage.iterations`): everything the reply costs."""
        compactions = [
            Usage.from_dict(i)
            for i in self.iterations or []
            if isinstance(i, dict) and i.get("type") == "compaction"
        ]
        return self.usage + Usage.total(compactions) if compactions else self.usage

    @property
    def text(self) -> str:
        return text_of(self.content)

    @property
    def tool_uses(self) -> list[Block]:
        return [b for b in self.content if b.get("type") == "tool_use"]


def build_request(
    messages: list[dict[str, Any]],
    *,
    max_tokens: int,
    system: str | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    stop_sequences: list[str] | None = None,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: dict[str, Any] | None = None,
    anthropic_beta: list[str] | None = None,
) -> dict[str, Any]:
    """The InvokeModel body for the Anthropic Messages API on Bedrock. Without tools,
    the tool blocks of earlier turns are sent as text (`tool_blocks_as_text`)."""
    from ..models.catalog import (
        ANTHROPIC_VERSION,  # here: loading the catalogue stays off %load_ext
    )

    body: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION}
    if anthropic_beta:
        body["anthropic_beta"] = list(anthropic_beta)
    body["max_tokens"] = max_tokens
    if system:
        body["system"] = system
    body["messages"] = messages if tools else tool_blocks_as_text(messages)
    optional = {
        "temperature": temperature,
        "top_p": top_p,
        "top_k": top_k,
        "stop_sequences": list(stop_sequences) if stop_sequences else None,
        "tools": tools or None,
        "tool_choice": tool_choice if tools else None,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def tool_blocks_as_text(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` with their tool_use and tool_result blocks written as text, for a request
    that offers no tools (Bedrock refuses tool blocks without tool definitions). Thinking
    blocks and everything else go as they are; a tool result's images and documents stay
    blocks of their own. Messages without tool blocks are passed on unchanged."""
    names: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        items = content if isinstance(content, list) else []
        kinds = {b.get("type") for b in items if isinstance(b, dict)}
        if not kinds & {"tool_use", "tool_result"}:
            out.append(message)
            continue
        blocks: list[Block] = []
        for block in items:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "tool_use":
                names[block.get("id", "")] = name = str(block.get("name", "the tool"))
                arguments = json.dumps(block.get("input"), ensure_ascii=False, default=str)
                blocks += _with_cache_control(
                    block, [text_block(f"[Called {name} with {arguments}]")]
                )
            elif kind == "tool_result":
                blocks += _with_cache_control(block, _tool_result_as_text(block, names))
            else:
                blocks.append(block)
        out.append({**message, "content": blocks})
    return out


def _tool_result_as_text(block: Block, names: dict[str, str]) -> list[Block]:
    name = names.get(block.get("tool_use_id", ""), "the tool")
    items = as_blocks(block.get("content") or [])
    text = "\n".join(str(b.get("text", "")) for b in items if b.get("type") == "text").strip()
    outcome = "failed" if block.get("is_error") else "returned"
    head = text_block(f"[{name} {outcome}: {text or '(no output)'}]")
    return [head, *(b for b in items if b.get("type") in ("image", "document"))]


def _with_cache_control(block: Block, replacement: list[Block]) -> list[Block]:
    """`replacement`, with the replaced block's prompt-caching breakpoint on its last block."""
    if "cache_control" in block:
        replacement[-1] = {**replacement[-1], "cache_control": block["cache_control"]}
    return replacement


def count_blocks(messages: list[dict[str, Any]], block_type: str) -> int:
    """How many blocks of `block_type` the messages hold (tool results included)."""
    total = 0
    for message in messages:
        for block in as_blocks(message.get("content") or []):
            if not isinstance(block, dict):
                continue
            if block.get("type") == block_type:
                total += 1
            elif block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                total += sum(
                    1
                    for b in block["content"]
                    if isinstance(b, dict) and b.get("type") == block_type
                )
    return total


_TOKEN = re.compile(r"\s*\S{1,4}|\s+")


def split_tokens(text: str) -> list[str]:
    """Split text into token-like pieces (up to four visible characters, leading
    whitespace attached); joining them gives the text back exactly."""
    return _TOKEN.findall(text)


def estimate_text_tokens(text: str) -> int:
    """A consistent token estimate for text: the number of `split_tokens` pieces."""
    return len(_TOKEN.findall(text))


def estimate_image_tokens(width: int, height: int) -> int:
    """Claude's documented estimate for an image: width × height / 750."""
    return max(1, round(width * height / 750))
