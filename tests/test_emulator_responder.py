"""The offline responder: honest, deterministic replies that obey max_tokens, stop
sequences, prefill and tools; token estimates; tool inputs that satisfy their schemas."""

from __future__ import annotations

import base64
import json

import pytest
from helpers import HAIKU as HAIKU_NOW_PROFILE
from helpers import png_b64

from claude_magic.core.messages import (
    Message,
    estimate_image_tokens,
    estimate_text_tokens,
    split_tokens,
)
from claude_magic.emulator.responder.reflect import HEADER
from claude_magic.emulator.responder.respond import estimate_input_tokens, respond
from claude_magic.emulator.responder.schema_instance import instance_for
from claude_magic.emulator.validation.request import check_body
from claude_magic.models.catalog import lookup

HAIKU = lookup("anthropic.claude-3-haiku-20240307-v1:0")
SONNET_V2 = lookup("us.anthropic.claude-3-5-sonnet-20241022-v2:0")
SONNET_4 = lookup("us.anthropic.claude-sonnet-4-20250514-v1:0")
HAIKU_NOW = lookup(HAIKU_NOW_PROFILE)
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["city"],
    },
}
CLOCK = {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}


def request(text="Hello there", model=HAIKU, **overrides):
    data = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": text}],
        **overrides,
    }
    check_body(model, data)  # every body here is one Bedrock would accept
    return data


def reply(data, model=HAIKU) -> Message:
    return respond(model, data)


def output_tokens_of(message: Message) -> int:
    total = 0
    for block in message.content:
        if block["type"] == "text":
            total += estimate_text_tokens(block["text"])
        elif block["type"] == "thinking":
            total += estimate_text_tokens(block["thinking"])
        else:
            total += 1 + estimate_text_tokens(
                json.dumps(block["input"], separators=(",", ":"), ensure_ascii=False)
            )
    return max(1, total)


# -- plain replies -------------------------------------------------------------------------


def test_reply_says_it_is_the_offline_emulator_and_quotes_the_user():
    data = request("What is the capital of France?", system="Answer in French.", temperature=0.3)
    message = reply(data)
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.role == "assistant" and message.model == "claude-3-haiku-20240307"
    assert message.id.startswith("msg_bdrk_01") and len(message.id) == len("msg_bdrk_01") + 22
    text = message.text
    assert text.splitlines()[0] == HEADER
    assert "> What is the capital of France?" in text
    assert "> Answer in French." in text
    assert "| temperature | 0.3 |" in text
    assert "| Turns | 1 user, 0 assistant |" in text
    assert message.usage.input_tokens == estimate_input_tokens(data)
    assert message.usage.output_tokens == estimate_text_tokens(text)


def test_turns_are_counted():
    messages = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
    ]
    text = reply(request(messages=messages)).text
    assert "| Turns | 2 user, 1 assistant |" in text
    assert "> three" in text and "> one" not in text


def test_long_user_text_is_truncated():
    text = reply(request("word " * 1000)).text
    quoted = [line for line in text.splitlines() if line.startswith("> ")]
    assert quoted[0].endswith(" …") and len(quoted[0]) < 700


def test_code_is_echoed_in_a_fenced_block():
    prompt = "Why does this fail?\n\n```python\ndef f(x):\n    return x +\n```"
    text = reply(request(prompt)).text
    assert "```python\ndef f(x):\n    return x +\n```" in text
    unfenced = "import numpy as np\ndata = np.arange(10)\nprint(data.mean())"
    assert (
        "```python\nimport numpy as np\ndata = np.arange(10)\nprint(data.mean())\n```"
        in reply(request(unfenced)).text
    )
    assert "```" not in reply(request("No code here, just words.")).text


def test_replies_are_deterministic():
    data = request("Same question", temperature=1)
    first, second = reply(data), reply(json.loads(json.dumps(data)))
    assert first.to_dict() == second.to_dict()
    assert reply(request("Another question")).id != first.id


# -- max_tokens and stop sequences ---------------------------------------------------------


@pytest.mark.parametrize("max_tokens", [1, 5, 17])
def test_max_tokens_truncates(max_tokens):
    full = reply(request("Tell me everything")).text
    message = reply(request("Tell me everything", max_tokens=max_tokens))
    assert message.stop_reason == "max_tokens" and message.stop_sequence is None
    assert message.text == "".join(split_tokens(full)[:max_tokens])
    assert message.usage.output_tokens == max_tokens


