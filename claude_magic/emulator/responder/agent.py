"""The responder's honest agent run, when a request offers the notebook agent's tools
(`list_variables` with `run_code` or `read_cells`) and no reply is scripted.

Three steps, told apart from the messages alone (which of its own calls in the current
turn already have results), so the same request always gets the same reply:

1. a short text saying it is the emulator, and a `list_variables` call;
2. a `run_code` call with `NAMESPACE_CODE` (standard library only; it counts the notebook's
   variables by type and prints them), or, when `run_code` is not offered (plan mode), step 3
   with a plan and the code it would run;
3. a final Markdown answer: it is the emulator, what it saw (the first lines of each result,
   or the failed step's error line), and how to script a real run.

`tool_choice` is obeyed: `none` skips to the answer; a forced tool (`any`, or `tool` naming
the step's tool) makes the call without text; a choice the run cannot meet leaves the reply
to the general responder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...core.messages import as_blocks
from .reflect import HEADER, quote, truncate

LIST_VARIABLES = "list_variables"
RUN_CODE = "run_code"
READ_CELLS = "read_cells"
INTRO = "I'm the Bedrock emulator, not Claude: I'll look at what the notebook holds."
QUOTE_LINES = 6
LINE_CHARS = 200
HOW_TO_SCRIPT = (
    "To play a real agent run offline, script its replies: `Emulator.script_steps([...])` "
    "in Python, or `POST /_emulator/script` with a list of steps such as "
    '`{"tool": "run_code", "input": {"code": "..."}}` and a final text. '
    "With AWS credentials (and offline mode off), Claude does the work."
)
NAMESPACE_CODE = """\
# Written by the Bedrock emulator (not Claude): the notebook's variables, counted by type.
import types as _types

_hidden = set(getattr(globals().get("get_ipython", lambda: None)(), "user_ns_hidden", ()))
_by_type = {}
for _name, _value in sorted(globals().items()):
    if _name.startswith("_") or _name in _hidden or isinstance(_value, _types.ModuleType):
        continue
    _by_type.setdefault(type(_value).__name__, []).append(_name)
print(f"{sum(len(_names) for _names in _by_type.values())} user variables")
print("\\n".join(
    f"{_kind}: {len(_names)} ({', '.join(_names[:5])}{', ...' if len(_names) > 5 else ''})"
    for _kind, _names in sorted(_by_type.items())
))
del _types, _hidden, _by_type, _name, _value
"""
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Warning)\b")


@dataclass
class AgentStep:
    """One reply of the run: its text and the tool calls (name, input) it makes."""

    text: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def offers_agent_tools(body: dict[str, Any]) -> bool:
    """Whether the request offers the agent's tools: `list_variables`, and `run_code` or
    `read_cells`."""
    names = _tool_names(body)
    return LIST_VARIABLES in names and bool(names & {RUN_CODE, READ_CELLS})


def _tool_names(body: dict[str, Any]) -> set[str]:
    return {str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, dict)}


def current_turn(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages from the last user message that says something (not only tool results)."""
    start = 0
    for index, message in enumerate(messages):
        blocks = [b for b in as_blocks(message.get("content") or []) if isinstance(b, dict)]
        if message.get("role") == "user" and any(b.get("type") != "tool_result" for b in blocks):
            start = index
    return messages[start:]


