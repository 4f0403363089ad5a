"""Deliver: the finished answer's footer, `--out` and `--code`, then the view's static
bundle. A structured answer (`--json`) delivers its data instead of its text."""

from __future__ import annotations

from ..core.conversation import Turn
from ..core.messages import Message
from ..core.prompt import code_blocks
from .prepare import PreparedCell
from .session import KernelSession
from .view_base import AnswerView

GUARDRAIL_INTERVENED = "guardrail_intervened"


def deliver(
    session: KernelSession,
    prepared: PreparedCell,
    turn: Turn,
    replies: list[Message],
    latency: float,
    view: AnswerView,
    *,
    background: bool = False,
) -> None:
    """Show the footer and hand the answer to the notebook. Raises the one-line error
    when a structured answer doesn't match its schema (after showing it)."""
    options, plan, namespace = prepared.options, prepared.plan, session.shell.user_ns
    final = replies[-1]
    if final.stop_reason == GUARDRAIL_INTERVENED:
        view.notice(
            "A Bedrock guardrail intervened: the reply above is the guardrail's message, not Claude's."
        )
    footer = _footer(prepared, replies, turn, latency)
    if plan is not None:
        footer = " · ".join(p for p in (footer, plan.footer()) if p)
        failure = plan.failure(options.out) if plan.error is not None else None
        if failure is not None:
            view.notice(str(failure))
        elif options.out:
            namespace[options.out] = plan.data
            if background:
                view.notice(f"The answer's data is in the variable {options.out}.")
        view.finish(footer, final.stop_reason)
        if failure is not None:
            failure.shown = True
            raise failure
        return
    from ..core.citations import CitedText, answer_text, has_citations

    text = "\n\n".join(m.text for m in replies if m.role == "assistant" and m.text)
    blocks = code_blocks(text) if options.code else []
    if options.out:
        if has_citations(replies):  # the text with its markers; the passages as data beside it
            marked, citations = answer_text(replies)
            namespace[options.out] = CitedText(marked, citations.data())
        else:
            namespace[options.out] = text
        if background:
            view.notice(f"The answer's text is in the variable {options.out}.")
    if blocks and background:
        view.notice("Its code blocks go into a new cell below the next cell you run.")
    if blocks:  # before the footer: once the answer shows as finished, the next cell may run
        session.shell.set_next_input("\n\n".join(blocks), replace=False)
    view.finish(footer, final.stop_reason)


def _footer(prepared: PreparedCell, replies: list[Message], turn: Turn, latency: float) -> str:
    from ..core.context_edits import context_note
    from ..core.costs import usage_cost
    from ..core.render import footer_text
    from ..core.thinking import hidden_thinking_note, thinking_blocks
    from ..models import catalog

    request, final = prepared.request, replies[-1]
    cost = usage_cost(
        prepared.model, request.invoke_id, turn.usage, cache_ttl=request.cache_ttl or "5m"
    )
    thinking = [block for reply in replies for block in thinking_blocks(reply)]
    footer = footer_text(
        final.stop_reason,
        turn.usage,
        latency,
        cost,
        stop_details=final.stop_details,
        prices_as_of=catalog.PRICES_AS_OF,
        thinking_note=hidden_thinking_note(thinking),
        context_note=context_note(replies),
    )
    if prepared.agent is not None:
        count = prepared.agent.steps_run
        footer += f" · {count} step{'' if count == 1 else 's'} run"
    return footer
