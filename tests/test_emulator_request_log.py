"""The request log stays bounded (by count and bytes, large bodies kept as a size and a
digest) and keeps no credentials, over real HTTP and through the Python API."""

from __future__ import annotations

import hashlib
import http.client
import json

import boto3
from botocore.config import Config
from helpers import HAIKU

from claude_magic.emulator import Emulator

AUTH = "AWS4-HMAC-SHA256 Credential=AKIDLOG/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0123456789abcdef0123456789abcdef"


def body(text: str = "Hi") -> bytes:
    return json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 20,
            "messages": [{"role": "user", "content": text}],
        }
    ).encode()


def send(
    emulator: Emulator,
    data: bytes,
    headers: dict[str, str] | None = None,
    path: str = f"/model/{HAIKU}/invoke",
) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
    connection.request("POST", path, data, {"Authorization": AUTH, **(headers or {})})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def logged_over_http(emulator: Emulator) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
    connection.request("GET", "/_emulator/requests")
    data = connection.getresponse().read()
    connection.close()
    return data


def test_the_log_keeps_the_newest_requests_up_to_its_count():
    with Emulator(log_requests=3) as emulator:
        for n in range(5):
            assert send(emulator, body(f"request {n}")) == 200
        texts = [e["body"]["messages"][0]["content"] for e in emulator.requests()]
        assert texts == ["request 2", "request 3", "request 4"]
        assert [
            e["body"]["messages"][0]["content"]
            for e in json.loads(logged_over_http(emulator))["requests"]
        ] == texts


def test_a_large_body_is_kept_as_its_size_digest_and_small_fields():
    large = body("x" * 3_000_000)
    with Emulator() as emulator:  # the default: bodies above 1 MB are not kept
        assert send(emulator, large) == 400  # too long for the model, and logged as such
        assert send(emulator, body("small")) == 200
        first, second = emulator.requests()
        small_fields = {k: v for k, v in json.loads(large).items() if k != "messages"}
        assert first["body"] == {
            "omitted": True,
            "bytes": len(large),
            "sha256": hashlib.sha256(large).hexdigest(),
            **small_fields,
        }
        assert "messages" not in first["body"]
        assert first["status"] == 400
        assert second["body"]["messages"][0]["content"] == "small"


def test_a_converse_requests_invoke_body_is_bounded_too():
    converse = json.dumps(
        {"messages": [{"role": "user", "content": [{"text": "y" * 300_000}]}]}
    ).encode()
    with Emulator(log_body_bytes=100_000) as emulator:
        assert send(emulator, converse, path=f"/model/{HAIKU}/converse") == 200
        [entry] = emulator.requests()
        assert entry["body"]["omitted"] and entry["invoke_body"]["omitted"]
        assert entry["invoke_body"]["bytes"] > 300_000


def test_many_large_bodies_keep_the_log_small():
    """Eight 3 MB bodies used to stay whole in memory; now the log (and reading it) stays small."""
    with Emulator() as emulator:
        for n in range(8):
            assert send(emulator, body(str(n) * 3_000_000)) == 400  # too long, and logged
        assert len(emulator.requests()) == 8
        assert len(logged_over_http(emulator)) < 20_000


def test_the_log_keeps_at_most_its_bytes_dropping_the_oldest():
    with Emulator(log_bytes=250_000) as emulator:
        for n in range(6):
            assert send(emulator, body(str(n) * 100_000)) == 200
        kept = [e["body"]["messages"][0]["content"][0] for e in emulator.requests()]
        assert kept == ["4", "5"]  # two 100 kB bodies fit in 250 kB, three do not
        emulator.clear_requests()
        assert emulator.requests() == []


def test_credentials_are_redacted_in_the_log():
    headers = {
        "X-Amz-Security-Token": "FwoGZXIvYXdzEJr//////////wEaDSESSIONTOKENabcd",
        "x-api-key": "sk-ant-api03-verysecretkey-9f8e",
        "Cookie": "session=c2VjcmV0LXNlc3Npb24tdmFsdWU; theme=dark",
    }
    with Emulator() as emulator:
        assert send(emulator, body(), headers) == 200
        logged = emulator.requests()[0]["headers"]
        over_http = logged_over_http(emulator).decode()
    assert logged["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDLOG/20240101/us-east-1/bedrock/aws4_request, "
        "SignedHeaders=host, Signature=****cdef"
    )
    assert logged["X-Amz-Security-Token"] == "****abcd"
    assert logged["x-api-key"] == "****9f8e"
    assert logged["Cookie"] == "****dark"
    for secret in ("0123456789abcdef0123456789ab", "SESSIONTOKEN", "verysecretkey", "c2VjcmV0"):
        assert secret not in over_http


def test_a_bedrock_api_key_keeps_its_scheme_and_last_characters():
    key = "ABSKQmVkcm9ja0FQSUtleS1sb2ctdGVzdA-k3y9"
    with Emulator() as emulator:
        assert send(emulator, body(), {"Authorization": f"Bearer {key}"}) == 200
        assert send(emulator, body(), {"Authorization": "Bearer short"}) == 200
        long_key, short_key = (e["headers"]["Authorization"] for e in emulator.requests())
        assert (long_key, short_key) == ("Bearer ****k3y9", "Bearer ****")
        assert key[:-4] not in logged_over_http(emulator).decode()


def test_botos_signature_is_redacted_but_its_access_key_shown():
    with Emulator() as emulator:
        client = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=emulator.url,
            aws_access_key_id="AKIDBOTO",
            aws_secret_access_key="secret",
            aws_session_token="SESSIONTOKEN0123456789",
            config=Config(retries={"total_max_attempts": 1}),
        )
        client.invoke_model(modelId=HAIKU, body=body())
        [entry] = emulator.requests()
    authorization = entry["headers"]["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDBOTO/")
    signature = authorization.rsplit("Signature=", 1)[1]
    assert signature.startswith("****") and len(signature) == 8
    assert entry["headers"]["X-Amz-Security-Token"] == "****6789"
