"""The boto3 edge against the emulator over loopback: round trips, and every
friendly error produced from the real exception boto3 raises."""

from __future__ import annotations

import http.server
import signal
import threading

import pytest
from helpers import HAIKU as MODEL

from claude_magic.bedrock import (
    NO_CREDENTIALS,
    BedrockClient,
    ClaudeError,
    ClientSettings,
    client_for,
    friendly_error,
    settings_from_env,
)
from claude_magic.core.messages import build_request, text_block
from claude_magic.models import catalog

SCRIPTED = "The scripted answer, in several little pieces of text."


def body(prompt: str = "Hello", max_tokens: int = 200) -> dict:
    return build_request([{"role": "user", "content": [text_block(prompt)]}], max_tokens=max_tokens)


def make_client(emulator, **settings) -> BedrockClient:
    settings = {
        "region": "us-east-1",
        "endpoint_url": emulator.url,
        "offline": True,
        "max_attempts": 1,
        **settings,
    }
    return BedrockClient(ClientSettings(**settings))


def collect(stream) -> tuple[list[dict], ClaudeError | None]:
    events: list[dict] = []
    try:
        for event in stream:
            events.append(event)
    except ClaudeError as exc:
        return events, exc
    return events, None


def text_of(events: list[dict]) -> str:
    return "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")


