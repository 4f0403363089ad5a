"""The emulator speaks bedrock-runtime: real boto3 (and raw HTTP) over loopback."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from urllib.parse import quote, urlsplit

import botocore.eventstream
import pytest
from helpers import HAIKU, SONNET

from claude_magic.core.eventstream import FrameDecoder, FrameError, decode_frames
from claude_magic.core.messages import split_tokens
from claude_magic.emulator.wire.events import json_fragments
from claude_magic.emulator.wire.eventstream import (
    chunk_frame,
    corrupt,
    encode_frame,
    exception_frame,
)

PROFILE_ARN = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{SONNET}"


def request_body(text: str = "Hello, emulator!", **extra) -> str:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 512,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }
    return json.dumps(body)


def stream_events(client, model_id: str, body: str) -> list[dict]:
    response = client.invoke_model_with_response_stream(modelId=model_id, body=body)
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


def post(url: str, path: str, body: bytes = b"", headers: dict | None = None, method: str = "POST"):
    """Send a request; a body for an admin route goes as JSON, as they take nothing else."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = dict(headers or {})
    if body and path.startswith("/_emulator"):
        headers.setdefault("Content-Type", "application/json")
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


SIGNED = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=k/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00"
}


# -- event-stream framing ----------------------------------------------------------------


def test_frames_round_trip_through_botocore_decoder():
    frames = chunk_frame(b'{"type":"ping"}', 3) + exception_frame(
        "throttlingException", "slow down"
    )
    buffer = botocore.eventstream.EventStreamBuffer()
    buffer.add_data(frames)
    messages = list(buffer)
    assert [m.headers[":message-type"] for m in messages] == ["event", "exception"]
    assert messages[0].headers[":event-type"] == "chunk"
    assert messages[0].headers[":content-type"] == "application/json"
    payload = json.loads(messages[0].payload)
    assert base64.b64decode(payload["bytes"]) == b'{"type":"ping"}'
    assert payload["p"]
    assert messages[1].headers[":exception-type"] == "throttlingException"
    assert json.loads(messages[1].payload) == {"message": "slow down"}


def test_own_decoder_reads_byte_by_byte_and_rejects_bad_crc():
    frame = encode_frame({":message-type": "event", "x": "y"}, b"payload")
    decoder = FrameDecoder()
    decoded = [f for byte in frame for f in decoder.feed(bytes([byte]))]
    assert len(decoded) == 1 and decoded[0].payload == b"payload"
    assert decoded[0].headers == {":message-type": "event", "x": "y"}
    with pytest.raises(FrameError):
        decode_frames(corrupt(frame))
    with pytest.raises(botocore.eventstream.ChecksumMismatch):
        buffer = botocore.eventstream.EventStreamBuffer()
        buffer.add_data(corrupt(frame))
        list(buffer)


def test_tool_input_fragments_join_to_the_json():
    value = {"city": "Paris", "days": [1, 2, 3], "note": "ünïcode"}
    pieces = json_fragments(value)
    assert len(pieces) > 1
    assert json.loads("".join(pieces)) == value


# -- InvokeModel -------------------------------------------------------------------------


def test_invoke_model_round_trip(bedrock_client, emulator):
    response = bedrock_client.invoke_model(modelId=HAIKU, body=request_body())
    message = json.loads(response["body"].read())
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert response["contentType"] == "application/json"
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["id"].startswith("msg_bdrk_")
    assert message["model"] == "claude-haiku-4-5-20251001"
    assert message["stop_reason"] in ("end_turn", "max_tokens")
    assert message["content"] and message["content"][0]["type"] == "text"
    assert int(headers["x-amzn-bedrock-input-token-count"]) == message["usage"]["input_tokens"] > 0
    assert (
        int(headers["x-amzn-bedrock-output-token-count"]) == message["usage"]["output_tokens"] > 0
    )
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 0
    assert headers["x-amzn-requestid"] == response["ResponseMetadata"]["RequestId"]
    [entry] = emulator.requests()
    assert entry["operation"] == "InvokeModel"
    assert entry["model_id"] == HAIKU
    assert entry["body"] == json.loads(request_body())
    assert entry["status"] == 200


