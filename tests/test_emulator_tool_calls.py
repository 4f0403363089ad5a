"""Which tool the emulator calls and with what input: the tool a prompt asks for (or the one
`tool_choice` forces), with values taken from the prompt, optional properties filled when the
prompt gives them or the input would be empty; always valid against the tool's schema.
Through real clients: boto3, the anthropic SDK, langchain-aws."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from helpers import HAIKU, SONNET
from jsonschema import Draft202012Validator

from claude_magic.emulator.responder.reflect import HEADER

OPUS = "us.anthropic.claude-opus-4-7"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {
        "type": "object",
        "required": ["city"],
        "properties": {
            "city": {"type": "string", "description": "The city's name."},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
    },
}
CLOCK = {
    "name": "get_time",
    "description": "The current time in a timezone.",
    "input_schema": {
        "type": "object",
        "required": ["timezone"],
        "properties": {"timezone": {"type": "string"}},
    },
}
FLIGHTS = {
    "name": "book_flight",
    "description": "Book a flight between two airports.",
    "input_schema": {
        "type": "object",
        "required": ["origin", "destination", "date"],
        "properties": {
            "origin": {"type": "string"},
            "destination": {"type": "string"},
            "date": {"type": "string", "format": "date"},
            "passengers": {"type": "integer", "minimum": 1},
        },
    },
}
PERSON = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
}
# How chatlas asks for structured data: one forced tool whose `data` property is optional.
EXTRACT = {
    "name": "_structured_tool_call",
    "description": "Extract structured data",
    "input_schema": {"type": "object", "properties": {"data": PERSON}},
}


def invoke(client, text, tools, model=HAIKU, **fields):
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1000,
        "tools": tools,
        "messages": [{"role": "user", "content": text}],
        **fields,
    }
    response = client.invoke_model(modelId=model, body=json.dumps(body))
    return json.loads(response["body"].read())


def calls(payload):
    """(name, input) of each tool call, each input checked against its tool's schema."""
    return [(b["name"], b["input"]) for b in payload["content"] if b["type"] == "tool_use"]


def check_inputs(payload, tools):
    schemas = {t["name"]: t["input_schema"] for t in tools}
    for name, value in calls(payload):
        Draft202012Validator(schemas[name]).validate(value)


# -- which tool ----------------------------------------------------------------------------


def test_auto_calls_the_tool_the_prompt_asks_for(bedrock_client):
    tools = [WEATHER, CLOCK]
    payload = invoke(bedrock_client, "What is the weather in San Francisco, CA?", tools)
    assert calls(payload) == [("get_weather", {"city": "San Francisco, CA"})]
    assert payload["stop_reason"] == "tool_use"
    assert payload["content"][0]["text"].startswith(HEADER)
    payload = invoke(bedrock_client, "What time is it in Tokyo right now?", tools)
    assert calls(payload) == [("get_time", {"timezone": "Tokyo"})]


def test_auto_with_an_unrelated_prompt_answers_in_text(bedrock_client):
    payload = invoke(bedrock_client, "Write a haiku about autumn leaves.", [WEATHER, CLOCK])
    assert calls(payload) == [] and payload["stop_reason"] == "end_turn"
    assert payload["content"][0]["text"].startswith(HEADER)


def test_auto_with_a_prompt_that_fits_two_tools_equally_answers_in_text(bedrock_client):
    rain = {**WEATHER, "name": "get_rain", "description": "Rain forecast for a city."}
    tie = invoke(bedrock_client, "Tell me about the city of Paris.", [WEATHER, rain])
    assert calls(tie) == []
    clear = invoke(bedrock_client, "Will it rain in Paris tomorrow?", [WEATHER, rain])
    assert calls(clear) == [("get_rain", {"city": "Paris"})]


def test_any_calls_the_tool_the_prompt_asks_for(bedrock_client):
    payload = invoke(
        bedrock_client, "What time is it in Tokyo?", [WEATHER, CLOCK], tool_choice={"type": "any"}
    )
    assert calls(payload) == [("get_time", {"timezone": "Tokyo"})]
    assert [b["type"] for b in payload["content"]] == ["tool_use"]


def test_none_never_calls_a_tool(bedrock_client):
    payload = invoke(
        bedrock_client,
        "Use get_weather: what is the weather in Oslo?",
        [WEATHER],
        tool_choice={"type": "none"},
    )
    assert calls(payload) == [] and payload["stop_reason"] == "end_turn"


# -- values from the prompt ----------------------------------------------------------------


def test_values_come_from_the_prompt(bedrock_client):
    payload = invoke(
        bedrock_client,
        "Book a flight from Paris to Rome on 2026-05-01 for 2 passengers.",
        [FLIGHTS],
    )
    assert calls(payload) == [
        (
            "book_flight",
            {"origin": "Paris", "destination": "Rome", "date": "2026-05-01", "passengers": 2},
        )
    ]


def test_optional_properties_are_filled_when_the_prompt_gives_them(bedrock_client):
    given = invoke(bedrock_client, "Weather in Oslo in fahrenheit for the next 3 days?", [WEATHER])
    assert calls(given) == [("get_weather", {"city": "Oslo", "unit": "fahrenheit", "days": 3})]
    absent = invoke(bedrock_client, "Weather in Oslo?", [WEATHER])
    assert calls(absent) == [("get_weather", {"city": "Oslo"})]
    out_of_range = invoke(bedrock_client, "Weather in Oslo for 30 days?", [WEATHER])
    assert calls(out_of_range) == [("get_weather", {"city": "Oslo"})]


