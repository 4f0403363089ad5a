"""Unmodified third-party Bedrock clients that speak Converse, against the emulator:
LiteLLM's `bedrock/converse/` route and langchain-aws's ChatBedrockConverse."""

from __future__ import annotations

import pytest
from helpers import HAIKU


@pytest.fixture
def litellm(aws_env, monkeypatch):
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no cost-map download
    monkeypatch.setenv("AWS_REGION_NAME", "us-east-1")
    import litellm

    return litellm


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city's name
    """
    return f"sunny in {city}"


def test_litellm_completion(litellm, emulator):
    response = litellm.completion(
        model=f"bedrock/converse/{HAIKU}",
        aws_bedrock_runtime_endpoint=emulator.url,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello LiteLLM"},
        ],
        max_tokens=500,
    )
    assert "Hello LiteLLM" in response.choices[0].message.content
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    (entry,) = emulator.requests()
    assert entry["operation"] == "Converse" and entry["status"] == 200
    assert entry["body"]["system"] == [{"text": "Be brief."}]
    assert entry["invoke_body"]["max_tokens"] == 500


def test_litellm_streaming(litellm, emulator):
    chunks = list(
        litellm.completion(
            model=f"bedrock/converse/{HAIKU}",
            aws_bedrock_runtime_endpoint=emulator.url,
            messages=[{"role": "user", "content": "Stream to LiteLLM"}],
            stream=True,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "Stream to LiteLLM" in text
    assert any(c.choices[0].finish_reason == "stop" for c in chunks)
    assert [e["operation"] for e in emulator.requests()] == ["ConverseStream"]


def test_litellm_tool_call(litellm, emulator):
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather.",
            "parameters": {
                "type": "object",
                "required": ["city"],
                "properties": {"city": {"type": "string"}},
            },
        },
    }
    response = litellm.completion(
        model=f"bedrock/converse/{HAIKU}",
        aws_bedrock_runtime_endpoint=emulator.url,
        messages=[{"role": "user", "content": "Use get_weather for city: Lima"}],
        tools=[tool],
    )
    (call,) = response.choices[0].message.tool_calls
    assert call.function.name == "get_weather" and '"Lima"' in call.function.arguments
    assert response.choices[0].finish_reason == "tool_calls"


def test_langchain_chat_bedrock_converse_with_a_tool(aws_env, emulator):
    from langchain_aws import ChatBedrockConverse
    from langchain_core.messages import HumanMessage, ToolMessage

    llm = ChatBedrockConverse(model=HAIKU, region_name="us-east-1", endpoint_url=emulator.url)
    with_tools = llm.bind_tools([get_weather])
    question = HumanMessage("Use get_weather for city: Rome")
    reply = with_tools.invoke([question])
    (call,) = reply.tool_calls
    assert call["name"] == "get_weather" and call["args"] == {"city": "Rome"}
    assert reply.usage_metadata["input_tokens"] > 0
    answer = with_tools.invoke(
        [question, reply, ToolMessage(get_weather(**call["args"]), tool_call_id=call["id"])]
    )
    assert "sunny in Rome" in answer.text
    first, second = emulator.requests()
    assert first["operation"] == second["operation"] == "Converse"
    assert second["body"]["messages"][2]["content"][0]["toolResult"]["toolUseId"] == call["id"]

    streamed = "".join(chunk.text for chunk in llm.stream("Stream to langchain"))
    assert "Stream to langchain" in streamed
    assert emulator.requests()[-1]["operation"] == "ConverseStream"


def test_langchain_finds_the_emulator_through_boto3s_environment(aws_env, emulator, monkeypatch):
    from langchain_aws import ChatBedrockConverse

    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", emulator.url)
    reply = ChatBedrockConverse(model=HAIKU, region_name="us-east-1").invoke(
        "Hello through the environment"
    )
    assert "Hello through the environment" in reply.text
    assert [e["operation"] for e in emulator.requests()] == ["Converse"]
