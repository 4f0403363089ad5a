"""The boto3 edge: a bedrock-runtime client with retries and timeouts, invoke and
stream calls, and friendly one-line errors for everything that can go wrong.

boto3 is imported lazily, inside functions. Every public call raises `ClaudeError`
(never a raw botocore exception); the original stays in `__cause__`.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from . import catalog
from .errors import ClaudeMagicError
from .messages import Message
from .stream import StreamError, decode_chunk

ENDPOINT_ENV = "CLAUDE_MAGIC_ENDPOINT_URL"
OFFLINE_ENV = "CLAUDE_MAGIC_OFFLINE"
OFFLINE_CREDENTIALS = {"aws_access_key_id": "offline", "aws_secret_access_key": "offline"}
RETRY_MODES = ("legacy", "standard", "adaptive")
_FALSY = ("", "0", "false", "no", "off")

NO_CREDENTIALS = (
    "No AWS credentials found. Configure them (aws configure, AWS_PROFILE, or "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or run %claude offline to use the built-in emulator."
)


@dataclass(frozen=True)
class ClientSettings:
    """How to reach Bedrock. `None` means "let boto3's own configuration decide"."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    retry_mode: str = "standard"  # legacy | standard | adaptive
    max_attempts: int = 4  # total attempts, the first one included
    read_timeout: float = 300.0  # botocore's 60 s is too short for long replies
    connect_timeout: float = 10.0
    offline: bool = False  # sign with dummy credentials and talk to `endpoint_url`


def settings_from_env(base: ClientSettings, environ: dict[str, str] | None = None) -> ClientSettings:
    """`base` with the project's environment variables applied on top.

    `CLAUDE_MAGIC_ENDPOINT_URL` overrides `endpoint_url` and `CLAUDE_MAGIC_OFFLINE`
    overrides `offline` (1/true/yes/on, or 0/false/no/off), so a CI job or a Binder
    image can point every notebook somewhere else whatever the notebook configures.
    AWS_PROFILE / AWS_REGION / AWS_DEFAULT_REGION stay boto3's business.
    """
    env = os.environ if environ is None else environ
    changes: dict[str, Any] = {}
    if env.get(ENDPOINT_ENV):
        changes["endpoint_url"] = env[ENDPOINT_ENV].strip()
    if OFFLINE_ENV in env:
        changes["offline"] = env[OFFLINE_ENV].strip().lower() not in _FALSY
    return replace(base, **changes) if changes else base


