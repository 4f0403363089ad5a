"""Commit: the answered turn joins its chat (unless --no-history); an answer cut short
keeps what arrived, by the conversation's own rule (`Conversation.add_cut_short`)."""

from __future__ import annotations

from ..bedrock.exchange import Exchange
from ..core.conversation import Conversation, Turn
from ..core.messages import Message
from .prepare import PreparedCell


def commit(
    conversation: Conversation, turn: Turn, replies: list[Message], prepared: PreparedCell
) -> None:
    turn.complete(replies)
    if prepared.plan is not None:
        prepared.plan.close_turn(turn)
    if not prepared.options.no_history:
        conversation.add(turn)


def commit_cut_short(
    conversation: Conversation, turn: Turn, exchange: Exchange, prepared: PreparedCell, reason: str
) -> None:
    if not prepared.options.no_history:
        conversation.add_cut_short(turn, exchange.finished, exchange.partial, reason)
