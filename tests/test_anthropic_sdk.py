"""The newest anthropic SDK (2.x), unmodified, against the emulator: AnthropicBedrock
pointed at the emulator's URL sends `anthropic_version: "2026-10-21"` and echoes tool-use
blocks back with their fields; Bedrock's rules reach it as the SDK's own errors."""

from __future__ import annotations

import anthropic
import pytest
from anthropic import AnthropicBedrock

OPUS = "us.anthropic.claude-opus-4-7"  # takes the SDK's API version (Claude 4.7 and later)
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def sdk(emulator):
    return AnthropicBedrock(
        base_url=emulator.url,
        aws_region="us-east-1",
        aws_access_key="testing",
        aws_secret_key="testing",
        max_retries=0,
    )


def test_sdk_is_the_2x_release():
    assert int(anthropic.__version__.split(".")[0]) >= 2


def test_create(sdk, emulator):
    message = sdk.messages.create(
        model=OPUS, max_tokens=300, messages=[{"role": "user", "content": "Hello from the SDK"}]
    )
    assert message.role == "assistant" and message.stop_reason == "end_turn"
    assert "Hello from the SDK" in message.content[0].text
    request = emulator.requests()[-1]
    assert request["operation"] == "InvokeModel" and request["model_id"] == OPUS
    assert request["body"]["anthropic_version"] == "2026-10-21"


def test_stream(sdk, emulator):
    emulator.script("Streamed words, one after another.")
    with sdk.messages.stream(
        model=OPUS, max_tokens=300, messages=[{"role": "user", "content": "Stream please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Streamed words, one after another." == final.content[0].text
    assert final.usage.output_tokens > 0
    assert emulator.requests()[-1]["operation"] == "InvokeModelWithResponseStream"


def test_tool_use_with_the_sdks_own_echo_of_the_assistant_turn(sdk, emulator):
    emulator.script(
        {
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_sdk1",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                    "caller": {"type": "direct"},
                }
            ],
            "stop_reason": "tool_use",
        }
    )
    question = {"role": "user", "content": "Weather in Oslo?"}
    first = sdk.messages.create(model=OPUS, max_tokens=300, tools=[WEATHER], messages=[question])
    assert first.stop_reason == "tool_use"
    use = first.content[0]
    assert (use.name, use.input) == ("get_weather", {"city": "Oslo"})
    second = sdk.messages.create(
        model=OPUS,
        max_tokens=300,
        tools=[WEATHER],
        messages=[
            question,
            {"role": "assistant", "content": first.content},  # the SDK's blocks
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": use.id, "content": "4 °C, light snow"}
                ],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    echoed = emulator.requests()[-1]["body"]["messages"][1]["content"][0]
    assert echoed["type"] == "tool_use" and echoed["caller"] == {"type": "direct"}
    assert [r["status"] for r in emulator.requests()] == [200, 200]


def test_older_models_refuse_the_sdks_api_version(sdk):
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk.messages.create(
            model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            max_tokens=100,
            messages=[{"role": "user", "content": "Hi"}],
        )
    assert "Invalid API version: 2026-10-21" in str(caught.value)


def test_sampling_rule_reaches_the_sdk(sdk):
    """The 2.x SDK has no `temperature` parameter any more; sent anyway, Bedrock refuses it."""
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk.messages.create(
            model="global.anthropic.claude-opus-5",
            max_tokens=100,
            extra_body={"temperature": 0.2},
            messages=[{"role": "user", "content": "Hi"}],
        )
    assert "`temperature` is deprecated for this model" in str(caught.value)


@pytest.mark.parametrize("thinking", [None, {"type": "adaptive"}], ids=["plain", "thinking"])
def test_standard_tool_loop_with_blocks_passed_back_by_model_dump(sdk, emulator, thinking):
    """The common loop: `response.content` blocks passed back as `model_dump()` dicts, with
    every field the SDK has (`caller` and `toolset_name` None, `citations` None)."""
    options = {"model": OPUS, "max_tokens": 2000, "tools": [WEATHER]}
    if thinking:
        options["thinking"] = thinking
    messages: list = [{"role": "user", "content": "What is the weather in Oslo?"}]
    response = sdk.messages.create(messages=messages, **options)
    rounds = 0
    while response.stop_reason == "tool_use":
        rounds += 1
        blocks = [b.model_dump() for b in response.content]
        messages.append({"role": "assistant", "content": blocks})
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": b.id,
                        "content": f"4 °C in {b.input['city']}",
                    }
                    for b in response.content
                    if b.type == "tool_use"
                ],
            }
        )
        response = sdk.messages.create(messages=messages, **options)
    assert rounds == 1 and response.stop_reason == "end_turn"
    assert "4 °C in Oslo" in response.content[-1].text
    echoed = emulator.requests()[-1]["body"]["messages"][1]["content"]
    use = next(b for b in echoed if b["type"] == "tool_use")
    assert use["toolset_name"] is None and use["caller"] is None
    assert next(b for b in echoed if b["type"] == "text")["citations"] is None
    assert [r["status"] for r in emulator.requests()] == [200, 200]


def test_tool_loop_through_the_beta_client(sdk, emulator):
    options = {
        "model": OPUS,
        "max_tokens": 500,
        "tools": [WEATHER],
        "betas": ["token-efficient-tools-2025-02-19"],
    }
    messages: list = [{"role": "user", "content": "What is the weather in Oslo?"}]
    first = sdk.beta.messages.create(messages=messages, **options)
    (use,) = [b for b in first.content if b.type == "tool_use"]
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": use.id,
                    "content": "4 °C",
                    "toolset_name": None,
                }
            ],
        },
    ]
    second = sdk.beta.messages.create(messages=messages, **options)
    assert second.stop_reason == "end_turn"
    assert emulator.requests()[-1]["body"]["anthropic_beta"] == ["token-efficient-tools-2025-02-19"]


def test_a_toolset_name_must_be_a_string(sdk):
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk.messages.create(
            model=OPUS,
            max_tokens=100,
            tools=[WEATHER],
            messages=[
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "input": {},
                            "name": "get_weather",
                            "toolset_name": 7,
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4 °C"}
                    ],
                },
            ],
        )
    expected = "messages.1.content.0.tool_use.toolset_name: Input should be a valid string"
    assert expected in str(caught.value)
