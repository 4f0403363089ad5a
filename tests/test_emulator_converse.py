"""Converse and ConverseStream through a real boto3 client against the emulator."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, EventStreamError, ParamValidationError
from helpers import HAIKU, png
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_magic.emulator.converse import converse_to_invoke_body
from claude_magic.emulator.errors import BedrockError

PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)
WEATHER = {
    "toolSpec": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            }
        },
    }
}


def user(*blocks):
    return {"role": "user", "content": list(blocks)}


def last_entry(emulator):
    return emulator.requests()[-1]


def error_of(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]


def collect(stream):
    """ConverseStream events, each as (event name, payload)."""
    return [next(iter(event.items())) for event in stream["stream"]]


# -- shapes ---------------------------------------------------------------------------------


def test_text_with_system_and_inference_config(bedrock_client, emulator):
    response = bedrock_client.converse(
        modelId=HAIKU,
        messages=[user({"text": "Hello there"})],
        system=[{"text": "Be brief."}],
        inferenceConfig={"maxTokens": 300, "temperature": 0.5, "stopSequences": ["STOP"]},
    )
    message = response["output"]["message"]
    assert message["role"] == "assistant"
    assert "Hello there" in message["content"][0]["text"]
    assert response["stopReason"] == "end_turn"
    usage = response["usage"]
    assert usage["inputTokens"] > 0 and usage["outputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert isinstance(response["metrics"]["latencyMs"], int)
    entry = last_entry(emulator)
    assert entry["operation"] == "Converse" and entry["model_id"] == HAIKU
    assert entry["body"]["system"] == [{"text": "Be brief."}]
    assert entry["invoke_body"] == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 300,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}],
        "temperature": 0.5,
        "stop_sequences": ["STOP"],
    }


def test_max_tokens_defaults_to_the_model_limit(bedrock_client, emulator):
    bedrock_client.converse(modelId=HAIKU, messages=[user({"text": "Hi"})])
    assert last_entry(emulator)["invoke_body"]["max_tokens"] == 64000


def test_tool_round_trip(bedrock_client, emulator):
    messages = [user({"text": "Use get_weather for city: Paris"})]
    config = {"tools": [WEATHER], "toolChoice": {"auto": {}}}
    first = bedrock_client.converse(modelId=HAIKU, messages=messages, toolConfig=config)
    assert first["stopReason"] == "tool_use"
    (use,) = [b["toolUse"] for b in first["output"]["message"]["content"] if "toolUse" in b]
    assert use["name"] == "get_weather" and use["input"] == {"city": "Paris"}
    assert last_entry(emulator)["invoke_body"]["tool_choice"] == {"type": "auto"}
    messages += [
        first["output"]["message"],
        user(
            {
                "toolResult": {
                    "toolUseId": use["toolUseId"],
                    "content": [{"json": {"sky": "clear"}}, {"text": "18 C"}],
                }
            }
        ),
    ]
    second = bedrock_client.converse(modelId=HAIKU, messages=messages, toolConfig=config)
    assert second["stopReason"] == "end_turn"
    result = last_entry(emulator)["invoke_body"]["messages"][2]["content"][0]
    assert result == {
        "type": "tool_result",
        "tool_use_id": use["toolUseId"],
        "content": [{"type": "text", "text": '{"sky": "clear"}'}, {"type": "text", "text": "18 C"}],
    }


@pytest.mark.parametrize(
    "choice, expected",
    [
        ({"any": {}}, {"type": "any"}),
        ({"tool": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
    ],
)
def test_forced_tool_choice(bedrock_client, emulator, choice, expected):
    response = bedrock_client.converse(
        modelId=HAIKU,
        messages=[user({"text": "Anything"})],
        toolConfig={"tools": [WEATHER], "toolChoice": choice},
    )
    assert response["stopReason"] == "tool_use"
    assert last_entry(emulator)["invoke_body"]["tool_choice"] == expected


def test_stream_text_and_tool_use(bedrock_client, emulator):
    stream = bedrock_client.converse_stream(
        modelId=HAIKU,
        messages=[user({"text": "Use get_weather for city: Oslo"})],
        toolConfig={"tools": [WEATHER]},
    )
    events = collect(stream)
    names = [name for name, _ in events]
    assert names[0] == "messageStart" and events[0][1] == {"role": "assistant"}
    assert names[-2:] == ["messageStop", "metadata"]
    text = "".join(
        p["delta"]["text"] for n, p in events if n == "contentBlockDelta" and "text" in p["delta"]
    )
    assert "emulator" in text
    (start,) = [p for n, p in events if n == "contentBlockStart"]
    assert start["start"]["toolUse"]["name"] == "get_weather" and start["contentBlockIndex"] == 1
    partial = "".join(
        p["delta"]["toolUse"]["input"]
        for n, p in events
        if n == "contentBlockDelta" and "toolUse" in p["delta"]
    )
    assert json.loads(partial) == {"city": "Oslo"}
    assert [p["contentBlockIndex"] for n, p in events if n == "contentBlockStop"] == [0, 1]
    assert events[-2][1] == {"stopReason": "tool_use"}
    metadata = events[-1][1]
    assert metadata["usage"]["outputTokens"] > 0 and "latencyMs" in metadata["metrics"]
    assert last_entry(emulator)["operation"] == "ConverseStream"


def test_image_and_document_bytes(bedrock_client, emulator):
    response = bedrock_client.converse(
        modelId=HAIKU,
        messages=[
            user(
                {"image": {"format": "png", "source": {"bytes": png()}}},
                {
                    "document": {
                        "format": "pdf",
                        "name": "Quarterly report (draft)",
                        "source": {"bytes": PDF},
                    }
                },
                {
                    "document": {
                        "format": "txt",
                        "name": "notes",
                        "source": {"bytes": b"plain notes"},
                    }
                },
                {"text": "What are these?"},
            )
        ],
    )
    assert response["stopReason"] == "end_turn"
    content = last_entry(emulator)["invoke_body"]["messages"][0]["content"]
    assert content[0]["source"]["media_type"] == "image/png"
    assert content[1]["source"]["media_type"] == "application/pdf"
    assert content[1]["title"] == "Quarterly report (draft)"
    assert content[2]["source"] == {
        "type": "text",
        "media_type": "text/plain",
        "data": "plain notes",
    }


def test_image_checks_are_invoke_model_rules(bedrock_client):
    err = error_of(
        lambda: bedrock_client.converse(
            modelId=HAIKU,
            messages=[
                user({"image": {"format": "jpeg", "source": {"bytes": png()}}}, {"text": "Look"})
            ],
        )
    )
    assert err["Code"] == "ValidationException"
    assert err["Message"].startswith("The model returned the following errors: ")
    assert "image/jpeg media type, but the image appears to be a image/png image" in err["Message"]


def test_cache_points_and_cache_usage(bedrock_client, emulator):
    emulator.script(
        {
            "content": "cached",
            "usage": {
                "input_tokens": 12,
                "cache_read_input_tokens": 4000,
                "cache_creation_input_tokens": 900,
            },
        }
    )
    response = bedrock_client.converse(
        modelId=HAIKU,
        system=[{"text": "Long rules."}, {"cachePoint": {"type": "default", "ttl": "1h"}}],
        messages=[
            user({"text": "A long document"}, {"cachePoint": {"type": "default"}}, {"text": "Q?"})
        ],
        toolConfig={
            "tools": [WEATHER, {"cachePoint": {"type": "default", "ttl": "1h"}}]
        },  # longer TTLs first
    )
    body = last_entry(emulator)["invoke_body"]
    assert body["system"] == [
        {"type": "text", "text": "Long rules.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    ]
    assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["messages"][0]["content"][1]
    assert body["tools"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    usage = response["usage"]
    assert usage["cacheReadInputTokens"] == 4000 and usage["cacheWriteInputTokens"] == 900
    assert usage["totalTokens"] == 12 + usage["outputTokens"] + 4000 + 900
    assert usage["cacheDetails"] == [{"ttl": "1h", "inputTokens": 900}]


def test_reasoning_scripted_thinking(bedrock_client, emulator):
    thinking = {"type": "thinking", "thinking": "Let me think it over.", "signature": "sig-123"}
    fields = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    for _ in range(2):
        emulator.script({"content": [thinking, {"type": "text", "text": "42"}]})
    response = bedrock_client.converse(
        modelId=HAIKU,
        messages=[user({"text": "Answer?"})],
        inferenceConfig={"maxTokens": 2048},
        additionalModelRequestFields=fields,
    )
    content = response["output"]["message"]["content"]
    assert content[0] == {
        "reasoningContent": {
            "reasoningText": {"text": "Let me think it over.", "signature": "sig-123"}
        }
    }
    assert content[1] == {"text": "42"}
    assert last_entry(emulator)["invoke_body"]["thinking"] == fields["thinking"]

    events = collect(
        bedrock_client.converse_stream(
            modelId=HAIKU,
            messages=[user({"text": "Answer?"})],
            inferenceConfig={"maxTokens": 2048},
            additionalModelRequestFields=fields,
        )
    )
    reasoning = [
        p["delta"]["reasoningContent"]
        for n, p in events
        if n == "contentBlockDelta" and "reasoningContent" in p["delta"]
    ]
    assert "".join(r.get("text", "") for r in reasoning) == "Let me think it over."
    assert reasoning[-1] == {"signature": "sig-123"}

    follow_up = [user({"text": "Answer?"}), response["output"]["message"], user({"text": "Why?"})]
    bedrock_client.converse(
        modelId=HAIKU,
        messages=follow_up,
        inferenceConfig={"maxTokens": 2048},
        additionalModelRequestFields=fields,
    )
    assert last_entry(emulator)["invoke_body"]["messages"][1]["content"][0] == thinking


def test_additional_model_request_fields_reach_the_model(bedrock_client, emulator):
    bedrock_client.converse(
        modelId=HAIKU,
        messages=[user({"text": "Hi"})],
        additionalModelRequestFields={
            "top_k": 40,
            "anthropic_beta": ["interleaved-thinking-2025-05-14"],
        },
    )
    body = last_entry(emulator)["invoke_body"]
    assert body["top_k"] == 40 and body["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]
    err = error_of(
        lambda: bedrock_client.converse(
            modelId=HAIKU,
            messages=[user({"text": "Hi"})],
            additionalModelRequestFields={"colour": "red"},
        )
    )
    assert err["Message"] == (
        "Malformed input request: #: extraneous key [colour] is not permitted, "
        "please reformat your input and try again."
    )


def test_stop_sequence_as_an_additional_response_field(bedrock_client, emulator):
    emulator.script({"content": "partial", "stop_reason": "stop_sequence", "stop_sequence": "END"})
    response = bedrock_client.converse(
        modelId=HAIKU,
        messages=[user({"text": "Hi"})],
        inferenceConfig={"stopSequences": ["END"]},
        additionalModelResponseFieldPaths=["/stop_sequence"],
    )
    assert response["stopReason"] == "stop_sequence"
    assert response["additionalModelResponseFields"] == {"stop_sequence": "END"}


def test_output_config_translation():
    converse = {
        "messages": [user({"text": "Hi"})],
        "outputConfig": {
            "effort": "high",
            "textFormat": {
                "type": "json_schema",
                "structure": {
                    "jsonSchema": {
                        "schema": '{"type": "object", "additionalProperties": false}',
                        "name": "answer",
                    }
                },
            },
        },
    }
    body = converse_to_invoke_body(converse, 64000)
    assert body["output_config"] == {
        "effort": "high",
        "format": {
            "type": "json_schema",
            "schema": {"type": "object", "additionalProperties": False},
        },
    }


# -- Converse's own validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"messages": [{"role": "assistant", "content": [{"text": "Hi"}]}]},
            "A conversation must start with a user message. Try again with a conversation that starts "
            "with a user message.",
        ),
        (
            {"messages": [user({"text": "Hi"}), user({"text": "again"})]},
            "A conversation must alternate between user and assistant roles. Make sure the conversation "
            "alternates between user and assistant roles and try again.",
        ),
        (
            {"messages": [user({"text": "  "})]},
            "The text field in the ContentBlock object at messages.0.content.0 is blank. Add text to the "
            "text field, and try again.",
        ),
        (
            {
                "messages": [
                    user({"text": "Hi"}),
                    {
                        "role": "assistant",
                        "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}],
                    },
                    user({"toolResult": {"toolUseId": "t1", "content": [{"text": "ok"}]}}),
                ]
            },
            "The toolConfig field must be defined when using toolUse and toolResult content blocks.",
        ),
        (
            {"messages": [user({"text": "Hi"})], "system": [{"text": " "}]},
            "The text field in the SystemContentBlock object at system.0 is blank. Add text to the text "
            "field, and try again.",
        ),
        (
            {"messages": [user({"text": "Hi"})], "inferenceConfig": {"maxTokens": 70000}},
            "The maximum tokens you requested exceeds the model limit of 64000. Try again with a maximum "
            "tokens value that is lower than 64000.",
        ),
        (
            {
                "messages": [user({"text": "Hi"})],
                "inferenceConfig": {"maxTokens": 2048},
                "additionalModelRequestFields": {
                    "thinking": {"type": "enabled", "budget_tokens": 100}
                },
            },
            "The model returned the following errors: thinking.enabled.budget_tokens: Input should be "
            "greater than or equal to 1024",
        ),
    ],
)
def test_converse_validation_messages(bedrock_client, emulator, kwargs, message):
    err = error_of(lambda: bedrock_client.converse(modelId=HAIKU, **kwargs))
    assert err["Code"] == "ValidationException"
    assert err["Message"] == message
    assert last_entry(emulator)["status"] == 400


def test_model_identifier_errors_are_not_model_errors(bedrock_client):
    err = error_of(
        lambda: bedrock_client.converse(
            modelId="anthropic.nope-v1", messages=[user({"text": "Hi"})]
        )
    )
    assert err["Message"] == "The provided model identifier is invalid."


def test_botocore_rejects_a_bad_body_client_side(bedrock_client, emulator):
    with pytest.raises(ParamValidationError) as caught:
        bedrock_client.converse(
            modelId=HAIKU,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "text": "two members",
                            "image": {"format": "png", "source": {"bytes": b"x"}},
                        }
                    ],
                }
            ],
        )
    assert "union" in str(caught.value).lower()
    with pytest.raises(ParamValidationError):
        bedrock_client.converse(
            modelId=HAIKU, messages=[user({"text": "Hi"})], inferenceConfig={"maxTokens": "many"}
        )
    assert emulator.requests() == []


def test_raw_bodies_botocore_would_refuse_get_validation_errors(emulator):
    from claude_magic.emulator.validation.converse import validate_converse

    for raw in (
        {"messages": [user({"text": "a", "image": {}})]},
        {"messages": [user({"toolResult": []})]},
        {"messages": [user({"text": "Hi"})], "toolConfig": {"tools": [{"toolSpec": []}]}},
        {"messages": [user({"document": {"name": "x", "source": []}})]},
        {"messages": "no"},
        {"messages": [user({"text": "Hi"})], "outputConfig": []},
    ):
        with pytest.raises(BedrockError) as caught:
            validate_converse(HAIKU, json.dumps(raw).encode(), {})
        assert caught.value.status == 400


# -- faults -----------------------------------------------------------------------------------


def test_request_fault_on_converse(bedrock_client, emulator):
    emulator.fault("throttle")
    err = error_of(lambda: bedrock_client.converse(modelId=HAIKU, messages=[user({"text": "Hi"})]))
    assert err["Code"] == "ThrottlingException"
    assert (
        bedrock_client.converse(modelId=HAIKU, messages=[user({"text": "Hi"})])["stopReason"]
        == "end_turn"
    )


def test_stream_exception_mid_converse_stream(bedrock_client, emulator):
    emulator.fault("stream_exception", after_events=3)
    stream = bedrock_client.converse_stream(modelId=HAIKU, messages=[user({"text": "Hi"})])
    seen = []
    with pytest.raises(EventStreamError) as caught:
        for event in stream["stream"]:
            seen.append(event)
    assert len(seen) == 3
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"


def test_disconnect_before_a_converse_reply_keeps_the_script(bedrock_client, emulator):
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

    emulator.fault("disconnect")
    emulator.script("kept for the next request")
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        bedrock_client.converse(modelId=HAIKU, messages=[user({"text": "Hi"})])
    response = bedrock_client.converse(modelId=HAIKU, messages=[user({"text": "Hi"})])
    assert response["output"]["message"]["content"] == [{"text": "kept for the next request"}]


def test_guardrail_intervention(bedrock_client, emulator):
    guardrail = {"guardrailIdentifier": "gr1abc", "guardrailVersion": "1", "trace": "enabled"}
    emulator.fault("guardrail", times=2, message="Blocked by policy.")
    bedrock_client.converse(modelId=HAIKU, messages=[user({"text": "no guardrail, no effect"})])
    response = bedrock_client.converse(
        modelId=HAIKU, messages=[user({"text": "Hi"})], guardrailConfig=guardrail
    )
    assert response["stopReason"] == "guardrail_intervened"
    assert response["output"]["message"]["content"] == [{"text": "Blocked by policy."}]
    assert "guardrail" in response["trace"]
    events = collect(
        bedrock_client.converse_stream(
            modelId=HAIKU,
            messages=[user({"text": "Hi"})],
            guardrailConfig={**guardrail, "streamProcessingMode": "sync"},
        )
    )
    assert ("messageStop", {"stopReason": "guardrail_intervened"}) in events
    assert "guardrail" in events[-1][1]["trace"]
    assert emulator.faults() == []


def test_guardrail_intervention_on_invoke_model(bedrock_client, emulator):
    emulator.fault("guardrail")
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    response = bedrock_client.invoke_model(
        modelId=HAIKU, body=json.dumps(body), guardrailIdentifier="gr1abc", guardrailVersion="1"
    )
    reply = json.loads(response["body"].read())
    assert reply["stop_reason"] == "guardrail_intervened"
    assert reply["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert last_entry(emulator)["headers"]["X-Amzn-Bedrock-GuardrailIdentifier"] == "gr1abc"


# -- any JSON: a 400 or an answer, never an emulator failure ----------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 70000)
    | st.sampled_from(["", " ", "x", "png", "user"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "text",
                    "image",
                    "document",
                    "toolUse",
                    "toolResult",
                    "cachePoint",
                    "reasoningContent",
                    "role",
                    "content",
                    "format",
                    "source",
                    "bytes",
                    "name",
                    "type",
                    "ttl",
                    "json",
                    "status",
                    "toolUseId",
                    "input",
                    "reasoningText",
                    "redactedContent",
                    "guardContent",
                ]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=12,
)
_converse = st.fixed_dictionaries(
    {},
    optional={
        "messages": st.lists(
            st.fixed_dictionaries(
                {
                    "role": st.sampled_from(["user", "assistant", "x"]),
                    "content": st.lists(_json, max_size=3),
                }
            ),
            max_size=3,
        ),
        "system": _json,
        "inferenceConfig": _json,
        "toolConfig": _json,
        "outputConfig": _json,
        "additionalModelRequestFields": _json,
        "guardrailConfig": _json,
        "additionalModelResponseFieldPaths": _json,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_converse)
def test_any_converse_body_is_answered_or_refused(converse):
    from claude_magic.emulator.validation.converse import validate_converse

    try:
        validate_converse(HAIKU, json.dumps(converse).encode(), {})
    except BedrockError as error:
        assert error.status == 400


def test_count_tokens_of_a_converse_request(bedrock_client):
    converse = {
        "messages": [user({"text": "Hello there"}, {"cachePoint": {"type": "default"}})],
        "system": [{"text": "Be brief."}],
        "toolConfig": {"tools": [WEATHER]},
    }
    bare = "anthropic.claude-haiku-4-5-20251001-v1:0"
    with_tools = bedrock_client.count_tokens(modelId=bare, input={"converse": converse})[
        "inputTokens"
    ]
    converse.pop("toolConfig")
    without = bedrock_client.count_tokens(modelId=bare, input={"converse": converse})["inputTokens"]
    assert with_tools > without > 0
