"""Folding recorded Bedrock streaming events into a Message."""

from __future__ import annotations

import json

import pytest

from claude_magic.core.messages import Message
from claude_magic.core.stream import (
    PARTIAL_JSON,
    StreamError,
    close_interrupted,
    decode_chunk,
    fold_event,
    lenient_partial_json,
)

TOOL_INPUT = {"location": "San Francisco, CA", "unit": "celsius"}


def recorded_events() -> list[dict]:
    """The recorded sequence of bedrock-claude.md §2, tool input split in fragments."""
    raw_input = json.dumps(TOOL_INPUT)
    fragments = [raw_input[i : i + 7] for i in range(0, len(raw_input), 7)]
    return [
        {
            "type": "message_start",
            "message": {
                "id": "msg_bdrk_01",
                "type": "message",
                "role": "assistant",
                "model": "claude-3-sonnet-20240229",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 392,
                    "output_tokens": 4,
                    "cache_creation_input_tokens": None,
                    "cache_read_input_tokens": None,
                },
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Certainly! I"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": " will check."},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_bdrk_01",
                "name": "get_weather",
                "input": {},
            },
        },
        *[
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": f},
            }
            for f in fragments
        ],
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 134, "cache_read_input_tokens": None},
        },
        {
            "type": "message_stop",
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 392,
                "outputTokenCount": 90,
                "invocationLatency": 3722,
                "firstByteLatency": 779,
            },
        },
    ]


def fold_all(events: list[dict]) -> Message:
    message = Message()
    for event in events:
        assert fold_event(message, event) is message
    return message


def test_recorded_sequence_folds_into_the_full_message():
    message = fold_all(recorded_events())
    assert message.id == "msg_bdrk_01"
    assert message.model == "claude-3-sonnet-20240229"
    assert message.text == "Certainly! I will check."
    assert message.tool_uses == [
        {"type": "tool_use", "id": "toolu_bdrk_01", "name": "get_weather", "input": TOOL_INPUT}
    ]
    assert message.stop_reason == "tool_use" and message.stop_sequence is None
    assert message.usage.input_tokens == 392
    assert message.usage.output_tokens == 134  # replaced, not 4 + 134
    assert message.usage.cache_read_input_tokens == 0  # null-safe
    assert message.metrics["invocationLatency"] == 3722
    assert PARTIAL_JSON not in json.dumps(message.to_dict())


def test_tool_input_is_visible_leniently_while_it_streams():
    events = recorded_events()
    message = Message()
    seen = []
    for event in events:
        fold_event(message, event)
        if event["type"] == "content_block_delta" and event["index"] == 1:
            seen.append(lenient_partial_json(message.content[1][PARTIAL_JSON]))
            assert message.content[1]["input"] == {}  # parsed only at block stop
    assert all(isinstance(s, dict) for s in seen)
    assert seen[-1] == TOOL_INPUT
    assert any(
        s.get("location", "").startswith("San") and s["location"] != TOOL_INPUT["location"]
        for s in seen
    )


def test_empty_tool_input_means_empty_object():
    events = [
        {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 5}}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t", "name": "now", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
        {"type": "content_block_stop", "index": 0},
    ]
    message = fold_all(events)
    assert message.content == [{"type": "tool_use", "id": "t", "name": "now", "input": {}}]


def test_in_band_error_event_raises_stream_error():
    message = fold_all(recorded_events()[:4])
    with pytest.raises(StreamError) as caught:
        fold_event(
            message,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        )
    assert caught.value.message == "Overloaded" and caught.value.kind == "overloaded_error"
    assert message.text == "Certainly! I"  # the partial answer is kept


def test_malformed_tool_input_raises_stream_error():
    events = recorded_events()[:7] + [
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"a": '},
        },
        {"type": "content_block_stop", "index": 1},
    ]
    with pytest.raises(StreamError, match="get_weather"):
        fold_all(events)


def test_thinking_and_signature_deltas_are_tolerated():
    events = [
        {"type": "message_start", "message": {"id": "m", "usage": {}}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Let me "},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "think."},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "sig=="},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "some_future_event", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": None},
    ]
    message = fold_all(events)
    assert message.content == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig=="}
    ]
    assert message.stop_reason == "end_turn"


def test_interrupted_snapshot_drops_the_unfinished_tool_call():
    message = fold_all(recorded_events()[:9])
    assert PARTIAL_JSON in message.content[1]
    close_interrupted(message)
    assert [b["type"] for b in message.content] == ["text"]


def test_decode_chunk_reads_a_boto3_stream_item():
    event = recorded_events()[3]
    item = {"chunk": {"bytes": json.dumps(event).encode()}}
    assert decode_chunk(item) == event
    with pytest.raises(StreamError, match="slow down"):
        decode_chunk({"throttlingException": {"message": "slow down"}})
    with pytest.raises(StreamError):
        decode_chunk({"chunk": {"bytes": b"not json"}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ('{"a": 1, "b": "x\\"y', {"a": 1, "b": 'x"y'}),
        ('{"a": [1, 2', {"a": [1]}),
        ('{"a": "room 12', {"a": "room 12"}),
        ('{"a": "x\\\\", "b": 3.5e', {"a": "x\\"}),
        ('{"a": {"b": tr', {"a": {}}),
        ('{"path": "C:\\\\', {"path": "C:\\"}),
        ('{"s": "caf\\u00', {"s": "caf"}),
        ("[1, 2]", None),
        ("not json", None),
    ],
)
def test_lenient_partial_json(text, expected):
    assert lenient_partial_json(text) == expected
