"""`--json SCHEMA`: output_config.format, a forced tool, or an asked-for tool with a retry;
the answer validated and stored as Python data; a failing answer stores nothing."""

from __future__ import annotations

import json

import pytest
from magic_helpers import last_body

from claude_magic.core.structured import TOOL_NAME
from claude_magic.models import catalog

DEFS = """
import dataclasses
from typing import TypedDict
import pydantic

CITY = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"]}

class Trip(pydantic.BaseModel):
    city: str
    days: int

@dataclasses.dataclass
class Point:
    x: float
    y: float

class Pair(TypedDict):
    a: str
    b: int
"""


@pytest.fixture
def shell(shell):
    shell.run(DEFS)
    return shell


def _ok(run):
    assert run.success, run.stdout + run.stderr
    return run


def test_dict_schema_via_output_format(shell, emulator):
    run = _ok(shell.ask("-m sonnet-4.5 --json CITY --out trip", "A trip: city: Lisbon, days=3"))
    body = last_body(emulator)
    schema = body["output_config"]["format"]["schema"]
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert schema["additionalProperties"] is False and "tools" not in body
    assert shell.ip.user_ns["trip"] == {"city": "Lisbon", "days": 3}
    assert "output_config.format" in run.stdout


def test_pydantic_model_via_a_forced_tool(shell, emulator):
    run = _ok(shell.ask("-m opus-4.7 --json Trip --out trip", "Plan: city: Porto, days=2"))
    body = last_body(emulator)
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    assert body["tools"][0]["input_schema"]["properties"]["days"]["type"] == "integer"
    assert "output_config" not in body
    trip = shell.ip.user_ns["trip"]
    assert type(trip).__name__ == "Trip" and (trip.city, trip.days) == ("Porto", 2)
    assert "forced tool" in run.stdout
    # kept as JSON text: the next turn, without the tool, sends no tool blocks
    _ok(shell.ask("-m opus-4.7", "Thanks"))
    messages = last_body(emulator)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert json.loads(messages[1]["content"][0]["text"].strip("`json\n")) == {
        "city": "Porto",
        "days": 2,
    }


def test_dataclass_with_thinking_asks_for_the_tool(shell, emulator):
    run = _ok(shell.ask("-m sonnet-5 --effort low --json Point --out p", "A point: x=1.5, y=2"))
    body = last_body(emulator)
    assert "tool_choice" not in body and body["tools"][0]["name"] == TOOL_NAME
    assert TOOL_NAME in body["messages"][0]["content"][-1]["text"]
    point = shell.ip.user_ns["p"]
    assert type(point).__name__ == "Point" and (point.x, point.y) == (1.5, 2.0)
    assert "asked, not forced" in run.stdout


def test_typeddict_where_forced_tools_are_refused_retries_once(shell, emulator):
    emulator.script({"content": "I'd rather just say it: a and 1."})
    run = _ok(shell.ask("-m opus-5.5 --json Pair --out pair", "A pair: a: hi, b=4"))
    requests = [r["body"] for r in emulator.requests()]
    assert len(requests) == 2 and "tool_choice" not in requests[0]
    assert "does not match the schema" in requests[1]["messages"][-1]["content"][0]["text"]
    pair = shell.ip.user_ns["pair"]
    assert set(pair) == {"a", "b"} and isinstance(pair["a"], str) and isinstance(pair["b"], int)
    assert "asked, not forced" in run.stdout


def test_failing_validation_is_shown_and_nothing_stored(shell, emulator):
    emulator.script({"content": json.dumps({"city": "Rome", "days": "three"})})
    run = shell.ask("-m sonnet-4.5 --json CITY --out trip", "A trip")
    assert not run.success
    assert "does not match CITY: days: 'three' is not of type 'integer'" in str(run.error)
    assert (run.stdout + run.stderr).count(str(run.error)) == 1  # shown by the answer, once
    assert "trip" not in shell.ip.user_ns
    assert len(shell.magic.session.chats.get().turns) == 1  # the reply is kept


def test_unknown_or_unusable_schema(shell, emulator):
    run = shell.ask("-m sonnet-4.5 --json NOPE", "Hi")
    assert not run.success and "no variable" in str(run.error)
    shell.run("N = 5")
    run = shell.ask("-m sonnet-4.5 --json N", "Hi")
    assert not run.success and "pydantic model" in str(run.error)
    assert emulator.requests() == []


def test_emulator_output_format_rules(bedrock_client):
    from botocore.exceptions import ClientError

    def call(model, schema):
        body = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "Hi"}],
            "output_config": {"format": {"type": "json_schema", "schema": schema}},
        }
        invoke_id = catalog.resolve(model).invoke_id
        return bedrock_client.invoke_model(modelId=invoke_id, body=json.dumps(body))

    closed = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    reply = json.loads(call("haiku-4.5", closed)["body"].read())
    assert isinstance(json.loads(reply["content"][0]["text"])["n"], int)
    with pytest.raises(ClientError) as info:
        call("opus-4.7", closed)
    assert "structured outputs are not supported" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        call("haiku-4.5", {"type": "object", "properties": {}})
    assert (
        "'additionalProperties' must be explicitly set to false"
        in info.value.response["Error"]["Message"]
    )
