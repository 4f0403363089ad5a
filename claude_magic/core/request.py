"""One request spec for cells and the Python API: everything a request needs except
its messages, already resolved from options and configuration. `body()` is the one
place that decides which fields are sent: only what was asked for."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .context_edits import (
    COMPACT_BETA,
    ContextPolicy,
    clear_thinking_edit,
    clear_tool_uses_edit,
    compaction_as_text,
    from_compaction,
    needs_compact_beta,
    with_edits,
)
from .costs import usage_cost
from .messages import Message, build_request
from .reply import Reply

if TYPE_CHECKING:
    from ..models.catalog import Resolved

_OWN = object()  # body(): the spec's own tool_choice


@dataclass(frozen=True)
class RequestSpec:
    """A request's settings. `fields` holds the top-level fields that shaping computed
    (thinking, output_config); `schema_type` a pydantic model the answer's data is
    validated into (Python API)."""

    resolved: Resolved
    max_tokens: int
    region: str | None = None
    system: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: tuple[str, ...] = ()
    prefill: str | None = None
    betas: tuple[str, ...] = ()
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: dict[str, Any] | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    stream: bool = True
    api: str = "invoke"  # or "converse" (Converse / ConverseStream), "mantle" (the Messages API)
    guardrail: tuple[str, str] | None = None  # (identifier, version)
    cache_ttl: str | None = None  # prompt-caching breakpoints with this TTL; None: no caching
    schema_type: Any = None
    context: ContextPolicy | None = None  # context editing and compaction this request may ask for

    @property
    def invoke_id(self) -> str:
        return self.resolved.invoke_id

    @property
    def schema(self) -> dict[str, Any] | None:
        """The JSON Schema of structured output (`output_config.format`), if asked for."""
        output_format = self.fields.get("output_config", {}).get("format")
        return output_format.get("schema") if output_format else None

    def body(self, messages: list[dict[str, Any]], tool_choice: Any = _OWN) -> dict[str, Any]:
        """The InvokeModel body for `messages` (with the prefill after a user turn);
        `tool_choice` overrides the spec's own (a tool loop's later steps). Messages from
        a compaction block on are sent (as text where compaction isn't taken); with tools,
        old tool results are cleared past the policy's threshold. Compaction itself is
        asked for near the window (bedrock/window.py)."""
        policy = self.context or ContextPolicy()
        messages = from_compaction(messages)[0]
        compacted = needs_compact_beta(messages)
        if compacted and not policy.compaction:
            messages = compaction_as_text(messages)
        if self.prefill and messages and messages[-1].get("role") == "user":
            messages = [*messages, {"role": "assistant", "content": self.prefill.rstrip()}]
        betas = list(self.betas)
        if compacted and policy.compaction and COMPACT_BETA not in betas:
            betas.append(COMPACT_BETA)
        body = build_request(
            messages,
            max_tokens=self.max_tokens,
            system=self.system,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            stop_sequences=list(self.stop_sequences),
            tools=self.tools,
            tool_choice=self.tool_choice if tool_choice is _OWN else tool_choice,
            anthropic_beta=betas,
        )
        body.update(self.fields)
        edit = (
            clear_tool_uses_edit(messages, policy.clear_at)
            if policy.clear_at and self.tools
            else None
        )
        if edit is not None:
            body = with_edits(
                body, [edit, *([clear_thinking_edit()] if policy.clear_thinking else [])]
            )
        return body

    def call_args(self) -> dict[str, Any]:
        """Keyword arguments for the client's call, beyond the model id and body."""
        return {"guardrail": self.guardrail} if self.guardrail else {}

    def cost(self, message: Message, batch: bool = False) -> float | None:
        """The catalogue's price of this reply: cache writes and reads, or batch prices."""
        return usage_cost(
            self.resolved.model,
            self.invoke_id,
            message.usage,
            cache_ttl=self.cache_ttl or "5m",
            batch=batch,
        )

    def reply(self, message: Message, cached: bool = False, batch: bool = False) -> Reply:
        """The reply as the Python API gives it: text with the prefill, data validated."""
        reply = Reply.from_message(
            message,
            model=self.invoke_id,
            cost=self.cost(message, batch),
            structured=self.schema is not None,
            cached=cached,
        )
        if self.prefill and message.content[:1] and message.content[0].get("type") == "text":
            reply = replace(reply, text=self.prefill + reply.text)
        if self.schema_type is not None and reply.data is not None:
            try:
                reply = replace(reply, data=self.schema_type.model_validate(reply.data))
            except Exception as exc:  # the answer doesn't fit the model: keep the dict, say why
                reply = replace(
                    reply,
                    error=f"The answer doesn't match {self.schema_type.__name__}: "
                    f"{' '.join(str(exc).split())[:200]}",
                )
        return reply
