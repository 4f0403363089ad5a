"""The format `%claude save` writes: one JSON Schema for a saved conversation and for a
file of chats, checked before anything is loaded. The images inside must be real
images of a type Claude takes, within Bedrock's limits. A bad file is reported as its
first bad place, e.g. `chats.default.turns[0].replies[1].content: should be a list`.
jsonschema is imported only when a file is checked."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from .image_header import read_image_header
from .messages import (
    IMAGE_MEDIA_TYPES,
    MAX_IMAGE_BASE64_BYTES,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS_PER_SIDE,
)

FORMAT = "claude-magic-conversation"
CHATS_FORMAT = "claude-magic-chats"
VERSION = 1

_BLOCK_FIELDS: dict[str, dict[str, Any]] = {
    "text": {"text": {"type": "string"}, "citations": {"type": "array"}},
    "image": {"source": {"$ref": "#/$defs/image_source"}},
    "document": {
        "source": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": ["base64", "text"]},
                "media_type": {"type": "string"},
                "data": {"type": "string"},
            },
        }
    },
    "tool_use": {"id": {"type": "string"}, "name": {"type": "string"}},
    "tool_result": {
        "tool_use_id": {"type": "string"},
        "is_error": {"type": "boolean"},
        "content": {"type": ["string", "array"], "items": {"$ref": "#/$defs/block"}},
    },
    "thinking": {"thinking": {"type": "string"}, "signature": {"type": "string"}},
    "redacted_thinking": {"data": {"type": "string"}},
    "compaction": {"content": {"type": ["string", "null"]}},
}
_REQUIRED = {
    "text": ["text"],
    "image": ["source"],
    "document": ["source"],
    "tool_use": ["id", "name"],
    "tool_result": ["tool_use_id"],
    "thinking": ["thinking"],
    "redacted_thinking": ["data"],
    "compaction": [],
}
_STRING_OR_NULL = {"type": ["string", "null"]}
_USAGE = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
_BLOCKS = {"type": "array", "items": {"$ref": "#/$defs/block"}}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["format"],
    "properties": {"format": {"enum": [FORMAT, CHATS_FORMAT]}},
    "allOf": [
        {
            "if": {"properties": {"format": {"const": CHATS_FORMAT}}},
            "then": {
                "required": ["chats"],
                "properties": {
                    "version": {"type": "integer"},
                    "chats": {"type": "array", "items": {"$ref": "#/$defs/conversation"}},
                },
            },
        },
        {
            "if": {"properties": {"format": {"const": FORMAT}}},
            "then": {"$ref": "#/$defs/conversation"},
        },
    ],
    "$defs": {
        "conversation": {
            "type": "object",
            "required": ["format", "name", "turns"],
            "properties": {
                "format": {"const": FORMAT},
                "version": {"type": "integer"},
                "name": {"type": "string", "minLength": 1},
                "system": _STRING_OR_NULL,
                "turns": {"type": "array", "items": {"$ref": "#/$defs/turn"}},
            },
        },
        "turn": {
            "type": "object",
            "required": ["user", "replies"],
            "properties": {
                "user": _BLOCKS,
                "replies": {"type": "array", "items": {"$ref": "#/$defs/reply"}},
                "results": {"type": "array", "items": _BLOCKS},
                "cell_id": _STRING_OR_NULL,
                "execution_count": {"type": ["integer", "null"]},
                "image_labels": {"type": "array", "items": _STRING_OR_NULL},
                "interrupted": {"type": "boolean"},
                "error": _STRING_OR_NULL,
                "model_id": {"type": "string"},
                "timestamp": {"type": "number"},
                "compacted": {"type": "boolean"},
            },
        },
        "reply": {
            "type": "object",
            "required": ["content"],
            "properties": {
                "role": {"const": "assistant"},
                "id": {"type": "string"},
                "model": {"type": "string"},
                "content": _BLOCKS,
                "stop_reason": _STRING_OR_NULL,
                "stop_sequence": _STRING_OR_NULL,
                "stop_details": {"type": ["object", "null"]},
                "usage": {
                    "type": "object",
                    "properties": {
                        **{key: {"type": ["integer", "null"]} for key in _USAGE},
                        "output_tokens_details": {"type": "object"},
                    },
                },
                "metrics": {"type": "object"},
            },
        },
        "block": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": list(_BLOCK_FIELDS)}},
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": kind}}},
                    "then": {"required": _REQUIRED[kind], "properties": fields},
                }
                for kind, fields in _BLOCK_FIELDS.items()
            ],
        },
        "image_source": {
            "type": "object",
            "required": ["type", "media_type", "data"],
            "properties": {
                "type": {"const": "base64"},
                "media_type": {"enum": list(IMAGE_MEDIA_TYPES)},
                "data": {"type": "string"},
            },
            "image": True,
        },
    },
}

_KINDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}
_NAME = re.compile(r"[\w-]+")


def check_saved(data: Any) -> None:
    """Raise ValueError, one line naming the first bad place, unless `data` is a saved
    conversation or file of chats that this version loads."""
    if not isinstance(data, dict) or data.get("format") not in (FORMAT, CHATS_FORMAT):
        raise ValueError("not a conversation saved by claude-magic")
    if isinstance(data.get("version"), int) and data["version"] > VERSION:
        raise ValueError(
            f"{data['format']} version {data['version']} is newer than this claude-magic"
        )
    chats = data.get("chats")
    for chat in chats if isinstance(chats, list) else []:
        if (
            isinstance(chat, dict)
            and isinstance(chat.get("version"), int)
            and chat["version"] > VERSION
        ):
            raise ValueError(f"{FORMAT} version {chat['version']} is newer than this claude-magic")
    errors = list(_validator().iter_errors(data))
    if not errors:
        return
    first = min(errors, key=lambda error: _order(data, list(error.absolute_path)))
    path = list(first.absolute_path)
    message = _describe(first)
    if first.validator == "required":
        path.append(next(key for key in first.validator_value if key not in first.instance))
        message = "missing"
    raise ValueError(f"{_spell(data, path)}: {message}")


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator, validators

    checker = validators.extend(Draft202012Validator, {"image": _check_image})
    return checker(SCHEMA)


def _check_image(validator: Any, enabled: bool, source: Any, schema: Any) -> Iterator[Any]:
    """The `image` keyword: a base64 image source holds an image of its media type
    within Bedrock's limits."""
    from jsonschema import ValidationError

    data, media_type = source.get("data"), source.get("media_type")
    if not enabled or not isinstance(data, str) or media_type not in IMAGE_MEDIA_TYPES:
        return
    if len(data) > MAX_IMAGE_BASE64_BYTES:
        yield ValidationError(
            f"the image is {_megabytes(len(data))} of base64; Bedrock takes at most "
            f"{_megabytes(MAX_IMAGE_BASE64_BYTES)}",
            path=["data"],
        )
        return
    try:
        raw = base64.b64decode(re.sub(r"\s+", "", data), validate=True)
    except (binascii.Error, ValueError):
        yield ValidationError("not valid base64", path=["data"])
        return
    header = read_image_header(raw)
    if header is None:
        yield ValidationError("not a JPEG, PNG, GIF or WebP image", path=["data"])
    elif header.media_type != media_type:
        yield ValidationError(
            f"the image data is {header.media_type}, not {media_type}", path=["media_type"]
        )
    elif len(raw) > MAX_IMAGE_BYTES:
        yield ValidationError(
            f"the image is {_megabytes(len(raw))}; Bedrock takes at most "
            f"{_megabytes(MAX_IMAGE_BYTES)}",
            path=["data"],
        )
    elif (
        max(header.width, header.height) > MAX_IMAGE_PIXELS_PER_SIDE
        or not header.width * header.height
    ):
        yield ValidationError(
            f"the image is {header.width} × {header.height} pixels; Bedrock takes "
            f"1 to {MAX_IMAGE_PIXELS_PER_SIDE} per side",
            path=["data"],
        )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MB"


