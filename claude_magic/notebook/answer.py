"""One prepared cell answered: send → commit → deliver, into a started view, in the
foreground or on a background answer's worker thread."""

from __future__ import annotations

from typing import Any

from .commit import commit, commit_cut_short
from .deliver import deliver
from .prepare import PreparedCell
from .send import failure, open_exchange, send
from .session import KernelSession
from .view_base import AnswerView


def answer(
    session: KernelSession,
    prepared: PreparedCell,
    view: AnswerView,
    *,
    background: bool = False,
    client: Any = None,
) -> None:
    """Send the prepared question with the chat's history as it is now, stream the
    reply into the started `view` and commit the turn. Raises the one-line error
    (after showing it in the view) when the answer fails or is cut short. A view
    whose `stop_requested` is true turns any failure into a stop."""
    options = prepared.options
    conversation = session.chats.get(prepared.chat, new=options.new)
    for notice in prepared.notices:
        view.notice(notice)
    if prepared.agent is not None:
        prepared.agent.attach(view)
    if not options.no_history and prepared.cell_id:
        dropped = conversation.rewind_to_cell(prepared.cell_id)
        if dropped:
            view.notice(
                "Re-run: replaced this cell's earlier turn"
                + (f" and dropped {dropped - 1} later turn(s)." if dropped > 1 else ".")
            )
    turn = conversation.new_turn(
        prepared.user_content,
        image_labels=list(prepared.image_labels),
        cell_id=prepared.cell_id,
        execution_count=prepared.execution_count,
        model_id=prepared.resolved.invoke_id,
    )
    exchange, messages = open_exchange(session, prepared, conversation, turn, view, client)
    try:
        replies = send(session, exchange, messages, prepared, view)
    except (KeyboardInterrupt, Exception) as exc:  # every failure reaches the user as one line
        error, reason = failure(exc, exchange, view)
        commit_cut_short(conversation, turn, exchange, prepared, reason)
        view.fail(str(error))
        error.shown = True
        raise error from None
    commit(conversation, turn, replies, prepared)
    deliver(session, prepared, turn, replies, exchange.latency, view, background=background)


def answer_here(session: KernelSession, prepared: PreparedCell) -> None:
    """Answer in the foreground: stream into this cell, keep the turn."""
    from .view import make_view

    view = make_view(session.shell)
    view.start(prepared.header())
    answer(session, prepared, view)
