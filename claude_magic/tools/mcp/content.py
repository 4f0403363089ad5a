"""An MCP tool result as `tool_result` content: text blocks, images as image blocks
(sized and encoded as any tool's images), embedded resources as text, structured content
as JSON when there is nothing else; results past the size limit are cut with a note."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ...core.messages import Block, text_block
from ..results import MAX_RESULT_CHARS, image_content

MAX_IMAGES = 5  # image blocks kept from one result


def _image(data: str, mime: str) -> Block | str:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return f"[an image ({mime}) that is not valid base64]"
    try:
        return image_content(raw)
    except Exception as exc:  # not an image Bedrock takes, or not an image at all
        return f"[an image ({mime}, {len(raw):,} bytes) that could not be sent: {exc}]"


def _resource(resource: Any) -> Block | str:
    uri = str(getattr(resource, "uri", ""))
    mime = getattr(resource, "mime_type", None) or ""
    text = getattr(resource, "text", None)
    if isinstance(text, str):
        return f"[resource {uri}{f' ({mime})' if mime else ''}]\n{text}"
    blob = getattr(resource, "blob", None) or ""
    if mime.startswith("image/"):
        return _image(blob, mime)
    size = len(blob) * 3 // 4
    return f"[binary resource {uri} ({mime or 'unknown type'}, about {size:,} bytes), not shown]"


def _piece(item: Any) -> Block | str:
    """One content item of a result: a text or an image block."""
    kind = getattr(item, "type", None)
    if kind == "text":
        return str(getattr(item, "text", ""))
    if kind == "image":
        return _image(
            str(getattr(item, "data", "")), str(getattr(item, "mime_type", "") or "image")
        )
    if kind == "resource":
        return _resource(getattr(item, "resource", None))
    if kind == "resource_link":
        described = getattr(item, "description", None)
        return (
            f"[resource link {getattr(item, 'name', '')}: {getattr(item, 'uri', '')}"
            + (f" — {described}" if described else "")
            + "]"
        )
    if kind == "audio":
        return f"[audio ({getattr(item, 'mime_type', '')}), not shown]"
    return f"[{kind or 'unknown'} content, not shown]"


def _cut(pieces: list[Block | str]) -> list[Block]:
    """Blocks within the size limits: text past MAX_RESULT_CHARS in all is cut (the note
    says how much there was), images past MAX_IMAGES are left out (with a note)."""
    total = sum(len(p) for p in pieces if isinstance(p, str))
    budget, images, dropped = MAX_RESULT_CHARS, 0, 0
    out: list[Block] = []
    for piece in pieces:
        if isinstance(piece, str):
            if budget <= 0:
                continue
            if len(piece) > budget:
                piece = piece[:budget] + (
                    f"\n… [result truncated: {total:,} characters of text, "
                    f"showing the first {MAX_RESULT_CHARS:,}]"
                )
            budget -= len(piece)
            if piece.strip():
                out.append(text_block(piece))
        elif images < MAX_IMAGES:
            images += 1
            out.append(piece)
        else:
            dropped += 1
    if dropped:
        out.append(
            text_block(f"[{dropped} more image(s) left out: at most {MAX_IMAGES} per result]")
        )
    return out


def result_blocks(result: Any) -> list[Block]:
    """The content of a `CallToolResult` (a successful one) as tool_result blocks."""
    pieces = [_piece(item) for item in getattr(result, "content", None) or []]
    structured = getattr(result, "structured_content", None)
    if not any(isinstance(p, dict) or p.strip() for p in pieces) and structured is not None:
        pieces = [json.dumps(structured, ensure_ascii=False, indent=1)]
    blocks = _cut(pieces)
    return blocks or [text_block("(no output)")]


def error_text(result: Any) -> str:
    """The text of a result the server marked `isError`."""
    texts = [
        p
        for p in (_piece(item) for item in getattr(result, "content", None) or [])
        if isinstance(p, str) and p.strip()
    ]
    text = "\n".join(texts) or "The tool reported an error without a message."
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"\n… [error truncated: {len(text):,} characters]"
    return text