def test_stop_sequence_from_the_prompt():
    prompt = "Please repeat PINEAPPLE back to me"
    full = reply(request(prompt)).text
    message = reply(request(prompt, stop_sequences=["never-there", "PINEAPPLE"]))
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "PINEAPPLE"
    assert message.text == full[: full.index("PINEAPPLE")]
    assert "PINEAPPLE" not in message.text
    assert message.usage.output_tokens == estimate_text_tokens(message.text)


def test_earliest_stop_sequence_wins():
    message = reply(request("alpha beta", stop_sequences=["beta", "alpha"]))
    assert message.stop_sequence == "alpha"


def test_stop_sequence_absent_means_end_turn():
    message = reply(request("hello", stop_sequences=["ZZZ-not-in-reply"]))
    assert message.stop_reason == "end_turn" and message.stop_sequence is None


def test_max_tokens_before_the_stop_sequence():
    message = reply(request("Please repeat PINEAPPLE", stop_sequences=["PINEAPPLE"], max_tokens=3))
    assert message.stop_reason == "max_tokens" and message.stop_sequence is None


# -- prefill -------------------------------------------------------------------------------


def _prefilled(prefill, prompt="Describe yourself using only JSON"):
    return request(
        messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": prefill}]
    )


def test_prefill_json_object_is_completed():
    prefill = "Here is my JSON description:\n{"
    text = reply(_prefilled(prefill)).text
    assert not text.startswith(prefill)
    completed = json.loads("{" + text)
    assert completed["emulator"] == "offline"
    assert completed["prompt"] == "Describe yourself using only JSON"


def test_prefill_xml_tag_is_closed():
    text = reply(_prefilled("<emoji>", "Hello World")).text
    assert text.endswith("</emoji>") and "<emoji>" not in text


def test_prefill_sentence_is_continued_not_repeated():
    prefill = "If I had to pick, it would be green because"
    message = reply(_prefilled(prefill, "Favourite colour?"))
    assert prefill not in message.text
    assert message.text.startswith(" … ")
    assert "offline emulator" in message.text
    assert message.stop_reason == "end_turn"


# -- tool use ------------------------------------------------------------------------------


def test_forced_tool_choice_calls_the_tool():
    message = reply(
        request(
            "Weather please",
            tools=[WEATHER, CLOCK],
            tool_choice={"type": "tool", "name": "get_weather"},
        )
    )
    assert message.stop_reason == "tool_use"
    assert [b["type"] for b in message.content] == ["tool_use"]
    call = message.content[0]
    assert call["name"] == "get_weather" and call["id"].startswith("toolu_bdrk_01")
    assert isinstance(call["input"]["city"], str)
    assert message.usage.output_tokens == output_tokens_of(message)


def test_any_calls_the_first_tool_unless_one_is_named():
    assert (
        reply(request("Hi", tools=[WEATHER, CLOCK], tool_choice={"type": "any"})).tool_uses[0][
            "name"
        ]
        == "get_weather"
    )
    named = reply(
        request("what does get_time say?", tools=[WEATHER, CLOCK], tool_choice={"type": "any"})
    )
    assert [b["name"] for b in named.tool_uses] == ["get_time"]


def test_auto_calls_a_named_tool_after_a_short_text():
    message = reply(request("Use get_weather with city: Paris and days=3", tools=[WEATHER]))
    assert [b["type"] for b in message.content] == ["text", "tool_use"]
    assert message.content[0]["text"].startswith(HEADER)
    assert message.tool_uses[0]["input"] == {"city": "Paris", "days": 3}
    assert message.stop_reason == "tool_use"


def test_auto_without_naming_a_tool_just_answers():
    message = reply(request("Hello", tools=[WEATHER]))
    assert message.tool_uses == [] and message.stop_reason == "end_turn"
    assert "`get_weather`" in message.text


def test_tool_choice_none_never_calls():
    message = reply(request("call get_weather", tools=[WEATHER], tool_choice={"type": "none"}))
    assert message.tool_uses == [] and message.stop_reason == "end_turn"


def test_quoted_text_fills_the_required_string():
    top_song = {
        "name": "top_song",
        "input_schema": {
            "type": "object",
            "properties": {"sign": {"type": "string"}},
            "required": ["sign"],
        },
    }
    message = reply(request('What is the top_song on "WZPZ"?', tools=[top_song]))
    assert message.tool_uses[0]["input"] == {"sign": "WZPZ"}


