"""Validation of the `messages` of a request, with the error texts of the Anthropic
Messages API on Bedrock: roles, content blocks, images, documents, tool pairing.

Paths in messages follow Anthropic's style: `messages.0.content.1.image.source.base64`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...core.messages import (
    IMAGE_MEDIA_TYPES,
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENTS,
    MAX_IMAGE_BASE64_BYTES,
    MAX_IMAGE_PIXELS_PER_SIDE,
    MAX_IMAGES,
)
from ...models.catalog import Model
from ..errors import validation
from ..media import decode_base64, inspect_image, is_pdf, remember_image, sniff_image_type

# The fields each block takes. Response-only fields that clients echo back (`caller`,
# `toolset_name`, `citations`: None from the SDK's `model_dump()`) are accepted, as on Bedrock.
BLOCK_KEYS = {
    "text": {"type", "text", "cache_control", "citations"},
    "image": {"type", "source", "cache_control"},
    "document": {"type", "source", "cache_control", "title", "context", "citations", "name"},
    "tool_use": {"type", "id", "name", "input", "cache_control", "caller", "toolset_name"},
    "tool_result": {"type", "tool_use_id", "content", "is_error", "cache_control", "toolset_name"},
    "thinking": {"type", "thinking", "signature"},
    "redacted_thinking": {"type", "data"},
    "compaction": {
        "type",
        "content",
        "cache_control",
        "encrypted_content",
        "signature",
        "tool_changes",
    },
}
MESSAGE_KEYS = ("role", "content")
USER_ONLY = {"image", "document", "tool_result"}
ASSISTANT_ONLY = {"tool_use", "thinking", "redacted_thinking", "compaction"}
RESULT_BLOCK_TYPES = ("text", "image")
DOCUMENT_MEDIA_TYPES = ("application/pdf", "text/plain")
_TOOL_USE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_MEDIA_TYPE_CHOICES = "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"


@dataclass
class _Walk:
    """What a walk over the messages has counted so far."""

    model: Model
    images: int = 0
    documents: int = 0
    tool_blocks: int = 0
    tool_use_ids: set[str] = field(default_factory=set)


def _tags(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _require_str(block: dict[str, Any], key: str, path: str) -> str:
    if key not in block:
        raise validation(f"{path}.{key}: Field required")
    if not isinstance(block[key], str):
        raise validation(f"{path}.{key}: Input should be a valid string")
    return block[key]


def _check_keys(block: dict[str, Any], kind: str, path: str) -> None:
    for key in block:
        if key not in BLOCK_KEYS[kind]:
            raise validation(f"{path}.{kind}.{key}: Extra inputs are not permitted")


def _check_text(block: dict[str, Any], path: str) -> None:
    text = _require_str(block, "text", f"{path}.text")
    if not text:
        raise validation("messages: text content blocks must be non-empty")
    if not text.strip():
        raise validation("messages: text content blocks must contain non-whitespace text")


def _source_of(block: dict[str, Any], where: str) -> dict[str, Any]:
    """A media block's `source`, which must be an object."""
    source = block.get("source")
    if not isinstance(source, dict):
        raise validation(
            f"{where}.source: Field required"
            if source is None
            else f"{where}.source: Input should be a valid dictionary"
        )
    return source


def _check_image(block: dict[str, Any], path: str, walk: _Walk) -> None:
    if not walk.model.images:
        raise validation(f"{walk.model.api_model} does not support image input.")
    walk.images += 1
    source = _source_of(block, f"{path}.image")
    if source.get("type") != "base64":
        raise validation(
            f"{path}.image.source: Input tag '{source.get('type')}' found using "
            "'type' does not match any of the expected tags: 'base64'"
        )
    where = f"{path}.image.source.base64"
    media_type = source.get("media_type")
    if media_type not in IMAGE_MEDIA_TYPES:
        raise validation(f"{where}.media_type: Input should be {_MEDIA_TYPE_CHOICES}")
    data = _require_str(source, "data", where)
    if len(data) > MAX_IMAGE_BASE64_BYTES:  # 5 MB of base64 is Bedrock's 3.75 MB raw
        raise validation(
            f"{where}: image exceeds 5 MB maximum: {len(data)} bytes > "
            f"{MAX_IMAGE_BASE64_BYTES} bytes"
        )
    try:
        raw = decode_base64(data)
    except ValueError:
        raise validation(f"{where}.data: The image data is not valid base64.") from None
    actual = sniff_image_type(raw)
    if actual is not None and actual != media_type:
        raise validation(
            f"{where}: The image was specified using the {media_type} media type, "
            f"but the image appears to be a {actual} image"
        )
    try:
        info = inspect_image(raw)
    except ValueError:
        raise validation(f"{where}.data: Could not process image") from None
    remember_image(data, info)
    if max(info.width, info.height) > MAX_IMAGE_PIXELS_PER_SIDE:
        raise validation(
            f"{where}.data: At least one of the image dimensions exceed max "
            f"allowed size: {MAX_IMAGE_PIXELS_PER_SIDE} pixels"
        )