@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path):
    """An environment where boto3's credential chain finds nothing."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "CLAUDE_MAGIC_ENDPOINT_URL",
        "CLAUDE_MAGIC_OFFLINE",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        empty = tmp_path / name.lower()
        empty.write_text("")
        monkeypatch.setenv(name, str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# ---------------------------------------------------------------- round trips


def test_invoke_round_trip(emulator):
    emulator.script({"content": [{"type": "text", "text": SCRIPTED}]})
    client = make_client(emulator)
    message = client.invoke(MODEL, body("Say something"))
    assert message.text == SCRIPTED
    assert message.usage.output_tokens > 0
    assert message.metrics["outputTokenCount"] == message.usage.output_tokens
    assert message.metrics["inputTokenCount"] == message.usage.input_tokens
    assert {"invocationLatency", "latency_ms", "requestId"} <= set(message.metrics)
    (request,) = emulator.requests()
    assert request["operation"] == "InvokeModel" and request["model_id"] == MODEL
    assert request["body"] == body("Say something")


def test_stream_round_trip(emulator):
    emulator.script({"content": [{"type": "text", "text": SCRIPTED}]})
    client = make_client(emulator)
    with client.stream(MODEL, body()) as stream:
        events, error = collect(stream)
    assert error is None
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    assert text_of(events) == SCRIPTED
    assert stream.closed and stream.stopped
    assert emulator.requests()[0]["operation"] == "InvokeModelWithResponseStream"


def test_the_emulators_own_answers_stream_too(emulator):
    events, error = collect(make_client(emulator).stream(MODEL, body("What is 2 + 2?")))
    assert error is None and text_of(events)


def test_count_tokens_grows_with_the_prompt(emulator):
    client = make_client(emulator)
    base = MODEL.removeprefix("us.")
    short = client.count_tokens(base, body("hi"))
    long = client.count_tokens(MODEL, body("hi " * 500))
    assert 0 < short < long
    assert emulator.requests()[-1]["model_id"] == base  # the profile was mapped to its model


def test_the_client_is_made_once_and_cached(emulator):
    settings = ClientSettings(region="us-east-1", endpoint_url=emulator.url, offline=True)
    client = client_for(settings)
    assert client_for(settings) is client
    assert client.client() is client.client()
    assert client.region == "us-east-1"


def test_closing_a_stream_early_closes_the_connection(emulator):
    emulator.script({"content": [{"type": "text", "text": SCRIPTED * 20}]})
    stream = make_client(emulator).stream(MODEL, body())
    first = [next(stream), next(stream), next(stream)]
    assert first[0]["type"] == "message_start"
    assert not stream.closed
    stream.close()
    assert stream.closed
    with pytest.raises(StopIteration):
        next(stream)


def test_a_keyboard_interrupt_while_waiting_closes_the_connection(emulator):
    emulator.fault("stall", after_events=3, seconds=3)
    stream = make_client(emulator, read_timeout=30).stream(MODEL, body())
    received = []
    previous = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        with pytest.raises(KeyboardInterrupt):
            for event in stream:
                received.append(event)
                if len(received) == 3:  # the stall begins: interrupt while waiting for more
                    signal.setitimer(signal.ITIMER_REAL, 0.3)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(received) == 3
    assert stream.closed


# ---------------------------------------------------------------- credentials and settings


def test_no_credentials_is_caught_before_sending(no_aws_credentials):
    client = BedrockClient(ClientSettings(region="us-east-1"))
    with pytest.raises(ClaudeError) as caught:
        client.invoke(MODEL, body())
    assert caught.value.kind == "no_credentials"
    assert caught.value.message == NO_CREDENTIALS
    assert "%claude offline" in str(caught.value)
    with pytest.raises(ClaudeError, match="No AWS credentials"):
        list(client.stream(MODEL, body()))


def test_a_custom_endpoint_without_credentials_signs_with_dummy_ones(no_aws_credentials, emulator):
    emulator.script({"content": "fine"})
    client = BedrockClient(ClientSettings(region="us-east-1", endpoint_url=emulator.url))
    assert client.invoke(MODEL, body()).text == "fine"
    assert "Credential=offline/" in emulator.requests()[0]["headers"]["Authorization"]


def test_missing_profile(no_aws_credentials):
    client = BedrockClient(ClientSettings(region="us-east-1", profile="no-such-profile"))
    with pytest.raises(ClaudeError, match="'no-such-profile' not found") as caught:
        client.invoke(MODEL, body())
    assert caught.value.kind == "no_credentials"


def test_environment_overrides_endpoint_and_offline():
    base = ClientSettings(region="eu-west-1", endpoint_url="http://configured")
    env = {"CLAUDE_MAGIC_ENDPOINT_URL": "http://127.0.0.1:9999", "CLAUDE_MAGIC_OFFLINE": "1"}
    settings = settings_from_env(base, env)
    assert settings.endpoint_url == "http://127.0.0.1:9999" and settings.offline
    assert settings.region == "eu-west-1"
    assert (
        settings_from_env(ClientSettings(offline=True), {"CLAUDE_MAGIC_OFFLINE": "0"}).offline
        is False
    )
    assert settings_from_env(base, {}) is base


def test_wrong_secret_and_unknown_key_are_explained(monkeypatch):
    from claude_magic.emulator import Emulator

    with Emulator(credentials="AKIDCLAUDEMAGIC:right-secret") as emu:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDCLAUDEMAGIC")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        client = BedrockClient(
            ClientSettings(region="us-east-1", endpoint_url=emu.url, max_attempts=1)
        )
        with pytest.raises(ClaudeError, match="secret access key") as caught:
            client.invoke(MODEL, body())
        assert caught.value.kind == "bad_credentials"

        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSOMEONEELSE")
        client = BedrockClient(
            ClientSettings(region="us-east-1", endpoint_url=emu.url, max_attempts=1)
        )
        with pytest.raises(ClaudeError, match="doesn't recognise these credentials"):
            client.invoke(MODEL, body())

        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "right-secret")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDCLAUDEMAGIC")
        emu.script({"content": "signed correctly"})
        client = BedrockClient(
            ClientSettings(region="us-east-1", endpoint_url=emu.url, max_attempts=1)
        )
        assert client.invoke(MODEL, body()).text == "signed correctly"


def test_access_denied_names_the_model_region_and_permission():
    from botocore.exceptions import ClientError

    exc = ClientError(
        {
            "Error": {
                "Code": "AccessDeniedException",
                "Message": "You don't have access to the model with the specified model ID.",
            },
            "ResponseMetadata": {"HTTPStatusCode": 403},
        },
        "InvokeModel",
    )
    error = friendly_error(exc, invoke_id=MODEL, region="eu-central-1")
    assert error.kind == "access_denied"
    assert error.message.startswith(
        f"Access denied to {MODEL} in eu-central-1: enable model access"
    )
    assert "bedrock:InvokeModel" in error.message


# ---------------------------------------------------------------- request errors


def test_unknown_model(emulator):
    with pytest.raises(ClaudeError) as caught:
        make_client(emulator).invoke("anthropic.claude-9-nonsense-v1:0", body())
    assert caught.value.kind == "unknown_model"
    assert "anthropic.claude-9-nonsense-v1:0" in caught.value.message
    assert "%claude models" in caught.value.message


SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.mark.parametrize(
    "region, model_id, profile",
    [
        ("us-east-1", SONNET_45, "us."),
        ("eu-west-1", SONNET_45, "eu."),
        ("ap-northeast-1", SONNET_45, "apac."),  # no jp. profile for Sonnet 4.5: the APAC one
        ("ap-northeast-1", "anthropic.claude-opus-4-7", "jp."),
        ("ap-southeast-2", "anthropic.claude-opus-4-7", "au."),
        ("ap-southeast-2", "anthropic.claude-opus-4-8", "global."),  # neither au. nor apac.
    ],
)
def test_on_demand_not_supported_suggests_the_regions_profile(emulator, region, model_id, profile):
    name = catalog.lookup(model_id).name
    with pytest.raises(ClaudeError) as caught:
        make_client(emulator, region=region).invoke(model_id, body())
    assert caught.value.kind == "needs_profile"
    assert (
        caught.value.message
        == f"{name} needs an inference profile here: use -m {profile}{model_id}"
    )


def test_other_validation_errors_pass_bedrocks_message_on(emulator):
    bad = body()
    bad["max_tokens"] = 10**6
    with pytest.raises(ClaudeError, match=r"^Bedrock rejected the request: max_tokens") as caught:
        make_client(emulator).invoke(MODEL, bad)
    assert caught.value.kind == "invalid_request"


def test_throttling_after_retries_counts_the_attempts(emulator):
    emulator.fault("throttle", times=10)
    client = make_client(emulator, max_attempts=3, retry_mode="standard")
    with pytest.raises(ClaudeError) as caught:
        client.invoke(MODEL, body())
    assert caught.value.kind == "throttled" and caught.value.attempts == 3
    assert caught.value.message == (
        "Bedrock is throttling requests (after 3 attempts): wait a moment "
        "and retry, or request a higher quota."
    )
    assert len(emulator.requests()) == 3


def test_a_throttle_that_clears_is_retried_quietly(emulator):
    emulator.fault("throttle", times=1)
    emulator.script({"content": "after one retry"})
    message = make_client(emulator, max_attempts=3).invoke(MODEL, body())
    assert message.text == "after one retry"
    assert message.metrics["retryAttempts"] == 1


@pytest.mark.parametrize(
    "fault, kind, words",
    [
        (
            "unavailable",
            "unavailable",
            "Bedrock is unavailable in us-east-1 right now (after 2 attempts)",
        ),
        ("internal", "internal", "internal error (after 2 attempts)"),
        ("model_timeout", "model_timeout", "took too long to answer"),
    ],
)
def test_server_side_failures(emulator, fault, kind, words):
    emulator.fault(fault, times=10)
    with pytest.raises(ClaudeError) as caught:
        make_client(emulator, max_attempts=2).invoke(MODEL, body())
    assert caught.value.kind == kind
    assert words in caught.value.message


def test_503_on_a_stream_request(emulator):
    emulator.fault("unavailable", times=5)
    events, error = collect(make_client(emulator, max_attempts=2).stream(MODEL, body()))
    assert events == [] and error.kind == "unavailable" and not error.mid_stream


def test_read_timeout(emulator):
    emulator.fault("stall", seconds=2)
    with pytest.raises(ClaudeError) as caught:
        make_client(emulator, read_timeout=0.5).invoke(MODEL, body())
    assert caught.value.kind == "timeout"
    assert caught.value.message == (
        "No reply from Bedrock within 0.5 s (read timeout): raise it with "
        "%config ClaudeMagic.read_timeout = 600"
    )


def test_could_not_connect():
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = BedrockClient(
        ClientSettings(region="us-east-1", endpoint_url=url, offline=True, max_attempts=1)
    )
    with pytest.raises(ClaudeError) as caught:
        client.invoke(MODEL, body())
    assert caught.value.kind == "connection"
    assert caught.value.message.startswith(f"Could not connect to {url}")


def test_disconnect_before_an_invoke_reply(emulator):
    emulator.fault("disconnect")
    with pytest.raises(ClaudeError, match="dropped before the reply") as caught:
        make_client(emulator).invoke(MODEL, body())
    assert caught.value.kind == "connection_dropped"


# ---------------------------------------------------------------- mid-stream errors


def test_stream_exception_mid_stream_keeps_what_arrived(emulator):
    emulator.script({"content": [{"type": "text", "text": SCRIPTED}]})
    emulator.fault("stream_exception", after_events=4)
    events, error = collect(make_client(emulator).stream(MODEL, body()))
    assert len(events) == 4 and text_of(events)
    assert error.kind == "stream_error" and error.mid_stream
    assert error.message == (
        "The stream broke off: The model stream failed. Try your request again. "
        "The partial answer is kept."
    )


def test_throttling_inside_the_stream(emulator):
    emulator.fault("stream_exception", after_events=2, exception="throttlingException")
    events, error = collect(make_client(emulator).stream(MODEL, body()))
    assert len(events) == 2
    assert error.message.startswith("The stream broke off: Bedrock is throttling requests")


def test_disconnect_mid_stream(emulator):
    emulator.fault("disconnect", after_events=3)
    stream = make_client(emulator).stream(MODEL, body())
    events, error = collect(stream)
    assert len(events) == 3
    assert error.kind == "connection_dropped" and error.mid_stream
    assert error.message.startswith("The connection dropped mid-answer")
    assert stream.closed


def test_bad_checksum_mid_stream(emulator):
    emulator.fault("bad_crc", after_events=3)
    events, error = collect(make_client(emulator).stream(MODEL, body()))
    assert len(events) == 3
    assert error.kind == "connection_dropped"
    assert "checksum" in error.message and error.message.startswith(
        "The connection dropped mid-answer"
    )


def test_stalled_stream_hits_the_read_timeout(emulator):
    emulator.fault("stall", after_events=2, seconds=2)
    events, error = collect(make_client(emulator, read_timeout=0.5).stream(MODEL, body()))
    assert len(events) == 2
    assert error.kind == "timeout" and error.mid_stream
    assert error.message.startswith("The stream stalled: no data from Bedrock for 0.5 s.")


class _InBandErrorHandler(http.server.BaseHTTPRequestHandler):
    """A stream that starts, then sends Anthropic's in-band error event."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - http.server's naming
        from claude_magic.emulator.wire.eventstream import chunk_frame

        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for n, event in enumerate(
            (
                b'{"type":"message_start","message":{"id":"m","type":"message","role":"assistant",'
                b'"model":"x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}',
                b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
                b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hal"}}',
                b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            )
        ):
            frame = chunk_frame(event, n)
            self.wfile.write(b"%x\r\n%b\r\n" % (len(frame), frame))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args):
        pass


def test_in_band_error_event():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _InBandErrorHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = BedrockClient(
            ClientSettings(
                region="us-east-1",
                offline=True,
                max_attempts=1,
                endpoint_url=f"http://127.0.0.1:{server.server_port}",
            )
        )
        events, error = collect(client.stream(MODEL, body()))
    finally:
        server.shutdown()
        server.server_close()
    assert [e["type"] for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
    ]
    assert error.kind == "overloaded" and error.mid_stream
    assert error.message == "The stream broke off: Overloaded. The partial answer is kept."


def test_offline_ignores_a_broken_aws_profile(monkeypatch, emulator):
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    emulator.script({"content": "offline works"})
    assert make_client(emulator).invoke(MODEL, body()).text == "offline works"
