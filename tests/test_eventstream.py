"""The client's event-stream decoder against botocore's: the same frames, headers and
errors, however the bytes are cut, and the same events through real boto3."""

from __future__ import annotations

import io
import json
import random
import struct
import uuid
import zlib

import botocore.eventstream
import pytest
from helpers import HAIKU

from claude_magic.bedrock.client import BedrockClient
from claude_magic.bedrock.settings import ClientSettings
from claude_magic.bedrock.stream_frames import anthropic_events, frames_of, stream_items
from claude_magic.core.eventstream import (
    MAX_HEADERS_LENGTH,
    ChecksumError,
    FrameError,
    chunk_event,
    decode_headers,
    iter_frames,
)
from claude_magic.core.stream import StreamError
from claude_magic.emulator.wire.eventstream import (
    chunk_frame,
    corrupt,
    encode_frame,
    exception_frame,
)

EVERY_HEADER_TYPE = (
    b"\x04true\x00"
    + b"\x05false\x01"
    + b"\x04byte\x02\xfe"
    + b"\x05short\x03\xff\x00"
    + b"\x03int\x04\x80\x00\x00\x01"
    + b"\x04long\x05"
    + (-5).to_bytes(8, "big", signed=True)
    + b"\x05bytes\x06\x00\x03\x00\x01\x02"
    + b"\x06string\x07\x00\x06h\xc3\xa9llo"
    + b"\x04time\x08"
    + (1_700_000_000_000).to_bytes(8, "big")
    + b"\x04uuid\x09"
    + uuid.UUID(int=7).bytes
)


def botocore_frames(data: bytes) -> list[tuple[dict, bytes]]:
    buffer = botocore.eventstream.EventStreamBuffer()
    buffer.add_data(data)
    return [(m.headers, m.payload) for m in buffer]


def a_stream() -> bytes:
    """Chunk events, an exception, a frame with every header type and a large payload."""
    return b"".join(
        [
            *(chunk_frame(json.dumps({"type": "ping", "n": i}).encode(), i) for i in range(5)),
            encode_frame(EVERY_HEADER_TYPE, b"{}"),
            exception_frame("throttlingException", "slow down"),
            encode_frame(
                {":message-type": "event", ":event-type": "big"}, bytes(range(256)) * 3000
            ),
            chunk_frame(b'{"type":"message_stop"}', 9),
        ]
    )


def cuts(data: bytes, sizes: list[int]) -> list[bytes]:
    out, at = [], 0
    while at < len(data):
        size = sizes[len(out) % len(sizes)]
        out.append(data[at : at + size])
        at += size
    return out


@pytest.mark.parametrize(
    "sizes",
    [[10**9], [1], [7, 1, 300], [65536], [12, 4, 90000]],
    ids=["whole", "byte-by-byte", "odd", "64k", "prelude-sized"],
)
def test_frames_equal_botocores_however_the_bytes_are_cut(sizes):
    data = a_stream()
    assert list(iter_frames(cuts(data, sizes))) == botocore_frames(data)


def test_random_cuts():
    data = a_stream()
    rng = random.Random(5)
    for _ in range(20):
        points = sorted(rng.sample(range(1, len(data)), 30))
        pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
        assert list(iter_frames(pieces)) == botocore_frames(data)


def test_every_header_type_reads_as_botocore_reads_it():
    [(headers, payload)] = list(iter_frames([encode_frame(EVERY_HEADER_TYPE, b"{}")]))
    assert headers == botocore_frames(encode_frame(EVERY_HEADER_TYPE, b"{}"))[0][0]
    assert headers == {
        "true": True,
        "false": False,
        "byte": -2,
        "short": -256,
        "int": -(2**31) + 1,
        "long": -5,
        "bytes": b"\x00\x01\x02",
        "string": "héllo",
        "time": 1_700_000_000_000,
        "uuid": uuid.UUID(int=7).bytes,
    }


def test_an_incomplete_frame_at_the_end_is_held_back():
    data = chunk_frame(b'{"type":"ping"}') * 2
    assert len(list(iter_frames([data[:-1]]))) == 1
    assert len(list(iter_frames([data[:5]]))) == 0


def with_prelude(total: int, headers_length: int) -> bytes:
    prelude = struct.pack("!II", total, headers_length)
    return prelude + struct.pack("!I", zlib.crc32(prelude))


@pytest.mark.parametrize(
    ("data", "error", "botocore_error"),
    [
        (corrupt(chunk_frame(b"{}")), ChecksumError, botocore.eventstream.ChecksumMismatch),
        (b"\x01" + chunk_frame(b"{}")[1:], ChecksumError, botocore.eventstream.ChecksumMismatch),
        (
            with_prelude(MAX_HEADERS_LENGTH + 100, MAX_HEADERS_LENGTH + 1),
            FrameError,
            botocore.eventstream.InvalidHeadersLength,
        ),
        (with_prelude(30 * 1024 * 1024, 0), FrameError, botocore.eventstream.InvalidPayloadLength),
    ],
    ids=["message-crc", "prelude-crc", "headers-too-long", "payload-too-long"],
)
def test_bad_frames_fail_as_in_botocore(data, error, botocore_error):
    with pytest.raises(error):
        list(iter_frames([data]))
    with pytest.raises(botocore_error):
        botocore_frames(data)


@pytest.mark.parametrize(
    "raw",
    [b"\x01a\x0a", b"\x01a\x07\x00\x09abc", b"\x01a\x00\x01a\x01", b"\x05ab"],
    ids=["unknown-type", "value-past-end", "duplicate", "name-past-end"],
)
def test_malformed_headers_are_a_frame_error(raw):
    with pytest.raises(FrameError):
        decode_headers(raw)
    with pytest.raises(FrameError):
        list(iter_frames([encode_frame(raw, b"")]))


