"""The loop that answers tool calls until the model is done.

No IPython, boto3 or HTTP imports: the caller hands in a `send` function that
performs one request, and an `Approver` that knows whether someone can answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.messages import Block, Message, Usage, tool_result_block
from .approval import INTERRUPTED, NOT_RUN_INTERRUPTED, STEP_LIMIT_REACHED, Approver
from .results import run_tool
from .toolset import ToolSet


@dataclass
class LoopResult:
    """What a tool loop adds to the conversation: the assistant replies, and after
    each reply that called tools, the tool_result blocks answering it.

    `messages` are the wire messages (assistant, user with results, ..., assistant).
    When the loop stopped early (step limit, interrupt) they end with a user message
    of tool results, so no tool_use is left unanswered: the next user turn's content
    must then be appended to that last message.
    """

    replies: list[Message] = field(default_factory=list)
    results: list[list[Block]] = field(default_factory=list)  # results[i] answers replies[i]
    steps: int = 0  # rounds of tool calls that were run
    stopped_at_max_steps: bool = False
    notice: str | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, reply in enumerate(self.replies):
            content = _history_content(reply.content)
            if content:
                out.append({"role": "assistant", "content": content})
            if i < len(self.results):
                out.append({"role": "user", "content": self.results[i]})
        return out

    def as_messages(self) -> list[Message]:
        """Replies and result messages (role "user") in order, for `Turn.complete`."""
        out: list[Message] = []
        for i, reply in enumerate(self.replies):
            out.append(reply)
            if i < len(self.results):
                out.append(Message(content=self.results[i], role="user"))
        return out

    @property
    def final(self) -> Message | None:
        return self.replies[-1] if self.replies else None

    @property
    def ends_with_user(self) -> bool:
        messages = self.messages
        return bool(messages) and messages[-1]["role"] == "user"

    @property
    def usage(self) -> Usage:
        return Usage.total(reply.usage for reply in self.replies)


class ToolLoopInterrupted(KeyboardInterrupt):
    """A KeyboardInterrupt during the tool loop; `.result` holds what to keep (every
    tool_use in it answered; a reply that was still streaming is not in it)."""

    def __init__(self, result: LoopResult) -> None:
        super().__init__()
        self.result = result


def _history_content(blocks: list[Block]) -> list[Block]:
    """Assistant content fit to send back: no whitespace-only text blocks (the API
    rejects them), no private keys."""
    return [
        {k: v for k, v in b.items() if not k.startswith("_")}
        for b in blocks
        if not (b.get("type") == "text" and not str(b.get("text", "")).strip())
    ]


def run_tool_loop(
    send: Callable[[list[dict[str, Any]], dict[str, Any] | None], Message],
    messages: list[dict[str, Any]],
    toolset: ToolSet,
    approver: Approver,
    *,
    tool_choice: dict[str, Any] | None = None,
    max_steps: int = 10,
    on_call: Callable[[Block], None] | None = None,
    on_result: Callable[[Block, Block], None] | None = None,
) -> LoopResult:
    """Send, run the tools the reply asks for, send their results, until a reply asks
    for none or `max_steps` rounds have run.

    `send(messages, tool_choice)` performs one request and returns the assistant
    Message; `tool_choice` goes to the first request only (later ones get None: the
    default, auto). Results follow the order of the tool_use blocks. Tool calls past
    the step limit are answered "Not run: the step limit was reached." On
    KeyboardInterrupt the current reply's tool calls are all answered (finished ones
    with their result, the rest as interrupted) and `ToolLoopInterrupted` is raised,
    carrying the result so far; a reply that was still streaming is dropped.
    """
    result = LoopResult()
    choice = tool_choice
    while True:
        try:
            reply = send([*messages, *result.messages], choice)
        except KeyboardInterrupt as exc:
            raise ToolLoopInterrupted(result) from exc
        choice = None
        result.replies.append(reply)
        uses = [b for b in _history_content(reply.content) if b.get("type") == "tool_use"]
        if not uses:
            return result
        if result.steps >= max_steps:
            answers = [tool_result_block(u["id"], STEP_LIMIT_REACHED, is_error=True) for u in uses]
            result.results.append(answers)
            for use, answer in zip(uses, answers, strict=True):
                if on_result:
                    on_result(use, answer)
            result.stopped_at_max_steps = True
            result.notice = f"Stopped after {result.steps} tool steps (--max-steps)."
            return result
        result.steps += 1
        answers = []
        result.results.append(answers)
        try:
            for use in uses:
                if on_call:
                    on_call(use)
                answer = run_tool(use, toolset, approver)
                answers.append(answer)
                if on_result:
                    on_result(use, answer)
        except KeyboardInterrupt as exc:
            pending = uses[len(answers) :]
            answers += [
                tool_result_block(
                    u["id"], INTERRUPTED if i == 0 else NOT_RUN_INTERRUPTED, is_error=True
                )
                for i, u in enumerate(pending)
            ]
            raise ToolLoopInterrupted(result) from exc