def test_hints_that_break_the_schema_are_ignored():
    message = reply(request("get_weather with days=30", tools=[WEATHER]))
    assert 1 <= message.tool_uses[0]["input"].get("days", 1) <= 7


def test_parallel_tool_calls():
    both = reply(request("use get_weather and get_time", tools=[WEATHER, CLOCK]))
    assert [b["name"] for b in both.tool_uses] == ["get_weather", "get_time"]
    assert len({b["id"] for b in both.tool_uses}) == 2
    single = reply(
        request(
            "use get_weather and get_time",
            tools=[WEATHER, CLOCK],
            tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        )
    )
    assert [b["name"] for b in single.tool_uses] == ["get_weather"]


def test_no_room_for_the_tool_call_means_max_tokens():
    message = reply(request("use get_weather", tools=[WEATHER], max_tokens=20))
    assert message.stop_reason == "max_tokens" and message.tool_uses == []


def test_computer_use_actions():
    tools = [
        {
            "type": "computer_20241022",
            "name": "computer",
            "display_width_px": 1024,
            "display_height_px": 768,
        },
        {"type": "bash_20241022", "name": "bash"},
        {"type": "text_editor_20241022", "name": "str_replace_editor"},
    ]
    data = request(
        "Run `ls -la` with bash, then take a computer screenshot and open str_replace_editor",
        model=SONNET_V2,
        tools=tools,
        anthropic_beta=["computer-use-2024-10-22"],
    )
    inputs = {b["name"]: b["input"] for b in reply(data, SONNET_V2).tool_uses}
    assert inputs == {
        "computer": {"action": "screenshot"},
        "bash": {"command": "ls -la"},
        "str_replace_editor": {"command": "view", "path": "."},
    }
    plain = request(
        "use bash", model=SONNET_V2, tools=tools[1:2], anthropic_beta=["computer-use-2024-10-22"]
    )
    assert reply(plain, SONNET_V2).tool_uses[0]["input"] == {
        "command": "echo hello from the emulator"
    }


# -- tool results --------------------------------------------------------------------------


def _result_turns(*results):
    uses = [
        {"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": {}}
        for i, (name, _, _) in enumerate(results)
    ]
    answers = [
        {
            "type": "tool_result",
            "tool_use_id": f"toolu_{i}",
            "content": content,
            **({"is_error": True} if error else {}),
        }
        for i, (_, content, error) in enumerate(results)
    ]
    return [
        {"role": "user", "content": "Weather and time?"},
        {"role": "assistant", "content": uses},
        {"role": "user", "content": answers},
    ]


def test_tool_results_are_answered_and_the_turn_ends():
    messages = _result_turns(
        ("get_weather", "Sunny, 21 °C", False),
        ("get_time", [{"type": "text", "text": "clock is broken"}], True),
    )
    message = reply(request(messages=messages, tools=[WEATHER, CLOCK], tool_choice={"type": "any"}))
    assert message.stop_reason == "end_turn" and message.tool_uses == []
    text = message.text
    assert text.startswith(HEADER)
    assert "`get_weather` (`toolu_0`):" in text and "> Sunny, 21 °C" in text
    assert "`get_time` (`toolu_1`) reported an error:" in text and "> clock is broken" in text


def test_image_tool_results_are_described():
    screenshot = [
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": png_b64(size=(300, 200)),
            },
        }
    ]
    messages = _result_turns(("get_weather", screenshot, False))
    text = reply(request(messages=messages, tools=[WEATHER])).text
    assert "image: PNG, 300 × 200 px" in text


# -- attachments and token estimates -------------------------------------------------------


def test_images_are_described_with_their_real_size():
    blocks = [
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": png_b64(size=(123, 45)),
            },
        },
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/jpeg",
                "data": png_b64(size=(640, 480), fmt="JPEG"),
            },
        },
        {"type": "text", "text": "Compare these"},
    ]
    text = reply(request(blocks)).text
    assert "Image 1: PNG, 123 × 45 px" in text
    assert f"≈ {estimate_image_tokens(123, 45)} input tokens" in text
    assert "Image 2: JPEG, 640 × 480 px" in text
    assert f"≈ {estimate_image_tokens(640, 480)} input tokens" in text