def _describe(error: Any) -> str:
    """The error in a few words, without repeating the (possibly huge) value."""
    value = error.validator_value
    if error.validator == "type":
        kinds = [value] if isinstance(value, str) else list(value)
        return "should be " + " or ".join(_KINDS.get(kind, kind) for kind in kinds)
    if error.validator == "enum":
        return "should be one of " + ", ".join(repr(v) for v in value)
    if error.validator == "const":
        return f"should be {value!r}"
    if error.validator == "minLength":
        return "should not be empty"
    if error.validator == "image":
        return str(error.message)
    return " ".join(str(error.message).split())[:120]


def _order(data: Any, path: list[Any]) -> list[int]:
    """Where `path` lies in the document: positions of its keys and indexes, in order."""
    order: list[int] = []
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            order.append(list(node).index(part))
        elif isinstance(part, int):
            order.append(part)
        node = _child(node, part)
    return order


def _spell(data: Any, path: list[Any]) -> str:
    """A path as people read it: `chats.<name>` for a chat with a plain name, `[i]` for items."""
    text, node = "", data
    for part in path:
        child = _child(node, part)
        if isinstance(part, int):
            name = child.get("name") if isinstance(child, dict) and text == "chats" else None
            text += f".{name}" if isinstance(name, str) and _NAME.fullmatch(name) else f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
        node = child
    return text or "the file"


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None
