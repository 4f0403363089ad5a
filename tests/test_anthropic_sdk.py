"""The newest anthropic SDK (2.x), unmodified, against the emulator: AnthropicBedrock
pointed at the emulator's URL sends `anthropic_version: "2026-10-21"` and echoes tool-use
blocks back with their fields; Bedrock's rules reach it as the SDK's own errors."""

from __future__ import annotations

import anthropic
import pytest
from anthropic import AnthropicBedrock

OPUS = "us.anthropic.claude-opus-4-7"  # takes the SDK's API version (Claude 4.7 and later)
WEATHER = {"name": "get_weather", "description": "Weather for a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}


@pytest.fixture
def sdk(emulator):
    return AnthropicBedrock(base_url=emulator.url, aws_region="us-east-1", aws_access_key="testing",
                            aws_secret_key="testing", max_retries=0)


def test_sdk_is_the_2x_release():
    assert int(anthropic.__version__.split(".")[0]) >= 2


def test_create(sdk, emulator):
    message = sdk.messages.create(model=OPUS, max_tokens=300,
                                  messages=[{"role": "user", "content": "Hello from the SDK"}])
    assert message.role == "assistant" and message.stop_reason == "end_turn"
    assert "Hello from the SDK" in message.content[0].text
    request = emulator.requests()[-1]
    assert request["operation"] == "InvokeModel" and request["model_id"] == OPUS
    assert request["body"]["anthropic_version"] == "2026-10-21"


def test_stream(sdk, emulator):
    emulator.script("Streamed words, one after another.")
    with sdk.messages.stream(model=OPUS, max_tokens=300,
                             messages=[{"role": "user", "content": "Stream please"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Streamed words, one after another." == final.content[0].text
    assert final.usage.output_tokens > 0
    assert emulator.requests()[-1]["operation"] == "InvokeModelWithResponseStream"


def test_tool_use_with_the_sdks_own_echo_of_the_assistant_turn(sdk, emulator):
    emulator.script({"content": [{"type": "tool_use", "id": "toolu_sdk1", "name": "get_weather",
                                  "input": {"city": "Oslo"}, "caller": {"type": "direct"}}],
                     "stop_reason": "tool_use"})
    question = {"role": "user", "content": "Weather in Oslo?"}
    first = sdk.messages.create(model=OPUS, max_tokens=300, tools=[WEATHER], messages=[question])
    assert first.stop_reason == "tool_use"
    use = first.content[0]
    assert (use.name, use.input) == ("get_weather", {"city": "Oslo"})
    second = sdk.messages.create(
        model=OPUS, max_tokens=300, tools=[WEATHER],
        messages=[question, {"role": "assistant", "content": first.content},  # the SDK's blocks
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                                "content": "4 °C, light snow"}]}])
    assert second.stop_reason == "end_turn"
    echoed = emulator.requests()[-1]["body"]["messages"][1]["content"][0]
    assert echoed["type"] == "tool_use" and echoed["caller"] == {"type": "direct"}
    assert [r["status"] for r in emulator.requests()] == [200, 200]


def test_older_models_refuse_the_sdks_api_version(sdk):
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk.messages.create(model="us.anthropic.claude-sonnet-4-5-20250929-v1:0", max_tokens=100,
                            messages=[{"role": "user", "content": "Hi"}])
    assert "Invalid API version: 2026-10-21" in str(caught.value)


def test_sampling_rule_reaches_the_sdk(sdk):
    """The 2.x SDK has no `temperature` parameter any more; sent anyway, Bedrock refuses it."""
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk.messages.create(model="global.anthropic.claude-opus-5", max_tokens=100,
                            extra_body={"temperature": 0.2},
                            messages=[{"role": "user", "content": "Hi"}])
    assert "`temperature` is deprecated for this model" in str(caught.value)
