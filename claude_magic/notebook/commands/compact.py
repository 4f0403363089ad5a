"""`%claude compact`: Bedrock summarises a chat's earlier turns into a compaction block
now, rather than when a request nears the window; the turns stay in the chat (marked
compacted, no longer sent)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ...core.errors import ClaudeMagicError
from .chats import chat_name
from .registry import CHAT, command

if TYPE_CHECKING:
    from ..session import KernelSession

COMPACT_PROMPT = "(%claude compact: summarise the conversation so far; the next cells continue from the summary.)"


@command(
    "compact",
    "summarise a chat's earlier turns on Bedrock now (compaction; they stay in the chat)",
    CHAT,
)
def compact(session: KernelSession, args: argparse.Namespace) -> None:
    from ...bedrock.exchange import as_user_error
    from ...bedrock.shaping import block_estimate
    from ...core.context_edits import COMPACT_MIN_TRIGGER, compact_edit, compaction_of, with_edits
    from ...core.messages import as_blocks, text_block
    from ...core.model_choice import resolve_model
    from ...core.request import RequestSpec
    from ...models.routes import route
    from ..prepare import context_policy

    name = chat_name(session, args.chat)
    conversation = session.chats.get(name)
    if not conversation.turns:
        print(f"Chat {name!r} is empty: nothing to compact.")
        return
    config = session.config()
    settings = session.client_settings(config)
    resolved = route(config.api).resolved(
        resolve_model(config.model, settings.region, config.geography, offer=session.offer)
    )
    policy = context_policy(config, resolved.model)
    if not policy.compaction:
        raise ClaudeMagicError(
            policy.unavailable
            or "Compaction is off (ClaudeMagic.compact_at = 0): "
            "set it to None to compact this chat."
        )
    spec = RequestSpec(
        resolved=resolved,
        max_tokens=config.max_tokens,
        region=settings.region,
        system=conversation.system or config.system,
        api=config.api,
        context=policy,
    )
    turn = conversation.new_turn([text_block(COMPACT_PROMPT)], model_id=resolved.invoke_id)
    body = spec.body(conversation.messages(pending=turn))
    tokens = sum(block_estimate(b) for m in body["messages"] for b in as_blocks(m["content"]))
    if tokens < COMPACT_MIN_TRIGGER:
        print(
            f"Chat {name!r} holds about {tokens:,} tokens; Bedrock compacts from {COMPACT_MIN_TRIGGER:,} "
            "on: nothing to compact yet."
        )
        return
    body = with_edits(body, [compact_edit(COMPACT_MIN_TRIGGER, pause=True)])
    if (
        config.cache_breakpoints_ttl is not None
    ):  # the summary reads the prefix the last cells cached
        from ...bedrock.shaping import place_breakpoints

        place_breakpoints(body, resolved.model, config.cache_breakpoints_ttl)
    client = session.client(settings)
    try:
        if config.api == "mantle":
            from ...bedrock.mantle import mantle_for

            message = mantle_for(client.settings).invoke(resolved.invoke_id, body)
        else:
            message = client.invoke(resolved.invoke_id, body)
    except Exception as exc:
        raise as_user_error(exc, spec) from None
    block = compaction_of(message)
    if block is None:
        print(
            f"Bedrock did not compact chat {name!r} (it counted fewer tokens than its trigger); "
            "nothing changed."
        )
        return
    earlier = sum(1 for t in conversation.turns if not t.compacted)
    turn.complete([message])
    conversation.add(turn)
    print(
        f"Chat {name!r} compacted: Bedrock summarised {earlier} turn(s) in {len(str(block.get('content') or '')):,} "
        "characters; they stay in the chat (%claude history) and are no longer sent."
    )