def test_invoke_accepts_explicit_content_type_and_accept(bedrock_client):
    response = bedrock_client.invoke_model(
        modelId=HAIKU,
        body=request_body(),
        contentType="application/json",
        accept="application/json",
    )
    assert json.loads(response["body"].read())["type"] == "message"


@pytest.mark.parametrize("model_id", [SONNET, PROFILE_ARN])
def test_profile_ids_and_arns_are_percent_encoded_and_accepted(bedrock_client, emulator, model_id):
    response = bedrock_client.invoke_model(modelId=model_id, body=request_body())
    assert json.loads(response["body"].read())["model"] == "claude-sonnet-4-5-20250929"
    assert emulator.requests()[0]["model_id"] == model_id


def test_validation_errors_are_modelled_exceptions(bedrock_client, emulator):
    with pytest.raises(bedrock_client.exceptions.ValidationException) as caught:
        bedrock_client.invoke_model(
            modelId="anthropic.claude-sonnet-4-5-20250929-v1:0", body=request_body()
        )
    assert "inference profile" in caught.value.response["Error"]["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(bedrock_client.exceptions.ValidationException):
        bedrock_client.invoke_model(modelId="anthropic.no-such-model", body=request_body())
    with pytest.raises(bedrock_client.exceptions.ValidationException) as caught:
        bedrock_client.invoke_model(modelId=HAIKU, body=b"{not json")
    assert "Malformed input request" in str(caught.value)
    assert [e["status"] for e in emulator.requests()] == [400, 400, 400]


# -- InvokeModelWithResponseStream -------------------------------------------------------


def test_stream_event_sequence_and_metrics(bedrock_client):
    events = stream_events(bedrock_client, HAIKU, request_body("Tell me something."))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start"
    assert kinds[1] == "content_block_start"
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) <= {"content_block_delta", "content_block_start", "content_block_stop"}
    start = events[0]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["id"].startswith("msg_bdrk_") and start["model"] == "claude-haiku-4-5-20251001"
    delta, stop = events[-2], events[-1]
    assert delta["delta"]["stop_reason"] in ("end_turn", "max_tokens")
    assert "stop_sequence" in delta["delta"]
    metrics = stop["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == start["usage"]["input_tokens"] > 0
    assert metrics["outputTokenCount"] == delta["usage"]["output_tokens"] > 0
    assert metrics["invocationLatency"] >= metrics["firstByteLatency"] >= 0


def test_stream_headers_and_one_http_chunk_per_frame(emulator):
    """Read the raw chunked body: each HTTP chunk holds exactly one whole frame."""
    emulator.script({"content": "one two three four five six"})
    parts = urlsplit(emulator.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    body = request_body().encode()
    head = (
        f"POST /model/{quote(HAIKU, safe='')}/invoke-with-response-stream HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\nContent-Length: {len(body)}\r\n"
        f"Authorization: {SIGNED['Authorization']}\r\nX-Amzn-Bedrock-Accept: */*\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    reader = sock.makefile("rb")
    status = reader.readline()
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    chunks = []
    while True:
        size = int(reader.readline().strip(), 16)
        data = reader.read(size)
        assert reader.read(2) == b"\r\n"
        if size == 0:
            break
        chunks.append(data)
    sock.close()
    assert status.startswith(b"HTTP/1.1 200")
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers["x-amzn-bedrock-content-type"] == "application/json"
    assert headers["transfer-encoding"] == "chunked"
    assert "content-length" not in headers
    events = []
    for chunk in chunks:
        [frame] = decode_frames(chunk)
        assert frame.headers == {
            ":event-type": "chunk",
            ":content-type": "application/json",
            ":message-type": "event",
        }
        assert set(json.loads(frame.payload)) == {"bytes", "p"}
        events.append(frame.event())
    texts = [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"]
    assert texts == split_tokens("one two three four five six")


def test_scripted_stream_reply_with_text_and_tool_use(bedrock_client, emulator):
    text = "Let me look that up for you, one moment."
    tool_input = {"location": "Paris, France", "unit": "celsius"}
    emulator.script(
        {
            "content": [
                {"type": "text", "text": text},
                {"type": "tool_use", "name": "get_weather", "input": tool_input},
            ]
        }
    )
    events = stream_events(bedrock_client, SONNET, request_body())
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [s["content_block"]["type"] for s in starts] == ["text", "tool_use"]
    tool_start = starts[1]["content_block"]
    assert tool_start["name"] == "get_weather" and tool_start["id"].startswith("toolu_bdrk_")
    assert tool_start["input"] == {}
    text_deltas = [
        e["delta"]["text"] for e in events if e.get("delta", {}).get("type") == "text_delta"
    ]
    assert text_deltas == split_tokens(text)
    json_deltas = [e for e in events if e.get("delta", {}).get("type") == "input_json_delta"]
    assert len(json_deltas) > 1 and all(e["index"] == 1 for e in json_deltas)
    assert json.loads("".join(e["delta"]["partial_json"] for e in json_deltas)) == tool_input
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert events[-2]["usage"]["output_tokens"] > 0


def test_scripted_invoke_reply_keeps_given_fields_and_fills_the_rest(bedrock_client, emulator):
    emulator.script(
        {
            "content": [{"type": "text", "text": "Stopped at"}],
            "stop_reason": "stop_sequence",
            "stop_sequence": "END",
            "usage": {"output_tokens": 7},
        }
    )
    message = json.loads(
        bedrock_client.invoke_model(modelId=HAIKU, body=request_body())["body"].read()
    )
    assert message["content"] == [{"type": "text", "text": "Stopped at"}]
    assert message["stop_reason"] == "stop_sequence" and message["stop_sequence"] == "END"
    assert message["usage"]["output_tokens"] == 7 and message["usage"]["input_tokens"] > 0
    assert message["id"].startswith("msg_bdrk_") and message["model"] == "claude-haiku-4-5-20251001"
    # the script was used once; the next reply comes from the responder again
    second = json.loads(
        bedrock_client.invoke_model(modelId=HAIKU, body=request_body())["body"].read()
    )
    assert second["content"] != message["content"]


def test_script_waits_for_a_valid_request(bedrock_client, emulator):
    emulator.script("scripted!")
    with pytest.raises(bedrock_client.exceptions.ValidationException):
        bedrock_client.invoke_model(modelId=HAIKU, body=json.dumps({"messages": []}))
    message = json.loads(
        bedrock_client.invoke_model(modelId=HAIKU, body=request_body())["body"].read()
    )
    assert message["content"] == [{"type": "text", "text": "scripted!"}]


def test_scripted_thinking_block_streams_as_thinking_deltas(bedrock_client, emulator):
    emulator.script(
        {
            "content": [
                {"type": "thinking", "thinking": "Hmm, let me think.", "signature": "sig123"},
                {"type": "text", "text": "Done."},
            ]
        }
    )
    events = stream_events(bedrock_client, SONNET, request_body())
    thinking = "".join(
        e["delta"]["thinking"] for e in events if e.get("delta", {}).get("type") == "thinking_delta"
    )
    signature = [
        e["delta"]["signature"]
        for e in events
        if e.get("delta", {}).get("type") == "signature_delta"
    ]
    assert thinking == "Hmm, let me think." and signature == ["sig123"]


def test_paced_stream_keeps_every_delta(bedrock_client, emulator):
    emulator.pace = 2000
    try:
        emulator.script({"content": "paced " * 30})
        events = stream_events(bedrock_client, HAIKU, request_body())
    finally:
        emulator.pace = None
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "paced " * 30
    with pytest.raises(ValueError):
        emulator.pace = -1


# -- CountTokens -------------------------------------------------------------------------


def test_count_tokens_through_boto3(bedrock_client, emulator):
    if not hasattr(bedrock_client, "count_tokens"):
        pytest.skip("this botocore has no CountTokens")
    base = HAIKU.removeprefix("us.")  # CountTokens takes bare model ids
    short = bedrock_client.count_tokens(
        modelId=base, input={"invokeModel": {"body": request_body("Hi")}}
    )
    long = bedrock_client.count_tokens(
        modelId=base, input={"invokeModel": {"body": request_body("Hi " * 500)}}
    )
    assert 0 < short["inputTokens"] < long["inputTokens"]
    assert [e["operation"] for e in emulator.requests()] == ["CountTokens", "CountTokens"]


# -- HTTP edges and admin routes ----------------------------------------------------------


def test_unknown_paths_and_methods(emulator):
    response, data = post(emulator.url, "/nope", b"{}", SIGNED)
    assert response.status == 404
    assert response.getheader("x-amzn-ErrorType").startswith("UnknownOperationException")
    assert "message" in json.loads(data)
    response, _ = post(emulator.url, f"/model/{HAIKU}/invoke", method="GET", headers=SIGNED)
    assert response.status == 405
    response, _ = post(emulator.url, f"/model/{HAIKU}/converse-later", b"{}", SIGNED)
    assert response.status == 404
    logged = [(e["operation"], e["status"]) for e in emulator.requests()]  # rejected ones too
    assert logged == [
        ("POST /nope", 404),
        ("InvokeModel", 405),
        (f"POST /model/{HAIKU}/converse-later", 404),
    ]


def test_chunked_request_body_and_missing_content_length(emulator):
    parts = urlsplit(emulator.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = request_body().encode()
    connection.request(
        "POST",
        f"/model/{HAIKU}/invoke",
        body=iter([body[:10], body[10:]]),
        headers={**SIGNED, "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read())["type"] == "message"
    connection.putrequest("POST", f"/model/{HAIKU}/invoke")
    connection.putheader("Authorization", SIGNED["Authorization"])
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 400
    assert response.getheader("x-amzn-ErrorType").startswith("ValidationException")
    response.read()
    connection.close()


def test_admin_routes_over_http(bedrock_client, emulator):
    response, data = post(emulator.url, "/_emulator/health", method="GET")
    assert response.status == 200 and json.loads(data)["status"] == "ok"
    response, data = post(
        emulator.url, "/_emulator/script", json.dumps({"content": "via admin"}).encode()
    )
    assert response.status == 200 and json.loads(data)["queued"] == 1
    response, data = post(emulator.url, "/_emulator/script", b'{"content": 5}')
    assert response.status == 400
    message = json.loads(
        bedrock_client.invoke_model(modelId=HAIKU, body=request_body())["body"].read()
    )
    assert message["content"] == [{"type": "text", "text": "via admin"}]
    response, data = post(emulator.url, "/_emulator/requests", method="GET")
    [entry] = json.loads(data)["requests"]
    assert entry["operation"] == "InvokeModel" and entry["model_id"] == HAIKU
    assert entry["body"]["messages"][0]["content"] == "Hello, emulator!"
    response, data = post(emulator.url, "/_emulator/requests", method="DELETE")
    assert json.loads(data)["cleared"] == 1 and emulator.requests() == []
    response, data = post(emulator.url, "/_emulator/faults", b'{"type": "throttle", "times": 2}')
    assert response.status == 200 and emulator.faults() == [
        {"type": "throttle", "times": 2, "after_events": 0}
    ]
    response, _ = post(emulator.url, "/_emulator/faults", b'{"type": "meteor"}')
    assert response.status == 400
    response, data = post(emulator.url, "/_emulator/faults", method="DELETE")
    assert json.loads(data)["cleared"] == 1 and emulator.faults() == []
    response, data = post(emulator.url, "/_emulator/config", b'{"pace": 50}')
    assert json.loads(data)["pace"] == 50.0 and emulator.pace == 50.0
    post(emulator.url, "/_emulator/config", b'{"pace": null}')
    assert emulator.pace is None
    response, data = post(emulator.url, "/_emulator/config", b'{"batch_step": 0.5}')
    assert json.loads(data)["batch_step"] == 0.5 and emulator.batch_step == 0.5
    response, _ = post(
        emulator.url, "/_emulator/config", b'{"s3_endpoint_url": "http://192.0.2.1:9000"}'
    )
    assert response.status == 400 and emulator.s3_endpoint_url is None  # loopback only
    post(emulator.url, "/_emulator/config", b'{"batch_step": 1}')
    response, _ = post(emulator.url, "/_emulator/health", b"", method="PUT")
    assert response.status == 405


def test_raw_text_bodies_are_logged_as_text(emulator):
    response, _ = post(emulator.url, f"/model/{HAIKU}/invoke", b"plain words", SIGNED)
    assert response.status == 400
    assert emulator.requests()[0]["body"] == "plain words"


def test_stop_closes_connections_and_restart_is_possible():
    from claude_magic.emulator import Emulator

    emulator = Emulator().start()
    url = emulator.url
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", "/_emulator/health")
    assert connection.getresponse().read()
    emulator.stop()
    assert connection.sock.recv(1) == b""  # the kept-alive connection was closed
    connection.close()
    with pytest.raises(OSError):
        post(url, "/_emulator/health", method="GET")
    emulator.stop()  # idempotent
    with Emulator(port=parts.port) as again:
        response, data = post(again.url, "/_emulator/health", method="GET")
        assert response.status == 200


def _non_loopback_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.123", 9))  # no packet is sent for UDP connect
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_loopback_detection():
    from claude_magic.emulator.server import is_loopback

    assert all(
        is_loopback(h) for h in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "localhost"]
    )
    assert not any(
        is_loopback(h) for h in ["0.0.0.0", "10.1.2.3", "::", "192.0.2.1", "no-such-host.invalid"]
    )


def test_admin_routes_refuse_remote_clients():
    from claude_magic.emulator import Emulator, RemoteNotAllowed

    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    with pytest.raises(RemoteNotAllowed):
        Emulator(host=address)
    with Emulator(host=address, allow_remote=True) as emulator:
        response, data = post(emulator.url, "/_emulator/health", method="GET")
        assert response.status == 403 and "loopback" in json.loads(data)["message"]
        response, _ = post(emulator.url, f"/model/{HAIKU}/invoke", request_body().encode(), SIGNED)
        assert response.status == 200


def test_ipv6_loopback():
    from claude_magic.emulator import Emulator

    try:
        emulator = Emulator(host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with emulator:
        assert emulator.url.startswith("http://[::1]:")
        connection = http.client.HTTPConnection("::1", emulator.port, timeout=10)
        connection.request("GET", "/_emulator/health")
        assert connection.getresponse().status == 200
        connection.close()


@pytest.mark.parametrize(
    "length", [b"\xb2", b"-1", b"abc", b"12, 13", b"99999999999999999999", b"1e3", b"999"]
)
def test_bad_content_lengths_are_client_errors(emulator, length):
    parts = urlsplit(emulator.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"POST /model/x/invoke HTTP/1.1\r\nContent-Length: " + length + b"\r\n\r\n{}")
        sock.shutdown(socket.SHUT_WR)
        reply = sock.makefile("rb").read()
    status = int(reply.split(b" ", 2)[1])
    assert 400 <= status < 500, reply[:200]
