"""The context window: a request that would not fit the model's window (less its
max_tokens) loses its oldest turns (the conversation keeps them); when the new turn
alone is too big, the text blocks before its prompt (notebook context, cell text) are left out
first, oldest first; when even the prompt with its media is too big, the request stops with
its size and the window.

Counting: a quick character count first (a text token is rarely under three
characters), so requests far below the window cost nothing; near it, `CountTokens` on
models that support it, else the estimate of core/messages.py. Models whose larger
window needs a beta (`long_context` in the catalogue) get it added when the request
needs more than the standard window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.errors import ClaudeMagicError
from ..core.messages import as_blocks
from ..models.catalog import Model
from .shaping import block_estimate

CHARS_PER_TOKEN_AT_LEAST = 3  # a quick, generous bound: tokens ≤ characters / 3 (+ media)
QUICK_SHARE = 0.5  # below this share of the window by the quick bound, nothing is counted
MEDIA_TOKENS = 1600


@dataclass
class Fitted:
    """A request body that fits, and what was done to it."""

    body: dict[str, Any]
    notice: str | None = None
    tokens: int | None = None  # counted input tokens, when counting was needed


def _quick_tokens(body: dict[str, Any]) -> int:
    """A cheap, generous token bound: characters / 3, a fixed size per image or document."""
    chars = len(str(body.get("system") or "")) + len(str(body.get("tools") or ""))
    media = 0
    for message in body.get("messages") or []:
        for block in as_blocks(message.get("content") or []):
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                chars += len(block.get("text", ""))
            elif kind in ("image", "document"):
                media += MEDIA_TOKENS
            elif kind == "thinking":
                chars += len(block.get("thinking", ""))
            else:
                chars += len(str(block))
    return chars // CHARS_PER_TOKEN_AT_LEAST + media


def _message_tokens(message: dict[str, Any]) -> int:
    return 3 + sum(block_estimate(b) for b in as_blocks(message.get("content") or []))


def _without_context(message: dict[str, Any], budget: int) -> tuple[dict[str, Any], int] | None:
    """The newest user message without enough of its leading text blocks (notebook context,
    cell text, `--above`/`--var`: everything before the prompt, oldest first) to fit `budget`
    tokens; the prompt (the last block) and images and documents stay. None when that
    can't fit."""
    blocks = as_blocks(message.get("content") or [])
    if message.get("role") != "user" or len(blocks) < 2 or blocks[-1].get("type") != "text":
        return None
    kept = list(blocks)
    left_out = 0
    for block in blocks[:-1]:
        if _message_tokens({"content": kept}) <= budget:
            break
        if block.get("type") == "text":
            kept.remove(block)
            left_out += 1
    if not left_out or _message_tokens({"content": kept}) > budget:
        return None
    return {**message, "content": kept}, left_out


def _turn_starts(messages: list[dict[str, Any]]) -> list[int]:
    """Indices where a turn begins: user messages holding more than tool results."""
    starts = []
    for i, message in enumerate(messages):
        if message.get("role") != "user":
            continue
        blocks = as_blocks(message.get("content") or [])
        if any(not isinstance(b, dict) or b.get("type") != "tool_result" for b in blocks):
            starts.append(i)
    return starts


def fit_window(body: dict[str, Any], model: Model | None,
               count: Callable[[dict[str, Any]], int | None] | None = None) -> Fitted:
    """`body` made to fit `model`'s window; see the module docstring."""
    if model is None:
        return Fitted(body)
    window = model.context_window
    wide, beta = model.long_context or (window, "")
    max_tokens = int(body.get("max_tokens") or 0)
    quick = _quick_tokens(body)
    if quick < QUICK_SHARE * (window - max_tokens):
        return Fitted(body)
    estimates = [_message_tokens(m) for m in body.get("messages") or []]
    counted = count(body) if count is not None else None
    fixed = sum(block_estimate(b) for b in as_blocks(body.get("system") or []) if b) + (
        sum(block_estimate({"type": "text", "text": str(t)}) for t in body.get("tools") or []))
    estimated = fixed + sum(estimates)
    total = counted if counted is not None else estimated
    if beta and total > window - max_tokens:
        window = wide
        betas = list(body.get("anthropic_beta") or [])
        if beta not in betas:
            body = {**body, "anthropic_beta": [*betas, beta]}
    limit = window - max_tokens
    if total <= limit:
        return Fitted(body, tokens=total)
    scale = total / estimated if estimated else 1.0
    messages = body["messages"]
    starts = _turn_starts(messages)
    newest = starts[-1] if starts else 0
    for start in starts:
        kept = (fixed + sum(estimates[start:])) * scale
        if kept <= limit or start == newest:
            break
    else:
        start = newest
    kept = round((fixed + sum(estimates[start:])) * scale)
    dropped = sum(1 for s in starts if s < start)
    if kept > limit and start == newest:  # the new turn alone is too big: its context goes first
        trimmed = _without_context(messages[newest], round(limit / scale) - fixed - sum(estimates[newest + 1:]))
        if trimmed is not None:
            message, left_out = trimmed
            kept = round((fixed + _message_tokens(message) + sum(estimates[newest + 1:])) * scale)
            notice = (f"This request is longer than {model.name}'s {window:,}-token window: it leaves "
                      f"out {left_out} context block(s) before the prompt"
                      + (f" and the oldest {dropped} turn(s)" if dropped else "")
                      + " (the chat keeps them).")
            return Fitted({**body, "messages": [*messages[:newest], message, *messages[newest + 1:]]},
                          notice, kept)
    if kept > limit:
        raise ClaudeMagicError(
            f"This request is about {kept:,} tokens even without earlier turns; {model.name}'s "
            f"window is {window:,} tokens, {max_tokens:,} of them kept for the reply: shorten "
            "the prompt or its attachments, or lower --max-tokens.")
    notice = (f"The conversation is longer than {model.name}'s {window:,}-token window: this "
              f"request leaves out the oldest {dropped} turn(s) (the chat keeps them).")
    return Fitted({**body, "messages": messages[start:]}, notice, kept)