def test_chunk_payloads():
    assert chunk_event(b'{"bytes":"eyJ0eXBlIjoicGluZyJ9","p":"abc"}') == {"type": "ping"}
    for bad in (b"nope", b'{"p":"x"}', b'{"bytes":"WzFd"}', b'{"bytes":"!!!!"}'):
        with pytest.raises(ValueError, match="stream chunk"):
            chunk_event(bad)


# -- through real boto3 against the emulator ----------------------------------------------


def botocore_stream(client, data: bytes, operation: str = "InvokeModelWithResponseStream"):
    """botocore's own EventStream of `operation` over these bytes (a real urllib3 body)."""
    from botocore.parsers import EventStreamJSONParser
    from urllib3 import HTTPResponse

    shape = client.meta.service_model.operation_model(operation).output_shape
    member = "body" if operation == "InvokeModelWithResponseStream" else "stream"
    body = HTTPResponse(body=io.BytesIO(data), preload_content=False)
    return botocore.eventstream.EventStream(
        body, shape.members[member], EventStreamJSONParser(), operation
    )


def body() -> str:
    return json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 512,
            "messages": [{"role": "user", "content": "Hello"}],
        }
    )


REPLY = {
    "content": [
        {"type": "text", "text": "Checking the weather now, then the answer."},
        {"type": "tool_use", "name": "weather", "input": {"city": "Paris"}},
    ]
}


def test_boto3_streams_are_read_with_the_fast_decoder(bedrock_client, emulator):
    """The installed botocore has what the decoder needs: a change there fails here,
    not silently back on the slow path. The events equal botocore's, from the same bytes."""
    emulator.script(REPLY)
    raw = bedrock_client.invoke_model_with_response_stream(modelId=HAIKU, body=body())["body"]
    assert frames_of(raw) is not None
    live = list(anthropic_events(raw))
    assert live[-1]["type"] == "message_stop" and len(live) > 10
    emulator.script(REPLY)
    data = bedrock_client.invoke_model_with_response_stream(modelId=HAIKU, body=body())[
        "body"
    ]._raw_stream.read()
    fast = list(anthropic_events(botocore_stream(bedrock_client, data)))
    assert fast == [
        json.loads(item["chunk"]["bytes"]) for item in botocore_stream(bedrock_client, data)
    ]
    assert [e["type"] for e in fast] == [e["type"] for e in live]


def test_converse_stream_items_equal_botocores(bedrock_client, emulator):
    emulator.script(REPLY)
    response = bedrock_client.converse_stream(
        modelId=HAIKU, messages=[{"role": "user", "content": [{"text": "Hi"}]}]
    )
    data = response["stream"]._raw_stream.read()
    fast = list(stream_items(botocore_stream(bedrock_client, data, "ConverseStream")))
    assert fast == list(botocore_stream(bedrock_client, data, "ConverseStream"))
    assert "contentBlockDelta" in fast[2] and "metadata" in fast[-1]


def test_a_modelled_exception_is_raised_by_botocores_parser(bedrock_client, emulator):
    emulator.script({"content": "one two three four five six"})
    emulator.fault("stream_exception", after_events=2, exception="throttlingException")
    raw = bedrock_client.invoke_model_with_response_stream(modelId=HAIKU, body=body())["body"]
    events = []
    with pytest.raises(botocore.exceptions.EventStreamError) as caught:
        for event in anthropic_events(raw):
            events.append(event)
    assert len(events) == 2 and caught.value.response["Error"]["Code"] == "throttlingException"


def test_a_corrupt_frame_is_a_dropped_connection(emulator):
    emulator.script({"content": "one two three four five six"})
    emulator.fault("bad_crc", after_events=3)
    client = BedrockClient(ClientSettings(endpoint_url=emulator.url, offline=True, max_attempts=1))
    events = []
    with pytest.raises(Exception) as caught:
        for event in client.stream(HAIKU, json.loads(body())):
            events.append(event)
    assert len(events) == 3
    assert isinstance(caught.value.__cause__, ChecksumError)
    assert (
        caught.value.message.startswith("The connection dropped mid-answer")
        and "checksum" in caught.value.message
    )


def test_an_undecodable_chunk_is_a_stream_error(bedrock_client):
    headers = {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    raw = botocore_stream(
        bedrock_client,
        chunk_frame(b'{"type":"ping"}') + encode_frame(headers, b'{"bytes":"bm90IGpzb24="}'),
    )
    events = anthropic_events(raw)
    assert next(events) == {"type": "ping"}
    with pytest.raises(StreamError, match="undecodable stream chunk"):
        next(events)


def test_an_unknown_event_goes_to_botocores_parser(bedrock_client):
    """An event type this botocore doesn't model is dropped, as botocore drops it."""
    data = encode_frame(
        {
            ":event-type": "futureEvent",
            ":content-type": "application/json",
            ":message-type": "event",
        },
        b"{}",
    ) + chunk_frame(b'{"type":"message_stop"}')
    assert list(anthropic_events(botocore_stream(bedrock_client, data))) == [
        {"type": "message_stop"}
    ]
    assert list(botocore_stream(bedrock_client, data)) == [
        {"chunk": {"bytes": b'{"type":"message_stop"}'}}
    ]


def test_without_botocores_parts_its_own_iteration_runs():
    items = [
        {"chunk": {"bytes": b'{"type":"ping"}'}},
        {"chunk": {"bytes": b'{"type":"message_stop"}'}},
    ]
    assert list(anthropic_events(items)) == [{"type": "ping"}, {"type": "message_stop"}]
    assert list(stream_items(items)) == items
