"""The offline responder: a deterministic, honest reply to a validated request.

It never pretends to be Claude. The reply is Markdown that says it comes from the
offline emulator and describes the request (see `reflect.py`); it calls the tools that
`tool_choice`, the user's words or the prompt's plain request pick (`tool_choice.py`) with
input built from the schema and the prompt (`prompt_values.py`), answers tool results,
continues a prefill, and obeys `max_tokens` and `stop_sequences` exactly as the stop
reasons say. Offered the notebook agent's tools, it plays a short, honest agent run
(`agent.py`).
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from typing import Any

from ...core.messages import (
    Block,
    Message,
    Usage,
    as_blocks,
    estimate_text_tokens,
    split_tokens,
    text_block,
    text_of,
    tool_use_block,
)
from ...models.catalog import Model
from ..citations import cited_blocks
from ..signatures import sign_thinking
from ..tokens import estimate_input_tokens
from ..validation.thinking import shows_thinking_text, thinking_on
from ..validation.tools import COMPUTER_USE_VERSIONS, computer_use_kind
from .agent import agent_step
from .prompt_values import prompt_values
from .reflect import (
    describe_request,
    describe_tool_results,
    prefill_continuation,
    tool_use_note,
)
from .schema_instance import instance_for
from .tool_choice import choose_tools
from .words import stems

__all__ = ["estimate_input_tokens", "respond", "stable_id"]

DEFAULT_BASH_COMMAND = "echo hello from the emulator"
THINKING_TEXT = "The offline emulator does not think; this block stands in for Claude's reasoning."
_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_SHELL_FENCE = re.compile(r"```(?:bash|sh|shell|console)?[^\n]*\n(.*?)```", re.DOTALL)


def stable_id(prefix: str, *parts: Any) -> str:
    """`prefix` + `01` + 22 base-62 characters derived from `parts` (same parts, same id)."""
    payload = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    number = int.from_bytes(hashlib.sha256(payload).digest(), "big")
    chars = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return prefix + "01" + "".join(chars)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def tool_use_tokens(block: Block) -> int:
    """Output tokens of a tool_use block: its input JSON, plus one for the call."""
    return 1 + estimate_text_tokens(_compact(block.get("input") or {}))


# -- tools -----------------------------------------------------------------------------------


def bash_command(text: str) -> str:
    """A shell command from the user's text (a fenced block or inline code), else a greeting."""
    fenced = _SHELL_FENCE.search(text)
    if fenced:
        line = next((ln.strip() for ln in fenced.group(1).splitlines() if ln.strip()), "")
        if line:
            return line.removeprefix("$ ")
    inline = _INLINE_CODE.search(text)
    return inline.group(1).strip() if inline else DEFAULT_BASH_COMMAND


def tool_input(tool: dict[str, Any], user_text: str) -> dict[str, Any]:
    """An input for `tool`: schema-valid for custom tools, a valid action for computer use."""
    tool_type = tool.get("type", "custom")
    version = next((c for c in COMPUTER_USE_VERSIONS if tool_type in c.tool_types), None)
    if version is None:
        schema = tool.get("input_schema") or {"type": "object"}
        own_words = stems(f"{tool.get('name', '')} {tool.get('description', '')}")
        values = prompt_values(schema, user_text, ignore=own_words)
        value = instance_for(schema, values.given, values.spare)
        return value if isinstance(value, dict) else {}
    kind = computer_use_kind(version, tool_type)
    if kind == "computer":
        return {"action": "screenshot"}
    if kind == "bash":
        return {"command": bash_command(user_text)}
    return {"command": "view", "path": "."}


# -- limits ----------------------------------------------------------------------------------


def apply_limits(
    text: str, stop_sequences: list[str], max_tokens: int
) -> tuple[str, str | None, str | None]:
    """Cut `text` at the first stop sequence or after `max_tokens` tokens, whichever
    comes first: (text, stop_reason or None, stop_sequence or None)."""
    pieces = split_tokens(text)
    token_cut = len("".join(pieces[: max(0, max_tokens)])) if len(pieces) > max_tokens else None
    hits = [(text.find(s), i, s) for i, s in enumerate(stop_sequences) if s and s in text]
    if hits:
        position, _, sequence = min(hits)
        if token_cut is None or position + len(sequence) <= token_cut:
            return text[:position], "stop_sequence", sequence
    if token_cut is not None:
        return text[:token_cut], "max_tokens", None
    return text, None, None


