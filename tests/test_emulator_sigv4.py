"""Authentication: requests must be SigV4-signed; with --credentials, signatures are verified."""

from __future__ import annotations

import http.client
import json
from urllib.parse import quote, urlsplit

import boto3
import botocore.exceptions
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from helpers import HAIKU

from claude_magic.emulator import Emulator

PROFILE_ARN = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0"
KEY, SECRET = "AKIDEMULATORTEST", "s3cr3t/with+odd=chars"
BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Hello"}],
    }
)


@pytest.fixture(scope="module")
def locked():
    with Emulator(credentials=f"{KEY}:{SECRET}") as emulator:
        yield emulator


def client(url: str, key: str = KEY, secret: str = SECRET, region: str = "us-east-1", **config):
    return boto3.client(
        "bedrock-runtime",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


def raw_request(
    url: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict, dict]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    data = json.loads(response.read())
    connection.close()
    return response.status, dict(response.getheaders()), data


def signed_headers(url: str, path: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url + path, data=body)
    SigV4Auth(Credentials(KEY, secret), "bedrock", "us-west-2").add_auth(request)
    return dict(request.headers.items())


def test_unsigned_requests_are_refused(emulator):
    status, headers, data = raw_request(emulator.url, f"/model/{HAIKU}/invoke", BODY.encode(), {})
    assert status == 403
    assert headers["x-amzn-ErrorType"].startswith("MissingAuthenticationTokenException")
    assert data == {"message": "Missing Authentication Token"}
    unsigned = client(emulator.url, signature_version=UNSIGNED)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        unsigned.invoke_model(modelId=HAIKU, body=BODY)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert [e["status"] for e in emulator.requests()] == [403, 403]


def test_any_signature_passes_without_credentials(emulator):
    anyone = client(emulator.url, key="whoever", secret="whatever")
    assert (
        json.loads(anyone.invoke_model(modelId=HAIKU, body=BODY)["body"].read())["type"]
        == "message"
    )
    status, _, _ = raw_request(
        emulator.url,
        f"/model/{HAIKU}/invoke",
        BODY.encode(),
        {"Authorization": "Bearer api-key-123"},
    )
    assert status == 200


def test_right_credentials_work_for_every_operation(locked):
    good = client(locked.url, region="eu-west-1")
    assert (
        json.loads(good.invoke_model(modelId=HAIKU, body=BODY)["body"].read())["type"] == "message"
    )
    stream = good.invoke_model_with_response_stream(modelId=PROFILE_ARN, body=BODY)
    assert [json.loads(e["chunk"]["bytes"])["type"] for e in stream["body"]][-1] == "message_stop"
    if hasattr(good, "count_tokens"):
        base = HAIKU.removeprefix("us.")  # CountTokens takes bare model ids
        assert (
            good.count_tokens(modelId=base, input={"invokeModel": {"body": BODY}})["inputTokens"]
            > 0
        )


def test_session_tokens_are_signed_too(locked):
    with_token = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=locked.url,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        aws_session_token="token/abc==",
        config=Config(retries={"total_max_attempts": 1}),
    )
    assert json.loads(with_token.invoke_model(modelId=HAIKU, body=BODY)["body"].read())


def test_wrong_secret_is_an_invalid_signature(locked):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client(locked.url, secret="not-the-secret").invoke_model(modelId=HAIKU, body=BODY)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "InvalidSignatureException"
    assert "signature" in error["Error"]["Message"]


def test_unknown_key_is_unrecognized(locked):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client(locked.url, key="AKIDSOMEONEELSE").invoke_model_with_response_stream(
            modelId=HAIKU, body=BODY
        )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_signature_covers_the_body_and_the_encoded_path(locked):
    path = f"/model/{quote(PROFILE_ARN, safe='')}/invoke"
    headers = signed_headers(locked.url, path, BODY.encode())
    status, _, _ = raw_request(locked.url, path, BODY.encode(), headers)
    assert status == 200
    tampered = BODY.replace("Hello", "Jello").encode()
    status, headers_out, _ = raw_request(locked.url, path, tampered, headers)
    assert status == 403 and headers_out["x-amzn-ErrorType"].startswith("InvalidSignatureException")
    other_path = f"/model/{quote(HAIKU, safe='')}/invoke"
    status, _, _ = raw_request(locked.url, other_path, BODY.encode(), headers)
    assert status == 403


def test_credentials_must_be_scoped_to_bedrock(locked):
    request = AWSRequest(
        method="POST", url=locked.url + f"/model/{HAIKU}/invoke", data=BODY.encode()
    )
    SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(request)
    status, _, data = raw_request(
        locked.url, f"/model/{HAIKU}/invoke", BODY.encode(), dict(request.headers.items())
    )
    assert status == 403 and "bedrock" in data["message"]


def test_bearer_tokens_are_refused_when_credentials_are_set(locked):
    status, _, _ = raw_request(
        locked.url, f"/model/{HAIKU}/invoke", BODY.encode(), {"Authorization": "Bearer x"}
    )
    assert status == 403


def test_admin_routes_need_no_signature(locked):
    parts = urlsplit(locked.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", "/_emulator/health")
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read())["auth"] == "sigv4"
    connection.close()


def test_credentials_argument_is_checked():
    with pytest.raises(ValueError):
        Emulator(credentials="no-colon-here")