def test_documents_are_described():
    pdf = (
        b"%PDF-1.4\n1 0 obj << /Type /Pages /Count 3 >> endobj\n"
        + b"<< /Type /Page >>\n" * 3
        + b"%%EOF"
    )
    blocks = [
        {
            "type": "document",
            "name": "report",
            "source": {
                "type": "base64",
                "media_type": "application/pdf",
                "data": base64.b64encode(pdf).decode(),
            },
        },
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "one two three"},
        },
        {"type": "text", "text": "Summarise"},
    ]
    text = reply(request(blocks, model=SONNET_V2), SONNET_V2).text
    assert "Document 1: PDF (report), 3 pages" in text
    assert "Document 2: plain text, 3 words, 13 B" in text


def test_input_token_estimate():
    base = request("Hello there, how are you?")
    text_only = estimate_input_tokens(base)
    assert text_only == estimate_text_tokens("Hello there, how are you?") + 3
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": png_b64(size=(750, 100))},
    }
    with_image = request([image, {"type": "text", "text": "Hello there, how are you?"}])
    assert estimate_input_tokens(with_image) == text_only + 100
    with_system = request("Hello there, how are you?", system="Be brief.")
    assert estimate_input_tokens(with_system) == text_only + estimate_text_tokens("Be brief.")
    with_tools = request("Hello there, how are you?", tools=[WEATHER])
    assert estimate_input_tokens(with_tools) > text_only + 20


def test_thinking_block_comes_first():
    data = request(
        "Think hard",
        model=SONNET_4,
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
    )
    message = reply(data, SONNET_4)
    assert [b["type"] for b in message.content] == ["thinking", "text"]
    assert message.content[0]["signature"]
    assert message.usage.output_tokens == output_tokens_of(message)


# -- schema instances ----------------------------------------------------------------------

SCHEMAS = {
    "required string": {
        "type": "object",
        "properties": {"sign": {"type": "string"}},
        "required": ["sign"],
    },
    "enum": {
        "type": "object",
        "properties": {"unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["unit"],
    },
    "integer bounds": {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 10, "maximum": 12}},
        "required": ["n"],
    },
    "exclusive number": {
        "type": "object",
        "properties": {
            "x": {
                "type": "number",
                "exclusiveMinimum": 0,
                "exclusiveMaximum": 0.5,
                "multipleOf": 0.1,
            }
        },
        "required": ["x"],
    },
    "negative range": {
        "type": "object",
        "properties": {"t": {"type": "integer", "maximum": -5}},
        "required": ["t"],
    },
    "nested": {
        "type": "object",
        "required": ["location"],
        "properties": {
            "location": {
                "type": "object",
                "required": ["lat", "lon"],
                "properties": {
                    "lat": {"type": "number", "minimum": -90, "maximum": 90},
                    "lon": {"type": "number", "minimum": -180, "maximum": 180},
                },
            }
        },
    },
    "array": {
        "type": "object",
        "required": ["tags"],
        "properties": {
            "tags": {
                "type": "array",
                "items": {"type": "string", "minLength": 3},
                "minItems": 3,
                "uniqueItems": True,
            }
        },
    },
    "array of enums": {
        "type": "object",
        "required": ["days"],
        "properties": {
            "days": {
                "type": "array",
                "items": {"enum": ["mon", "tue", "wed"]},
                "minItems": 2,
                "uniqueItems": True,
            }
        },
    },
    "pattern": {
        "type": "object",
        "required": ["code"],
        "properties": {"code": {"type": "string", "pattern": "^[A-Z]{4}-\\d{2,3}$"}},
    },
    "pattern with branches": {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "string", "pattern": "^(usr|grp)_[a-f0-9]{8}$"}},
    },
    "formats": {
        "type": "object",
        "required": ["when", "email", "site", "uid"],
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "email": {"type": "string", "format": "email"},
            "site": {"type": "string", "format": "uri"},
            "uid": {"type": "string", "format": "uuid"},
        },
    },
    "lengths": {
        "type": "object",
        "required": ["s"],
        "properties": {"s": {"type": "string", "minLength": 12, "maxLength": 14}},
    },
    "refs": {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"$ref": "#/$defs/point"}},
        "$defs": {
            "point": {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer"}}}
        },
    },
    "definitions": {
        "type": "object",
        "required": ["p"],
        "properties": {"p": {"$ref": "#/definitions/pos"}},
        "definitions": {"pos": {"type": "integer", "exclusiveMinimum": 100}},
    },
    "anyOf with null": {
        "type": "object",
        "required": ["v"],
        "properties": {"v": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 5}]}},
    },
    "oneOf objects": {
        "type": "object",
        "required": ["shape"],
        "properties": {
            "shape": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["r"],
                        "properties": {"r": {"type": "number", "minimum": 1}},
                    },
                    {
                        "type": "object",
                        "required": ["w", "h"],
                        "properties": {"w": {"type": "number"}, "h": {"type": "number"}},
                    },
                ]
            }
        },
    },
    "allOf": {
        "type": "object",
        "allOf": [
            {"properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
        ],
    },
    "defaults and const": {
        "type": "object",
        "required": ["mode", "kind"],
        "properties": {
            "mode": {"type": "string", "default": "fast", "enum": ["fast", "slow"]},
            "kind": {"const": 3},
        },
    },
    "type list": {
        "type": "object",
        "required": ["q"],
        "properties": {"q": {"type": ["null", "integer"], "minimum": 2}},
    },
    "min properties": {
        "type": "object",
        "minProperties": 2,
        "properties": {"a": {"type": "boolean"}, "b": {"type": "integer"}, "c": {"type": "string"}},
    },
    "tuple": {
        "type": "object",
        "required": ["pair"],
        "properties": {
            "pair": {
                "type": "array",
                "prefixItems": [{"type": "string"}, {"type": "integer"}],
                "minItems": 2,
            }
        },
    },
    "array of objects": {
        "type": "object",
        "required": ["rows"],
        "properties": {
            "rows": {
                "type": "array",
                "minItems": 2,
                "items": {
                    "type": "object",
                    "required": ["name", "qty"],
                    "properties": {
                        "name": {"type": "string"},
                        "qty": {"type": "integer", "minimum": 1, "multipleOf": 5},
                    },
                },
            }
        },
    },
    "recursive": {
        "type": "object",
        "required": ["node"],
        "$defs": {
            "node": {
                "type": "object",
                "required": ["value"],
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
            }
        },
        "properties": {"node": {"$ref": "#/$defs/node"}},
    },
    "empty": {"type": "object"},
}


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_tool_input_satisfies_the_schema(name):
    from jsonschema import Draft202012Validator

    schema = SCHEMAS[name]
    value = instance_for(schema)
    Draft202012Validator(schema).validate(value)
    tool = {"name": "tool_x", "input_schema": schema}
    message = reply(request("please", tools=[tool], tool_choice={"type": "any"}))
    Draft202012Validator(schema).validate(message.tool_uses[0]["input"])


