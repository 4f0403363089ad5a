"""The context-window guard: the oldest turns left out of a request that would not fit,
a refusal naming the sizes when the new turn alone is too big, and the 1M beta."""

from __future__ import annotations

import pytest
from magic_helpers import last_body

from claude_magic.bedrock.window import fit_window
from claude_magic.models import catalog

BIG = "word " * 70_000  # about 70,000 tokens


@pytest.fixture
def shell(shell):
    shell.run("%config ClaudeMagic.cache = False")
    return shell


def _invokes(emulator):
    return [r for r in emulator.requests() if r["operation"] != "CountTokens"]


def test_oldest_turns_are_left_out_of_the_request(shell, emulator):
    for n in range(2):
        run = shell.ask("-m haiku-4.5", f"Part {n}: " + BIG)
        assert run.success, run.stdout + run.stderr
    assert len(last_body(emulator)["messages"]) == 3
    run = shell.ask("-m haiku-4.5", "Part 2: " + BIG)
    assert run.success, run.stdout + run.stderr
    assert "leaves out the oldest 1 turn(s)" in run.stdout
    body = _invokes(emulator)[-1]["body"]
    assert len(body["messages"]) == 3 and body["messages"][0]["content"][0]["text"].startswith(
        "Part 1"
    )
    assert len(shell.magic.session.chats.get().turns) == 3  # the chat keeps every turn
    assert any(r["operation"] == "CountTokens" for r in emulator.requests())


def test_a_new_turn_too_big_for_the_window_is_refused(shell, emulator):
    run = shell.ask("-m haiku-4.5", BIG * 3)
    assert not run.success
    message = str(run.error)
    assert "210,0" in message and "200,000 tokens" in message and "--max-tokens" in message
    assert _invokes(emulator) == []


def test_long_context_beta_added_where_the_model_needs_it(shell, emulator):
    run = shell.ask("-m sonnet-4.5", BIG * 3)
    assert run.success, run.stdout + run.stderr
    assert "context-1m-2025-08-07" in last_body(emulator)["anthropic_beta"]


def test_small_requests_are_not_counted():
    model = catalog.resolve("haiku-4.5").model
    body = {"max_tokens": 100, "messages": [{"role": "user", "content": "Hi"}]}
    calls = []
    fitted = fit_window(body, model, lambda b: calls.append(b) or 5)
    assert fitted.body is body and calls == [] and fitted.notice is None


def test_notebook_context_goes_before_the_prompt_when_the_turn_is_too_big(shell, emulator):
    """--var context of a turn too big for the window is left out first; the prompt stays."""
    shell.run("%config ClaudeMagic.context_max_chars = 700_000")
    shell.run("first = 'alpha ' * 110_000\nsecond = 'beta ' * 110_000")
    run = shell.ask("-m haiku-4.5 --var first --var second", "What do these hold?")
    assert run.success, run.stdout + run.stderr
    assert "leaves out 1 context block(s) before the prompt" in run.stdout
    (message,) = last_body(emulator)["messages"]
    texts = [b["text"] for b in message["content"]]
    assert texts[-1] == "What do these hold?" and len(texts) == 2
    assert "beta" in texts[0] and "alpha" not in texts[0]  # the oldest context went first
    turn = shell.magic.session.chats.get().turns[-1]
    assert len(turn.user) == 3  # the chat keeps what was attached


def test_a_prompt_too_big_even_without_its_context_is_refused():
    model = catalog.resolve("haiku-4.5").model
    body = {
        "max_tokens": 1000,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "context " * 10},
                    {"type": "text", "text": BIG * 3},
                ],
            }
        ],
    }
    with pytest.raises(Exception, match="even without earlier turns"):
        fit_window(body, model)
