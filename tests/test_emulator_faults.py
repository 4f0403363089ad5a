"""Fault injection, observed the way users see it: through real boto3."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import boto3
import botocore.eventstream
import botocore.exceptions
import pytest
import urllib3.exceptions
from botocore.config import Config
from helpers import HAIKU

TEXT = "The quick brown fox jumps over the lazy dog, again and again and again."


def request_body() -> str:
    return json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 512,
            "messages": [{"role": "user", "content": "Hello"}],
        }
    )


RETRIES = 3  # botocore's `max_attempts` counts retries after the first attempt


def retrying_client(url: str):
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": RETRIES, "mode": "standard"}),
    )


def stream_texts(client) -> list[str]:
    response = client.invoke_model_with_response_stream(modelId=HAIKU, body=request_body())
    texts = []
    for event in response["body"]:
        payload = json.loads(event["chunk"]["bytes"])
        if payload["type"] == "content_block_delta":
            texts.append(payload["delta"]["text"])
    return texts


@pytest.mark.parametrize(
    ("fault", "exception", "status"),
    [
        ("throttle", "ThrottlingException", 429),
        ("unavailable", "ServiceUnavailableException", 503),
        ("internal", "InternalServerException", 500),
        ("model_timeout", "ModelTimeoutException", 408),
    ],
)
def test_request_faults_raise_modelled_exceptions(
    bedrock_client, emulator, fault, exception, status
):
    emulator.fault(fault)
    with pytest.raises(getattr(bedrock_client.exceptions, exception)) as caught:
        bedrock_client.invoke_model(modelId=HAIKU, body=request_body())
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    # used up: the next request succeeds
    assert json.loads(
        bedrock_client.invoke_model(modelId=HAIKU, body=request_body())["body"].read()
    )
    assert [e["status"] for e in emulator.requests()] == [status, 200]


def test_throttle_message_is_bedrocks(bedrock_client, emulator):
    emulator.fault("throttle")
    with pytest.raises(bedrock_client.exceptions.ThrottlingException) as caught:
        bedrock_client.invoke_model_with_response_stream(modelId=HAIKU, body=request_body())
    assert (
        caught.value.response["Error"]["Message"]
        == "Too many requests, please wait before trying again."
    )


@pytest.mark.parametrize("fault", ["throttle", "unavailable"])
def test_botocore_retries_are_counted_in_the_request_log(emulator, fault):
    client = retrying_client(emulator.url)
    emulator.fault(fault, times=2)
    emulator.script({"content": TEXT})
    reply = json.loads(client.invoke_model(modelId=HAIKU, body=request_body())["body"].read())
    assert reply["content"][0]["text"] == TEXT
    log = emulator.requests()
    assert len(log) == 3 and [e["status"] for e in log][-1] == 200
    assert all(e["operation"] == "InvokeModel" for e in log)


def test_retries_give_up_after_max_attempts(emulator):
    client = retrying_client(emulator.url)
    emulator.fault("throttle", times=5)
    with pytest.raises(client.exceptions.ThrottlingException):
        client.invoke_model(modelId=HAIKU, body=request_body())
    assert len(emulator.requests()) == 1 + RETRIES
    assert emulator.faults() == [
        {"type": "throttle", "times": 5 - (1 + RETRIES), "after_events": 0}
    ]


def test_model_timeout_is_not_retried(emulator):
    client = retrying_client(emulator.url)
    emulator.fault("model_timeout", times=3)
    with pytest.raises(client.exceptions.ModelTimeoutException):
        client.invoke_model(modelId=HAIKU, body=request_body())
    assert len(emulator.requests()) == 1


def test_stream_exception_mid_stream(bedrock_client, emulator):
    emulator.script({"content": TEXT})
    emulator.fault("stream_exception", after_events=4, exception="modelStreamErrorException")
    response = bedrock_client.invoke_model_with_response_stream(modelId=HAIKU, body=request_body())
    received = []
    with pytest.raises(botocore.exceptions.EventStreamError) as caught:
        for event in response["body"]:
            received.append(json.loads(event["chunk"]["bytes"]))
    assert len(received) == 4
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert caught.value.response["Error"]["Message"]


def test_stream_exception_of_another_kind(bedrock_client, emulator):
    emulator.fault("stream_exception", exception="throttlingException")
    response = bedrock_client.invoke_model_with_response_stream(modelId=HAIKU, body=request_body())
    with pytest.raises(botocore.exceptions.EventStreamError) as caught:
        list(response["body"])
    assert caught.value.response["Error"]["Code"] == "throttlingException"


def test_stream_faults_leave_invoke_model_alone(bedrock_client, emulator):
    emulator.fault("stream_exception")
    emulator.fault("bad_crc")
    assert json.loads(
        bedrock_client.invoke_model(modelId=HAIKU, body=request_body())["body"].read()
    )
    assert len(emulator.faults()) == 2


def test_bad_crc_raises_checksum_error(bedrock_client, emulator):
    emulator.script({"content": TEXT})
    emulator.fault("bad_crc", after_events=3)
    response = bedrock_client.invoke_model_with_response_stream(modelId=HAIKU, body=request_body())
    received = []
    with pytest.raises(botocore.eventstream.ChecksumMismatch):
        for event in response["body"]:
            received.append(event)
    assert len(received) == 3


def test_disconnect_mid_stream_is_a_connection_error(bedrock_client, emulator):
    emulator.script({"content": TEXT})
    emulator.fault("disconnect", after_events=5)
    with pytest.raises(
        (urllib3.exceptions.HTTPError, botocore.exceptions.HTTPClientError, ConnectionError)
    ):
        stream_texts(bedrock_client)
    assert emulator.requests()[0]["operation"] == "InvokeModelWithResponseStream"
    # the emulator keeps serving
    assert "".join(stream_texts(bedrock_client))


def test_disconnect_on_invoke_is_retried_by_botocore(emulator):
    client = retrying_client(emulator.url)
    emulator.fault("disconnect", times=1)
    emulator.script({"content": TEXT})
    reply = json.loads(client.invoke_model(modelId=HAIKU, body=request_body())["body"].read())
    assert reply["content"][0]["text"] == TEXT
    assert len(emulator.requests()) == 2


def test_stall_then_the_stream_completes(bedrock_client, emulator):
    emulator.script({"content": TEXT})
    emulator.fault("stall", after_events=3, seconds=0.3)
    assert "".join(stream_texts(bedrock_client)) == TEXT
    assert emulator.faults() == []


def test_stall_on_invoke_then_reply(bedrock_client, emulator):
    emulator.script({"content": TEXT})
    emulator.fault("stall", seconds=0.2)
    reply = json.loads(
        bedrock_client.invoke_model(modelId=HAIKU, body=request_body())["body"].read()
    )
    assert reply["content"][0]["text"] == TEXT


def test_fault_after_the_last_event_still_fires(bedrock_client, emulator):
    emulator.script({"content": "short"})
    emulator.fault("stream_exception", after_events=10_000)
    response = bedrock_client.invoke_model_with_response_stream(modelId=HAIKU, body=request_body())
    received = []
    with pytest.raises(botocore.exceptions.EventStreamError):
        for event in response["body"]:
            received.append(json.loads(event["chunk"]["bytes"]))
    assert received[-1]["type"] == "message_stop"


def test_faults_over_the_admin_route(bedrock_client, emulator):
    parts = urlsplit(emulator.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    faults = [
        {"type": "throttle"},
        {"type": "stream_exception", "after_events": 1, "exception": "internalServerException"},
    ]
    connection.request(
        "POST",
        "/_emulator/faults",
        body=json.dumps(faults),
        headers={"Content-Type": "application/json"},
    )
    assert connection.getresponse().read() and emulator.faults()[0]["type"] == "throttle"
    with pytest.raises(bedrock_client.exceptions.ThrottlingException):
        bedrock_client.invoke_model_with_response_stream(modelId=HAIKU, body=request_body())
    response = bedrock_client.invoke_model_with_response_stream(modelId=HAIKU, body=request_body())
    with pytest.raises(botocore.exceptions.EventStreamError) as caught:
        list(response["body"])
    assert caught.value.response["Error"]["Code"] == "internalServerException"
    connection.request("DELETE", "/_emulator/faults")
    assert json.loads(connection.getresponse().read()) == {"cleared": 0}
    connection.close()


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "meteor"},
        {"type": "throttle", "times": 0},
        {"type": "stall", "seconds": -1},
        {"type": "stream_exception", "exception": "NotAThing"},
        {"type": "throttle", "seconds": 2},
    ],
)
def test_invalid_faults_are_refused(emulator, bad):
    with pytest.raises(ValueError):
        emulator.fault(**bad)
    assert emulator.faults() == []


def test_reset_clears_faults_and_scripts(bedrock_client, emulator):
    emulator.fault("throttle")
    emulator.script("never used")
    emulator.reset()
    reply = json.loads(
        bedrock_client.invoke_model(modelId=HAIKU, body=request_body())["body"].read()
    )
    assert reply["content"][0]["text"] != "never used"
