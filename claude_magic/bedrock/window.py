"""The context window: a request that would not fit the model's window (less its
max_tokens) loses its oldest turns (the conversation keeps them); when the new turn
alone is too big, the text blocks before its prompt (notebook context, cell text) are left out
first, oldest first; when even the prompt with its media is too big, the request stops with
its size and the window.

Compaction, where the route and model take it: a request whose input may pass the
trigger (`compact_at`, else three quarters of what fits) asks Bedrock to compact
(`compact_20260112`); Bedrock then summarises the earlier turns into a compaction block
instead of the client leaving them out. A summary already in the chat is never left out.

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

from ..core.context_edits import (
    CLEAR_TOOL_USES,
    COMPACT,
    COMPACT_MIN_TRIGGER,
    clearable_ids,
    compact_edit,
    compaction_index,
    compaction_trigger,
    with_edits,
)
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


CLEARED_TOKENS = 12  # what stands for a tool result Bedrock cleared


def _message_tokens(message: dict[str, Any], cleared: frozenset[str] = frozenset()) -> int:
    return 3 + sum(
        CLEARED_TOKENS
        if b.get("type") == "tool_result" and b.get("tool_use_id") in cleared
        else block_estimate(b)
        for b in as_blocks(message.get("content") or [])
    )


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


def _cleared(body: dict[str, Any], total: int) -> frozenset[str]:
    """The tool uses whose results Bedrock's clear_tool_uses edit clears from `body`
    (`total` tokens) before the model reads it."""
    edit = next(
        (
            e
            for e in (body.get("context_management") or {}).get("edits") or []
            if e.get("type") == CLEAR_TOOL_USES
        ),
        None,
    )
    if edit is None or total < int((edit.get("trigger") or {}).get("value") or 0):
        return frozenset()
    return frozenset(clearable_ids(body.get("messages") or []))


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


def _with_trigger(body: dict[str, Any], trigger: int) -> dict[str, Any]:
    """`body` asking for compaction at `trigger` input tokens (replacing an earlier ask)."""
    edits = [
        e
        for e in (body.get("context_management") or {}).get("edits") or []
        if e.get("type") != COMPACT
    ]
    body = (
        {**body, "context_management": {"edits": edits}}
        if edits
        else {k: v for k, v in body.items() if k != "context_management"}
    )
    return with_edits(body, [compact_edit(trigger)])


def fit_window(
    body: dict[str, Any],
    model: Model | None,
    count: Callable[[dict[str, Any]], int | None] | None = None,
    *,
    compaction: bool = False,
    compact_at: int | None = None,
    why_not: str = "",
) -> Fitted:
    """`body` made to fit `model`'s window; see the module docstring. `compaction`: the
    request may ask Bedrock to compact; `why_not` says why it may not (for the notice)."""
    if model is None:
        return Fitted(body)
    window = model.context_window
    wide, beta = model.long_context or (window, "")
    max_tokens = int(body.get("max_tokens") or 0)
    quick = _quick_tokens(body)
    trigger = compaction_trigger(window - max_tokens, compact_at)
    if compaction and quick >= trigger:
        body = _with_trigger(body, trigger)
    if quick < QUICK_SHARE * (window - max_tokens):
        return Fitted(body)
    estimates = [_message_tokens(m) for m in body.get("messages") or []]
    counted = count(body) if count is not None else None
    fixed = sum(block_estimate(b) for b in as_blocks(body.get("system") or []) if b) + (
        sum(block_estimate({"type": "text", "text": str(t)}) for t in body.get("tools") or [])
    )
    estimated = fixed + sum(estimates)
    cleared = _cleared(body, estimated)
    if cleared:  # what Bedrock's context editing leaves for the model to read (as it counts)
        estimates = [_message_tokens(m, cleared) for m in body.get("messages") or []]
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
    head = 2 if compaction_index(messages) == 1 else 0  # a compaction summary and its stand-in stay
    fixed += sum(estimates[:head])
    starts = [s for s in _turn_starts(messages) if s >= head]
    newest = starts[-1] if starts else head
    for start in starts:
        kept = (fixed + sum(estimates[start:])) * scale
        if kept <= limit or start == newest:
            break
    else:
        start = newest
    kept = round((fixed + sum(estimates[start:])) * scale)
    dropped = sum(1 for s in starts if s < start)
    if kept > limit and start == newest:  # the new turn alone is too big: its context goes first
        trimmed = _without_context(
            messages[newest], round(limit / scale) - fixed - sum(estimates[newest + 1 :])
        )
        if trimmed is not None:
            message, left_out = trimmed
            kept = round((fixed + _message_tokens(message) + sum(estimates[newest + 1 :])) * scale)
            notice = (
                f"This request is longer than {model.name}'s {window:,}-token window: it leaves "
                f"out {left_out} context block(s) before the prompt"
                + (f" and the oldest {dropped} turn(s)" if dropped else "")
                + " (the chat keeps them)."
            )
            shorter = [*messages[:head], message, *messages[newest + 1 :]]
            return _compacting(
                Fitted({**body, "messages": shorter}, notice, kept), compaction, trigger, why_not
            )
    if kept > limit:
        raise ClaudeMagicError(
            f"This request is about {kept:,} tokens even without earlier turns; {model.name}'s "
            f"window is {window:,} tokens, {max_tokens:,} of them kept for the reply: shorten "
            "the prompt or its attachments, or lower --max-tokens."
        )
    notice = (
        f"The conversation is longer than {model.name}'s {window:,}-token window: this "
        f"request leaves out the oldest {dropped} turn(s) (the chat keeps them)."
    )
    fitted = Fitted({**body, "messages": [*messages[:head], *messages[start:]]}, notice, kept)
    return _compacting(fitted, compaction, trigger, why_not)


def _compacting(fitted: Fitted, compaction: bool, trigger: int, why_not: str) -> Fitted:
    """A trimmed request: with compaction, Bedrock compacts what is left now (so the next
    requests need no trimming); without, the notice says why not."""
    if compaction and fitted.tokens:
        fitted.body = _with_trigger(
            fitted.body, max(COMPACT_MIN_TRIGGER, min(trigger, fitted.tokens))
        )
        fitted.notice = (fitted.notice or "").replace(
            "(the chat keeps them).", "and asks Bedrock to compact the rest (the chat keeps them)."
        )
    elif why_not and fitted.notice:
        fitted.notice = f"{fitted.notice} {why_not}"
    return fitted
