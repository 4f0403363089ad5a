"""Today's per-model rules in the emulator, through boto3, with Bedrock's messages; the
same refusals explained by the client in one line; lifecycles by a pinned date."""

from __future__ import annotations

import json
from datetime import date

import boto3
import pytest
from botocore.exceptions import ClientError

from claude_magic.bedrock import BedrockClient, ClientSettings
from claude_magic.bedrock.errors import ClaudeError
from claude_magic.emulator import Emulator

END_OF_LIFE = (
    "This model version has reached the end of its life. Please refer to the AWS "
    "documentation for more details."
)
TOOL = {"name": "add", "description": "Add.", "input_schema": {"type": "object", "properties": {}}}


def body(**overrides):
    data = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    data.update(overrides)
    return data


def refusal(client, model_id, data):
    with pytest.raises(ClientError) as caught:
        client.invoke_model(modelId=model_id, body=json.dumps(data))
    return caught.value.response["Error"]


def answer(client, model_id, data):
    return json.loads(client.invoke_model(modelId=model_id, body=json.dumps(data))["body"].read())


PREFILL = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Sure,"}]
REJECTED = [
    # one rule per family, then the thinking forms, tool choice, versions, formats
    (
        "us.anthropic.claude-sonnet-5",
        body(temperature=0.2),
        "The model returned the following errors: `temperature` is deprecated for this model.",
        "Claude Sonnet 5 sets its own sampling: drop -t",
    ),
    (
        "us.anthropic.claude-opus-4-7",
        body(thinking={"type": "enabled", "budget_tokens": 2048}),
        '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and '
        '"output_config.effort" to control thinking behavior.',
        "Claude Opus 4.7 sets its own thinking budget: drop --think; use --effort",
    ),
    (
        "us.anthropic.claude-haiku-5-5",
        body(messages=PREFILL),
        "This model does not support assistant message prefill",
        "Claude Haiku 5.5 does not take a prefill",
    ),
    (
        "us.anthropic.claude-fable-5-1",
        body(top_p=0.5),
        "The model returned the following errors: `top_p` is deprecated for this model.",
        "top_p >= 0.99",
    ),
    (
        "global.anthropic.claude-sonnet-5-5",
        body(thinking={"type": "disabled"}),
        '"thinking.type.disabled" is not supported for this model: its thinking is always on. Use '
        '"output_config.effort" to control thinking behavior.',
        "Claude Sonnet 5.5 always thinks: drop --no-think",
    ),
    (
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        body(thinking={"type": "adaptive"}),
        '"thinking.type.adaptive" is not supported for this model. Use "thinking.type.enabled" with '
        '"budget_tokens" to control thinking behavior.',
        "Claude Haiku 4.5 takes a thinking budget, not an effort level",
    ),
    (
        "us.anthropic.claude-opus-5-5",
        body(tools=[TOOL], tool_choice={"type": "any"}),
        'tool_choice: type "tool" and "any" are not supported for this model.',
        "Claude Opus 5.5 can't be made to call a tool",
    ),
    (
        "us.anthropic.claude-sonnet-4-6",
        body(anthropic_version="2026-10-21"),
        "Invalid API version: 2026-10-21",
        "Claude Sonnet 4.6 does not accept anthropic_version 2026-10-21: it takes bedrock-2023-05-31",
    ),
    (
        "us.anthropic.claude-opus-4-8",
        body(output_config={"effort": "extreme"}),
        "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'",
        "takes --effort low|medium|high|xhigh|max",
    ),
    (
        "us.anthropic.claude-opus-4-7",
        body(output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}}),
        "output_config.format: structured outputs are not supported for this model.",
        "Claude Opus 4.7 does not take output_config.format",
    ),
]


@pytest.mark.parametrize(
    ("model_id", "data", "bedrock_says", "user_sees"),
    REJECTED,
    ids=[f"{r[0]}-{i}" for i, r in enumerate(REJECTED)],
)
def test_rule_refused_with_bedrocks_message_and_explained(
    emulator, bedrock_client, model_id, data, bedrock_says, user_sees
):
    error = refusal(bedrock_client, model_id, data)
    assert (error["Code"], error["Message"]) == ("ValidationException", bedrock_says)
    client = BedrockClient(
        ClientSettings(region="us-east-1", endpoint_url=emulator.url, offline=True, max_attempts=1)
    )
    with pytest.raises(ClaudeError) as caught:
        client.invoke(model_id, data)
    assert caught.value.kind == "model_rule"
    assert user_sees in caught.value.message and bedrock_says.rstrip(".") in caught.value.message
    assert [r["status"] for r in emulator.requests()] == [400, 400]  # once each, no retries


ACCEPTED = [
    (
        "us.anthropic.claude-opus-4-7",
        body(thinking={"type": "adaptive"}, output_config={"effort": "xhigh"}),
    ),
    ("us.anthropic.claude-opus-4-7", body(anthropic_version="2026-10-21")),
    ("us.anthropic.claude-sonnet-4-6", body(thinking={"type": "enabled", "budget_tokens": 2048})),
    ("us.anthropic.claude-sonnet-4-6", body(temperature=0.3)),
    ("us.anthropic.claude-haiku-4-5-20251001-v1:0", body(messages=PREFILL)),
    ("us.anthropic.claude-fable-5", body(temperature=1, top_p=0.99)),
    ("us.anthropic.claude-opus-5", body(tools=[TOOL], tool_choice={"type": "any"})),
    ("us.anthropic.claude-haiku-5-5", body(thinking={"type": "disabled"})),
    (
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        body(
            output_config={
                "format": {
                    "type": "json_schema",
                    "schema": {"type": "object", "properties": {}, "additionalProperties": False},
                }
            }
        ),
    ),
    (
        "us.anthropic.claude-sonnet-5",
        body(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "document",
                            "title": "Notes",
                            "context": "from the lab",
                            "citations": {"enabled": True},
                            "source": {
                                "type": "text",
                                "media_type": "text/plain",
                                "data": "Water boils at 100 C.",
                            },
                        },
                        {
                            "type": "text",
                            "text": "Sum up",
                            "cache_control": {"type": "ephemeral", "ttl": "1h"},
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "add",
                            "input": {},
                            "caller": {"type": "direct"},
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "3"}],
                },
            ],
            tools=[TOOL],
        ),
    ),
]