def _check_document(block: dict[str, Any], path: str, walk: _Walk) -> None:
    if not walk.model.documents:
        raise validation(f"{walk.model.api_model} does not support document input.")
    walk.documents += 1
    source = _source_of(block, f"{path}.document")
    kind = source.get("type")
    citations = block.get("citations")
    if citations is not None and (
        not isinstance(citations, dict) or not isinstance(citations.get("enabled", False), bool)
    ):
        raise validation(f"{path}.document.citations.enabled: Input should be a valid boolean")
    if kind == "content":
        _check_content_source(source, f"{path}.document.source.content")
        return
    if kind not in ("base64", "text"):
        raise validation(
            f"{path}.document.source: Input tag '{kind}' found using 'type' does "
            "not match any of the expected tags: 'base64', 'text', 'content'"
        )
    where = f"{path}.document.source.{kind}"
    media_type = source.get("media_type")
    allowed = DOCUMENT_MEDIA_TYPES if kind == "base64" else ("text/plain",)
    if media_type not in allowed:
        raise validation(f"{where}.media_type: Input should be {' or '.join(map(repr, allowed))}")
    data = _require_str(source, "data", where)
    if kind == "text":
        size = len(data.encode("utf-8"))
    else:
        try:
            raw = decode_base64(data)
        except ValueError:
            raise validation(f"{where}.data: The document data is not valid base64.") from None
        size = len(raw)
        if media_type == "application/pdf" and not is_pdf(raw):
            raise validation(f"{where}.data: The PDF specified was not valid.")
        if media_type == "text/plain":
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                raise validation(f"{where}.data: The text document is not valid UTF-8.") from None
    if size > MAX_DOCUMENT_BYTES:
        raise validation(
            f"{where}: document exceeds 4.5 MB maximum: {size} bytes > {MAX_DOCUMENT_BYTES} bytes"
        )


def _check_content_source(source: dict[str, Any], where: str) -> None:
    """A custom-content document: its `content`, a string or a list of text blocks."""
    content = source.get("content")
    if isinstance(content, str):
        if not content.strip():
            raise validation(f"{where}: text content blocks must be non-empty")
        return
    if not isinstance(content, list) or not content:
        raise validation(f"{where}: Input should be a valid string or a non-empty list")
    for i, item in enumerate(content):
        kind = _block_type(item, f"{where}.{i}", ("text", "image"))
        if kind == "text":
            _check_text(item, f"{where}.{i}")


def _check_toolset_name(block: dict[str, Any], where: str) -> None:
    name = block.get("toolset_name")
    if name is not None and not isinstance(name, str):
        raise validation(f"{where}.toolset_name: Input should be a valid string")


def _check_tool_use(block: dict[str, Any], path: str, walk: _Walk) -> None:
    where = f"{path}.tool_use"
    _check_toolset_name(block, where)
    tool_id = _require_str(block, "id", where)
    if not _TOOL_USE_ID.match(tool_id):
        raise validation(f"{where}.id: String should match pattern '^[a-zA-Z0-9_-]+$'")
    if tool_id in walk.tool_use_ids:
        raise validation(f"{path}: `tool_use` ids must be unique")
    walk.tool_use_ids.add(tool_id)
    if not _require_str(block, "name", where):
        raise validation(f"{where}.name: String should have at least 1 character")
    if not isinstance(block.get("input"), dict):
        raise validation(
            f"{where}.input: "
            + ("Field required" if "input" not in block else "Input should be a valid dictionary")
        )


def _check_tool_result(block: dict[str, Any], path: str, walk: _Walk) -> None:
    where = f"{path}.tool_result"
    _require_str(block, "tool_use_id", where)
    _check_toolset_name(block, where)
    if "is_error" in block and not isinstance(block["is_error"], bool):
        raise validation(f"{where}.is_error: Input should be a valid boolean")
    content = block.get("content")
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise validation(f"{where}.content: Input should be a valid string or a valid list")
    for k, inner in enumerate(content):
        inner_path = f"{where}.content.{k}"
        kind = _block_type(inner, inner_path, RESULT_BLOCK_TYPES)
        _check_keys(inner, kind, inner_path)
        if kind == "text":
            _check_text(inner, inner_path)
        else:
            _check_image(inner, inner_path, walk)


def _block_type(block: Any, path: str, allowed: tuple[str, ...] | list[str]) -> str:
    if not isinstance(block, dict):
        raise validation(
            f"{path}: Input should be a valid dictionary or object to extract fields from"
        )
    kind = block.get("type")
    if kind is None:
        raise validation(f"{path}: Unable to extract tag using discriminator 'type'")
    if kind not in allowed:
        raise validation(
            f"{path}: Input tag '{kind}' found using 'type' does not match any of "
            f"the expected tags: {_tags(allowed)}"
        )
    return kind


