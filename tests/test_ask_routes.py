"""`claude_magic.ask` and `map` on each route against the emulator: the configured
`ClaudeMagic.api` (or `api=`) picks InvokeModel, Converse or the Messages API on
bedrock-mantle, with the id and the betas that route takes; the reply cache keeps the
routes apart; what a route can't do is one line."""

from __future__ import annotations

import pytest
import test_map
from helpers import HAIKU
from magic_helpers import Shell

import claude_magic
from claude_magic.core.errors import ClaudeMagicError

BARE_HAIKU = HAIKU.removeprefix("us.")
CONTEXT_BETA = "context-management-2025-06-27"
env = test_map.env  # the fixture: the emulator as the endpoint, a scratch reply cache


def _operations(emulator):
    return [(r["operation"], r["model_id"]) for r in emulator.requests()]


def test_ask_over_the_messages_api_sends_the_bare_id(env):
    env.script(
        {
            "content": [{"type": "text", "text": "Paris."}],
            "usage": {"input_tokens": 12, "output_tokens": 3},
        }
    )
    reply = claude_magic.ask("Capital of France?", model="haiku-4.5", api="mantle")
    assert reply.text == "Paris." and reply.error is None
    assert reply.cost is not None and reply.cost > 0
    assert _operations(env) == [("CreateMessage", BARE_HAIKU)]
    body = env.requests()[0]["body"]
    assert body["model"] == BARE_HAIKU and "anthropic_version" not in body


def test_ask_over_converse(env):
    reply = claude_magic.ask("Hello", model=HAIKU, api="converse", max_tokens=50)
    assert reply.error is None and "Hello" in reply.text
    assert _operations(env) == [("Converse", HAIKU)]


def test_the_configured_route_is_the_default_and_chat_follows_it(env):
    shell = Shell()
    try:
        shell.run("%config ClaudeMagic.api = 'mantle'")
        env.script({"content": "First answer."})
        claude_magic.ask("First question", model=HAIKU, chat="notes")
        claude_magic.ask("Second question", model=HAIKU, chat="notes")
        assert _operations(env) == [("CreateMessage", BARE_HAIKU)] * 2
        messages = env.requests()[-1]["body"]["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        claude_magic.ask("Over InvokeModel this once", model=HAIKU, api="invoke")
        assert _operations(env)[-1] == ("InvokeModel", HAIKU)
    finally:
        shell.close()


def test_a_beta_the_route_does_not_take_is_left_out_in_one_line(env, capsys):
    claude_magic.ask("Hi", model=HAIKU, api="converse", betas=[CONTEXT_BETA])
    said = capsys.readouterr().out
    assert f"--beta {CONTEXT_BETA} is not sent: Converse doesn't take it" in said
    assert "ClaudeMagic.api" in said
    assert "additionalModelRequestFields" not in env.requests()[-1]["body"]
    claude_magic.ask("Hi", model=HAIKU, api="mantle", betas=[CONTEXT_BETA])
    assert capsys.readouterr().out == ""
    assert CONTEXT_BETA in next(
        v for k, v in env.requests()[-1]["headers"].items() if k.lower() == "anthropic-beta"
    )


def test_what_a_route_cannot_do_is_one_line(env):
    with pytest.raises(ClaudeMagicError, match="api must be one of invoke, converse, mantle"):
        claude_magic.ask("Hi", api="openai")
    with pytest.raises(ClaudeMagicError, match="doesn't take structured output.*api='invoke'"):
        claude_magic.ask("Hi", api="mantle", json={"type": "object", "properties": {}})
    with pytest.raises(ClaudeMagicError, match="backend='batch'.*drop api="):
        claude_magic.map(["a"], backend="batch", api="mantle")
    assert env.requests() == []


def test_map_over_the_messages_api_and_a_cache_per_route(env):
    words = ["alpha", "beta", "gamma"]
    first = claude_magic.map(words, "Repeat {item}", model=HAIKU, api="mantle", progress=False)
    assert [r.error for r in first] == [None] * 3
    assert all(f"Repeat {w}" in r.text for w, r in zip(words, first, strict=True))
    assert _operations(env) == [("CreateMessage", BARE_HAIKU)] * 3
    again = claude_magic.map(words, "Repeat {item}", model=HAIKU, api="mantle", progress=False)
    assert all(r.cached for r in again) and len(env.requests()) == 3
    # the same rows over InvokeModel are other requests: nothing comes from mantle's answers
    other = claude_magic.map(words, "Repeat {item}", model=HAIKU, progress=False)
    assert not any(r.cached for r in other)
    assert _operations(env)[3:] == [("InvokeModel", HAIKU)] * 3
