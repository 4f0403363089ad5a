"""Every tool call is validated by the signature's pydantic model before it runs: lax
coercion, constraints from `Annotated[..., Field(...)]`, and wrong input answered with
pydantic's messages so the model can retry (a real loop against the emulator)."""

from __future__ import annotations

import itertools
import json
from typing import Annotated

import pytest
from helpers import HAIKU as MODEL
from loop_helpers import make_send
from pydantic import Field
from test_tool_schemas import TYPE_TABLE, Color, Movie, Pair, Person, Point, Tree

from claude_magic.core.messages import text_block
from claude_magic.tools import (
    Approver,
    ToolError,
    ToolSet,
    call_with_input,
    run_tool_loop,
    tool_schema,
)

_ids = itertools.count(1)


def rate(
    stars: Annotated[int, Field(ge=1, le=5, description="One to five.")],
    tag: Annotated[str, Field(pattern=r"^[a-z]+$", max_length=8)] = "misc",
) -> str:
    """Rate something."""
    return f"{stars} stars ({tag})"


def _use(name: str, **tool_input) -> dict:
    return {
        "type": "tool_use",
        "id": f"toolu_bdrk_{next(_ids):08d}",
        "name": name,
        "input": tool_input,
    }


def _results(request: dict) -> list[dict]:
    return [b for b in request["body"]["messages"][-1]["content"] if b["type"] == "tool_result"]


def test_numeric_strings_are_coerced_in_lax_mode():
    seen = []

    def repeat(word: str, times: int, scale: float = 1.0, loud: bool = False) -> str:
        seen.append((times, scale, loud))
        return word * times

    assert (
        call_with_input(repeat, {"word": "ab", "times": "2", "scale": "0.5", "loud": "true"})
        == "abab"
    )
    assert seen == [(2, 0.5, True)] and type(seen[0][0]) is int
    with pytest.raises(
        ToolError,
        match="times: Input should be a valid integer, got a number with a fractional part",
    ):
        call_with_input(repeat, {"word": "ab", "times": 2.5})
    assert len(seen) == 1


def test_annotated_constraints_are_in_the_schema_and_enforced():
    props = tool_schema(rate)["input_schema"]["properties"]
    assert props["stars"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 5,
        "description": "One to five.",
    }
    assert props["tag"] == {
        "type": "string",
        "pattern": "^[a-z]+$",
        "maxLength": 8,
        "default": "misc",
    }
    assert call_with_input(rate, {"stars": 5, "tag": "film"}) == "5 stars (film)"
    with pytest.raises(ToolError) as info:
        call_with_input(rate, {"stars": 9, "tag": "Not-OK"})
    assert str(info.value).splitlines() == [
        "Invalid input for rate (not run):",
        "stars: Input should be less than or equal to 5 (got 9)",
        "tag: String should match pattern '^[a-z]+$' (got \"Not-OK\")",
    ]


def test_json_schema_keywords_in_annotated_are_enforced_too():
    def pick(n: Annotated[int, {"minimum": 0, "maximum": 9}]) -> int:
        return n

    with pytest.raises(
        ToolError, match="n: Input should be greater than or equal to 0 \\(got -1\\)"
    ):
        call_with_input(pick, {"n": -1})
    assert call_with_input(pick, {"n": "7"}) == 7


def test_wrong_types_are_not_run_and_the_model_retries(emulator, bedrock_client):
    runs = []

    def book(room: int, nights: Annotated[int, Field(ge=1)], guest: str) -> str:
        """Book a room."""
        runs.append((room, nights, guest))
        return f"Room {room} booked for {nights} night(s) for {guest}."

    toolset = ToolSet([book])
    wrong = _use("book", room="twelve", nights=0)
    emulator.script({"content": [text_block("Booking."), wrong], "stop_reason": "tool_use"})
    fixed = _use("book", room="12", nights=2, guest="Ann")
    emulator.script({"content": [text_block("Let me fix that."), fixed], "stop_reason": "tool_use"})
    emulator.script({"content": [text_block("Booked.")], "stop_reason": "end_turn"})
    answers = []
    result = run_tool_loop(
        make_send(bedrock_client, toolset, MODEL),
        [{"role": "user", "content": [text_block("Book room 12 for Ann, 2 nights.")]}],
        toolset,
        Approver(),
        on_result=lambda use, answer: answers.append(answer),
    )

    requests = emulator.requests()
    assert [r["status"] for r in requests] == [200, 200, 200]
    (refused,) = _results(requests[1])
    assert refused["tool_use_id"] == wrong["id"] and refused["is_error"] is True
    assert refused["content"].splitlines() == [
        "Invalid input for book (not run):",
        'room: Input should be a valid integer, unable to parse string as an integer (got "twelve")',
        "nights: Input should be greater than or equal to 1 (got 0)",
        "guest: Field required",
    ]
    (ran,) = _results(requests[2])
    assert ran["tool_use_id"] == fixed["id"] and "is_error" not in ran
    assert ran["content"] == "Room 12 booked for 2 night(s) for Ann."
    assert runs == [(12, 2, "Ann")]  # the wrong call never ran; "12" became 12
    assert result.final.text == "Booked." and result.steps == 2
    assert answers == [refused, ran]


def test_every_table_schema_is_accepted_by_the_emulator(emulator, bedrock_client):
    definitions = [{**tool_schema(func), "name": f"t{i}"} for i, (func, _) in enumerate(TYPE_TABLE)]

    def nested(
        tree: Tree,
        person: Person,
        points: list[Point],
        movie: Movie,
        pair: Pair,
        color: Color | None = None,
    ): ...

    definitions += [tool_schema(rate), tool_schema(nested)]
    assert "$defs" in definitions[-1]["input_schema"]  # recursive and pydantic-model references
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "tools": definitions,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    response = bedrock_client.invoke_model(modelId=MODEL, body=json.dumps(body))
    assert json.loads(response["body"].read())["role"] == "assistant"
