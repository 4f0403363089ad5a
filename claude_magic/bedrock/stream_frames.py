"""A botocore event stream read with the core's frame decoder.

botocore decodes each event-stream frame in Python a field at a time and then runs
its shape parser on every event: for a streamed answer that is most of the client's
work, more than showing the answer. Here botocore still sends the request and owns
the HTTP body, but its frames are decoded by `core.eventstream` (the same checksums
and limits). Bedrock's `chunk` events, nearly all of a stream, are read directly;
every other message (a modelled exception, a ConverseStream event) goes to botocore's
own parser, so it raises and parses exactly as botocore does. Where a botocore
release lacks the parts this uses, its own iteration runs instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..core.eventstream import Headers, chunk_event, iter_frames
from ..core.stream import StreamError, decode_chunk


def frames_of(raw: Any) -> Iterator[tuple[Headers, bytes]] | None:
    """The frames of botocore's EventStream `raw`, or None if it can't be read so."""
    stream = getattr(getattr(raw, "_raw_stream", None), "stream", None)
    if not callable(stream) or not callable(getattr(raw, "_parse_event", None)):
        return None
    return iter_frames(stream())


def parsed(raw: Any, headers: Headers, payload: bytes) -> dict[str, Any]:
    """botocore's parse of one message: its event dict, or its modelled exception raised."""
    from botocore.eventstream import EventStreamMessage

    return raw._parse_event(EventStreamMessage(None, dict(headers), payload, 0))


def anthropic_events(raw: Any) -> Iterator[dict[str, Any]]:
    """The Anthropic events of an InvokeModelWithResponseStream body."""
    frames = frames_of(raw)
    if frames is None:
        for item in raw:
            if event := decode_chunk(item):
                yield event
        return
    for headers, payload in frames:
        if headers.get(":event-type") == "chunk" and headers.get(":message-type") == "event":
            try:
                event = chunk_event(payload)
            except ValueError as exc:
                raise StreamError(str(exc)) from exc
        elif item := parsed(raw, headers, payload):
            event = decode_chunk(item)
        else:
            continue
        if event:
            yield event


def stream_items(raw: Any) -> Iterator[dict[str, Any]]:
    """What iterating botocore's EventStream `raw` yields (e.g. ConverseStream's events)."""
    frames = frames_of(raw)
    if frames is None:
        yield from raw
        return
    for headers, payload in frames:
        if item := parsed(raw, headers, payload):
            yield item
