"""`--json SCHEMA` in a turn: how the request asks for it, and the answer taken from the
reply (validated; asked for once more where the model could not be made to comply)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ClaudeMagicError
from ..core.messages import Message, text_block
from ..core.structured import (
    INSTRUCTION,
    MODES,
    TOOL_NAME,
    SchemaError,
    Structured,
    choose_mode,
    retry_content,
)
from ..models.catalog import Model


@dataclass
class StructuredPlan:
    """The schema, the way it is asked for, and what the request needs for it."""

    structured: Structured
    mode: str
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: dict[str, Any] | None = None
    output_format: dict[str, Any] | None = None
    data: Any = None
    error: str | None = None

    @classmethod
    def make(
        cls,
        name: str,
        namespace: dict[str, Any],
        model: Model | None,
        thinking: bool,
        has_tools: bool,
    ) -> StructuredPlan:
        if has_tools:
            raise ClaudeMagicError("--json can't be combined with tools: drop --tools (or --json).")
        try:
            structured = Structured.resolve(name, namespace)
        except SchemaError as exc:
            raise ClaudeMagicError(str(exc)) from None
        plan = cls(structured, choose_mode(model, thinking))
        if plan.mode == "format":
            plan.output_format = {"type": "json_schema", "schema": structured.strict_schema()}
        else:
            plan.tools = [structured.tool()]
            if plan.mode == "tool":
                plan.tool_choice = {"type": "tool", "name": TOOL_NAME}
        return plan

    def fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The request's top-level fields with the output format merged in."""
        if self.output_format is None:
            return fields
        config = {**fields.get("output_config", {}), "format": self.output_format}
        return {**fields, "output_config": config}

    def user_content(self, content: list[Any]) -> list[Any]:
        """The prompt, with the instruction to call the tool when it can't be forced."""
        return [*content, text_block(INSTRUCTION)] if self.mode == "auto" else content

    def converse(self, exchange: Any, messages: list[dict[str, Any]]) -> list[Message]:
        """The replies (and, for a retry, the user message between them)."""
        reply = exchange.send(messages, self.tool_choice)
        replies = [reply]
        if self._take(reply) or self.mode != "auto":
            return replies
        retry = Message(role="user", content=retry_content(reply, self.error or ""))
        again = [
            *messages,
            {"role": "assistant", "content": _sendable(reply)},
            {"role": "user", "content": retry.content},
        ]
        self.error = None
        second = exchange.send(again, None)
        self._take(second)
        return [*replies, retry, second]

    def _take(self, reply: Message) -> bool:
        try:
            self.data = self.structured.convert(self.structured.extract(reply, self.mode))
        except SchemaError as exc:
            self.error = str(exc)
            return False
        self.error = None
        return True

    def close_turn(self, turn: Any) -> None:
        """Keep the answer as fenced JSON text in the conversation: the recording tool is
        offered only in this turn, and later requests without it must hold no tool blocks."""
        ids: set[str] = set()
        for reply in turn.replies:
            content = []
            for block in reply.content:
                if block.get("type") == "tool_use" and block.get("name") == TOOL_NAME:
                    ids.add(block.get("id", ""))
                    value = block.get("input")
                    if self.structured.wrapped and isinstance(value, dict):
                        value = value.get("value", value)
                    block = text_block(
                        "```json\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n```"
                    )
                content.append(block)
            reply.content = content
        turn.results = [
            [_as_text(b) if b.get("tool_use_id") in ids else b for b in results]
            for results in turn.results
        ]

    def footer(self) -> str:
        return MODES[self.mode]

    def failure(self, out: str | None) -> ClaudeMagicError:
        stored = f"; nothing was stored in {out}" if out else ""
        return ClaudeMagicError(
            f"The answer does not match {self.structured.name}: {self.error}{stored}."
        )


def _as_text(block: dict[str, Any]) -> dict[str, Any]:
    content = block.get("content")
    text = content if isinstance(content, str) else json.dumps(content)
    return text_block(text)


def _sendable(reply: Message) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in b.items() if not k.startswith("_")}
        for b in reply.content
        if not (b.get("type") == "text" and not str(b.get("text", "")).strip())
    ]
