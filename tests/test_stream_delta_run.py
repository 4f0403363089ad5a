"""DeltaRun: text deltas held back and folded in one go give what folding each gives."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from claude_magic.core.messages import Message
from claude_magic.core.stream import DeltaRun, fold_event

BLOCK_STARTS = [
    {"type": "text", "text": ""},
    {"type": "thinking", "thinking": "", "signature": ""},
    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
]


def deltas_for(index: int, kind: str) -> st.SearchStrategy[dict]:
    field = {
        "text_delta": "text",
        "thinking_delta": "thinking",
        "input_json_delta": "partial_json",
    }[kind]
    return st.text(max_size=5).map(
        lambda t: {"type": "content_block_delta", "index": index, "delta": {"type": kind, field: t}}
    )


@st.composite
def streams(draw) -> list[dict]:
    events = [{"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 3}}}]
    kinds = {"text": "text_delta", "thinking": "thinking_delta", "tool_use": "input_json_delta"}
    started: list[str] = []
    for index in range(draw(st.integers(1, 3))):
        start = draw(st.sampled_from(BLOCK_STARTS))
        started.append(start["type"])
        events.append({"type": "content_block_start", "index": index, "content_block": dict(start)})
        for _ in range(draw(st.integers(0, 12))):
            target = draw(st.integers(0, index))  # now and then an earlier block
            events.append(draw(deltas_for(target, kinds[started[target]])))
            if draw(st.booleans()):
                events.append({"type": "ping"})
        if start["type"] != "tool_use":
            events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 9},
        }
    )
    return events


@settings(max_examples=400, deadline=None)
@given(streams(), st.lists(st.booleans(), min_size=60, max_size=60))
def test_held_back_deltas_fold_like_each_one(events, flush_now):
    expected = Message()
    for event in events:
        fold_event(expected, event)
    message = Message()
    run = DeltaRun(message)
    snapshots = []
    for event, flush in zip(events, flush_now * 4, strict=False):
        if run.take(event):
            if flush:
                run.flush()
                snapshots.append(copy.deepcopy(message.content))
        else:
            run.flush()
            fold_event(message, event)
    run.flush()
    assert message == expected
    for content in snapshots:  # every intermediate snapshot is a prefix of the final texts
        for block, final in zip(content, expected.content, strict=False):
            for field in ("text", "thinking"):
                assert final.get(field, "").startswith(block.get(field, ""))


def test_only_growing_deltas_of_known_blocks_are_held_back():
    message = Message(content=[{"type": "text", "text": "a"}])
    run = DeltaRun(message)
    assert run.take(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "b"}}
    )
    assert not run.take(
        {"type": "content_block_delta", "index": 3, "delta": {"type": "text_delta", "text": "x"}}
    )
    assert not run.take(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta"}}
    )
    assert not run.take({"type": "message_stop"})
    assert message.content[0]["text"] == "a"
    assert run.flush() and message.content[0]["text"] == "ab"
    fresh = DeltaRun(message)  # malformed deltas are never held back, even before any run
    for odd in ({"type": ""}, {}, None, "text_delta", {"type": "text_delta", "text": "c"}):
        event = {"type": "content_block_delta", "delta": odd}
        assert not fresh.take(event) and not fresh.take({**event, "index": -1})
    assert not fresh.flush() and message.content[0]["text"] == "ab"
    assert run.take(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "b"}}
    )
    assert run.flush() and message.content[0]["text"] == "abb"
    assert not run.flush()
