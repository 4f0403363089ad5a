"""The requests of one turn: each body fitted to the window and given its caching
breakpoints, sent, and its reply streamed into a view (folding events as they come).
What arrived so far stays readable (`partial`, `finished`) when a request fails;
keeping it is the conversation's business."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..core.context_edits import CLEAR_TOOL_USES, clearable_ids, without_edits
from ..core.errors import ClaudeMagicError, Interrupted
from ..core.messages import Message
from ..core.request import RequestSpec


class Exchange:
    """Sends requests for one turn and streams each reply into the view."""

    def __init__(
        self,
        client: Any,
        request: RequestSpec,
        view: Any,
        clock: Callable[[], float] = time.monotonic,
        fit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.client = client
        self.fit = fit  # trims a request's messages to Bedrock's limits (tool loops add images)
        self.request = request
        self.view = view
        self.clock = clock
        self.partial: Message | None = None  # the reply being received, for failure handling
        self.finished: list[Message] = []  # tool-loop progress kept when the loop is cut short
        self.latency = 0.0
        self._notices: set[str] = set()
        self._mantle_failed = False  # the Messages API's count_tokens failed: estimate instead

    def send(self, messages: list[dict[str, Any]], tool_choice: dict[str, Any] | None) -> Message:
        """One request; the reply is shown as it arrives and returned whole. Where Bedrock
        refuses context editing or compaction for the model, one line says so and the
        request goes again without them (trimmed to the window instead)."""
        if self.fit is not None:
            messages = self.fit(messages)
        base = self.request.body(messages, tool_choice)
        if context_refused(self.request):
            base = without_edits(base)
        body = self._with_breakpoints(self._fit_window(dict(base)))  # (breakpoints go on a copy)
        try:
            return self._send(body)
        except ClaudeMagicError as exc:
            if (
                "context_management" not in body
                or self.partial is None
                or self.partial.content
                or not _refuses_context(str(exc))
            ):
                raise
        key = _refusal_key(self.request)
        _REFUSED.add(key)  # asked for no more (the window guard reads it)
        try:
            reply = self._send(self._with_breakpoints(self._fit_window(without_edits(base))))
        except BaseException:
            _REFUSED.discard(key)  # it fails without them too: not theirs to blame
            raise
        self.view.notice(context_refusal(self.request))
        return reply

    def _send(self, body: dict[str, Any]) -> Message:
        invoke_id = self.request.resolved.invoke_id
        started = self.clock()
        prefill = _prefill_of(body["messages"])
        message = Message()
        self.partial = message
        if self.request.stream:
            from ..core.stream import DeltaRun, fold_event

            stream = (
                self._route.converse_stream
                if self.request.api == "converse"
                else self._route.stream
            )
            events = stream(invoke_id, body, **self.request.call_args())
            run = DeltaRun(message)  # text deltas are folded when the view shows them
            take, due = run.take, self.view.due  # bound once: this loop runs for every delta
            try:
                for event in events:
                    if take(event):
                        if not due():
                            continue
                        run.flush()
                    else:
                        run.flush()
                        fold_event(message, event)
                    self.partial = with_prefill(message, prefill)
                    self.view.update(self.partial)
            finally:
                if run.flush():  # deltas kept back when the stream ended or broke off
                    self.partial = with_prefill(message, prefill)
                    with contextlib.suppress(Exception):
                        self.view.update(self.partial)
                close = getattr(events, "close", None)
                if close:
                    close()
        else:
            invoke = self._route.converse if self.request.api == "converse" else self._route.invoke
            message = invoke(invoke_id, body, **self.request.call_args())
            self.partial = with_prefill(message, prefill)
            self.view.update(self.partial)
        self.latency += self.clock() - started
        reply, self.partial = self.partial, None
        return reply

    @property
    def _route(self) -> Any:
        """The client of the request's route: the Messages API's (mantle), else bedrock-runtime's."""
        if self.request.api == "mantle":
            from .mantle import mantle_for

            return mantle_for(self.client.settings)
        return self.client

    def _with_breakpoints(self, body: dict[str, Any]) -> dict[str, Any]:
        """`body` with prompt-caching breakpoints, when caching is on."""
        if self.request.cache_ttl is not None:
            from .shaping import place_breakpoints

            edits = (body.get("context_management") or {}).get("edits") or []
            clears = any(e.get("type") == CLEAR_TOOL_USES for e in edits)
            avoid = clearable_ids(body["messages"]) if clears else set()
            place_breakpoints(
                body, self.request.resolved.model, self.request.cache_ttl, avoid=avoid
            )
        return body

    def _fit_window(self, body: dict[str, Any]) -> dict[str, Any]:
        """The body trimmed to the model's context window (a notice says so, once)."""
        from .window import fit_window

        model = self.request.resolved.model
        count = self._count if model is not None else None
        policy = self.request.context
        compaction = policy is not None and policy.compaction and not context_refused(self.request)
        fitted = fit_window(
            body,
            model,
            count,
            compaction=compaction,
            compact_at=policy.compact_at if policy else None,
            why_not=policy.unavailable if policy and not compaction else "",
        )
        if fitted.notice and fitted.notice not in self._notices:
            self._notices.add(fitted.notice)
            self.view.notice(fitted.notice)
        return fitted.body

    def _count(self, body: dict[str, Any]) -> int | None:
        """CountTokens for `body`: bedrock-runtime's where it counts the model, else the
        Messages API's (mantle counts every model); None (use the estimate) when it can't be
        had, and after the Messages API failed once."""
        from ..models.routes import INVOKE, MANTLE, route
        from .errors import ClaudeError

        model = self.request.resolved.model
        invoke_id = self.request.resolved.invoke_id
        via_mantle = self.request.api == MANTLE or not route(INVOKE).counts_tokens(model)
        if not via_mantle:
            counter = getattr(self.client, "count_tokens", None)
        elif not self._mantle_failed:
            from .mantle import mantle_for

            settings = getattr(self.client, "settings", None)
            counter = mantle_for(settings).count_tokens if settings is not None else None
            invoke_id = route(MANTLE).resolved(self.request.resolved).invoke_id  # the bare id
        else:
            counter = None
        if counter is None:
            return None
        try:
            return counter(invoke_id, body)
        except ClaudeError:
            self._mantle_failed = self._mantle_failed or via_mantle
            return None