def test_schema_hints_are_used_when_they_fit():
    from jsonschema import Draft202012Validator

    schema = SCHEMAS["integer bounds"]
    assert instance_for(schema, {"n": 11}) == {"n": 11}
    assert instance_for(schema, {"n": 99}) == {"n": 10}
    pattern = SCHEMAS["pattern"]
    assert instance_for(pattern, {"code": "ABCD-123"}) == {"code": "ABCD-123"}
    Draft202012Validator(pattern).validate(instance_for(pattern, {"code": "nope"}))


# -- through a real boto3 client ------------------------------------------------------------


def test_boto3_invoke_gets_the_offline_reply(bedrock_client):
    data = request("Hello from boto3", max_tokens=300)
    response = bedrock_client.invoke_model(modelId=HAIKU_NOW_PROFILE, body=json.dumps(data))
    payload = json.loads(response["body"].read())
    assert payload["content"][0]["text"].startswith(HEADER)
    assert "> Hello from boto3" in payload["content"][0]["text"]
    assert payload == respond(HAIKU_NOW, data).to_dict()


def test_boto3_stream_carries_the_tool_call(bedrock_client):
    data = request("Use get_weather with city: Oslo", tools=[WEATHER])
    response = bedrock_client.invoke_model_with_response_stream(
        modelId=HAIKU_NOW_PROFILE, body=json.dumps(data)
    )
    events = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    partial = "".join(
        e["delta"]["partial_json"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(partial) == {"city": "Oslo"}
    stop = next(e for e in events if e["type"] == "message_delta")
    assert stop["delta"]["stop_reason"] == "tool_use"


def test_boto3_stop_sequence(bedrock_client):
    data = request("Say MANGO now", stop_sequences=["MANGO"])
    payload = json.loads(
        bedrock_client.invoke_model(modelId=HAIKU_NOW_PROFILE, body=json.dumps(data))["body"].read()
    )
    assert payload["stop_reason"] == "stop_sequence" and payload["stop_sequence"] == "MANGO"
    assert "MANGO" not in payload["content"][0]["text"]
