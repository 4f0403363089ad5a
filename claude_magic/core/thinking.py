"""Thinking blocks: which models hide their text, and how a block is shown.

A reply's `thinking` blocks carry the model's reasoning (or, on models that omit it,
only a signature) and `redacted_thinking` blocks carry encrypted data. Both are kept
byte for byte in the conversation; here they only become HTML: a collapsed section,
its text escaped (model output is untrusted) and set apart from the answer (muted,
smaller, a rule on its left). Thinking without text gets no section: the footer counts
its tokens. Pure: no I/O.
"""

from __future__ import annotations

import html
from typing import Any

from ..models.catalog import Model
from .messages import Block, Message

THINKING_TYPES = ("thinking", "redacted_thinking")
REDACTED = "redacted by the safety system"
_DIM = "opacity:0.7;font-size:0.85em"
# the opened section's text (also the live widget's, live_widget.py)
TEXT_STYLE = (
    "white-space:pre-wrap;color:var(--jp-content-font-color2, #757575);font-size:0.9em;"
    "border-left:3px solid var(--jp-border-color1, #bdbdbd);padding-left:0.75em;"
    "margin:0.25em 0 0.75em"
)


def omits_thinking_text(model: Model | None) -> bool:
    """Whether the model returns only a signature unless `"display": "summarized"` is
    asked for (the adaptive-only models; those that still take budgets show the text)."""
    return (
        model is not None and model.thinking in ("adaptive", "always") and not model.manual_thinking
    )


def thinking_blocks(message: Message) -> list[Block]:
    return [b for b in message.content if b.get("type") in THINKING_TYPES]


def thinking_summary(blocks: list[Block], tokens: int = 0, *, live: bool = False) -> str:
    """The section's title: "Thinking", what it holds when there is no text, the tokens."""
    counted = f" ({tokens:,} thinking token{'s' * (tokens != 1)})" if tokens else ""
    text = "".join(str(b.get("thinking", "")) for b in blocks if b.get("type") == "thinking")
    if live:
        return f"Thinking…{counted}"
    if text.strip():
        return f"Thinking{counted}"
    if any(b.get("type") == "redacted_thinking" for b in blocks):
        return f"Thinking ({REDACTED}){counted}"
    return f"Thinking (not shown: the model returned only its signature){counted}"


def thinking_text(blocks: list[Block]) -> str:
    texts = [str(b.get("thinking", "")) for b in blocks if b.get("type") == "thinking"]
    return "\n\n".join(texts).strip()


def hidden_thinking_note(blocks: list[Block]) -> str:
    """What the footer adds to the thinking tokens when no section shows them because
    the safety system redacted the thinking ("" otherwise)."""
    if thinking_text(blocks) or not any(b.get("type") == "redacted_thinking" for b in blocks):
        return ""
    return REDACTED


def thinking_html(blocks: list[Block], tokens: int = 0, *, live: bool = False) -> str:
    """A closed `<details>` section with the thinking text as escaped text; "" when
    there is no text to show (a signature only, redacted) unless `live`."""
    text = thinking_text(blocks)
    if not blocks or not (text or live):
        return ""
    summary = html.escape(thinking_summary(blocks, tokens, live=live))
    body = (
        f'<div class="claude-magic-thinking-text" style="{TEXT_STYLE}">{html.escape(text)}</div>'
        if text
        else ""
    )
    return (
        f'<details class="claude-magic-thinking"><summary style="{_DIM}">{summary}</summary>'
        f"{body}</details>"
    )


LIVE_CHARS = 4000  # the live section shows the latest thinking, bounded in size


def live_thinking_html(block: Block) -> str:
    """The collapsed section while a thinking block streams: its latest text."""
    text = str(block.get("thinking", ""))
    shown = text if len(text) <= LIVE_CHARS else "…" + text[-LIVE_CHARS:]
    return thinking_html([{**block, "thinking": shown}], live=True)


def thinking_markdown(blocks: list[Block], tokens: int = 0) -> str:
    """The section for text and Markdown output: its title, then the text quoted."""
    if not blocks:
        return ""
    text = "\n\n".join(str(b.get("thinking", "")) for b in blocks if b.get("type") == "thinking")
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())
    title = f"*{thinking_summary(blocks, tokens)}*"
    return f"{title}\n\n{quoted}" if quoted else title


def is_thinking(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") in THINKING_TYPES