class ClaudeError(ClaudeMagicError):
    """A user-facing error: `message` is one line that says what to do; `kind`
    names the case (no_credentials, unknown_model, throttled, stream_error, ...)."""

    def __init__(self, message: str, kind: str, *, attempts: int | None = None,
                 mid_stream: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.attempts = attempts
        self.mid_stream = mid_stream  # raised after some events were yielded


# ---------------------------------------------------------------- the client


class BedrockClient:
    """A bedrock-runtime client built lazily from `ClientSettings` and cached."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        self.settings = settings or ClientSettings()
        self._client: Any = None
        self._region: str | None = None

    # -- setup

    @property
    def region(self) -> str:
        """The region requests go to (creating the client if needed)."""
        self.client()
        return self._region or catalog.DEFAULT_REGION

    def client(self) -> Any:
        """The boto3 bedrock-runtime client; raises ClaudeError when it can't be made."""
        if self._client is None:
            try:
                self._client = self._make_client()
            except ClaudeError:
                raise
            except Exception as exc:
                raise friendly_error(exc, region=self.settings.region) from exc
        return self._client

    def _make_client(self) -> Any:
        from botocore.config import Config

        s = self.settings
        if s.retry_mode not in RETRY_MODES:
            raise ClaudeError(f"Unknown retry mode {s.retry_mode!r}: use one of {', '.join(RETRY_MODES)}.", "config")
        if s.offline and not s.endpoint_url:
            raise ClaudeError("Offline mode needs the emulator's endpoint URL: run %claude offline to start it.", "config")
        session = _session(s)
        region = s.region or session.region_name or catalog.DEFAULT_REGION
        credentials: dict[str, str] = {}
        if s.offline:
            credentials = dict(OFFLINE_CREDENTIALS)
        elif session.get_credentials() is None:
            if not s.endpoint_url:
                raise ClaudeError(NO_CREDENTIALS, "no_credentials")
            # An emulator or proxy at a custom endpoint doesn't check signatures.
            credentials = dict(OFFLINE_CREDENTIALS)
        config = Config(
            retries={"mode": s.retry_mode, "total_max_attempts": max(1, s.max_attempts)},
            read_timeout=s.read_timeout,
            connect_timeout=s.connect_timeout,
            user_agent_extra="claude-magic",
        )
        client = session.client(
            "bedrock-runtime", region_name=region, endpoint_url=s.endpoint_url, config=config, **credentials
        )
        self._region = client.meta.region_name
        return client

    def _friendly(self, exc: BaseException, invoke_id: str, **kw: Any) -> ClaudeError:
        if isinstance(exc, ClaudeError):
            return exc
        return friendly_error(
            exc, invoke_id=invoke_id, region=self._region or self.settings.region,
            endpoint_url=self.settings.endpoint_url, read_timeout=self.settings.read_timeout, **kw,
        )

    # -- calls

    def invoke(self, invoke_id: str, body: dict[str, Any]) -> Message:
        """InvokeModel: the whole reply as a Message, with latency and token
        counts from the response headers in `message.metrics`."""
        client = self.client()
        started = time.perf_counter()
        try:
            response = client.invoke_model(
                modelId=invoke_id, body=_dumps(body), contentType="application/json",
                accept="application/json",
            )
            raw = response["body"].read()
        except Exception as exc:
            raise self._friendly(exc, invoke_id) from exc
        try:
            message = Message.from_dict(json.loads(raw))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ClaudeError(f"Bedrock sent a reply that isn't a Claude message: {str(raw[:80])}", "bad_reply") from exc
        message.metrics.update(_header_metrics(response))
        message.metrics["latency_ms"] = round((time.perf_counter() - started) * 1000)
        return message

    def stream(self, invoke_id: str, body: dict[str, Any]) -> EventStream:
        """InvokeModelWithResponseStream: an iterator of decoded Anthropic event
        dicts. Use it as a context manager (or call `close()`) so the HTTP
        connection is closed when the consumer stops early."""
        return EventStream(self, invoke_id, body)

    def count_tokens(self, invoke_id: str, body: dict[str, Any]) -> int:
        """CountTokens for an InvokeModel body (free; counts the input only)."""
        client = self.client()
        model = catalog.lookup(invoke_id)
        model_id = model.id if model else invoke_id
        try:
            response = client.count_tokens(
                modelId=model_id, input={"invokeModel": {"body": _dumps(body)}}
            )
        except Exception as exc:
            raise self._friendly(exc, model_id) from exc
        return int(response["inputTokens"])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _dumps(body: dict[str, Any]) -> str:
    """The body as sent: compact JSON (fitting.fit_body's size estimate assumes it)."""
    return json.dumps(body, separators=(",", ":"))


# What botocore reads to find the region and credentials: a cached session is reused
# only while all of it is unchanged.
_AWS_ENV = (
    "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
)
_SESSIONS: dict[tuple[Any, ...], Any] = {}
_MAX_SESSIONS = 8


def _aws_configuration() -> tuple[Any, ...]:
    env = tuple(os.environ.get(name) for name in _AWS_ENV)
    files = []
    for name, default in (("AWS_CONFIG_FILE", "~/.aws/config"), ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")):
        try:
            stat = os.stat(os.path.expanduser(os.environ.get(name) or default))
            files.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
        except OSError:
            files.append(None)
    return env + tuple(files)


def _session(settings: ClientSettings) -> Any:
    """A boto3 session; offline, one that ignores AWS_PROFILE (a broken AWS setup
    must not stop the emulator). Made once per settings and AWS configuration
    (environment and config files): creating one takes ~15 ms."""
    key = (settings, _aws_configuration())
    session = _SESSIONS.get(key)
    if session is None:
        if len(_SESSIONS) >= _MAX_SESSIONS:
            _SESSIONS.clear()
        session = _SESSIONS[key] = _new_session(settings)
    return session


def _new_session(settings: ClientSettings) -> Any:
    import boto3

    if not settings.offline:
        return boto3.Session(profile_name=settings.profile)
    import botocore.session

    return boto3.Session(botocore_session=botocore.session.Session(session_vars={"profile": (None, None, None, None)}))


def effective_region(settings: ClientSettings) -> str:
    """The region requests will go to: the settings', else boto3's configuration
    (AWS_REGION, AWS_DEFAULT_REGION, the profile), else us-east-1."""
    if settings.region:
        return settings.region
    try:
        region = _session(settings).region_name
    except Exception:  # a missing profile is reported when the client is made
        region = None
    return region or catalog.DEFAULT_REGION


_CLIENTS: dict[ClientSettings, BedrockClient] = {}


def client_for(settings: ClientSettings) -> BedrockClient:
    """One cached BedrockClient per distinct settings."""
    if settings not in _CLIENTS:
        _CLIENTS[settings] = BedrockClient(settings)
    return _CLIENTS[settings]


def _header_metrics(response: dict[str, Any]) -> dict[str, Any]:
    meta = response.get("ResponseMetadata", {})
    headers = meta.get("HTTPHeaders", {})
    metrics: dict[str, Any] = {}
    for header, key in (
        ("x-amzn-bedrock-input-token-count", "inputTokenCount"),
        ("x-amzn-bedrock-output-token-count", "outputTokenCount"),
        ("x-amzn-bedrock-invocation-latency", "invocationLatency"),
        ("x-amzn-bedrock-cache-read-input-token-count", "cacheReadInputTokenCount"),
        ("x-amzn-bedrock-cache-write-input-token-count", "cacheWriteInputTokenCount"),
    ):
        if headers.get(header, "").isdigit():
            metrics[key] = int(headers[header])
    if meta.get("RequestId"):
        metrics["requestId"] = meta["RequestId"]
    metrics["retryAttempts"] = int(meta.get("RetryAttempts") or 0)
    return metrics


# ---------------------------------------------------------------- streaming


class EventStream:
    """The events of one streaming call. Iterating sends the request (on the
    first `next`), yields Anthropic event dicts and raises ClaudeError on any
    failure; closing it (or leaving its `with` block) closes the connection."""

    def __init__(self, owner: BedrockClient, invoke_id: str, body: dict[str, Any]) -> None:
        self._owner = owner
        self.invoke_id = invoke_id
        self._body = body
        self._events = self._generate()
        self._raw: Any = None  # botocore's EventStream
        self.response_metadata: dict[str, Any] = {}
        self.yielded = 0  # events handed out so far
        self.content_events = 0  # content_block_* events among them
        self.stopped = False  # message_stop seen

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> dict[str, Any]:
        return next(self._events)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True once the HTTP response is closed (or was never opened)."""
        return self._raw is None or bool(getattr(self._raw._raw_stream, "closed", True))

    def close(self) -> None:
        self._events.close()
        self._close_raw()

    def _close_raw(self) -> None:
        if self._raw is not None:
            try:
                self._raw.close()
            except Exception:  # closing a broken connection may fail; it's closed either way
                pass

    def _generate(self) -> Iterator[dict[str, Any]]:
        owner, invoke_id = self._owner, self.invoke_id
        try:
            client = owner.client()
            response = client.invoke_model_with_response_stream(
                modelId=invoke_id, body=_dumps(self._body), contentType="application/json",
                accept="application/json",
            )
            self.response_metadata = response.get("ResponseMetadata", {})
            self._raw = response["body"]
            for item in self._raw:
                event = decode_chunk(item)
                if not event:
                    continue
                kind = event.get("type")
                if kind == "content_block_delta":  # the hot path: one test per delta
                    self.content_events += 1
                elif kind == "error":
                    raise _in_band_error(event, self.content_events > 0)
                elif kind == "message_stop":
                    self.stopped = True
                elif isinstance(kind, str) and kind.startswith("content_block"):
                    self.content_events += 1
                self.yielded += 1
                yield event
            if self.yielded and not self.stopped:
                raise ClaudeError(_dropped("the stream ended before the answer was complete",
                                           self.content_events > 0), "connection_dropped", mid_stream=True)
        except (GeneratorExit, ClaudeError):
            raise
        except Exception as exc:
            raise owner._friendly(exc, invoke_id, mid_stream=self.yielded > 0,
                                  partial=self.content_events > 0) from exc
        finally:
            self._close_raw()


def _in_band_error(event: dict[str, Any], partial: bool) -> ClaudeError:
    error = event.get("error") or {}
    text = error.get("message") or error.get("type") or "unknown error"
    kind = "overloaded" if error.get("type") == "overloaded_error" else "stream_error"
    return ClaudeError(_broke_off(text, partial), kind, mid_stream=True)


def _broke_off(text: str, partial: bool) -> str:
    tail = " The partial answer is kept." if partial else " Run the cell again."
    return f"The stream broke off: {text.rstrip('.')}.{tail}"


def _dropped(detail: str, partial: bool) -> str:
    tail = " The partial answer is kept; run the cell again for a full one." if partial else " Run the cell again."
    return f"The connection dropped mid-answer ({detail}).{tail}"


# ---------------------------------------------------------------- friendly errors

_ON_DEMAND = re.compile(r"Invocation of model ID (\S+) with on-demand throughput")
_THROTTLED = ("ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException")
_BAD_CREDENTIALS = {
    "UnrecognizedClientException": "AWS doesn't recognise these credentials (invalid security token): check AWS_PROFILE or aws configure, or log in again (aws sso login).",
    "InvalidSignatureException": "AWS rejected the request signature: check the secret access key (aws configure) or your system clock.",
    "ExpiredTokenException": "Your AWS session token has expired: refresh your credentials (aws sso login, or new temporary keys).",
    "IncompleteSignatureException": "AWS rejected the request signature: check your AWS credentials (aws configure).",
}
_STREAM_CODES = {  # event-stream exception types (camelCase) -> modelled error codes
    "internalServerException": "InternalServerException",
    "modelStreamErrorException": "ModelStreamErrorException",
    "validationException": "ValidationException",
    "throttlingException": "ThrottlingException",
    "modelTimeoutException": "ModelTimeoutException",
    "serviceUnavailableException": "ServiceUnavailableException",
}


def friendly_error(
    exc: BaseException,
    *,
    invoke_id: str | None = None,
    model: str | catalog.Model | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    read_timeout: float | None = None,
    mid_stream: bool = False,
    partial: bool = False,
) -> ClaudeError:
    """Map any exception from boto3/botocore/urllib3 (or the stream) to a ClaudeError.

    `model` is the name (or catalogue Model) to show, default `invoke_id`;
    `mid_stream` says some events were already received, `partial` that some
    answer content was.
    """
    if isinstance(exc, ClaudeError):
        return exc
    name = (model.name if isinstance(model, catalog.Model) else model) or invoke_id or "the model"
    where = region or catalog.DEFAULT_REGION
    import botocore.exceptions as bx
    from botocore.eventstream import ChecksumMismatch, ParserError
    from urllib3.exceptions import ProtocolError
    from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout

    if isinstance(exc, bx.ClientError):
        return _client_error(exc, name=name, invoke_id=invoke_id, region=where, mid_stream=mid_stream,
                             partial=partial)
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return ClaudeError(NO_CREDENTIALS, "no_credentials")
    if isinstance(exc, bx.ProfileNotFound):
        profile = getattr(exc, "kwargs", {}).get("profile", "?")
        return ClaudeError(
            f"AWS profile {profile!r} not found: check AWS_PROFILE or ~/.aws/config "
            "(aws configure list-profiles), or run %claude offline to use the built-in emulator.",
            "no_credentials",
        )
    if isinstance(exc, bx.NoRegionError):
        return ClaudeError(
            "No AWS region set: set AWS_REGION (e.g. us-east-1) or %config ClaudeMagic.region = 'us-east-1'.",
            "no_region",
        )
    if isinstance(exc, (bx.SSOError, bx.TokenRetrievalError)):
        return ClaudeError("Your AWS SSO login has expired or is missing: run aws sso login, then retry.",
                           "no_credentials")
    if isinstance(exc, bx.CredentialRetrievalError):
        return ClaudeError(f"Could not load AWS credentials ({exc}): check your AWS profile.", "no_credentials")
    if isinstance(exc, (bx.ReadTimeoutError, Urllib3ReadTimeout)):
        seconds = f"{read_timeout:g} s" if read_timeout else "the read timeout"
        if mid_stream:
            return ClaudeError(
                f"The stream stalled: no data from Bedrock for {seconds}. "
                + ("The partial answer is kept. " if partial else "")
                + "Run the cell again, or raise %config ClaudeMagic.read_timeout.",
                "timeout", mid_stream=True,
            )
        return ClaudeError(
            f"No reply from Bedrock within {seconds} (read timeout): raise it with "
            "%config ClaudeMagic.read_timeout = 600",
            "timeout",
        )
    if isinstance(exc, (bx.ConnectTimeoutError, bx.EndpointConnectionError)):
        target = endpoint_url or getattr(exc, "kwargs", {}).get("endpoint_url") or f"Bedrock in {where}"
        hint = ("is the emulator running? (%claude offline starts one)" if endpoint_url
                else "check your network connection and the region")
        return ClaudeError(f"Could not connect to {target}: {hint}.", "connection")
    if isinstance(exc, ChecksumMismatch):
        return ClaudeError(_dropped("corrupted data: checksum mismatch", partial), "connection_dropped",
                           mid_stream=mid_stream)
    if isinstance(exc, (bx.ResponseStreamingError, ProtocolError, bx.ConnectionClosedError, ParserError,
                        ConnectionError)):
        return ClaudeError(_dropped("the connection was closed", partial) if mid_stream else
                           "The connection to Bedrock dropped before the reply: run the cell again.",
                           "connection_dropped", mid_stream=mid_stream)
    if isinstance(exc, bx.ParamValidationError):
        return ClaudeError(f"Bedrock rejected the request: {_one_line(str(exc))}", "invalid_request")
    if isinstance(exc, StreamError):  # an in-band error event or an undecodable chunk
        kind = "overloaded" if exc.kind == "overloaded_error" else "stream_error"
        return ClaudeError(_broke_off(_one_line(str(exc)), partial), kind, mid_stream=True)
    if isinstance(exc, bx.BotoCoreError):
        return ClaudeError(f"AWS client error: {_one_line(str(exc))}", "aws")
    return ClaudeError(f"Unexpected error talking to Bedrock: {type(exc).__name__}: {_one_line(str(exc))}",
                       "unexpected")


def _client_error(exc: Any, *, name: str, invoke_id: str | None, region: str, mid_stream: bool,
                  partial: bool) -> ClaudeError:
    error = exc.response.get("Error", {})
    code = _STREAM_CODES.get(error.get("Code", ""), error.get("Code", ""))
    text = _one_line(error.get("Message") or str(exc))
    attempts = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts") or 0) + 1
    stream_broken = mid_stream or type(exc).__name__ == "EventStreamError"

    if stream_broken and code not in ("AccessDeniedException", "ResourceNotFoundException"):
        if code in _THROTTLED:
            text = f"Bedrock is throttling requests ({text.rstrip('.')})"
        return ClaudeError(_broke_off(text, partial), "stream_error", mid_stream=True)
    if code in _THROTTLED:
        kind = "quota" if code == "ServiceQuotaExceededException" else "throttled"
        return ClaudeError(
            f"Bedrock is throttling requests (after {attempts} attempt{'s' * (attempts != 1)}): "
            "wait a moment and retry, or request a higher quota.",
            kind, attempts=attempts,
        )
    if code == "ValidationException":
        return _validation_error(text, name=name, invoke_id=invoke_id, region=region)
    if code == "AccessDeniedException":
        return ClaudeError(
            f"Access denied to {name} in {region}: enable model access in the Bedrock console "
            "(Model access) or check your IAM permissions (bedrock:InvokeModel, "
            "bedrock:InvokeModelWithResponseStream).",
            "access_denied",
        )
    if code in _BAD_CREDENTIALS:
        return ClaudeError(_BAD_CREDENTIALS[code], "bad_credentials")
    if code == "ResourceNotFoundException":
        return ClaudeError(f"{name} was not found in {region} ({text.rstrip('.')}): "
                           "run %claude models to list the models.", "unknown_model")
    if code == "ModelNotReadyException":
        return ClaudeError(f"{name} is not ready yet (after {attempts} attempts): wait a minute and retry.",
                           "not_ready", attempts=attempts)
    if code == "ModelTimeoutException":
        return ClaudeError(f"{name} took too long to answer (model timeout): retry, or ask for a shorter "
                           "answer (lower max_tokens).", "model_timeout")
    if code == "ServiceUnavailableException":
        return ClaudeError(f"Bedrock is unavailable in {region} right now (after {attempts} attempts): "
                           "retry in a minute.", "unavailable", attempts=attempts)
    if code == "InternalServerException":
        return ClaudeError(f"Bedrock had an internal error (after {attempts} attempts): retry in a moment.",
                           "internal", attempts=attempts)
    if code in ("ModelErrorException", "ModelStreamErrorException"):
        return ClaudeError(f"{name} failed to process the request ({text.rstrip('.')}): retry.",
                           "model_error")
    return ClaudeError(f"Bedrock error {code or 'unknown'}: {text}", "bedrock")


def _validation_error(text: str, *, name: str, invoke_id: str | None, region: str) -> ClaudeError:
    if "model identifier is invalid" in text:
        sent = f" (sent as {invoke_id})" if invoke_id and invoke_id != name else ""
        return ClaudeError(
            f"Unknown model {name}{sent} in {region}: run %claude models to list the models.",
            "unknown_model",
        )
    on_demand = _ON_DEMAND.search(text)
    if on_demand:
        model = catalog.lookup(on_demand.group(1)) or (catalog.lookup(invoke_id) if invoke_id else None)
        if model and model.profiles:
            return ClaudeError(
                f"{model.name} needs an inference profile here: use -m {catalog.preferred_profile(model, region)}",
                "needs_profile",
            )
        return ClaudeError(f"{name} needs an inference profile here: run %claude models to find its profile id.",
                           "needs_profile")
    if "Input is too long" in text or "prompt is too long" in text:
        return ClaudeError("The conversation is too long for the model: start afresh with %claude reset, "
                           "or drop turns with %claude undo.", "too_long")
    return ClaudeError(f"Bedrock rejected the request: {text}", "invalid_request")


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
