"""Citations of documents: numbered markers after the cited parts of an answer, and the
cited passages with their page, character or block range below it (HTML, Markdown,
text, and as data for `--out`). The passages are model output: escaped and sanitised
like the rest. Pure: no I/O."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .messages import Block, Message

_DIM = "opacity:0.7;font-size:0.85em"
MAX_PASSAGE_CHARS = 600


def _key(citation: dict[str, Any]) -> tuple[Any, ...]:
    return (
        citation.get("type"),
        citation.get("document_index"),
        citation.get("cited_text"),
        *(citation.get(k) for k in ("start_char_index", "start_page_number", "start_block_index")),
    )


def location_text(citation: dict[str, Any]) -> str:
    """Where a passage is: "page 3", "pages 3–4", "characters 10–42", "blocks 1–2"."""
    kind = citation.get("type")
    if kind == "page_location":
        start, end = citation.get("start_page_number"), citation.get("end_page_number")
        if isinstance(start, int) and isinstance(end, int) and end - 1 > start:
            return f"pages {start}–{end - 1}"
        return f"page {start}"
    if kind == "char_location":
        return f"characters {citation.get('start_char_index')}–{citation.get('end_char_index')}"
    if kind == "content_block_location":
        start, end = citation.get("start_block_index"), citation.get("end_block_index")
        if isinstance(start, int) and isinstance(end, int) and end - 1 > start:
            return f"blocks {start}–{end - 1}"
        return f"block {start}"
    return str(kind or "passage")


def _document(citation: dict[str, Any]) -> str:
    title = citation.get("document_title")
    if isinstance(title, str) and title.strip():
        return " ".join(title.split())
    index = citation.get("document_index")
    return f"document {index + 1}" if isinstance(index, int) else "the document"


@dataclass
class Citations:
    """The citations of an answer, numbered in order of first appearance (a passage
    cited twice keeps its number)."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    _numbers: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def number(self, citation: dict[str, Any]) -> int:
        key = _key(citation)
        if key not in self._numbers:
            self.entries.append(citation)
            self._numbers[key] = len(self.entries)
        return self._numbers[key]

    def marked(self, block: Block) -> str:
        """A text block's text with the markers of its citations after it ("…green[1]")."""
        text = str(block.get("text", ""))
        citations = [c for c in block.get("citations") or [] if isinstance(c, dict)]
        if not citations:
            return text
        marks = "".join(f"[{self.number(c)}]" for c in citations)
        stripped = text.rstrip()
        return stripped + marks + text[len(stripped) :]

    def __len__(self) -> int:
        return len(self.entries)

    def html(self) -> str:
        """The passages, collapsible: "Sources (2)" then each with its document and place."""
        if not self.entries:
            return ""
        items = "".join(
            f'<li><span style="{_DIM}">{html.escape(_document(c))}, {html.escape(location_text(c))}</span>'
            f"<blockquote>{html.escape(_clip(str(c.get('cited_text', ''))))}</blockquote></li>"
            for c in self.entries
        )
        return (
            f'<details class="claude-magic-citations"><summary style="{_DIM}">Sources '
            f"({len(self.entries)})</summary><ol>{items}</ol></details>"
        )

    def lines(self) -> list[str]:
        """Each passage as one line: its document and place, then the cited text."""
        return [
            f'{_document(c)}, {location_text(c)}: "{_clip(str(c.get("cited_text", "")))}"'
            for c in self.entries
        ]

    def text(self) -> str:
        """The passages as plain text, numbered, one per line."""
        return "\n".join(f"[{n}] {line}" for n, line in enumerate(self.lines(), 1))

    def data(self) -> list[dict[str, Any]]:
        """The passages as data: number, cited text, document, location (Bedrock's fields)."""
        return [
            {
                "number": n,
                "cited_text": c.get("cited_text", ""),
                "document": _document(c),
                "location": location_text(c),
                **{k: v for k, v in c.items() if k != "cited_text"},
            }
            for n, c in enumerate(self.entries, 1)
        ]


def answer_text(messages: Iterable[Message]) -> tuple[str, Citations]:
    """The answer's text with markers, and its citations: consecutive text blocks of a
    reply are one text (cited parts come as blocks of their own)."""
    citations = Citations()
    replies = []
    for message in messages:
        if message.role == "assistant":
            text = "".join(citations.marked(b) for b in message.content if b.get("type") == "text")
            if text:
                replies.append(text)
    return "\n\n".join(replies), citations


def has_citations(messages: Iterable[Message]) -> bool:
    return any(b.get("citations") for m in messages for b in m.content if b.get("type") == "text")


class CitedText(str):
    """An answer's text (a str, with markers) that also holds its citations as data."""

    citations: list[dict[str, Any]]

    def __new__(cls, text: str, citations: list[dict[str, Any]]) -> CitedText:
        made = super().__new__(cls, text)
        made.citations = citations
        return made


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_PASSAGE_CHARS else text[: MAX_PASSAGE_CHARS - 1] + "…"
