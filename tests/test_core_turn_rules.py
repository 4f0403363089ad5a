"""The pure core's rules for a turn, without IPython: which fields a request sends
(`RequestSpec.body`) and what an answer cut short leaves in the conversation
(`Conversation.add_cut_short`)."""

from __future__ import annotations

from claude_magic.core.conversation import Conversation
from claude_magic.core.messages import Message, text_block
from claude_magic.core.request import RequestSpec
from claude_magic.models import catalog

HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
USER = [{"role": "user", "content": [text_block("Hi")]}]


def _spec(**fields):
    return RequestSpec(resolved=catalog.resolve(HAIKU, "us-east-1"), max_tokens=50, **fields)


def test_only_what_was_asked_for_is_sent():
    assert set(_spec().body(USER)) == {"anthropic_version", "max_tokens", "messages"}
    body = _spec(
        temperature=0.2,
        stop_sequences=("END",),
        betas=("b1",),
        system="S",
        fields={"thinking": {"type": "adaptive"}},
    ).body(USER)
    assert body["temperature"] == 0.2 and body["stop_sequences"] == ["END"]
    assert body["anthropic_beta"] == ["b1"] and body["system"] == "S"
    assert body["thinking"] == {"type": "adaptive"} and "top_p" not in body


def test_tool_choice_is_the_specs_unless_a_step_overrides_it():
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    spec = _spec(tools=tools, tool_choice={"type": "any"})
    assert spec.body(USER)["tool_choice"] == {"type": "any"}
    assert "tool_choice" not in spec.body(USER, None)
    assert "tool_choice" not in _spec(tool_choice={"type": "any"}).body(USER)  # no tools, no choice


def test_the_prefill_follows_a_user_turn_only():
    spec = _spec(prefill="1. red ")
    assert spec.body(USER)["messages"][-1] == {"role": "assistant", "content": "1. red"}
    after = [*USER, {"role": "assistant", "content": "x"}]
    assert spec.body(after)["messages"] == after


def test_the_reply_carries_the_prefill_and_validated_data():
    spec = _spec(prefill="1. ")
    reply = spec.reply(Message(content=[text_block("red")]))
    assert reply.text == "1. red"
    assert _spec().schema is None
    schema = {"type": "object"}
    assert (
        _spec(
            fields={"output_config": {"format": {"type": "json_schema", "schema": schema}}}
        ).schema
        == schema
    )


def _turn(conversation):
    return conversation.new_turn([text_block("Question")])


def test_a_request_with_no_answer_leaves_nothing():
    conversation = Conversation()
    assert conversation.add_cut_short(_turn(conversation), [], None, "Throttled.") is False
    assert conversation.turns == []
    empty = Message(content=[])
    assert conversation.add_cut_short(_turn(conversation), [], empty, "interrupted") is False


def test_a_partial_answer_is_kept_and_marked():
    conversation = Conversation()
    partial = Message(content=[text_block("Half an ans")])
    assert conversation.add_cut_short(_turn(conversation), [], partial, "stopped")
    (turn,) = conversation.turns
    assert turn.interrupted and turn.error == "stopped" and turn.answer_text.startswith("Half")
    interrupted = Conversation()
    interrupted.add_cut_short(_turn(interrupted), [], partial, "interrupted")
    assert interrupted.turns[0].interrupted and interrupted.turns[0].error is None
    # what is sent next is still a valid conversation: user, assistant, then the next user
    assert [m["role"] for m in conversation.messages()] == ["user", "assistant"]


def test_finished_tool_steps_are_kept_when_the_next_request_fails():
    conversation = Conversation()
    use = {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    finished = [
        Message(content=[use]),
        Message(
            role="user", content=[{"type": "tool_result", "tool_use_id": "t1", "content": "4"}]
        ),
    ]
    assert conversation.add_cut_short(_turn(conversation), finished, None, "Throttled.")
    (turn,) = conversation.turns
    assert turn.interrupted and turn.error == "Throttled." and len(turn.replies) == 1
    roles = [m["role"] for m in conversation.messages()]
    assert roles[0] == "user" and roles.count("assistant") >= 1
