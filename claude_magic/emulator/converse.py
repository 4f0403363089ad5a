"""A Converse request (as it appears on the wire, bytes in base64) turned into the
equivalent Anthropic Messages body, so it can be validated and counted the same way."""

from __future__ import annotations

import json
from typing import Any

from ..models.catalog import ANTHROPIC_VERSION
from .errors import validation

IMAGE_FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
DOCUMENT_FORMATS = {"pdf": "application/pdf", "txt": "text/plain", "md": "text/plain"}


def _source_bytes(block: dict[str, Any], where: str) -> str:
    source = block.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("bytes"), str):
        raise validation(f"{where}.source.bytes: a base64 string is required.")
    return source["bytes"]


def _block(block: Any, where: str) -> dict[str, Any] | None:
    if not isinstance(block, dict) or len(block) != 1:
        raise validation(f"{where}: a content block holds exactly one member.")
    (kind, value), = block.items()
    if kind == "text":
        return {"type": "text", "text": value}
    if kind == "cachePoint":
        return None
    if kind == "image":
        media_type = IMAGE_FORMATS.get(value.get("format"))
        if media_type is None:
            raise validation(f"{where}.image.format: use one of {', '.join(IMAGE_FORMATS)}.")
        data = _source_bytes(value, f"{where}.image")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    if kind == "document":
        media_type = DOCUMENT_FORMATS.get(value.get("format"))
        if media_type is None:
            raise validation(f"{where}.document.format: the emulator reads {', '.join(DOCUMENT_FORMATS)}.")
        data = _source_bytes(value, f"{where}.document")
        return {"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}}
    if kind == "toolUse":
        return {"type": "tool_use", "id": value.get("toolUseId"), "name": value.get("name"),
                "input": value.get("input")}
    if kind == "toolResult":
        content = []
        for i, item in enumerate(value.get("content") or []):
            if isinstance(item, dict) and "json" in item:
                content.append({"type": "text", "text": json.dumps(item["json"])})
            else:
                converted = _block(item, f"{where}.toolResult.content.{i}")
                if converted is not None:
                    content.append(converted)
        result = {"type": "tool_result", "tool_use_id": value.get("toolUseId"), "content": content}
        if value.get("status") == "error":
            result["is_error"] = True
        return result
    raise validation(f"{where}: content block '{kind}' is not supported by the emulator.")


def converse_to_invoke_body(converse: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    """The InvokeModel body equivalent to a Converse request's messages, system and tools."""
    messages = []
    for i, message in enumerate(converse.get("messages") or []):
        if not isinstance(message, dict):
            raise validation(f"messages.{i}: expected an object.")
        blocks = [_block(b, f"messages.{i}.content.{j}") for j, b in enumerate(message.get("content") or [])]
        messages.append({"role": message.get("role"), "content": [b for b in blocks if b is not None]})
    body: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION, "max_tokens": max_tokens,
                            "messages": messages}
    system = [s["text"] for s in converse.get("system") or [] if isinstance(s, dict) and "text" in s]
    if system:
        body["system"] = "\n".join(system)
    config = converse.get("toolConfig") or {}
    tools = [
        {"name": spec.get("name"), "description": spec.get("description", ""),
         "input_schema": (spec.get("inputSchema") or {}).get("json")}
        for spec in (t.get("toolSpec") for t in config.get("tools") or [] if isinstance(t, dict))
        if isinstance(spec, dict)
    ]
    if tools:
        body["tools"] = tools
        choice = config.get("toolChoice")
        if isinstance(choice, dict) and len(choice) == 1:
            (kind, value), = choice.items()
            body["tool_choice"] = {"type": kind, **({"name": value.get("name")} if kind == "tool" else {})}
    extra = converse.get("additionalModelRequestFields")
    if isinstance(extra, dict):
        body.update(extra)
    return body
