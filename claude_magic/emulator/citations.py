"""Citations for documents whose `citations` are enabled: the emulator quotes a passage
of each such document in the newest user message, as Bedrock cites: text blocks with
`citations` (`char_location` for text, `page_location` for PDFs, `content_block_location`
for custom content), and the same in Converse's `citationsContent` shapes. It says that
it quotes by rule and does not read the documents as Claude would."""

from __future__ import annotations

import re
from typing import Any

from ..core.messages import Block, as_blocks, text_block
from .media import decode_base64, is_pdf

INTRO = (
    "The offline emulator quotes the start of each document you asked it to cite "
    "(by rule: it does not read them as Claude would):\n\n1. “"
)
PASSAGE_CHARS = 200
MAX_CONTENT_PASSAGES = 3
_PDF_TEXT = re.compile(rb"\(((?:[^()\\]|\\.){1,400})\)\s*Tj")


def _documents(messages: list[dict[str, Any]]) -> list[Block]:
    return [
        b
        for m in messages
        if m.get("role") == "user"
        for b in as_blocks(m.get("content") or [])
        if isinstance(b, dict) and b.get("type") == "document"
    ]


def _first_passage(text: str) -> tuple[int, int]:
    """The character range of the first non-blank line of `text` (at most PASSAGE_CHARS)."""
    match = re.search(r"\S[^\n]*", text)
    if match is None:
        return 0, 0
    start = match.start()
    end = min(match.end(), start + PASSAGE_CHARS)
    return start, len(text[:end].rstrip()) if end > start else end


def _pdf_text(raw: bytes) -> str:
    """The literal text shown on a PDF's pages (uncompressed `(...) Tj` strings), if any."""
    pieces = [
        m.group(1).replace(rb"\(", b"(").replace(rb"\)", b")").decode("latin-1")
        for m in _PDF_TEXT.finditer(raw)
    ]
    return " ".join(" ".join(pieces).split())


def _citations(block: Block, index: int) -> list[dict[str, Any]]:
    """Citations of one document: its first passage (the first few blocks of custom content)."""
    title = block.get("title") or block.get("name")
    source = block.get("source") or {}
    base: dict[str, Any] = {
        "document_index": index,
        "document_title": title if isinstance(title, str) else None,
    }
    kind = source.get("type")
    if kind == "content":
        items = [
            b
            for b in as_blocks(source.get("content") or [])
            if isinstance(b, dict) and b.get("type") == "text"
        ]
        return [
            {
                "type": "content_block_location",
                "cited_text": str(b.get("text", "")),
                **base,
                "start_block_index": i,
                "end_block_index": i + 1,
            }
            for i, b in enumerate(items[:MAX_CONTENT_PASSAGES])
            if str(b.get("text", "")).strip()
        ]
    data = source.get("data")
    if not isinstance(data, str):
        return []
    if kind == "text":
        text = data
    else:
        try:
            raw = decode_base64(data)
        except ValueError:
            return []
        if is_pdf(raw):
            cited = _pdf_text(raw)[:PASSAGE_CHARS].strip() or "(page 1)"
            return [
                {
                    "type": "page_location",
                    "cited_text": cited,
                    **base,
                    "start_page_number": 1,
                    "end_page_number": 2,
                }
            ]
        text = raw.decode("utf-8", errors="replace")
    start, end = _first_passage(text)
    if end <= start:
        return []
    return [
        {
            "type": "char_location",
            "cited_text": text[start:end],
            **base,
            "start_char_index": start,
            "end_char_index": end,
        }
    ]


def cited_blocks(messages: list[dict[str, Any]]) -> list[Block]:
    """The reply's text blocks quoting the cited documents of the newest user message
    ([] when it holds none with citations enabled)."""
    documents = _documents(messages)
    last = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    newest = (
        [b for b in as_blocks(last.get("content") or []) if isinstance(b, dict)] if last else []
    )
    wanted = [
        b
        for b in newest
        if b.get("type") == "document" and (b.get("citations") or {}).get("enabled")
    ]
    citations = [
        c for b in wanted for c in _citations(b, next(i for i, d in enumerate(documents) if d is b))
    ]
    if not citations:
        return []
    blocks: list[Block] = [text_block(INTRO)]
    for n, citation in enumerate(citations):
        if n:
            blocks.append(text_block(f"”\n{n + 1}. “"))
        blocks.append({"type": "text", "text": citation["cited_text"], "citations": [citation]})
    blocks.append(
        text_block("”\n\nRun with AWS credentials (and offline mode off) to get Claude's answer.")
    )
    return blocks


def converse_citation(citation: dict[str, Any], titles: list[str]) -> dict[str, Any]:
    """A citation in Converse's shape (title, source content, location)."""
    index = int(citation.get("document_index") or 0)
    kind = citation.get("type")
    if kind == "page_location":
        where = {
            "documentPage": {
                "documentIndex": index,
                "start": citation.get("start_page_number"),
                "end": citation.get("end_page_number"),
            }
        }
    elif kind == "content_block_location":
        where = {
            "documentChunk": {
                "documentIndex": index,
                "start": citation.get("start_block_index"),
                "end": citation.get("end_block_index"),
            }
        }
    else:
        where = {
            "documentChar": {
                "documentIndex": index,
                "start": citation.get("start_char_index"),
                "end": citation.get("end_char_index"),
            }
        }
    title = citation.get("document_title") or (titles[index] if index < len(titles) else "document")
    return {
        "title": title,
        "sourceContent": [{"text": citation.get("cited_text", "")}],
        "location": where,
    }
