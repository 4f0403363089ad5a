"""Send: the turn's request (with the chat's history as it is now) through Bedrock,
the reply streamed into the view; with tools, the loop that answers tool calls. A
failure of any kind becomes one line."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..bedrock.exchange import Exchange, as_user_error, interrupted_error
from ..core.conversation import Conversation, Turn
from ..core.errors import ClaudeMagicError, Interrupted
from ..core.messages import Message
from .prepare import PreparedCell
from .session import KernelSession
from .view_base import AnswerView

if TYPE_CHECKING:
    from ..core.conversation import Wire


class Stopped(KeyboardInterrupt):
    """Raised where an answer streams when the user stops it (not a kernel interrupt)."""


def stopped_error(partial: Message | None) -> Interrupted:
    kept = (
        f" The partial answer ({len(partial.text)} characters) is kept."
        if partial and partial.text
        else ""
    )
    return Interrupted(
        f"Stopped.{kept} The conversation is still valid; run the next cell as usual."
    )


def open_exchange(
    session: KernelSession,
    prepared: PreparedCell,
    conversation: Conversation,
    turn: Turn,
    view: AnswerView,
    client: Any = None,
) -> tuple[Exchange, list[Wire]]:
    """The exchange that sends this turn's requests, and the first request's messages:
    the history (unless --no-history) and the new question, fitted to Bedrock's limits."""
    wire = (
        [turn.user_message()]
        if prepared.options.no_history
        else conversation.messages(pending=turn)
    )
    messages, omitted = conversation.fit_request(wire, turn)
    if omitted:
        view.notice(
            f"Bedrock takes at most 20 images and 20 MB: {len(omitted)} older image(s) "
            "were replaced by a placeholder in this request."
        )
    exchange = Exchange(
        client or session.client(prepared.settings),
        prepared.request,
        view,
        fit=lambda wire: conversation.fit_request(wire, turn)[0],
    )
    return exchange, messages


def send(
    session: KernelSession,
    exchange: Exchange,
    messages: list[Wire],
    prepared: PreparedCell,
    view: AnswerView,
) -> list[Message]:
    """The assistant's replies for this turn (several, with tool results, when tools ran)."""
    if prepared.plan is not None:
        return prepared.plan.converse(exchange, messages)
    toolset = prepared.toolset
    if not toolset:
        return [exchange.send(messages, None)]
    from ..tools.approval import Approver, stdin_available
    from ..tools.loop import ToolLoopInterrupted, run_tool_loop

    config, shell = prepared.config, session.shell
    if hasattr(view, "stop_event"):  # a background answer: buttons, heard between cells
        approver = Approver(
            auto_approve=config.auto_approve_tools,
            stdin_available=lambda: True,
            ask=_button_question(view),
        )
    else:  # a question goes below the answer so far, and the rest of the answer below it
        approver = Approver(
            auto_approve=config.auto_approve_tools,
            stdin_available=lambda: stdin_available(shell),
            before_asking=view.continue_below,
        )
    try:
        result = run_tool_loop(
            exchange.send,
            messages,
            toolset,
            approver,
            tool_choice=prepared.request.tool_choice,
            max_steps=prepared.options.max_steps or config.max_steps,
            on_call=view.tool_call,
            on_result=lambda use, answer: view.tool_result_block(answer),
        )
    except ToolLoopInterrupted as exc:
        exchange.finished = exc.result.as_messages()
        raise
    if result.notice:
        view.notice(result.notice)
    return result.as_messages()


def _button_question(view: AnswerView) -> Callable[[str], str]:
    """The approval question as Approve / Reject buttons in the answer's cell, for a
    background answer (its worker can't read stdin); "y" or "n" as typed answers are."""
    import html

    from .agent_approval import ButtonAsker

    asker = ButtonAsker(
        lambda: bool(getattr(view, "stop_requested", False)), before_asking=view.continue_below
    )

    def ask(prompt: str) -> str:
        question = f'<div class="claude-magic-agent-ask"><b>{html.escape(prompt.removesuffix(" [y/N] "))}</b></div>'
        return "y" if asker.ask(question, "The tool call", allow_all=False).runs else "n"

    return ask


def failure(
    exc: BaseException, exchange: Exchange, view: AnswerView
) -> tuple[ClaudeMagicError, str]:
    """The one-line error for a failed send, and the reason the partial answer is marked
    with: stopped (the Stop button), interrupted (the kernel) or the error itself."""
    stopped = isinstance(exc, Stopped) or getattr(view, "stop_requested", False)
    if stopped:
        return stopped_error(exchange.partial), "stopped"
    if isinstance(exc, KeyboardInterrupt):
        return interrupted_error(exchange.partial), "interrupted"
    error = as_user_error(exc, exchange.request)
    return error, str(error)
