"""One request from Python: what `claude_magic.ask` and each row of `map` send.

`AskSpec` holds the resolved options (model, system, max_tokens, effort, structured
output, sampling); `spec.body(messages)` is the InvokeModel body, with only the fields
the caller asked for; `send` makes the call and gives a `Reply`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.conversation import Conversation
from ..core.costs import usage_cost
from ..core.errors import ClaudeMagicError
from ..core.images import ImageError, image_from_object, prepare_image
from ..core.messages import Block, Message, build_request, text_block
from ..core.reply import Reply
from ..models import catalog

EFFORTS = ("low", "medium", "high", "xhigh", "max")
OPTIONS = ("temperature", "top_p", "top_k", "stop_sequences", "betas", "thinking", "tools",
           "tool_choice", "prefill")


@dataclass(frozen=True)
class Defaults:
    """What an option left out means: the magic's configuration when it is loaded."""

    model: str = catalog.DEFAULT_MODEL_ALIAS
    max_tokens: int = 4096
    system: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None


@dataclass(frozen=True)
class AskSpec:
    """Everything one request needs except its messages."""

    resolved: catalog.Resolved
    max_tokens: int
    system: str | None = None
    effort: str | None = None
    schema: dict[str, Any] | None = None
    schema_type: Any = None  # a pydantic model class the answer is validated into
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: tuple[str, ...] = ()
    betas: tuple[str, ...] = ()
    thinking: Any = None
    tools: Any = None
    tool_choice: Any = None
    prefill: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def invoke_id(self) -> str:
        return self.resolved.invoke_id

    def body(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The InvokeModel body: only what was asked for is sent."""
        if self.prefill:
            messages = [*messages, {"role": "assistant", "content": self.prefill.rstrip()}]
        body = build_request(
            messages, max_tokens=self.max_tokens, system=self.system,
            temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
            stop_sequences=list(self.stop_sequences), tools=self.tools, tool_choice=self.tool_choice,
            anthropic_beta=list(self.betas),
        )
        if self.thinking is not None:
            body["thinking"] = self.thinking
        output_config: dict[str, Any] = {}
        if self.effort is not None:
            body.setdefault("thinking", {"type": "adaptive"})
            output_config["effort"] = self.effort
        if self.schema is not None:
            output_config["format"] = {"type": "json_schema", "schema": self.schema}
        if output_config:
            body["output_config"] = output_config
        return body

    def cost(self, message: Message, batch: bool = False) -> float | None:
        """The catalogue's price of this reply: cache writes and reads, or batch prices."""
        return usage_cost(self.resolved.model, self.invoke_id, message.usage, batch=batch)

    def reply(self, message: Message, cached: bool = False, batch: bool = False) -> Reply:
        reply = Reply.from_message(message, model=self.invoke_id, cost=self.cost(message, batch),
                                   structured=self.schema is not None, cached=cached)
        if self.prefill and message.content[:1] and message.content[0].get("type") == "text":
            reply = replace(reply, text=self.prefill + reply.text)
        if self.schema_type is not None and reply.data is not None:
            try:
                reply = replace(reply, data=self.schema_type.model_validate(reply.data))
            except Exception as exc:  # the answer doesn't fit the model: keep the dict, say why
                reply = replace(reply, error=f"The answer doesn't match {self.schema_type.__name__}: "
                                f"{' '.join(str(exc).split())[:200]}")
        return reply


def make_spec(defaults: Defaults, region: str | None, *, model: str | None = None,
              system: str | None = None, max_tokens: int | None = None, effort: str | None = None,
              json: Any = None, **options: Any) -> AskSpec:
    """Options as a user typed them, checked and resolved (one-line errors)."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ClaudeMagicError(f"Unknown option {unknown[0]!r}: use one of model, system, max_tokens, "
                               f"effort, images, json, chat, {', '.join(OPTIONS)}.")
    name = model or defaults.model
    try:
        resolved = catalog.resolve(name, region)
    except catalog.UnknownModel:
        hints = catalog.suggest(name)
        hint = f" Did you mean {', '.join(hints)}?" if hints else ""
        raise ClaudeMagicError(f"Unknown model {name!r}.{hint} Model ids, inference-profile ids "
                               "and ARNs work too.") from None
    if effort is not None and effort not in EFFORTS:
        raise ClaudeMagicError(f"effort must be one of {', '.join(EFFORTS)}, not {effort!r}.")
    tokens = max_tokens if max_tokens is not None else defaults.max_tokens
    if not isinstance(tokens, int) or tokens < 1:
        raise ClaudeMagicError(f"max_tokens must be a positive integer, not {tokens!r}.")
    schema, schema_type = _schema(json)
    stop = options.get("stop_sequences") or ()
    return AskSpec(
        resolved=resolved, max_tokens=tokens,
        system=system if system is not None else defaults.system,
        effort=effort, schema=schema, schema_type=schema_type,
        temperature=_first(options.get("temperature"), defaults.temperature),
        top_p=_first(options.get("top_p"), defaults.top_p),
        top_k=_first(options.get("top_k"), defaults.top_k),
        stop_sequences=(stop,) if isinstance(stop, str) else tuple(stop),
        betas=tuple(options.get("betas") or ()),
        thinking=options.get("thinking"), tools=options.get("tools") or None,
        tool_choice=options.get("tool_choice"), prefill=options.get("prefill"),
    )


def _schema(value: Any) -> tuple[dict[str, Any] | None, Any]:
    """A JSON Schema dict as given, or a pydantic model class's schema (objects closed)."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        return value, None
    if isinstance(value, type) and hasattr(value, "model_json_schema"):
        return _closed(value.model_json_schema()), value
    raise ClaudeMagicError("json= takes a JSON Schema dict or a pydantic model class.")


def _closed(schema: Any) -> Any:
    """Every object schema with `additionalProperties: false`, as structured output needs."""
    if isinstance(schema, dict):
        schema = {k: _closed(v) for k, v in schema.items()}
        if schema.get("type") == "object":
            schema.setdefault("additionalProperties", False)
    elif isinstance(schema, list):
        schema = [_closed(v) for v in schema]
    return schema


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def user_content(prompt: Any, images: Any = (), max_edge: int = 1568) -> list[Block]:
    """The user message's blocks: the images (any notebook image object), then the text."""
    if isinstance(images, (str, bytes)) or not hasattr(images, "__iter__"):
        images = [images]
    blocks: list[Block] = []
    for index, obj in enumerate(images):
        try:
            blocks.append(prepare_image(image_from_object(obj), max_edge=max_edge).to_block())
        except ImageError as exc:
            raise ClaudeMagicError(f"Image {index + 1}: {exc}.") from None
    if isinstance(prompt, list):
        blocks += prompt
    elif prompt is not None and str(prompt).strip():
        blocks.append(text_block(str(prompt)))
    if not blocks:
        raise ClaudeMagicError("The prompt is empty: give ask() some text (or images).")
    return blocks


def send(client: Any, spec: AskSpec, body: dict[str, Any]) -> Message:
    """InvokeModel with the client's retries; raises ClaudeError (one line)."""
    return client.invoke(spec.invoke_id, body)


def ask_once(client: Any, spec: AskSpec, content: list[Block],
             conversation: Conversation | None = None) -> Reply:
    """One request; with a conversation, sent after its history and kept in it."""
    if conversation is None:
        message = send(client, spec, spec.body([{"role": "user", "content": content}]))
        return spec.reply(message)
    turn = conversation.new_turn(content, model_id=spec.invoke_id)
    messages, _ = conversation.fit_request(conversation.messages(pending=turn), turn)
    if spec.system is None and conversation.system:
        spec = replace(spec, system=conversation.system)
    message = send(client, spec, spec.body(messages))
    turn.complete([message])
    conversation.add(turn)
    return spec.reply(message)


def request_key(spec: AskSpec, body: dict[str, Any]) -> str:
    """The cache key of a request: the model it goes to and the exact body."""
    import hashlib

    payload = json.dumps({"model": spec.invoke_id, "body": body}, sort_keys=True,
                         separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()
