"""The emulator's input-token estimate for a request body: text by `split_tokens`
pieces, images by their real pixel size (width × height / 750), PDFs per page,
tools by the size of their JSON."""

from __future__ import annotations

import json
from typing import Any

from ..core.messages import as_blocks, estimate_image_tokens, estimate_text_tokens
from .media import decode_base64, inspect_base64_image, is_pdf, pdf_page_count

TOKENS_PER_PDF_PAGE = 1500
MESSAGE_OVERHEAD = 3  # role markers around each turn


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def image_tokens(source: Any) -> int:
    """Tokens for an image source, from the pixel size Pillow reads (1 if unreadable)."""
    try:
        info = inspect_base64_image(source["data"])
    except (ValueError, KeyError, TypeError):
        return 1
    return estimate_image_tokens(info.width, info.height)


def document_tokens(source: Any) -> int:
    """Tokens for a document source: text by its pieces, a PDF by its pages."""
    if isinstance(source, dict) and source.get("type") == "content":
        content = source.get("content")
        return 1 + (
            estimate_text_tokens(content)
            if isinstance(content, str)
            else sum(block_tokens(b) for b in content or [])
        )
    if not isinstance(source, dict) or not isinstance(source.get("data"), str):
        return 1
    if source.get("type") == "text":
        return estimate_text_tokens(source["data"])
    try:
        raw = decode_base64(source["data"])
    except ValueError:
        return 1
    if is_pdf(raw):
        return TOKENS_PER_PDF_PAGE * max(1, pdf_page_count(raw))
    return estimate_text_tokens(raw.decode("utf-8", errors="replace"))


def block_tokens(block: Any) -> int:
    """Tokens for one content block of any type."""
    if not isinstance(block, dict):
        return estimate_text_tokens(_compact(block))
    kind = block.get("type")
    if kind == "text":
        return estimate_text_tokens(str(block.get("text", "")))
    if kind == "image":
        return image_tokens(block.get("source"))
    if kind == "document":
        return document_tokens(block.get("source"))
    if kind == "tool_use":
        return (
            1
            + estimate_text_tokens(str(block.get("name", "")))
            + estimate_text_tokens(_compact(block.get("input") or {}))
        )
    if kind == "tool_result":
        content = block.get("content")
        if content is None:
            return 1
        if isinstance(content, str):
            return 1 + estimate_text_tokens(content)
        return 1 + sum(block_tokens(b) for b in content)
    if kind == "thinking":
        return estimate_text_tokens(str(block.get("thinking", "")))
    if kind == "compaction":
        return 1 + estimate_text_tokens(str(block.get("content") or ""))
    return estimate_text_tokens(_compact(block))


def estimate_input_tokens(body: dict[str, Any]) -> int:
    """A consistent input-token estimate for an InvokeModel body."""
    total = 0
    system = body.get("system")
    if isinstance(system, str):
        total += estimate_text_tokens(system)
    elif isinstance(system, list):
        total += sum(block_tokens(b) for b in system)
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, (str, list)):
            total += MESSAGE_OVERHEAD + sum(block_tokens(b) for b in as_blocks(content))
    if body.get("tools"):
        total += estimate_text_tokens(_compact(body["tools"]))
    return max(1, total)
