"""Slow and numerous connections stay bounded: each request has a deadline for its headers
and body (a streamed reply does not), and connections are capped, idle keep-alive ones
giving way first. Real sockets on loopback, short deadlines, bounded loops."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
from helpers import HAIKU

from claude_magic.emulator import Emulator

AUTH = "AWS4-HMAC-SHA256 Credential=k/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0"
BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 40,
        "messages": [{"role": "user", "content": "Hi"}],
    }
).encode()


def read_until_closed(sock: socket.socket, seconds: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes (or `seconds` pass), and when it closed."""
    sock.settimeout(seconds)
    started, received = time.monotonic(), b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return received, time.monotonic() - started


def boto3_client(emulator: Emulator):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=emulator.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def health(emulator: Emulator) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
    connection.request("GET", "/_emulator/health")
    status = connection.getresponse().status
    connection.close()
    return status


def test_headers_trickling_in_meet_the_request_deadline():
    with Emulator(request_timeout=0.5) as emulator:
        with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
            sock.sendall(b"GET /_emulator/health HTTP/1.1\r\n")
            started = time.monotonic()
            for n in range(20):  # a header line every 0.1 s: each read is quick, the whole is not
                try:
                    sock.sendall(b"X-Slow-%d: 1\r\n" % n)
                except (BrokenPipeError, ConnectionResetError):
                    break
                time.sleep(0.1)
            received, _ = read_until_closed(sock, 5)
            elapsed = time.monotonic() - started
        assert received.startswith(b"HTTP/1.1 408 ")
        assert json.loads(received.split(b"\r\n\r\n", 1)[1])["message"].startswith(
            "The request did not arrive"
        )
        assert elapsed < 3
        assert health(emulator) == 200


def test_a_body_trickling_in_meets_the_request_deadline():
    with Emulator(request_timeout=0.5) as emulator:
        with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
            sock.sendall(
                b"POST /model/%s/invoke HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                b"Content-Length: %d\r\n\r\n" % (HAIKU.encode(), AUTH.encode(), len(BODY))
            )
            for byte in BODY[:20]:
                try:
                    sock.sendall(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    break
                time.sleep(0.1)
            received, _ = read_until_closed(sock, 5)
        assert received.startswith(b"HTTP/1.1 408 ")
        assert emulator.requests() == []  # nothing arrived whole


def test_a_silent_connection_is_closed_after_the_deadline():
    with Emulator(request_timeout=0.5) as emulator:
        with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
            received, waited = read_until_closed(sock, 5)
        assert received.startswith(b"HTTP/1.1 408 ") and waited < 3


def test_a_streamed_reply_may_outlast_the_deadline_and_idle_time_does_not_count():
    with Emulator(request_timeout=0.5, pace=40) as emulator:
        client = boto3_client(emulator)
        started = time.monotonic()
        response = client.invoke_model_with_response_stream(modelId=HAIKU, body=BODY)
        events = [json.loads(event["chunk"]["bytes"])["type"] for event in response["body"]]
        assert events[-1] == "message_stop"
        assert time.monotonic() - started > 0.75  # paced past the request deadline
        emulator.pace = None
        time.sleep(0.8)  # idle on the kept-alive connection, longer than the deadline
        assert (
            json.loads(client.invoke_model(modelId=HAIKU, body=BODY)["body"].read())["type"]
            == "message"
        )
        assert [entry["status"] for entry in emulator.requests()] == [200, 200]


def test_connections_over_the_limit_get_503_quickly():
    with Emulator(max_connections=2) as emulator:
        busy = [socket.create_connection(("127.0.0.1", emulator.port), timeout=5) for _ in range(2)]
        for sock in busy:  # each is mid-request: its headers have not ended
            sock.sendall(b"GET /_emulator/health HTTP/1.1\r\n")
        time.sleep(0.2)
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
        connection.request("POST", f"/model/{HAIKU}/invoke", BODY, {"Authorization": AUTH})
        response = connection.getresponse()
        message = json.loads(response.read())["message"]
        connection.close()
        # at once: not after the busy connections' requests (they never end)
        assert response.status == 503 and time.monotonic() - started < 4
        assert response.getheader("x-amzn-ErrorType") == "ServiceUnavailableException"
        assert "2 connections" in message
        for sock in busy:
            sock.close()
        for _ in range(50):  # the slots free as their threads end
            try:
                if health(emulator) == 200:
                    break
            except (http.client.HTTPException, ConnectionError):
                pass
            time.sleep(0.05)
        else:
            pytest.fail("the freed connection slots were not reused")


def test_idle_keep_alive_connections_give_way_to_new_ones():
    with Emulator(max_connections=2) as emulator:
        idle = [http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5) for _ in range(2)]
        for connection in idle:
            connection.request("GET", "/_emulator/health")
            assert connection.getresponse().read()
        for _ in range(3):  # each new connection takes an idle one's place
            assert health(emulator) == 200
        for connection in idle:
            connection.close()


def test_boto3_sees_a_retryable_service_unavailable():
    with Emulator(max_connections=1) as emulator:
        hold = socket.create_connection(("127.0.0.1", emulator.port), timeout=5)
        hold.sendall(b"GET /_emulator/health HTTP/1.1\r\n")
        time.sleep(0.2)
        client = boto3_client(emulator)
        with pytest.raises(client.exceptions.ServiceUnavailableException):
            client.invoke_model(modelId=HAIKU, body=BODY)
        hold.close()
