"""Documents for Claude: a PDF or UTF-8 text file read into a document block, within
the size a document may have."""

from __future__ import annotations

import base64
from pathlib import Path

from ..core.messages import MAX_DOCUMENT_BYTES, Block, document_block


class DocumentError(ValueError):
    """A file that can't be sent as a document (the message says why)."""


def read_document(path: Path) -> Block:
    """A document block for `path`: a PDF (base64) or UTF-8 text, titled with its name."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"can't read {str(path)!r}: {exc.strerror or exc}") from exc
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            f"{path.name} is {len(data) / 1_048_576:.1f} MB, but a document "
            f"may be at most {MAX_DOCUMENT_BYTES / 1_048_576:.1f} MB: split or shrink it"
        )
    if not data.strip():
        raise DocumentError(f"{path.name} is empty")
    if data.startswith(b"%PDF-"):
        block = document_block(base64.b64encode(data).decode("ascii"), "application/pdf")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = None
        if text is None or "\x00" in text:
            raise DocumentError(f"{path.name} is neither a PDF nor UTF-8 text: export it as PDF")
        block = {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": text},
        }
    block["title"] = path.name
    return block