def _check_block(block: Any, role: str, path: str, walk: _Walk) -> str:
    kind = _block_type(block, path, list(BLOCK_KEYS))
    _check_keys(block, kind, path)
    if kind in USER_ONLY and role != "user":
        raise validation(f"{path}: {kind} blocks are only allowed in user messages")
    if kind in ASSISTANT_ONLY and role != "assistant":
        raise validation(f"{path}: {kind} blocks are only allowed in assistant messages")
    if kind in ("tool_use", "tool_result"):
        if not walk.model.tools:
            raise validation(f"{walk.model.api_model} does not support tool use.")
        walk.tool_blocks += 1
    if kind == "text":
        _check_text(block, path)
    elif kind == "image":
        _check_image(block, path, walk)
    elif kind == "document":
        _check_document(block, path, walk)
    elif kind == "tool_use":
        _check_tool_use(block, path, walk)
    elif kind == "tool_result":
        _check_tool_result(block, path, walk)
    elif kind == "thinking":
        _require_str(block, "thinking", f"{path}.thinking")
    elif kind == "compaction":
        content = block.get("content")
        if content is not None and (not isinstance(content, str) or not content):
            raise validation(
                f"{path}.compaction.content: Input should be a non-empty string or null"
            )
    else:
        _require_str(block, "data", f"{path}.redacted_thinking")
    return kind


def _check_message(message: Any, i: int, last: bool, walk: _Walk) -> None:
    path = f"messages.{i}"
    if not isinstance(message, dict):
        raise validation(f"{path}: Input should be a valid dictionary")
    for key in message:
        if key not in MESSAGE_KEYS:
            raise validation(f"{path}.{key}: Extra inputs are not permitted")
    if "role" not in message:
        raise validation(f"{path}.role: Field required")
    role = message["role"]
    if role not in ("user", "assistant"):
        raise validation(f"{path}.role: Input should be 'user' or 'assistant'")
    if "content" not in message:
        raise validation(f"{path}.content: Field required")
    content = message["content"]
    if not isinstance(content, (str, list)):
        raise validation(f"{path}.content: Input should be a valid string or a valid list")
    if not content and not (last and role == "assistant"):
        raise validation(
            f"{path}: all messages must have non-empty content except for the "
            "optional final assistant message"
        )
    if isinstance(content, list):
        for j, block in enumerate(content):
            _check_block(block, role, f"{path}.content.{j}", walk)


def _check_roles(messages: list[dict[str, Any]]) -> None:
    if messages[0]["role"] != "user":
        raise validation('messages: first message must use the "user" role')
    for previous, current in zip(messages, messages[1:], strict=False):
        if previous["role"] == current["role"]:
            raise validation(
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{current["role"]}" roles in a row'
            )


def _ids(message: dict[str, Any], kind: str, key: str) -> list[tuple[int, str]]:
    content = message["content"]
    if isinstance(content, str):
        return []
    return [(j, b[key]) for j, b in enumerate(content) if b.get("type") == kind]


def _check_tool_pairing(messages: list[dict[str, Any]]) -> None:
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            used = [tool_id for _, tool_id in _ids(message, "tool_use", "id")]
            if used and i + 1 < len(messages):
                answered = {
                    tool_id for _, tool_id in _ids(messages[i + 1], "tool_result", "tool_use_id")
                }
                missing = [tool_id for tool_id in used if tool_id not in answered]
                if missing:
                    raise validation(
                        f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                        f"immediately after: {', '.join(missing)}. Each `tool_use` block must "
                        "have a corresponding `tool_result` block in the next message."
                    )
        else:
            previous = messages[i - 1] if i else None
            offered = (
                {tool_id for _, tool_id in _ids(previous, "tool_use", "id")} if previous else set()
            )
            for j, tool_id in _ids(message, "tool_result", "tool_use_id"):
                if tool_id not in offered:
                    raise validation(
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                        f"`tool_result` blocks: {tool_id}. Each `tool_result` block must have "
                        "a corresponding `tool_use` block in the previous message."
                    )


def _check_prefill(message: dict[str, Any]) -> None:
    content = message["content"]
    final = content if isinstance(content, str) else (content[-1] if content else None)
    text = final.get("text") if isinstance(final, dict) and final.get("type") == "text" else final
    if isinstance(text, str) and text and text != text.rstrip():
        raise validation("messages: final assistant content cannot end with trailing whitespace")


def check_messages(model: Model, messages: list[Any], has_tools: bool) -> None:
    """Raise BedrockError (ValidationException) for the first problem in `messages`."""
    walk = _Walk(model)
    for i, message in enumerate(messages):
        _check_message(message, i, i == len(messages) - 1, walk)
    _check_roles(messages)
    if walk.images > MAX_IMAGES:
        raise validation(f"messages: too many images: {walk.images} > {MAX_IMAGES}")
    if walk.documents > MAX_DOCUMENTS:
        raise validation(f"messages: too many documents: {walk.documents} > {MAX_DOCUMENTS}")
    if walk.tool_blocks and not has_tools:
        raise validation(
            "Requests which include `tool_use` or `tool_result` blocks must define tools."
        )
    _check_tool_pairing(messages)
    if messages[-1]["role"] == "assistant":
        _check_prefill(messages[-1])
