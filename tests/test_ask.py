"""`claude_magic.ask`: one request from Python against the emulator, each option."""

from __future__ import annotations

import pytest
from helpers import HAIKU, SONNET, png
from magic_helpers import Shell

import claude_magic
from claude_magic.core.errors import ClaudeMagicError
from claude_magic.core.messages import Message
from claude_magic.core.reply import Reply
from claude_magic.notebook.ask_options import make_spec
from claude_magic.notebook.config import DEFAULTS


@pytest.fixture
def env(emulator, aws_env, monkeypatch):
    monkeypatch.setenv("CLAUDE_MAGIC_ENDPOINT_URL", emulator.url)
    return emulator


def _body(emulator):
    return emulator.requests()[-1]["body"]


def test_ask_sends_one_request_and_reads_the_reply(env):
    env.script(
        {
            "content": [{"type": "text", "text": "Paris."}],
            "usage": {"input_tokens": 12, "output_tokens": 3},
        }
    )
    reply = claude_magic.ask("Capital of France?", model=HAIKU)
    assert reply.text == "Paris." and reply.error is None
    assert reply.stop_reason == "end_turn"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (12, 3)
    # Haiku 4.5 at $1/$5; HAIKU is a geographic (us.) profile: 10% over global.
    assert reply.cost == pytest.approx(1.1 * (12 * 1.0 + 3 * 5.0) / 1e6)
    (request,) = env.requests()
    assert request["operation"] == "InvokeModel" and request["model_id"] == HAIKU
    assert request["body"]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]}
    ]


def test_model_alias_system_and_max_tokens(env):
    claude_magic.ask("Hi", model="sonnet-4.5", system="Be brief.", max_tokens=77)
    request = env.requests()[-1]
    assert request["model_id"] == SONNET
    assert request["body"]["system"] == "Be brief." and request["body"]["max_tokens"] == 77


def test_sampling_options_and_only_what_was_asked(env):
    claude_magic.ask("Hi", model=HAIKU)
    plain = _body(env)
    assert set(plain) == {"anthropic_version", "max_tokens", "messages"}
    claude_magic.ask("Hi", model=HAIKU, temperature=0.2, top_k=5, stop_sequences=["END"])
    body = _body(env)
    assert (body["temperature"], body["top_k"], body["stop_sequences"]) == (0.2, 5, ["END"])
    assert "top_p" not in body


def test_unknown_option_and_model_are_one_line_errors(env):
    with pytest.raises(ClaudeMagicError, match="Unknown option 'temprature'"):
        claude_magic.ask("Hi", temprature=0.5)
    with pytest.raises(ClaudeMagicError, match="Unknown model 'sonet-9'"):
        claude_magic.ask("Hi", model="sonet-9")
    assert env.requests() == []


def test_effort_sends_adaptive_thinking_and_lets_bedrock_decide(env):
    try:
        reply = claude_magic.ask("Think", model=HAIKU, effort="high")
    except ClaudeMagicError as exc:  # Bedrock (the emulator) refused: its words, one line
        assert "output_config" in str(exc) or "thinking" in str(exc)
    else:
        assert reply.error is None
    body = _body(env)
    assert body["thinking"] == {"type": "adaptive"} and body["output_config"] == {"effort": "high"}
    with pytest.raises(ClaudeMagicError, match="effort must be one of"):
        claude_magic.ask("Think", effort="huge")


def test_json_schema_is_sent_as_output_config_format(env):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    try:
        claude_magic.ask("Where?", model=HAIKU, json=schema)
    except ClaudeMagicError as exc:
        assert "output_config" in str(exc)
    assert _body(env)["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "thinking" not in _body(env)


def test_json_with_a_pydantic_model_closes_objects_and_validates_the_answer():
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        population: int

    spec = make_spec(DEFAULTS, "us-east-1", model=HAIKU, json=City)
    assert spec.schema["additionalProperties"] is False
    reply = spec.reply(
        Message(content=[{"type": "text", "text": '{"name": "Oslo", "population": 709000}'}])
    )
    assert isinstance(reply.data, City) and reply.data.population == 709000
    bad = spec.reply(Message(content=[{"type": "text", "text": '{"name": "Oslo"}'}]))
    assert bad.error and "City" in bad.error and bad.data == {"name": "Oslo"}


def test_images_go_before_the_text(env):
    claude_magic.ask("What colour?", model=HAIKU, images=[png("red")])
    content = _body(env)["messages"][0]["content"]
    assert [b["type"] for b in content] == ["image", "text"]
    assert content[0]["source"]["media_type"] == "image/png"
    with pytest.raises(ClaudeMagicError, match="Image 1"):
        claude_magic.ask("What?", model=HAIKU, images=[b"not an image"])


def test_throttling_is_retried_then_reported_in_one_line(env):
    env.fault("throttle", times=1)
    assert claude_magic.ask("Hi", model=HAIKU).error is None
    assert len(env.requests()) == 2
    env.fault("throttle", times=10)
    with pytest.raises(ClaudeMagicError, match="throttling"):
        claude_magic.ask("Hi", model=HAIKU)


def test_reply_html_is_sanitised_and_markdown_escaped(env):
    env.script(
        {
            "content": [
                {"type": "text", "text": "**hi** <img src=x onerror=alert(1)><script>x()</script>"}
            ]
        }
    )
    reply = claude_magic.ask("Hi", model=HAIKU)
    html = reply._repr_html_()
    assert "<strong>hi</strong>" in html and "<script" not in html and "<img" not in html
    assert "<img" not in reply._repr_markdown_() and "&lt;script&gt;" in reply._repr_markdown_()
    assert "error" in Reply.failed("boom")._repr_html_()


def test_chat_joins_the_magics_conversation(env):
    shell = Shell()
    try:
        env.script({"content": "First answer."})
        claude_magic.ask("First question", model=HAIKU, chat="notes")
        claude_magic.ask("Second question", model=HAIKU, chat="notes")
        messages = _body(env)["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        assert messages[1]["content"][0]["text"] == "First answer."
        assert len(shell.magic.session.chats.get("notes").turns) == 2
        shell.run("%config ClaudeMagic.max_tokens = 55")
        claude_magic.ask("Third", model=HAIKU)
        assert _body(env)["max_tokens"] == 55  # the magic's configuration is the default
    finally:
        shell.close()
    with pytest.raises(ClaudeMagicError, match="load_ext"):
        claude_magic.ask("Hi", chat="notes")


def test_prefill_starts_the_answer(env):
    reply = claude_magic.ask("List three colours", model=HAIKU, prefill="1. red", max_tokens=40)
    body = _body(env)
    assert body["messages"][-1] == {"role": "assistant", "content": "1. red"}
    assert reply.text.startswith("1. red")