@pytest.mark.parametrize(
    "schema",
    [
        PERSON,
        {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}},
        {
            "type": "object",
            "properties": {"person": {"$ref": "#/$defs/person"}},
            "$defs": {"person": PERSON},
        },
    ],
)
def test_a_forced_tool_is_filled_from_the_prompt(bedrock_client, schema):
    tool = {"name": "record", "description": "Record a person.", "input_schema": schema}
    payload = invoke(
        bedrock_client,
        "Anna is 31 years old.",
        [tool],
        tool_choice={"type": "tool", "name": "record"},
    )
    check_inputs(payload, [tool])
    ((_, value),) = calls(payload)
    person = value.get("person", value)
    assert person == {"name": "Anna", "age": 31}


def test_the_optional_data_object_of_structured_extraction_is_filled(emulator):
    from anthropic import AnthropicBedrock

    sdk = AnthropicBedrock(
        base_url=emulator.url,
        aws_region="us-east-1",
        aws_access_key="testing",
        aws_secret_key="testing",
        max_retries=0,
    )
    message = sdk.messages.create(
        model=OPUS,
        max_tokens=500,
        tools=[EXTRACT],
        tool_choice={"type": "tool", "name": "_structured_tool_call"},
        messages=[{"role": "user", "content": "Extract the person: John is 25 years old."}],
    )
    (call,) = message.content
    Draft202012Validator(EXTRACT["input_schema"]).validate(call.input)
    assert call.input == {"data": {"name": "John", "age": 25}}


# -- langchain-aws -------------------------------------------------------------------------


@pytest.fixture(params=["ChatBedrockConverse", "ChatBedrock"])
def chat_model(request, aws_env, emulator):
    """langchain-aws's two chat models on the emulator: Converse and InvokeModel."""
    import langchain_aws

    cls = getattr(langchain_aws, request.param)
    key = "model" if request.param == "ChatBedrockConverse" else "model_id"
    return lambda **kw: cls(
        **{key: SONNET}, region_name="us-east-1", endpoint_url=emulator.url, **kw
    )


def magic_function(input: int) -> int:  # noqa: A002 - langchain's standard test uses this name
    """Apply a magic function to an input."""
    return input + 2


def adder(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def classify_query(query_type: Literal["cat", "dog"]) -> None:
    """Classify a query as related to cats or dogs."""


def get_weather(location: str) -> str:
    """Get the weather at a location."""
    return "It's sunny."


def test_langchain_forced_tool_takes_the_number_from_the_prompt(chat_model):
    llm = chat_model().bind_tools([magic_function], tool_choice="any")
    query = "What is the value of magic_function(3)? Use the tool."
    assert [(c["name"], c["args"]) for c in llm.invoke(query).tool_calls] == [
        ("magic_function", {"input": 3})
    ]
    streamed = None
    for chunk in llm.stream(query):
        streamed = chunk if streamed is None else streamed + chunk
    assert [c["args"] for c in streamed.tool_calls] == [{"input": 3}]
    assert llm.bind_tools([adder], tool_choice="any").invoke("What is 3 + 4").tool_calls[0][
        "args"
    ] == {"a": 3, "b": 4}


def test_langchain_enum_member_from_the_prompt(chat_model):
    llm = chat_model().bind_tools([classify_query], tool_choice="any")
    assert llm.invoke("How big are dogs?").tool_calls[0]["args"] == {"query_type": "dog"}


def test_langchain_agent_loop_with_auto_tool_choice(chat_model):
    from langchain_core.messages import HumanMessage, ToolMessage

    llm = chat_model().bind_tools([get_weather])
    question = HumanMessage("What is the weather in San Francisco, CA?")
    call_message = llm.invoke([question])
    (call,) = call_message.tool_calls
    assert (call["name"], call["args"]) == ("get_weather", {"location": "San Francisco, CA"})
    answer = llm.invoke(
        [question, call_message, ToolMessage(get_weather(**call["args"]), tool_call_id=call["id"])]
    )
    assert answer.tool_calls == [] and "It's sunny." in answer.text
    assert llm.invoke("Hello!").tool_calls == []


def test_langchain_structured_output_with_optional_fields(chat_model):
    from pydantic import BaseModel

    class Person(BaseModel):
        """A person mentioned in the text."""

        name: str | None = None
        age: int | None = None

    person = chat_model().with_structured_output(Person).invoke("Anna is 31 years old.")
    assert person == Person(name="Anna", age=31)


def test_langchain_structured_output_without_forced_tool_choice(aws_env, emulator):
    """With thinking on, langchain cannot force the tool: the prompt alone must lead to it."""
    from langchain_aws import ChatBedrockConverse
    from langchain_core.exceptions import OutputParserException
    from pydantic import BaseModel, Field

    class ClassifyQuery(BaseModel):
        """Classify a query."""

        query_type: Literal["cat", "dog"] = Field(
            description="Classify a query as related to cats or dogs."
        )

    llm = ChatBedrockConverse(
        model=SONNET,
        region_name="us-east-1",
        endpoint_url=emulator.url,
        max_tokens=5000,
        additional_model_request_fields={"thinking": {"type": "enabled", "budget_tokens": 2000}},
    )
    with pytest.warns(match="structured output"):
        structured = llm.with_structured_output(ClassifyQuery)
    assert structured.invoke("How big are dogs?") == ClassifyQuery(query_type="dog")
    with pytest.raises(OutputParserException):
        structured.invoke("Hello!")