# (route, model id) pairs whose context editing or compaction Bedrock refused in this process
_REFUSED: set[tuple[str, str]] = set()
_REFUSAL_MARKS = (
    "context-management-2025-06-27",
    "compact-2026-01-12",
    "context_management",
    "invalid beta flag",
    "compact_20260112",
    "clear_tool_uses_20250919",
    "clear_thinking_20251015",
)


def _refusal_key(request: RequestSpec) -> tuple[str, str]:
    model = request.resolved.model
    return request.api, model.id if model is not None else request.resolved.invoke_id


def _refuses_context(text: str) -> bool:
    return any(mark in text for mark in _REFUSAL_MARKS)


def context_refused(request: RequestSpec) -> bool:
    """Whether Bedrock refused context management for this request's route and model."""
    return _refusal_key(request) in _REFUSED


def context_refusal(request: RequestSpec) -> str:
    """One line: Bedrock refused context editing or compaction here; what happens instead."""
    model = request.resolved.model
    name = model.name if model is not None else request.resolved.invoke_id
    from ..models.routes import route

    return (
        f"Bedrock refused context editing and compaction for {name} on {route(request.api).title}: "
        "this chat is trimmed to the window as before (oldest turns left out of requests)."
    )


def _prefill_of(messages: list[dict[str, Any]]) -> str:
    last = messages[-1] if messages else None
    if last and last.get("role") == "assistant" and isinstance(last.get("content"), str):
        return last["content"]
    return ""


def with_prefill(message: Message, prefill: str) -> Message:
    """The reply as the assistant's whole turn: the prefill, then its continuation."""
    if not prefill:
        return message
    content = list(message.content)
    if content and content[0].get("type") == "text":
        content[0] = {"type": "text", "text": prefill + content[0].get("text", "")}
    else:
        content.insert(0, {"type": "text", "text": prefill})
    return replace(message, content=content)


def interrupted_error(partial: Message | None) -> Interrupted:
    kept = (
        f" The partial answer ({len(partial.text)} characters) is kept."
        if partial and partial.text
        else ""
    )
    return Interrupted(
        f"Interrupted.{kept} The conversation is still valid; run the next cell as usual."
    )


def as_user_error(exc: BaseException, request: RequestSpec) -> ClaudeMagicError:
    """Any failure while talking to Bedrock, as one short message."""
    from .errors import ClaudeError, friendly_error

    if isinstance(exc, ClaudeError) and exc.message.endswith("invalid beta flag"):
        return ClaudeError(beta_refused(request), "invalid_beta")
    if isinstance(exc, ClaudeMagicError):
        return exc
    if not isinstance(exc, ClaudeError):
        exc = friendly_error(
            exc,
            invoke_id=request.resolved.invoke_id,
            model=request.resolved.model,
            region=request.region,
        )
    if exc.message.endswith("invalid beta flag"):
        return ClaudeError(beta_refused(request), "invalid_beta")
    return ClaudeMagicError(exc.message)


def beta_refused(request: RequestSpec) -> str:
    """One line for Bedrock's `invalid beta flag`: the route, the betas sent, what to do."""
    from ..models.routes import ROUTES, route

    here = route(request.api)
    others = " or ".join(f'"{name}"' for name in ROUTES if name != here.name)
    sent = ", ".join(request.betas) or "none"
    return (
        f"{here.title} refused a beta flag (Bedrock: invalid beta flag); this request sent {sent}: "
        f"drop the --beta it doesn't take, or try another route (%config ClaudeMagic.api = {others})."
    )
