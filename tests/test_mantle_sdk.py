"""The anthropic SDK's `AnthropicBedrockMantle` (the newest release), unmodified, against
the emulator's Messages API (`/anthropic/v1/messages`): create, stream, a tool round trip,
count_tokens, an error mid-stream, a throttle and its retry, 529 overloaded, API keys and
SigV4 for `bedrock-mantle`, and errors in Anthropic's shape. LiteLLM's `bedrock/mantle/`
route too."""

from __future__ import annotations

import json
import urllib.request

import anthropic
import pytest
from anthropic import AnthropicBedrockMantle

from claude_magic.emulator import Emulator

OPUS = "anthropic.claude-opus-4-7"  # takes the SDK's own anthropic-version (2026-10-21)
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"  # older: needs anthropic-version 2023-06-01
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
HELLO = [{"role": "user", "content": "Hello from the SDK"}]


@pytest.fixture
def sdk(emulator):
    return AnthropicBedrockMantle(
        base_url=emulator.url + "/anthropic",
        api_key="any-key",
        aws_region="us-east-1",
        max_retries=0,
    )


def test_create(sdk, emulator):
    message = sdk.messages.create(model=OPUS, max_tokens=300, messages=HELLO)
    assert message.role == "assistant" and message.stop_reason == "end_turn"
    assert "Hello from the SDK" in message.content[0].text
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    request = emulator.requests()[-1]
    assert (request["operation"], request["model_id"], request["status"]) == (
        "CreateMessage",
        OPUS,
        200,
    )
    assert request["body"]["model"] == OPUS and "anthropic_version" not in request["body"]
    assert request["invoke_body"]["anthropic_version"] == "2026-10-21"  # the SDK's header


def test_stream_with_anthropics_event_names(sdk, emulator):
    emulator.script("Streamed words, one after another.")
    with sdk.messages.stream(model=OPUS, max_tokens=300, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Streamed words, one after another." == final.content[0].text
    assert final.usage.output_tokens > 0
    raw = _post(emulator, {"model": OPUS, "max_tokens": 50, "stream": True, "messages": HELLO})
    names = [
        line.split(": ", 1)[1] for line in raw.decode().splitlines() if line.startswith("event: ")
    ]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-2:] == ["message_delta", "message_stop"] and "content_block_delta" in names


def test_tool_round_trip_with_the_sdks_own_blocks(sdk, emulator):
    emulator.script(
        {
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_m1",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                }
            ],
            "stop_reason": "tool_use",
        }
    )
    question = {"role": "user", "content": "Weather in Oslo?"}
    first = sdk.messages.create(model=OPUS, max_tokens=300, tools=[WEATHER], messages=[question])
    use = first.content[0]
    assert first.stop_reason == "tool_use" and (use.name, use.input) == (
        "get_weather",
        {"city": "Oslo"},
    )
    second = sdk.messages.create(
        model=OPUS,
        max_tokens=300,
        tools=[WEATHER],
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": use.id, "content": "Sunny, 21 °C"}
                ],
            },
        ],
    )
    assert second.stop_reason == "end_turn" and "Sunny" in second.content[0].text


def test_count_tokens_for_models_bedrock_runtime_does_not_count(sdk, emulator, bedrock_client):
    counted = sdk.messages.count_tokens(model="anthropic.claude-opus-5", messages=HELLO)
    assert counted.input_tokens > 0
    assert emulator.requests()[-1]["operation"] == "CountMessageTokens"
    beta = sdk.beta.messages.count_tokens(
        model="anthropic.claude-opus-5", messages=HELLO
    )  # adds its beta
    assert beta.input_tokens == counted.input_tokens
    with pytest.raises(Exception, match="doesn't support counting tokens"):
        bedrock_client.count_tokens(
            modelId="anthropic.claude-opus-5",
            input={
                "invokeModel": {
                    "body": json.dumps(
                        {
                            "anthropic_version": "bedrock-2023-05-31",
                            "max_tokens": 10,
                            "messages": HELLO,
                        }
                    )
                }
            },
        )


