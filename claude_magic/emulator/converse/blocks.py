"""Converse content blocks (as they appear on the wire: blobs in base64) turned into the
Anthropic Messages blocks they stand for.

A `cachePoint` block is no block of its own: it puts `cache_control` on the block before
it. Messages follow Bedrock's Converse wording where it is known; the others are
modelled on botocore's shapes (member paths such as `messages.0.content.1`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from ..errors import validation
from ..media import decode_base64

IMAGE_FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
TEXT_DOCUMENT_FORMATS = ("txt", "md", "csv", "html")
UNREAD_DOCUMENT_FORMATS = ("doc", "docx", "xls", "xlsx")
CACHE_TTLS = ("5m", "1h")
UNSUPPORTED_BLOCKS = ("video", "audio", "searchResult", "toolAddition", "toolRemoval")
_DOCUMENT_NAME = re.compile(r"^(?!.*\s\s)[A-Za-z0-9\s\-()\[\]]+$")

BLANK_TEXT = (
    "The text field in the {shape} object at {where} is blank. Add text to the "
    "text field, and try again."
)
EMPTY_ERROR_RESULT = (
    "The content field at {where}.toolResult cannot be empty when status value is error."
)


def cache_control(point: Any, where: str) -> dict[str, Any]:
    """The `cache_control` a `cachePoint` stands for."""
    if not isinstance(point, dict) or point.get("type") != "default":
        raise validation(f"{where}.cachePoint.type: the only cache point type is 'default'.")
    control: dict[str, Any] = {"type": "ephemeral"}
    ttl = point.get("ttl")
    if ttl is not None:
        if ttl not in CACHE_TTLS:
            raise validation(f"{where}.cachePoint.ttl: use one of {', '.join(CACHE_TTLS)}.")
        control["ttl"] = ttl
    return control


def _member(block: Any, where: str) -> tuple[str, Any]:
    if not isinstance(block, dict) or len(block) != 1:
        raise validation(f"{where}: a content block holds exactly one member.")
    ((kind, value),) = block.items()
    return kind, value


def _bytes(value: dict[str, Any], where: str) -> str:
    """The base64 text of a `source.bytes` blob (S3 locations are not emulated)."""
    source = value.get("source")
    if not isinstance(source, dict):
        raise validation(f"{where}.source: a source is required.")
    if "s3Location" in source:
        raise validation(
            f"{where}.source.s3Location: the emulator does not read S3; send the bytes instead."
        )
    data = source.get("bytes")
    if not isinstance(data, str) or not data:
        raise validation(f"{where}.source.bytes: a base64 string is required.")
    return data


def _image(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise validation(f"{where}.image: expected an object.")
    image_format = value.get("format")
    media_type = IMAGE_FORMATS.get(image_format) if isinstance(image_format, str) else None
    if media_type is None:
        raise validation(f"{where}.image.format: use one of {', '.join(IMAGE_FORMATS)}.")
    data = _bytes(value, f"{where}.image")
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _document(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise validation(f"{where}.document: expected an object.")
    name = value.get("name")
    if not isinstance(name, str) or not _DOCUMENT_NAME.match(name):
        raise validation(
            f"The format of the value at {where}.document.name is invalid. Provide a name that only "
            "contains alphanumeric characters, whitespace characters, hyphens, parentheses, or "
            "square brackets, with no more than one whitespace character in a row."
        )
    source = value.get("source")
    if not isinstance(source, dict):
        raise validation(f"{where}.document.source: a source is required.")
    fmt = value.get("format", "txt" if "text" in source else "pdf")
    block: dict[str, Any] = {"type": "document", "title": name}
    if fmt in UNREAD_DOCUMENT_FORMATS:
        raise validation(
            f"{where}.document.format: the emulator reads pdf, "
            f"{', '.join(TEXT_DOCUMENT_FORMATS)} documents, not {fmt}."
        )
    if isinstance(source.get("text"), str):
        block["source"] = {"type": "text", "media_type": "text/plain", "data": source["text"]}
    elif fmt == "pdf":
        block["source"] = {
            "type": "base64",
            "media_type": "application/pdf",
            "data": _bytes(value, f"{where}.document"),
        }
    elif fmt in TEXT_DOCUMENT_FORMATS:
        try:
            text = decode_base64(_bytes(value, f"{where}.document")).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise validation(
                f"{where}.document.source.bytes: the {fmt} document is not UTF-8 text."
            ) from None
        block["source"] = {"type": "text", "media_type": "text/plain", "data": text}
    else:
        raise validation(
            f"{where}.document.format: use one of pdf, "
            f"{', '.join((*TEXT_DOCUMENT_FORMATS, *UNREAD_DOCUMENT_FORMATS))}."
        )
    if isinstance(value.get("context"), str):
        block["context"] = value["context"]
    citations = value.get("citations")
    if isinstance(citations, dict) and "enabled" in citations:
        block["citations"] = {"enabled": bool(citations["enabled"])}
    return block


def _tool_result(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise validation(f"{where}.toolResult: expected an object.")
    items = value.get("content")
    if items is not None and not isinstance(items, list):
        raise validation(f"{where}.toolResult.content: expected a list of content blocks.")
    content: list[dict[str, Any]] = []
    for i, item in enumerate(items or []):
        kind, inner = _member(item, f"{where}.toolResult.content.{i}")
        if kind == "json":
            content.append({"type": "text", "text": json.dumps(inner)})
        elif kind == "text":
            if not isinstance(inner, str) or not inner.strip():
                raise validation(
                    BLANK_TEXT.format(
                        shape="ToolResultContentBlock", where=f"{where}.toolResult.content.{i}"
                    )
                )
            content.append({"type": "text", "text": inner})
        elif kind == "image":
            content.append(_image(inner, f"{where}.toolResult.content.{i}"))
        elif kind == "document":
            content.append(_document(inner, f"{where}.toolResult.content.{i}"))
        else:
            raise validation(
                f"{where}.toolResult.content.{i}: {kind} is not supported by Claude models."
            )
    status = value.get("status")
    if status == "error" and not content:
        raise validation(EMPTY_ERROR_RESULT.format(where=where))
    result: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": value.get("toolUseId"),
        "content": content,
    }
    if status == "error":
        result["is_error"] = True
    return result


def _reasoning(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) != 1:
        raise validation(
            f"{where}.reasoningContent: holds exactly one of reasoningText or redactedContent."
        )
    if "redactedContent" in value:
        try:
            data = base64.b64decode(value["redactedContent"], validate=True).decode("utf-8")
        except (binascii.Error, ValueError, TypeError):
            raise validation(
                f"{where}.reasoningContent.redactedContent: not valid base64."
            ) from None
        return {"type": "redacted_thinking", "data": data}
    text = value.get("reasoningText")
    if not isinstance(text, dict) or not isinstance(text.get("text"), str):
        raise validation(f"{where}.reasoningContent.reasoningText.text: a string is required.")
    block = {"type": "thinking", "thinking": text["text"]}
    if isinstance(text.get("signature"), str):
        block["signature"] = text["signature"]
    return block


def content_block(block: Any, where: str, shape: str = "ContentBlock") -> dict[str, Any] | None:
    """The Anthropic block for one Converse block; None for a `cachePoint` (which the
    caller attaches to the previous block with `cache_control`)."""
    kind, value = _member(block, where)
    if kind == "text":
        if not isinstance(value, str):
            raise validation(f"{where}.text: a string is required.")
        if not value.strip():
            raise validation(BLANK_TEXT.format(shape=shape, where=where))
        return {"type": "text", "text": value}
    if kind == "cachePoint":
        return None
    if kind == "guardContent":
        inner = value.get("text") if isinstance(value, dict) else None
        text = inner.get("text") if isinstance(inner, dict) else None
        if not isinstance(text, str):
            raise validation(f"{where}.guardContent: the emulator reads guardContent text only.")
        return {"type": "text", "text": text}
    if kind == "image":
        return _image(value, where)
    if kind == "document":
        return _document(value, where)
    if kind == "toolUse":
        if not isinstance(value, dict):
            raise validation(f"{where}.toolUse: expected an object.")
        return {
            "type": "tool_use",
            "id": value.get("toolUseId"),
            "name": value.get("name"),
            "input": value.get("input"),
        }
    if kind == "toolResult":
        return _tool_result(value, where)
    if kind == "reasoningContent":
        return _reasoning(value, where)
    if kind == "citationsContent":  # a cited answer sent back: its text
        parts = value.get("content") if isinstance(value, dict) else None
        text = "".join(str(p.get("text", "")) for p in parts or [] if isinstance(p, dict))
        if not text.strip():
            raise validation(
                f"{where}.citationsContent.content: the generated content is required."
            )
        return {"type": "text", "text": text}
    if kind in UNSUPPORTED_BLOCKS:
        raise validation(
            f"This model doesn't support the {kind} content block at {where}. Remove "
            f"{kind} and try again."
        )
    raise validation(f"{where}: unknown content block member {kind!r}.")


def content_blocks(blocks: Any, where: str, shape: str = "ContentBlock") -> list[dict[str, Any]]:
    """A Converse content list (of `shape`) as Anthropic blocks, cache points applied."""
    if not isinstance(blocks, list):
        raise validation(f"{where}: expected a list of content blocks.")
    out: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        converted = content_block(block, f"{where}.{j}", shape)
        if converted is not None:
            out.append(converted)
            continue
        if not out:
            raise validation(
                f"{where}.{j}.cachePoint: a cache point must follow the content it caches."
            )
        out[-1]["cache_control"] = cache_control(block["cachePoint"], f"{where}.{j}")
    return out
