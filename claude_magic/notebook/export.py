"""Export a conversation as a Jupyter notebook (nbformat v4) that reads well.

Each user turn becomes a Markdown cell (its images as cell attachments), each
answer a Markdown cell (tool calls and results as fenced blocks, tool-result
images as attachments). Model text is untrusted: it goes through `safe_markdown`
(raw HTML shown as text, links to http, https and mailto only, code re-fenced), and
names and other strings are escaped, so no renderer finds HTML or script in a cell.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..core.conversation import Conversation, Turn
from ..core.messages import Block
from ..core.private_files import write_private
from ..core.safe_markdown import code_fence, code_span, escape_markdown, safe_markdown
from ..core.thinking import is_thinking, thinking_markdown

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def export_notebook(conversation: Conversation, path: str | Path) -> Path:
    """Write `conversation` to `path` as an .ipynb file, readable by its owner only and
    replaced whole; returns the path."""
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    usage = conversation.usage_total()
    header = [
        f"# Conversation: {escape_markdown(conversation.name)}",
        "",
        f"{len(conversation.turns)} turns · {usage.input_tokens:,} input / "
        f"{usage.output_tokens:,} output tokens · exported from claude-magic",
    ]
    if conversation.system:
        header += ["", "**System prompt:**", "", safe_markdown(_quote(conversation.system))]
    cells = [new_markdown_cell("\n".join(header))]
    for number, turn in enumerate(conversation.turns, 1):
        for role, source, attachments in _turn_cells(number, turn):
            meta: dict[str, Any] = {"role": role, "turn": number}
            thinking = [b for r in turn.replies for b in r.content if is_thinking(b)]
            if role == "assistant" and thinking:
                meta["thinking"] = thinking  # the blocks exactly, signatures included
            cell = new_markdown_cell(source, metadata={"claude_magic": meta})
            if attachments:
                cell["attachments"] = attachments
            cells.append(cell)
    notebook = new_notebook(
        cells=cells,
        metadata={
            "claude_magic": {"chat": conversation.name, "turns": len(conversation.turns)},
        },
    )
    nbformat.validate(notebook)
    text = nbformat.writes(notebook)
    return write_private(path, (text if text.endswith("\n") else text + "\n").encode("utf-8"))


def _turn_cells(number: int, turn: Turn) -> list[tuple[str, str, dict[str, Any]]]:
    where = f" · In [{turn.execution_count}]" if turn.execution_count is not None else ""
    attachments: dict[str, Any] = {}
    labels = dict((id(block), label) for block, label in turn.images())
    user = [f"**You** ({number}{where})", ""]
    user += _blocks_markdown(turn.user, attachments, f"turn{number}-you", labels)
    cells = [("user", _tidy("\n".join(user)), attachments)]

    answer_attachments: dict[str, Any] = {}
    model = f" · {code_span(turn.model_id)}" if turn.model_id else ""
    answer = [f"**Claude** ({number}{model})", ""]
    for step, reply in enumerate(turn.replies):
        answer += _blocks_markdown(
            reply.content, answer_attachments, f"turn{number}-claude{step}", {}
        )
        if step < len(turn.results):
            answer += _blocks_markdown(
                turn.results[step], answer_attachments, f"turn{number}-tool{step}", {}
            )
    if not turn.replies:
        answer.append("*(no answer)*")
    if turn.interrupted:
        answer.append("*[interrupted]*")
    if turn.error:
        answer.append(f"*Error: {escape_markdown(' '.join(turn.error.split()))}*")
    usage = turn.usage
    answer += [
        "",
        f"<sub>{usage.input_tokens:,} input / {usage.output_tokens:,} output tokens</sub>",
    ]
    cells.append(("assistant", _tidy("\n".join(answer)), answer_attachments))
    return cells


def _blocks_markdown(
    blocks: list[Block], attachments: dict[str, Any], prefix: str, labels: dict[int, str | None]
) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            lines += [safe_markdown(block.get("text", "")), ""]
        elif kind == "image":
            lines += [_attach(block, attachments, prefix, labels.get(id(block))), ""]
        elif kind == "document":
            name = block.get("name") or block.get("title") or "document"
            lines += [f"*[document: {escape_markdown(str(name))}]*", ""]
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input"), indent=2, ensure_ascii=False, default=str)
            lines += [
                f"Tool call {code_span(str(block.get('name', '')))}:",
                "",
                code_fence(arguments, "json"),
                "",
            ]
        elif kind == "tool_result":
            error = " (error)" if block.get("is_error") else ""
            lines += [f"Tool result{error}:", ""]
            content = block.get("content")
            if isinstance(content, str):
                lines += [code_fence(content), ""]
            else:
                for inner in content or []:
                    if inner.get("type") == "image":
                        lines += [_attach(inner, attachments, prefix, None), ""]
                    elif inner.get("type") == "text":
                        lines += [code_fence(str(inner.get("text", ""))), ""]
        elif kind in ("thinking", "redacted_thinking"):
            lines += [safe_markdown(thinking_markdown([block])), ""]
        else:
            lines += [f"*[{escape_markdown(str(kind))} block]*", ""]
    return lines


def _attach(block: Block, attachments: dict[str, Any], prefix: str, label: str | None) -> str:
    source = block.get("source") or {}
    media_type = source.get("media_type", "image/png")
    name = f"{prefix}-image{len(attachments) + 1}.{_EXTENSIONS.get(media_type, 'png')}"
    attachments[name] = {media_type: source.get("data", "")}
    alt = escape_markdown(f"image from {label}" if label else "image")
    return f"![{alt}](attachment:{name})"


def _tidy(source: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", source).strip()


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.splitlines())