def answered_calls(turn: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Tool name → the result of its latest call in `turn` that has one."""
    results = {
        b.get("tool_use_id"): b
        for m in turn
        if m.get("role") == "user"
        for b in as_blocks(m.get("content") or [])
        if isinstance(b, dict) and b.get("type") == "tool_result"
    }
    answered: dict[str, dict[str, Any]] = {}
    for message in turn:
        if message.get("role") != "assistant":
            continue
        for block in as_blocks(message.get("content") or []):
            if (
                isinstance(block, dict)
                and block.get("type") == "tool_use"
                and block.get("id") in results
            ):
                answered[str(block.get("name"))] = results[block["id"]]
    return answered


def agent_step(body: dict[str, Any]) -> AgentStep | None:
    """The run's next reply to `body`, or None when the general responder should answer
    (not the agent's tools, a prefill, or a `tool_choice` the run cannot meet)."""
    messages = body["messages"]
    if not offers_agent_tools(body) or messages[-1].get("role") != "user":
        return None
    offered = _tool_names(body)
    answered = answered_calls(current_turn(messages))
    choice = body.get("tool_choice") or {"type": "auto"}
    kind = choice.get("type", "auto")
    if RUN_CODE in answered:
        call: tuple[str, dict[str, Any]] | None = None
    elif LIST_VARIABLES in answered:
        failed = answered[LIST_VARIABLES].get("is_error")
        call = (RUN_CODE, {"code": NAMESPACE_CODE}) if RUN_CODE in offered and not failed else None
    else:
        call = (LIST_VARIABLES, {})
    if kind == "none":
        return AgentStep(final_text(answered, RUN_CODE not in offered, tools_off=True))
    if kind == "tool" and (call is None or choice.get("name") != call[0]):
        return None
    if call is None:
        return None if kind == "any" else AgentStep(final_text(answered, RUN_CODE not in offered))
    forced = kind in ("any", "tool")
    intro = (
        INTRO
        if call[0] == LIST_VARIABLES
        else "Now I'll run a small, read-only look at the namespace."
    )
    return AgentStep("" if forced else intro, [call])


def result_lines(result: dict[str, Any]) -> tuple[list[str], int]:
    """(the text lines of a tool result, ANSI codes removed; how many images it holds)."""
    content = result.get("content")
    items = as_blocks(content) if content else []
    text = "\n".join(
        str(b.get("text", "")) for b in items if isinstance(b, dict) and b.get("type") == "text"
    )
    images = sum(1 for b in items if isinstance(b, dict) and b.get("type") == "image")
    return [line for line in _ANSI.sub("", text).splitlines() if line.strip()], images


def error_line(lines: list[str]) -> str:
    """The line that names the exception (the last such), else the last line."""
    named = [line for line in lines if _ERROR_LINE.match(line.strip())]
    return (named or lines or ["(no error text)"])[-1].strip()


def _seen(name: str, result: dict[str, Any]) -> list[str]:
    lines, images = result_lines(result)
    if result.get("is_error"):
        return [
            f"The `{name}` step failed:",
            "",
            quote(truncate(error_line(lines), LINE_CHARS)),
            "",
        ]
    shown = [truncate(line, LINE_CHARS) for line in lines[:QUOTE_LINES]]
    if len(lines) > QUOTE_LINES:
        shown.append(f"… {len(lines) - QUOTE_LINES} more lines")
    parts = [f"`{name}` answered:", "", fenced("\n".join(shown) or "(no text)"), ""]
    if images:
        parts += [f"It also returned {images} image(s).", ""]
    return parts


def fenced(text: str) -> str:
    """`text` as a Markdown code block, line for line (a fence longer than any in it)."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def final_text(answered: dict[str, dict[str, Any]], plan: bool, tools_off: bool = False) -> str:
    """The run's closing Markdown: what it saw, a plan in plan mode, how to script runs."""
    parts = [HEADER, "", "I'm the Bedrock emulator, not Claude, so I did not work on your request."]
    if tools_off:
        parts[-1] += " `tool_choice` is `none`, so I called no more tools."
    parts.append("")
    for name in (LIST_VARIABLES, RUN_CODE):
        if name in answered:
            parts += _seen(name, answered[name])
    if plan:
        parts += [
            "**Plan** (`run_code` is not offered here, so nothing ran):",
            "",
            "1. Count the notebook's variables by type.",
            "2. Print each type with the first few names.",
            "",
            "The code I would run:",
            "",
            "```python",
            NAMESPACE_CODE.rstrip("\n"),
            "```",
            "",
        ]
    parts.append(HOW_TO_SCRIPT)
    return "\n".join(parts)
