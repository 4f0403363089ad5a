"""Fitting a request into Bedrock's limits: at most 20 images, 5 documents and
20 MB. The oldest images and documents give way to short text placeholders such as
"[image from cell 3 omitted]". Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any

from .messages import MAX_BODY_BYTES, MAX_DOCUMENTS, MAX_IMAGES, Block, text_block

BODY_BUDGET = MAX_BODY_BYTES - 256 * 1024  # headroom for the estimate and the HTTP layer
JSON_SEPARATORS = (",", ":")  # how bedrock.py serialises bodies; the size estimate assumes it

Wire = dict[str, Any]


def _media_size(block: Block) -> int:
    source = block.get("source") or {}
    data = source.get("data")
    if isinstance(data, str):
        return len(data) + 120
    return len(json.dumps(block, separators=JSON_SEPARATORS))


def _block_size(block: Any) -> int:
    if (
        isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    ):
        return len(encode_basestring_ascii(block["text"])) + 24
    return len(json.dumps(block, separators=JSON_SEPARATORS))


@dataclass
class _Media:
    message: int
    block: int
    inner: int | None  # index inside a tool_result's content
    kind: str  # image | document
    size: int
    ref: Block


def _placeholder(media: _Media, labels: Mapping[int, str | None]) -> str:
    if media.kind == "image":
        label = labels.get(id(media.ref))
        return f"image from {label}" if label else "image"
    name = media.ref.get("name") or media.ref.get("title")
    return f"document {name}" if name else "document"


def fit_body(
    body: dict[str, Any],
    image_labels: Mapping[int, str | None] | None = None,
    *,
    keep_from: int | None = None,
    max_images: int = MAX_IMAGES,
    max_documents: int = MAX_DOCUMENTS,
    max_bytes: int = BODY_BUDGET,
) -> tuple[dict[str, Any], list[str]]:
    """Fit a request body into Bedrock's limits (image and document counts, body size).

    The oldest images and documents (tool results included) are replaced by text
    placeholders such as "[image from cell 3 omitted]"; those of messages from
    index `keep_from` on (the current turn; default: the last message) go last.
    `image_labels` maps `id(image_block)` to its label. Returns the body (the
    same object when nothing had to go; else a copy sharing every untouched
    message and block) and the descriptions of what was omitted, oldest first.
    """
    messages = body["messages"]
    rest = {k: v for k, v in body.items() if k != "messages"}
    total = len(json.dumps(rest, separators=JSON_SEPARATORS)) + 14
    media: list[_Media] = []
    for mi, message in enumerate(messages):
        content = message["content"]
        total += 30
        if isinstance(content, str):
            total += len(encode_basestring_ascii(content))
            continue
        for bi, block in enumerate(content):
            kind = block.get("type")
            if kind in ("image", "document"):
                media.append(_Media(mi, bi, None, kind, _media_size(block), block))
                total += media[-1].size
            elif kind == "tool_result" and isinstance(block.get("content"), list):
                total += 60 + len(str(block.get("tool_use_id", "")))
                for ii, inner in enumerate(block["content"]):
                    if isinstance(inner, dict) and inner.get("type") in ("image", "document"):
                        media.append(_Media(mi, bi, ii, inner["type"], _media_size(inner), inner))
                        total += media[-1].size
                    else:
                        total += _block_size(inner)
            else:
                total += _block_size(block)
    excess = {
        "image": sum(m.kind == "image" for m in media) - max_images,
        "document": sum(m.kind == "document" for m in media) - max_documents,
    }
    if excess["image"] <= 0 and excess["document"] <= 0 and total <= max_bytes:
        return body, []

    current = len(messages) - 1 if keep_from is None else keep_from
    order = sorted(media, key=lambda m: (m.message >= current, m.message, m.block, m.inner or 0))
    omitted: list[_Media] = []
    for item in order:
        if excess[item.kind] > 0 or total > max_bytes:
            excess[item.kind] -= 1
            total -= item.size - 40
            omitted.append(item)
    labels = image_labels or {}
    return {**rest, "messages": _replace_media(messages, omitted, labels)}, [
        _placeholder(m, labels) for m in omitted
    ]


def _replace_media(
    messages: list[Wire], omitted: list[_Media], labels: Mapping[int, str | None]
) -> list[Wire]:
    by_message: dict[int, list[_Media]] = {}
    for item in omitted:
        by_message.setdefault(item.message, []).append(item)
    out = list(messages)
    for mi, items in by_message.items():
        content = list(out[mi]["content"])
        for item in items:
            stand_in = text_block(f"[{_placeholder(item, labels)} omitted]")
            if item.inner is None:
                content[item.block] = stand_in
            else:
                result = dict(content[item.block])
                inner = list(result["content"])
                inner[item.inner] = stand_in
                result["content"] = inner
                content[item.block] = result
        out[mi] = {**out[mi], "content": content}
    return out
