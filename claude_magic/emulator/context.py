"""Context management as Bedrock applies it before the model reads a request: what
comes before a compaction block is dropped, old thinking and old tool results are
cleared (`context_management.applied_edits` reports it), and a request past its
compaction trigger is compacted: the emulator's own, honest summary of the earlier
turns in a `compaction` block, whose usage is reported apart (`usage.iterations`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..core.context_edits import CLEAR_THINKING, CLEAR_TOOL_USES, COMPACT, SUMMARY_HEAD
from ..core.messages import Block, Message, as_blocks, estimate_text_tokens, text_block
from ..models.catalog import Model
from .cache import PromptCache, account
from .tokens import block_tokens, estimate_input_tokens

CLEARED_RESULT = "[This tool result was cleared to save context.]"
DEFAULT_CLEAR_TRIGGER = 100_000
DEFAULT_KEEP_TOOL_USES = 3
DEFAULT_COMPACT_TRIGGER = 150_000
SUMMARY_TURNS = 30  # turns listed one by one in a summary; the rest are counted
SUMMARY_CHARS = 160
SUMMARY_NOTE = "(The earlier conversation is summarised above.)"


@dataclass
class Managed:
    """A request after context management: `body` is what is counted and cached (the
    client's breakpoints apply to it), `model_body` what the model answers;
    `compaction` the block that opens the reply, with its usage input (`compacted_body`,
    the prefix it read) when the request was compacted."""

    body: dict[str, Any]
    model_body: dict[str, Any]
    applied: list[dict[str, Any]] = field(default_factory=list)
    compaction: Block | None = None
    compacted_body: dict[str, Any] | None = None
    pause: bool = False
    reported: bool = False  # the request asked for context management: the reply says what was done


def after_compaction(messages: list[Any]) -> list[Any]:
    """The messages Bedrock reads: from the last message holding a compaction block on."""
    for index in range(len(messages) - 1, 0, -1):
        content = messages[index].get("content") if isinstance(messages[index], dict) else None
        if isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "compaction" for b in content
        ):
            return messages[index:]
    return messages


def _edits(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e for e in (body.get("context_management") or {}).get("edits") or [] if isinstance(e, dict)
    ]


def _trigger(edit: dict[str, Any], default: int) -> tuple[str, int]:
    trigger = edit.get("trigger") or {}
    return str(trigger.get("type") or "input_tokens"), int(trigger.get("value") or default)


def _clear_thinking(messages: list[dict[str, Any]], edit: dict[str, Any]) -> dict[str, Any] | None:
    keep = edit.get("keep", {"type": "thinking_turns", "value": 1})
    if keep == "all" or (isinstance(keep, dict) and keep.get("type") == "all"):
        return None
    kept = int(keep.get("value", 1)) if isinstance(keep, dict) else 1
    turns = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    older = turns[: max(0, len(turns) - kept)]
    cleared = tokens = 0
    for i in older:
        blocks = as_blocks(messages[i].get("content") or [])
        thinking = [
            b
            for b in blocks
            if isinstance(b, dict) and b.get("type") in ("thinking", "redacted_thinking")
        ]
        if thinking:
            cleared += 1
            tokens += sum(block_tokens(b) for b in thinking)
            messages[i] = {**messages[i], "content": [b for b in blocks if b not in thinking]}
    if not cleared:
        return None
    return {
        "type": CLEAR_THINKING,
        "cleared_thinking_turns": cleared,
        "cleared_input_tokens": tokens,
    }


def _clear_tool_uses(
    messages: list[dict[str, Any]], edit: dict[str, Any], input_tokens: int
) -> dict[str, Any] | None:
    kind, value = _trigger(edit, DEFAULT_CLEAR_TRIGGER)
    excluded = set(edit.get("exclude_tools") or [])
    uses = [
        (i, b)
        for i, m in enumerate(messages)
        if m.get("role") == "assistant"
        for b in as_blocks(m.get("content") or [])
        if isinstance(b, dict) and b.get("type") == "tool_use"
    ]
    if (input_tokens if kind == "input_tokens" else len(uses)) < value:
        return None
    keep = edit.get("keep") or {"type": "tool_uses", "value": DEFAULT_KEEP_TOOL_USES}
    kept = int(keep.get("value", DEFAULT_KEEP_TOOL_USES))
    clearable = [b for _, b in uses if b.get("name") not in excluded]
    targets = {b.get("id") for b in clearable[: max(0, len(clearable) - kept)]}
    inputs = edit.get("clear_tool_inputs")
    if not targets:
        return None
    before = sum(block_tokens(b) for m in messages for b in as_blocks(m.get("content") or []))
    edited = []
    for message in messages:
        blocks = []
        for b in as_blocks(message.get("content") or []):
            if (
                isinstance(b, dict)
                and b.get("type") == "tool_result"
                and b.get("tool_use_id") in targets
            ):
                b = {**b, "content": [text_block(CLEARED_RESULT)]}
            elif (
                isinstance(b, dict)
                and b.get("type") == "tool_use"
                and b.get("id") in targets
                and (inputs is True or (isinstance(inputs, list) and b.get("name") in inputs))
            ):
                b = {**b, "input": {}}
            blocks.append(b)
        edited.append({**message, "content": blocks})
    saved = before - sum(block_tokens(b) for m in edited for b in as_blocks(m.get("content") or []))
    least = (edit.get("clear_at_least") or {}).get("value")
    if isinstance(least, int) and saved < least:
        return None
    messages[:] = edited
    return {
        "type": CLEAR_TOOL_USES,
        "cleared_tool_uses": len(targets),
        "cleared_input_tokens": max(0, saved),
    }


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def summary(messages: list[dict[str, Any]]) -> str:
    """The emulator's summary of `messages`: each user prompt and answer, shortened, the
    tools called, an earlier summary carried over; it says it is not Claude's."""
    lines = [
        "The offline emulator's summary of the conversation so far (made by rule, not by Claude):"
    ]
    turns = 0
    for message in messages:
        blocks = [b for b in as_blocks(message.get("content") or []) if isinstance(b, dict)]
        if message.get("role") == "assistant":
            for b in blocks:
                if b.get("type") == "compaction" and b.get("content"):
                    lines.append(f"- An earlier summary: {_clip(str(b['content']))}")
            text = " ".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
            tools = [str(b.get("name", "?")) for b in blocks if b.get("type") == "tool_use"]
            if turns <= SUMMARY_TURNS:
                if text.strip():
                    lines.append(f"  Claude answered: {_clip(text)}")
                if tools:
                    lines.append(f"  Claude called: {', '.join(tools)}")
            continue
        text = " ".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
        results = sum(1 for b in blocks if b.get("type") == "tool_result")
        media = sum(1 for b in blocks if b.get("type") in ("image", "document"))
        if text.strip() and text.strip() != SUMMARY_NOTE:
            turns += 1
            if turns <= SUMMARY_TURNS:
                extra = f" (+{media} attachment{'s' * (media != 1)})" if media else ""
                lines.append(f"- You asked: {_clip(text)}{extra}")
        elif results and turns <= SUMMARY_TURNS:
            lines.append(f"  {results} tool result{'s' * (results != 1)} came back")
    if turns > SUMMARY_TURNS:
        lines.append(f"- … and {turns - SUMMARY_TURNS} more prompt(s), not listed.")
    return "\n".join(lines)


def _as_text(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as the model reads them: a compaction block is its summary, as text."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "compaction" for b in content
        ):
            content = [
                text_block(f"{SUMMARY_HEAD}\n{b.get('content') or '(none)'}")
                if isinstance(b, dict) and b.get("type") == "compaction"
                else b
                for b in content
            ]
            message = {**message, "content": content}
        out.append(message)
    if (
        out and out[0].get("role") == "assistant"
    ):  # the model reads a conversation that starts with a user
        out.insert(0, {"role": "user", "content": [text_block("(continued)")]})
    return out


def _compacted(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """What the model reads after compacting: the summary, then the newest exchange."""
    head = [
        {"role": "user", "content": [text_block(f"{SUMMARY_HEAD}\n{text}")]},
        {"role": "assistant", "content": [text_block(SUMMARY_NOTE)]},
    ]
    last = messages[-1]
    if last.get("role") != "user":
        return head + [{"role": "user", "content": [text_block("(continue)")]}]
    results = any(
        isinstance(b, dict) and b.get("type") == "tool_result"
        for b in as_blocks(last.get("content") or [])
    )
    if results and len(messages) >= 2:
        return [head[0], messages[-2], last]
    return head + [last]


def manage(body: dict[str, Any]) -> Managed:
    """`body` as Bedrock reads it after its context management (see the module docstring)."""
    messages = [dict(m) for m in after_compaction(body.get("messages") or [])]
    edits = _edits(body)
    applied = []
    counted = {**body, "messages": messages}
    for edit in edits:
        kind = edit.get("type")
        report = None
        if kind == CLEAR_THINKING:
            report = _clear_thinking(messages, edit)
        elif kind == CLEAR_TOOL_USES:
            report = _clear_tool_uses(messages, edit, estimate_input_tokens(counted))
        if report is not None:
            applied.append(report)
    counted = {**body, "messages": messages}
    managed = Managed(
        body=counted,
        model_body={**counted, "messages": _as_text(messages)},
        applied=applied,
        reported="context_management" in body,
    )
    compact = next((e for e in edits if e.get("type") == COMPACT), None)
    if compact is not None:
        _, trigger = _trigger(compact, DEFAULT_COMPACT_TRIGGER)
        if estimate_input_tokens(counted) >= trigger:
            text = summary(messages)
            managed.compaction = {"type": "compaction", "content": text}
            managed.compacted_body = counted
            managed.pause = bool(compact.get("pause_after_compaction"))
            managed.model_body = {**counted, "messages": _compacted(messages, text)}
            managed.model_body.pop("context_management", None)
    return managed


def summary_tokens(block: Block) -> int:
    return estimate_text_tokens(json.dumps(block.get("content") or ""))


def settle(cache: PromptCache, model: Model, managed: Managed, message: Message) -> None:
    """The reply's usage: the prompt cache as Bedrock uses it; a compaction opens the reply
    and reports its own usage (the prefix it read, the summary it wrote) in `iterations`;
    `context_management` says what the request's edits did."""
    if managed.reported:
        message.context_management = {"applied_edits": managed.applied}
    if managed.compaction is None or managed.compacted_body is None:
        account(message, cache.use(model, managed.body))
        return
    use = cache.use(model, managed.compacted_body)
    compaction = {
        "type": "compaction",
        "input_tokens": use.uncached,
        "cache_read_input_tokens": use.read,
        "cache_creation_input_tokens": use.written,
        "output_tokens": summary_tokens(managed.compaction),
    }
    if managed.pause:
        message.content, message.stop_reason, message.stop_sequence = (
            [managed.compaction],
            "compaction",
            None,
        )
        message.usage.input_tokens = message.usage.output_tokens = 0
        message.iterations = [compaction]
        return
    message.content = [managed.compaction, *message.content]
    usage = message.usage
    message.iterations = [
        compaction,
        {
            "type": "message",
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
    ]