@pytest.mark.parametrize(
    ("model_id", "data"), ACCEPTED, ids=[f"{r[0]}-{i}" for i, r in enumerate(ACCEPTED)]
)
def test_what_todays_models_take_is_accepted(bedrock_client, model_id, data):
    assert answer(bedrock_client, model_id, data)["type"] == "message"


def test_one_million_token_windows(bedrock_client):
    long_text = "word " * 900_000  # far past 200K tokens, within 1M
    data = body(messages=[{"role": "user", "content": long_text}])
    assert answer(bedrock_client, "us.anthropic.claude-opus-4-7", data)["type"] == "message"
    error = refusal(bedrock_client, "us.anthropic.claude-sonnet-4-5-20250929-v1:0", data)
    assert error["Message"] == "Input is too long for requested model."
    with_beta = dict(data, anthropic_beta=["context-1m-2025-08-07"])
    assert answer(bedrock_client, "us.anthropic.claude-sonnet-4-5-20250929-v1:0", with_beta)


# -- lifecycle: judged by a pinned date -----------------------------------------------------


def _runtime(url):
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_end_of_life_by_the_emulators_date():
    sonnet_4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"  # end of life 2026-10-14
    with Emulator(today="2026-10-13") as emu:
        client = _runtime(emu.url)
        assert answer(client, sonnet_4, body())["model"] == "claude-sonnet-4-20250514"
        emu.today = date(2026, 10, 14)
        error = refusal(client, sonnet_4, body())
        assert (error["Code"], error["Message"]) == ("ResourceNotFoundException", END_OF_LIFE)
        assert [r["status"] for r in emu.requests()] == [200, 404]


def test_end_of_life_date_set_over_http(emulator, bedrock_client):
    from urllib.request import Request, urlopen

    def config(payload):
        request = Request(
            emulator.url + "/_emulator/config",
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        return json.loads(urlopen(request).read())

    assert config({"today": "2027-01-08"})["today"] == "2027-01-08"
    error = refusal(bedrock_client, "us.anthropic.claude-opus-4-1-20250805-v1:0", body())
    assert (error["Code"], error["Message"]) == ("ResourceNotFoundException", END_OF_LIFE)
    assert config({"today": None})["today"] is None  # back to the (pinned) date of the tests
    assert answer(bedrock_client, "us.anthropic.claude-opus-4-1-20250805-v1:0", body())


def test_forced_tool_choice_with_thinking_is_explained():
    """Bedrock's message when a manual-thinking request forces a tool (the emulator's
    thinking rules send the same text)."""
    from claude_magic.bedrock.rules import explain
    from claude_magic.models import catalog

    text = (
        "The model returned the following errors: Thinking may not be enabled when "
        "tool_choice forces tool use."
    )
    sonnet = catalog.lookup("anthropic.claude-sonnet-4-5-20250929-v1:0")
    line = explain("ValidationException", text, sonnet, sonnet.name)
    assert line == (
        "Claude Sonnet 4.5 can't be made to call a tool while it thinks: use "
        "--tool-choice auto, or turn thinking off (--no-think) (Bedrock: " + text[:-1] + ")."
    )
    always = catalog.lookup("anthropic.claude-sonnet-5-5")
    assert "--no-think" not in explain("ValidationException", text, always, always.name)
    assert explain("ValidationException", "messages: roles must alternate", sonnet, "x") is None


def test_the_offline_answer_reflects_the_new_fields(bedrock_client):
    data = body(
        thinking={"type": "adaptive"},
        output_config={"effort": "high"},
        anthropic_version="2026-10-21",
        system=[
            {
                "type": "text",
                "text": "Be brief.",
                "cache_control": {"type": "ephemeral", "ttl": "1h"},
            }
        ],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hello", "cache_control": {"type": "ephemeral"}}
                ],
            }
        ],
    )
    content = answer(bedrock_client, "us.anthropic.claude-opus-4-7", data)["content"]
    text = next(b["text"] for b in content if b["type"] == "text")
    for row in (
        "| thinking | adaptive |",
        "| effort | high |",
        "| anthropic_version | 2026-10-21 |",
        "| cache breakpoints | system (1h), message 1 (5m) |",
    ):
        assert row in text, text


def test_count_tokens_takes_bare_ids_of_models_that_count(bedrock_client):
    request = {"invokeModel": {"body": json.dumps(body())}}
    assert (
        bedrock_client.count_tokens(modelId="anthropic.claude-sonnet-4-6", input=request)[
            "inputTokens"
        ]
        > 0
    )
    for model_id in ("us.anthropic.claude-sonnet-4-6", "anthropic.claude-opus-4-7"):
        with pytest.raises(ClientError) as caught:
            bedrock_client.count_tokens(modelId=model_id, input=request)
        assert (
            caught.value.response["Error"]["Message"]
            == "The provided model doesn't support counting tokens."
        )
