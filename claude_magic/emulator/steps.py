"""Scripted replies in short, for playing agent runs: each step a text, a tool call
(`{"tool": NAME, "input": {...}, "text": optional preface}`) or a whole Anthropic message.

    emu.script_steps([
        {"tool": "run_code", "input": {"code": "x = 41"}, "text": "First, x."},
        {"tool": "run_code", "input": {"code": "print(x + 1)"}},
        "x + 1 is 42.",
    ])

queues three replies: two `tool_use` replies (stop reason `tool_use`) and a final text
(`end_turn`); each model request takes the next one, whatever the tool results between them
say. `POST /_emulator/script` takes the same steps.
"""

from __future__ import annotations

from typing import Any

STEP_KEYS = {"tool", "input", "text", "id"}
SHAPE = (
    'a step is a text, a message with "content", or a tool call '
    '{"tool": NAME, "input": {...}, "text": optional, "id": optional}'
)


def step_message(step: Any) -> Any:
    """The scripted message a step stands for (anything else is returned as it is, for
    the script check to judge)."""
    if isinstance(step, str):
        return {"content": [{"type": "text", "text": step}]}
    if not isinstance(step, dict) or "content" in step or "tool" not in step:
        return step
    if set(step) - STEP_KEYS:
        raise ValueError(
            f"{SHAPE}; unknown keys: {', '.join(sorted(map(str, set(step) - STEP_KEYS)))}"
        )
    name, given, text = step["tool"], step.get("input", {}), step.get("text")
    if not isinstance(name, str) or not name:
        raise ValueError(f'{SHAPE}: "tool" must be a tool name')
    if not isinstance(given, dict):
        raise ValueError(f'{SHAPE}: "input" must be an object')
    if text is not None and not isinstance(text, str):
        raise ValueError(f'{SHAPE}: "text" must be a string')
    call: dict[str, Any] = {"type": "tool_use", "name": name, "input": given}
    if step.get("id") is not None:
        if not isinstance(step["id"], str) or not step["id"]:
            raise ValueError(f'{SHAPE}: "id" must be a string')
        call["id"] = step["id"]
    content = [{"type": "text", "text": text}] if text else []
    return {"content": [*content, call], "stop_reason": "tool_use"}
