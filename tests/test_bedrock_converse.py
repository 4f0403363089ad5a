"""The client's Converse calls against the emulator: our request body goes out in
Converse's shapes and comes back, in the emulator's log, as the same InvokeModel body;
ConverseStream events fold into the same Message as the Converse reply."""

from __future__ import annotations

import base64
import json

import pytest
from helpers import HAIKU, png_b64

from claude_magic.bedrock import BedrockClient, ClaudeError, ClientSettings
from claude_magic.bedrock.converse import converse_request, document_name
from claude_magic.core.stream import fold_event
from claude_magic.emulator.signatures import sign_thinking

PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)
TOOL = {
    "name": "get_weather",
    "description": "Weather.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def client(emulator):
    return BedrockClient(
        ClientSettings(region="us-east-1", endpoint_url=emulator.url, offline=True, max_attempts=1)
    )


def base(**fields) -> dict:
    return {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 2048, **fields}


BODIES = {
    "text": base(
        system="Be brief.",
        temperature=0.5,
        stop_sequences=["END"],
        messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    ),
    "cache": base(
        system=[
            {"type": "text", "text": "Rules.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
        ],
        tools=[{**TOOL, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],  # longer TTLs first
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Doc", "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": "Q?"},
                ],
            }
        ],
    ),
    "tool loop": base(
        tools=[TOOL],
        tool_choice={"type": "auto"},
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "thinking",
                        "thinking": "Need the tool.",
                        "signature": sign_thinking("Need the tool."),
                    },
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "is_error": True,
                        "content": [{"type": "text", "text": "offline"}],
                    }
                ],
            },
        ],
        thinking={"type": "enabled", "budget_tokens": 1024},
        anthropic_beta=["interleaved-thinking-2025-05-14"],
    ),
    "media": base(
        top_k=20,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": png_b64()},
                    },
                    {"type": "text", "text": "Look"},
                ],
            }
        ],
    ),
}


@pytest.mark.parametrize("name", list(BODIES))
def test_body_round_trips_through_converse(client, emulator, name):
    body = BODIES[name]
    client.converse(HAIKU, body)
    assert emulator.requests()[-1]["invoke_body"] == body
    list(client.converse_stream(HAIKU, body))
    entry = emulator.requests()[-1]
    assert entry["operation"] == "ConverseStream" and entry["invoke_body"] == body


def test_documents_are_named_for_converse(client, emulator):
    body = base(
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "name": "report.pdf",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": base64.b64encode(PDF).decode(),
                        },
                    },
                    {
                        "type": "document",
                        "name": "report.pdf",
                        "source": {"type": "text", "media_type": "text/plain", "data": "notes"},
                    },
                    {"type": "text", "text": "Summarise"},
                ],
            }
        ]
    )
    client.converse(HAIKU, body)
    content = emulator.requests()[-1]["invoke_body"]["messages"][0]["content"]
    assert [c["title"] for c in content[:2]] == ["report-pdf", "report-pdf (2)"]
    assert content[1]["source"] == {"type": "text", "media_type": "text/plain", "data": "notes"}
    assert document_name({"name": "a  b\t/c"}, set()) == "a b -c"


def test_stream_folds_into_the_converse_reply(client, emulator):
    script = {
        "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Answer."},
            {"type": "tool_use", "name": "get_weather", "input": {"city": "Rome"}},
        ],
        "usage": {"input_tokens": 30, "output_tokens": 12, "cache_read_input_tokens": 100},
    }
    body = base(
        tools=[TOOL], messages=[{"role": "user", "content": [{"type": "text", "text": "Go"}]}]
    )
    emulator.script(script)
    whole = client.converse(HAIKU, body)
    emulator.script(script)
    from claude_magic.core.messages import Message

    folded = Message()
    for event in client.converse_stream(HAIKU, body):
        fold_event(folded, event)
    for message in (whole, folded):
        assert [b["type"] for b in message.content] == [
            "thinking",
            "redacted_thinking",
            "text",
            "tool_use",
        ]
        assert message.content[0]["thinking"] == "Hmm." and message.content[0]["signature"] == "sig"
        assert message.content[1]["data"] == "opaque"
        assert message.content[3]["input"] == {"city": "Rome"}
        assert message.stop_reason == "tool_use"
        assert (message.usage.input_tokens, message.usage.output_tokens) == (30, 12)
        assert message.usage.cache_read_input_tokens == 100
    assert folded.content[3]["id"].startswith("toolu_")
    assert folded.metrics["outputTokenCount"] == 12


def test_stop_sequence_comes_back(client, emulator):
    emulator.script({"content": "cut", "stop_reason": "stop_sequence", "stop_sequence": "END"})
    message = client.converse(HAIKU, BODIES["text"])
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")


def test_output_config_goes_to_output_config():
    body = base(
        messages=[{"role": "user", "content": "Hi"}],
        output_config={
            "effort": "high",
            "format": {"type": "json_schema", "schema": {"type": "object"}},
        },
    )
    request = converse_request(HAIKU, body)
    assert request["outputConfig"]["effort"] == "high"
    schema = request["outputConfig"]["textFormat"]["structure"]["jsonSchema"]["schema"]
    assert json.loads(schema) == {"type": "object"}
    assert "additionalModelRequestFields" not in request


@pytest.mark.parametrize(
    "body, words",
    [
        (
            base(
                messages=[
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Sure"},
                ]
            ),
            "prefill",
        ),
        (
            base(
                tools=[TOOL],
                tool_choice={"type": "none"},
                messages=[{"role": "user", "content": "Hi"}],
            ),
            "tool_choice none",
        ),
        (
            base(
                tools=[{"type": "bash_20250124", "name": "bash"}],
                messages=[{"role": "user", "content": "Hi"}],
            ),
            "bash_20250124 tool",
        ),
    ],
)
def test_what_converse_cannot_say(client, emulator, body, words):
    with pytest.raises(ClaudeError) as caught:
        client.converse(HAIKU, body)
    assert f"Converse has no {words} for Claude" in caught.value.message
    with pytest.raises(ClaudeError):
        list(client.converse_stream(HAIKU, body))
    assert emulator.requests() == []


def test_converse_errors_are_friendly(client, emulator):
    emulator.fault("throttle")
    with pytest.raises(ClaudeError) as caught:
        client.converse(HAIKU, BODIES["text"])
    assert caught.value.kind == "throttled"
    body = base(messages=[{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "x"}])
    with pytest.raises(ClaudeError) as caught:
        list(client.converse_stream(HAIKU, body))
    assert "A conversation must start with a user message" in caught.value.message


def test_guardrail_goes_to_guardrail_config(client, emulator):
    emulator.fault("guardrail")
    message = client.converse(HAIKU, BODIES["text"], guardrail=("gr1", "DRAFT"))
    assert message.stop_reason == "guardrail_intervened"
    assert emulator.requests()[-1]["body"]["guardrailConfig"] == {
        "guardrailIdentifier": "gr1",
        "guardrailVersion": "DRAFT",
    }
