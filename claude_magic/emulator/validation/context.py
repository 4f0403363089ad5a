"""Validation of `context_management` (context editing and compaction) and of the
compaction blocks a request sends back: the betas each needs, the edits' shapes and
rules (clear_thinking first and only with thinking, compaction triggers of at least
50,000 tokens)."""

from __future__ import annotations

from typing import Any

from ...core.context_edits import (
    CLEAR_THINKING,
    CLEAR_TOOL_USES,
    COMPACT,
    COMPACT_BETA,
    COMPACT_MIN_TRIGGER,
    CONTEXT_BETA,
    EDIT_BETAS,
)
from ...models.catalog import Model
from ..errors import malformed, validation
from .thinking import thinking_on

EDIT_KEYS = {
    CLEAR_TOOL_USES: {
        "type",
        "trigger",
        "keep",
        "clear_at_least",
        "exclude_tools",
        "clear_tool_inputs",
    },
    CLEAR_THINKING: {"type", "keep"},
    COMPACT: {"type", "trigger", "pause_after_compaction", "instructions"},
}


def _tags() -> str:
    return ", ".join(f"'{t}'" for t in EDIT_BETAS)


def _check_trigger(edit: dict[str, Any], where: str, kinds: tuple[str, ...]) -> None:
    trigger = edit.get("trigger")
    if trigger is None:
        return
    if not isinstance(trigger, dict) or trigger.get("type") not in kinds:
        raise validation(f"{where}.trigger.type: Input should be {' or '.join(map(repr, kinds))}")
    value = trigger.get("value")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise validation(f"{where}.trigger.value: Input should be a positive integer")
    if edit.get("type") == COMPACT and value < COMPACT_MIN_TRIGGER:
        raise validation(
            f"{where}.trigger.value: Input should be greater than or equal to {COMPACT_MIN_TRIGGER}"
        )


def _check_keep(edit: dict[str, Any], where: str) -> None:
    keep = edit.get("keep")
    if keep is None or (edit.get("type") == CLEAR_THINKING and keep == "all"):
        return
    wanted = "tool_uses" if edit.get("type") == CLEAR_TOOL_USES else "thinking_turns"
    if not isinstance(keep, dict) or keep.get("type") not in (wanted, "all"):
        raise validation(f"{where}.keep.type: Input should be '{wanted}'")
    value = keep.get("value", 0)
    if keep.get("type") != "all" and (
        not isinstance(value, int) or isinstance(value, bool) or value < 0
    ):
        raise validation(f"{where}.keep.value: Input should be a non-negative integer")


def check_context(model: Model, body: dict[str, Any], betas: list[str]) -> None:
    """Raise BedrockError for the first problem of the request's context management."""
    for i, message in enumerate(body.get("messages") or []):
        content = message.get("content") if isinstance(message, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else []):
            if (
                isinstance(block, dict)
                and block.get("type") == "compaction"
                and COMPACT_BETA not in betas
            ):
                raise validation(
                    f'messages.{i}.content.{j}: compaction blocks require "anthropic_beta": '
                    f'["{COMPACT_BETA}"] in the request body.'
                )
    if "context_management" not in body:
        return
    if CONTEXT_BETA not in betas and COMPACT_BETA not in betas:
        raise malformed("#: extraneous key [context_management] is not permitted")
    managed = body["context_management"]
    if not isinstance(managed, dict):
        raise validation("context_management: Input should be a valid dictionary")
    for key in managed:
        if key != "edits":
            raise validation(f"context_management.{key}: Extra inputs are not permitted")
    edits = managed.get("edits", [])
    if not isinstance(edits, list):
        raise validation("context_management.edits: Input should be a valid list")
    seen: set[str] = set()
    for i, edit in enumerate(edits):
        where = f"context_management.edits.{i}"
        kind = edit.get("type") if isinstance(edit, dict) else None
        if kind not in EDIT_BETAS or not isinstance(edit, dict):
            raise validation(
                f"{where}: Input tag '{kind}' found using 'type' does not match any of the "
                f"expected tags: {_tags()}"
            )
        if EDIT_BETAS[kind] not in betas:
            raise validation(
                f'{where}: {kind} requires "anthropic_beta": ["{EDIT_BETAS[kind]}"] in the request body.'
            )
        for key in edit:
            if key not in EDIT_KEYS[kind]:
                raise validation(f"{where}.{kind}.{key}: Extra inputs are not permitted")
        if kind in seen:
            raise validation(f"context_management.edits: {kind} may be given only once")
        seen.add(kind)
        if kind == CLEAR_THINKING:
            if i:
                raise validation(
                    f"context_management.edits: {CLEAR_THINKING} must be the first edit"
                )
            if not thinking_on(model, body):
                raise validation(f"{where}: {CLEAR_THINKING} requires thinking to be enabled")
        _check_trigger(
            edit, where, ("input_tokens",) if kind == COMPACT else ("input_tokens", "tool_uses")
        )
        _check_keep(edit, where)
