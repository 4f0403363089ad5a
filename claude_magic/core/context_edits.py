"""Context management for long chats: Bedrock clears old tool results and thinking
(context editing) and replaces the earlier turns by a summary (compaction). Here: the
edits a request asks for, the betas they need, where a compaction block cuts the history,
and what Bedrock reports it did. Pure: no I/O.

Tool results are cleared in steps (`CLEAR_STEP` tool uses at a time, the newest
`KEEP_TOOL_USES` always kept), so that the cleared part of a request stays the same from
one request to the next and the prompt cache keeps matching between steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .messages import Block, Message, as_blocks, text_block

CONTEXT_BETA = "context-management-2025-06-27"
COMPACT_BETA = "compact-2026-01-12"
CLEAR_TOOL_USES = "clear_tool_uses_20250919"
CLEAR_THINKING = "clear_thinking_20251015"
COMPACT = "compact_20260112"
EDIT_BETAS = {CLEAR_TOOL_USES: CONTEXT_BETA, CLEAR_THINKING: CONTEXT_BETA, COMPACT: COMPACT_BETA}
KEEP_TOOL_USES = 3  # the newest tool uses are never cleared
CLEAR_STEP = 8  # tool uses are cleared this many at a time
COMPACT_MIN_TRIGGER = 50_000  # Bedrock compacts from this many input tokens on
COMPACT_SHARE = 0.75  # by default compaction triggers at this share of what fits the window
STAND_IN = "(The earlier conversation is summarised in the compaction block that follows.)"
SUMMARY_HEAD = "[Summary of the earlier conversation]"

Wire = dict[str, Any]


@dataclass(frozen=True)
class ContextPolicy:
    """What a request may ask Bedrock to do with its context (already checked against the
    route and model): clear old tool results past `clear_at` input tokens, clear old
    thinking, compact (at `compact_at` tokens; None: near the window)."""

    clear_at: int | None = None
    clear_thinking: bool = False
    compaction: bool = False
    compact_at: int | None = None
    unavailable: str = ""  # why compaction is not asked for here (said when trimming instead)


# ---------------------------------------------------------------- clearing tool results


def tool_use_ids(messages: Iterable[Wire]) -> list[str]:
    """The ids of the tool_use blocks in `messages`, oldest first."""
    return [
        b.get("id", "")
        for m in messages
        if m.get("role") == "assistant"
        for b in as_blocks(m.get("content") or [])
        if isinstance(b, dict) and b.get("type") == "tool_use"
    ]


def cleared_count(tool_uses: int) -> int:
    """How many of `tool_uses` tool uses a request lets Bedrock clear (the oldest)."""
    return max(0, (tool_uses - KEEP_TOOL_USES) // CLEAR_STEP * CLEAR_STEP)


def clear_tool_uses_edit(messages: list[Wire], clear_at: int) -> dict[str, Any] | None:
    """The clear_tool_uses edit for `messages` (None when there is nothing to clear)."""
    total = len(tool_use_ids(messages))
    cleared = cleared_count(total)
    if not cleared:
        return None
    return {
        "type": CLEAR_TOOL_USES,
        "trigger": {"type": "input_tokens", "value": clear_at},
        "keep": {"type": "tool_uses", "value": total - cleared},
    }


def clearable_ids(messages: list[Wire]) -> set[str]:
    """The tool uses a clear_tool_uses edit for `messages` may clear (no cache
    breakpoint goes on their results)."""
    ids = tool_use_ids(messages)
    return set(ids[: cleared_count(len(ids))])


def clear_thinking_edit() -> dict[str, Any]:
    return {"type": CLEAR_THINKING, "keep": {"type": "thinking_turns", "value": 1}}


def compact_edit(trigger: int, pause: bool = False) -> dict[str, Any]:
    """The compaction edit: summarise the earlier turns once the input reaches `trigger`."""
    edit: dict[str, Any] = {"type": COMPACT, "trigger": {"type": "input_tokens", "value": trigger}}
    if pause:
        edit["pause_after_compaction"] = True
    return edit


def compaction_trigger(limit: int, compact_at: int | None) -> int:
    """The input size at which to compact: `compact_at`, else a share of `limit` (what
    fits the window beside max_tokens); never below Bedrock's minimum."""
    wanted = compact_at if compact_at else int(limit * COMPACT_SHARE)
    return max(COMPACT_MIN_TRIGGER, wanted)