def test_error_event_mid_stream(sdk, emulator):
    emulator.fault("stream_exception", after_events=5, exception="serviceUnavailableException")
    seen = []
    with pytest.raises(anthropic.APIStatusError) as info:
        with sdk.messages.stream(model=OPUS, max_tokens=300, messages=HELLO) as stream:
            for text in stream.text_stream:
                seen.append(text)
    assert seen and info.value.body["error"]["type"] == "overloaded_error"


def test_a_throttle_is_retried_after_retry_after(emulator):
    sdk = AnthropicBedrockMantle(
        base_url=emulator.url + "/anthropic", api_key="k", aws_region="us-east-1", max_retries=2
    )
    emulator.fault("throttle")
    response = sdk.messages.with_raw_response.create(model=OPUS, max_tokens=100, messages=HELLO)
    assert response.retries_taken == 1 and response.parse().content[0].text
    statuses = [r["status"] for r in emulator.requests()]
    assert statuses == [429, 200]


def test_errors_in_anthropics_shape(sdk, emulator):
    emulator.fault("throttle")
    with pytest.raises(anthropic.RateLimitError) as throttled:
        sdk.messages.create(model=OPUS, max_tokens=100, messages=HELLO)
    assert throttled.value.response.headers["retry-after"] == "1"
    assert throttled.value.body["error"]["type"] == "rate_limit_error"
    emulator.fault("overloaded")
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        sdk.messages.create(model=OPUS, max_tokens=100, messages=HELLO)
    assert overloaded.value.status_code == 529
    with pytest.raises(anthropic.NotFoundError, match="without a geography prefix"):
        sdk.messages.create(model="us." + OPUS, max_tokens=100, messages=HELLO)
    with pytest.raises(anthropic.BadRequestError, match="Invalid API version: 2026-10-21"):
        sdk.messages.create(model=SONNET_45, max_tokens=100, messages=HELLO)
    older = sdk.with_options(default_headers={"anthropic-version": "2023-06-01"})
    assert (
        older.messages.create(model=SONNET_45, max_tokens=100, messages=HELLO).role == "assistant"
    )
    with pytest.raises(anthropic.BadRequestError, match="temperature"):  # the same catalogue rules
        sdk.messages.create(
            model=OPUS, max_tokens=100, messages=HELLO, extra_body={"temperature": 0.2}
        )
    with pytest.raises(anthropic.BadRequestError, match="invalid beta flag"):
        sdk.beta.messages.create(
            model=OPUS, max_tokens=100, messages=HELLO, betas=["no-such-beta-2099-01-01"]
        )


def test_api_keys_and_sigv4_for_bedrock_mantle():
    with Emulator(credentials="AKIDMANTLE:secret", bearer_tokens="good-key") as emu:
        base = emu.url + "/anthropic"
        for client in (
            AnthropicBedrockMantle(base_url=base, api_key="good-key", max_retries=0),
            AnthropicBedrockMantle(
                base_url=base,
                aws_access_key="AKIDMANTLE",
                aws_secret_key="secret",
                aws_region="us-east-1",
                max_retries=0,
            ),
        ):
            assert client.messages.create(model=OPUS, max_tokens=50, messages=HELLO).stop_reason
        request = urllib.request.Request(
            base + "/v1/messages",
            method="POST",
            data=json.dumps({"model": OPUS, "max_tokens": 50, "messages": HELLO}).encode(),
            headers={
                "x-api-key": "good-key",
                "anthropic-version": "2023-06-01",
                "content-type": "application/json",
            },
        )
        with urllib.request.urlopen(request) as answer:
            assert json.load(answer)["type"] == "message"
        with pytest.raises(anthropic.AuthenticationError, match="API Key"):
            AnthropicBedrockMantle(base_url=base, api_key="wrong", max_retries=0).messages.create(
                model=OPUS, max_tokens=50, messages=HELLO
            )
        with pytest.raises(anthropic.AuthenticationError, match="signature"):
            AnthropicBedrockMantle(
                base_url=base,
                aws_access_key="AKIDMANTLE",
                aws_secret_key="wrong",
                aws_region="us-east-1",
                max_retries=0,
            ).messages.create(model=OPUS, max_tokens=50, messages=HELLO)