# -- the reply -------------------------------------------------------------------------------


def _last_user_index(messages: list[dict[str, Any]]) -> int:
    return max(i for i, m in enumerate(messages) if m.get("role") == "user")


def _tool_names(message: dict[str, Any] | None) -> dict[str, str]:
    if message is None:
        return {}
    return {
        b["id"]: b.get("name", "tool")
        for b in as_blocks(message["content"])
        if isinstance(b, dict) and b.get("type") == "tool_use" and "id" in b
    }


def _thinking_block(model: Model, body: dict[str, Any]) -> Block | None:
    """The reply's thinking block when the request thinks: its text where the model
    shows it, else only the signature (the text still counts as thinking tokens)."""
    if not thinking_on(model, body):
        return None
    text = THINKING_TEXT if shows_thinking_text(model, body) else ""
    return {"type": "thinking", "thinking": text, "signature": sign_thinking(text)}


def _format_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema of `output_config.format`, when the request asks for one."""
    fmt = (body.get("output_config") or {}).get("format")
    return (
        fmt.get("schema") if isinstance(fmt, dict) and isinstance(fmt.get("schema"), dict) else None
    )


def respond(model: Model, body: dict[str, Any]) -> Message:
    """The emulator's deterministic reply to a validated InvokeModel body."""
    messages = body["messages"]
    input_tokens = estimate_input_tokens(body)
    message_id = stable_id("msg_bdrk_", model.id, body)
    user_index = _last_user_index(messages)
    user_blocks = [b for b in as_blocks(messages[user_index]["content"]) if isinstance(b, dict)]
    user_text = text_of(user_blocks).strip()
    results = [b for b in user_blocks if b.get("type") == "tool_result"]

    tool_uses: list[Block] = []
    cited: list[Block] = []
    agent = agent_step(body)
    if agent is not None:
        text = agent.text
        tool_uses = [
            tool_use_block(stable_id("toolu_bdrk_", message_id, i, name), name, given)
            for i, (name, given) in enumerate(agent.calls)
        ]
    elif results:
        previous = messages[user_index - 1] if user_index else None
        text = describe_tool_results(results, _tool_names(previous))
    else:
        chosen = choose_tools(body, user_text)
        tool_uses = [
            tool_use_block(
                stable_id("toolu_bdrk_", message_id, i, t.get("name")),
                t["name"],
                tool_input(t, user_text),
            )
            for i, t in enumerate(chosen)
        ]
        forced = (body.get("tool_choice") or {}).get("type") in ("any", "tool")
        schema = _format_schema(body)
        if tool_uses:
            text = "" if forced else tool_use_note([t["name"] for t in chosen])
        elif schema is not None:
            values = prompt_values(schema, user_text)
            text = json.dumps(instance_for(schema, values.given, values.spare), ensure_ascii=False)
        else:
            cited = cited_blocks(messages)
            text = (
                "".join(b["text"] for b in cited)
                if cited
                else describe_request(model, body, user_index, input_tokens)
            )

    prefill = text_of(messages[-1]["content"]) if messages[-1].get("role") == "assistant" else ""
    if prefill and text:
        text = prefill_continuation(prefill, text, user_text)

    thinking = _thinking_block(model, body)
    thinking_tokens = estimate_text_tokens(THINKING_TEXT) if thinking else 0
    budget = body["max_tokens"] - thinking_tokens
    text, stop_reason, stop_sequence = apply_limits(text, body.get("stop_sequences") or [], budget)
    text_tokens = estimate_text_tokens(text)
    call_tokens = sum(tool_use_tokens(b) for b in tool_uses)
    if stop_reason is not None:
        tool_uses = []
    elif tool_uses and text_tokens + call_tokens > budget:
        tool_uses, stop_reason = [], "max_tokens"
    else:
        stop_reason = "tool_use" if tool_uses else "end_turn"

    content: list[Block] = [thinking] if thinking else []
    if cited and stop_reason == "end_turn" and not prefill:
        content += cited
    elif text:
        content.append(text_block(text))
    content += tool_uses
    output_tokens = thinking_tokens + text_tokens + sum(tool_use_tokens(b) for b in tool_uses)
    return Message(
        content=content,
        id=message_id,
        model=model.api_model,
        stop_reason=stop_reason,
        stop_sequence=stop_sequence,
        usage=Usage(
            input_tokens=input_tokens,
            output_tokens=max(1, output_tokens),
            thinking_tokens=thinking_tokens,
        ),
    )