def with_edits(body: dict[str, Any], edits: list[dict[str, Any]]) -> dict[str, Any]:
    """`body` (a copy) with `edits` added to its context_management and their betas;
    clear_thinking goes first, as Bedrock requires, and each kind of edit once."""
    if not edits:
        return body
    present = list((body.get("context_management") or {}).get("edits") or [])
    kinds = {e.get("type") for e in present}
    merged = present + [e for e in edits if e.get("type") not in kinds]
    merged.sort(key=lambda e: e.get("type") != CLEAR_THINKING)
    betas = list(body.get("anthropic_beta") or [])
    for edit in merged:
        beta = EDIT_BETAS.get(str(edit.get("type")))
        if beta and beta not in betas:
            betas.append(beta)
    return {**body, "anthropic_beta": betas, "context_management": {"edits": merged}}


def without_edits(body: dict[str, Any]) -> dict[str, Any]:
    """`body` without context management and its betas (compaction blocks become text)."""
    betas = [b for b in body.get("anthropic_beta") or [] if b not in (CONTEXT_BETA, COMPACT_BETA)]
    out = {k: v for k, v in body.items() if k not in ("context_management", "anthropic_beta")}
    if betas:
        out["anthropic_beta"] = betas
    out["messages"] = compaction_as_text(body.get("messages") or [])
    return out


# ---------------------------------------------------------------- compaction


def is_compaction(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "compaction"


def compaction_of(message: Message) -> Block | None:
    """The compaction block of a reply, if Bedrock compacted in it."""
    return next((b for b in message.content if is_compaction(b)), None)


def compaction_index(messages: list[Wire]) -> int | None:
    """The index of the last message holding a compaction block."""
    for index in range(len(messages) - 1, -1, -1):
        content = messages[index].get("content")
        if isinstance(content, list) and any(is_compaction(b) for b in content):
            return index
    return None


def from_compaction(messages: list[Wire]) -> tuple[list[Wire], int]:
    """`messages` from the last compaction on: a short user stand-in, then the message
    holding the compaction block and everything after it (Bedrock ignores what comes
    before the block, so it is not sent). Also how many messages went (0: no compaction)."""
    index = compaction_index(messages)
    if not index:
        return messages, 0
    return [{"role": "user", "content": [text_block(STAND_IN)]}, *messages[index:]], index - 1


def compaction_as_text(messages: list[Wire]) -> list[Wire]:
    """`messages` with compaction blocks written as text, for a route or model that takes
    none: the summary stands in for the earlier turns all the same."""
    if compaction_index(messages) is None:
        return messages
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(is_compaction(b) for b in content):
            content = [
                text_block(f"{SUMMARY_HEAD}\n{b.get('content') or ''}".rstrip())
                if is_compaction(b)
                else b
                for b in content
            ]
            message = {**message, "content": content}
        out.append(message)
    return out


def needs_compact_beta(messages: list[Wire]) -> bool:
    """Whether `messages` carry a compaction block (which only the compaction beta lets through)."""
    return compaction_index(messages) is not None


# ---------------------------------------------------------------- what Bedrock did


def applied_edits(messages: Iterable[Message]) -> list[dict[str, Any]]:
    return [
        edit
        for m in messages
        for edit in (m.context_management or {}).get("applied_edits") or []
        if isinstance(edit, dict)
    ]


def compacted_tokens(message: Message) -> int:
    """The input tokens a reply's compaction summarised (its iteration's input)."""
    return sum(
        int(i.get("input_tokens") or 0)
        + int(i.get("cache_read_input_tokens") or 0)
        + int(i.get("cache_creation_input_tokens") or 0)
        for i in message.iterations or []
        if isinstance(i, dict) and i.get("type") == "compaction"
    )


def context_note(replies: Iterable[Message]) -> str:
    """The footer's words for what Bedrock did to the context ("" when nothing): tool
    results and thinking cleared (input tokens saved over the turn's requests), the
    earlier turns compacted."""
    replies = list(replies)
    edits = applied_edits(replies)  # each request clears anew: the most cleared, the tokens of all
    uses = max((int(e.get("cleared_tool_uses") or 0) for e in edits), default=0)
    turns = max((int(e.get("cleared_thinking_turns") or 0) for e in edits), default=0)
    saved = sum(int(e.get("cleared_input_tokens") or 0) for e in edits)
    parts = []
    if uses:
        parts.append(f"{uses} old tool result{'s' * (uses != 1)}")
    if turns:
        parts.append(f"thinking of {turns} turn{'s' * (turns != 1)}")
    notes = [f"Bedrock cleared {' and '.join(parts)} ({saved:,} tokens saved)"] if parts else []
    compacted = [m for m in replies if compaction_of(m) is not None]
    if compacted:
        tokens = sum(compacted_tokens(m) for m in compacted)
        notes.append(
            "Bedrock compacted the earlier turns"
            + (f" ({tokens:,} tokens summarised)" if tokens else "")
        )
    return " · ".join(notes)