def test_litellm_bedrock_mantle_route(emulator, aws_env):
    litellm = pytest.importorskip("litellm")
    emulator.script("Hello through LiteLLM.")
    response = litellm.completion(
        model="bedrock/mantle/" + OPUS,
        api_base=emulator.url,
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=100,
        aws_region_name="us-east-1",
    )
    assert response.choices[0].message.content == "Hello through LiteLLM."
    assert emulator.requests()[-1]["operation"] == "CreateMessage"


def _post(emulator, body):
    request = urllib.request.Request(
        emulator.url + "/anthropic/v1/messages",
        method="POST",
        data=json.dumps(body).encode(),
        headers={
            "x-api-key": "k",
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
        },
    )
    with urllib.request.urlopen(request) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        return answer.read()


def _raw(emulator, method, path, body=b"", headers=None):
    request = urllib.request.Request(
        emulator.url + path,
        method=method,
        data=body or None,
        headers={
            "x-api-key": "k",
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_the_routes_answer_in_anthropics_error_shape(emulator):
    status, body = _raw(emulator, "POST", "/anthropic/v1/nothing", b"{}")
    assert status == 404 and body["type"] == "error" and body["error"]["type"] == "not_found_error"
    status, body = _raw(emulator, "GET", "/anthropic/v1/messages")
    assert status == 405 and body["error"]["type"] == "invalid_request_error"
    status, body = _raw(emulator, "POST", "/anthropic/v1/messages", b"{not json")
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    status, body = _raw(
        emulator,
        "POST",
        "/anthropic/v1/messages",
        json.dumps(
            {
                "model": OPUS,
                "max_tokens": 10,
                "messages": HELLO,
                "anthropic_beta": ["x"],
                "surprise": 1,
            }
        ).encode(),
    )
    assert status == 400 and body["error"]["message"] == "surprise: Extra inputs are not permitted"
    status, body = _raw(
        emulator,
        "POST",
        "/anthropic/v1/messages",
        json.dumps({"max_tokens": 10, "messages": HELLO}).encode(),
    )
    assert status == 400 and body["error"]["message"] == "model: Field required"
    status, body = _raw(
        emulator,
        "POST",
        "/anthropic/v1/messages",
        json.dumps({"model": OPUS, "max_tokens": 10, "messages": HELLO}).encode(),
        {"x-api-key": ""},
    )
    assert status == 401 and body["error"]["type"] == "authentication_error"
    status, body = _raw(
        emulator,
        "POST",
        "/anthropic/v1/messages",
        json.dumps(
            {"model": "anthropic.claude-3-haiku-20240307-v1:0", "max_tokens": 10, "messages": HELLO}
        ).encode(),
    )
    assert status == 404 and "end of its life" in body["error"]["message"]


def test_structured_output_is_refused_on_mantle_and_betas_per_route(emulator, bedrock_client):
    status, body = _raw(
        emulator,
        "POST",
        "/anthropic/v1/messages",
        json.dumps(
            {
                "model": SONNET_45,
                "max_tokens": 100,
                "messages": HELLO,
                "output_config": {
                    "format": {
                        "type": "json_schema",
                        "schema": {"type": "object", "additionalProperties": False},
                    }
                },
            }
        ).encode(),
    )
    assert status == 400 and body["error"]["message"].startswith(
        "output_config.format: structured outputs"
    )
    for beta in ("compact-2026-01-12", "interleaved-thinking-2025-05-14"):  # both taken on mantle
        status, _ = _raw(
            emulator,
            "POST",
            "/anthropic/v1/messages",
            json.dumps(  # (compaction: 4.6 and later)
                {"model": "anthropic.claude-sonnet-4-6", "max_tokens": 100, "messages": HELLO}
            ).encode(),
            {"anthropic-beta": beta},
        )
        assert status == 200
    with pytest.raises(
        Exception, match="invalid beta flag"
    ):  # the catalogue: Converse doesn't take it
        bedrock_client.converse(
            modelId="us." + SONNET_45,
            messages=[{"role": "user", "content": [{"text": "Hi"}]}],
            additionalModelRequestFields={"anthropic_beta": ["compact-2026-01-12"]},
        )


def test_a_corrupt_event_mid_stream(sdk, emulator):
    emulator.fault("bad_crc", after_events=4)
    with pytest.raises(json.JSONDecodeError):
        with sdk.messages.stream(model=OPUS, max_tokens=300, messages=HELLO) as stream:
            "".join(stream.text_stream)
