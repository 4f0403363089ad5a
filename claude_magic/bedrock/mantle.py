"""The Messages API on Bedrock (bedrock-mantle) as a route: the same InvokeModel body,
sent with `model` in it, the API version and betas as headers, to
`https://bedrock-mantle.{region}.api.aws/anthropic/v1/messages`.

The anthropic SDK's `AnthropicBedrockMantle` (imported when this route is first used)
does the HTTP, the SSE decoding, its retries (which honour `retry-after`) and SigV4
signing for `bedrock-mantle`; this module turns bodies into its requests, its events into
the dicts the fold takes, and its exceptions into the same one-line errors as the other
routes. Where requests go: the emulator when offline, else
`ANTHROPIC_BEDROCK_MANTLE_BASE_URL`, else a custom endpoint's `/anthropic`, else AWS.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from ..core.extras import missing_extra
from ..core.messages import Message
from ..models import catalog
from .client import EventStream, Guardrail
from .errors import NO_CREDENTIALS, ClaudeError, coded_error, dropped_message, friendly_error
from .settings import (
    BEARER_ENV,
    OFFLINE_CREDENTIALS,
    ClientSettings,
    _last4,
    bearer_token,
    boto_session,
    effective_region,
)

BASE_URL_ENV = "ANTHROPIC_BEDROCK_MANTLE_BASE_URL"
API_VERSION = "2023-06-01"  # the Messages API version every model on Bedrock takes
PATH = "/v1/messages"
COUNT_PATH = "/v1/messages/count_tokens"
COUNTED_FIELDS = (
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
)  # what count_tokens takes
# Anthropic's error types as Bedrock's modelled error codes (the friendly lines are shared).
ERROR_CODES = {
    "invalid_request_error": "ValidationException",
    "permission_error": "AccessDeniedException",
    "not_found_error": "ResourceNotFoundException",
    "rate_limit_error": "ThrottlingException",
    "overloaded_error": "ServiceUnavailableException",
    "api_error": "InternalServerException",
    "timeout_error": "ModelTimeoutException",
    "request_too_large": "ValidationException",
}
NO_GUARDRAIL = (
    "Bedrock guardrails go with InvokeModel and Converse: set %config ClaudeMagic.api = "
    '"invoke" (or unset ClaudeMagic.guardrail_id) to use one.'
)


def base_url(settings: ClientSettings, environ: Mapping[str, str] | None = None) -> str:
    """The Messages API's base URL for `settings` (the paths add /v1/messages)."""
    env = os.environ if environ is None else environ
    endpoint = (settings.endpoint_url or "").rstrip("/")
    if settings.offline and endpoint:
        return endpoint + "/anthropic"
    if env.get(BASE_URL_ENV, "").strip():
        return env[BASE_URL_ENV].strip().rstrip("/")
    if endpoint:
        return endpoint + "/anthropic"
    return f"https://bedrock-mantle.{effective_region(settings)}.api.aws/anthropic"


def _auth(settings: ClientSettings) -> tuple[dict[str, Any], str]:
    """The SDK's auth arguments for `settings`, and how they read in `%claude config`."""
    if settings.offline:
        return (
            {
                "aws_access_key": OFFLINE_CREDENTIALS["aws_access_key_id"],
                "aws_secret_key": OFFLINE_CREDENTIALS["aws_secret_access_key"],
            },
            "SigV4 (bedrock-mantle), dummy access key (offline emulator)",
        )
    token = bearer_token()
    if token:
        return {
            "api_key": token
        }, f"API key ({_last4(token)}) from {BEARER_ENV}, as Authorization: Bearer"
    credentials = boto_session(settings).get_credentials()
    if credentials is not None:
        shown = f"SigV4 (bedrock-mantle), access key id ({_last4(credentials.access_key)}) from {credentials.method}"
        return ({"aws_profile": settings.profile} if settings.profile else {}), shown
    if settings.endpoint_url:  # an emulator or proxy at a custom endpoint doesn't check signatures
        return (
            {
                "aws_access_key": OFFLINE_CREDENTIALS["aws_access_key_id"],
                "aws_secret_key": OFFLINE_CREDENTIALS["aws_secret_access_key"],
            },
            "none: dummy access key for the custom endpoint",
        )
    raise ClaudeError(NO_CREDENTIALS, "no_credentials")


def describe(settings: ClientSettings) -> tuple[str, str]:
    """(endpoint, authentication) of this route for `settings`, secrets masked."""
    try:
        auth = _auth(settings)[1]
    except ClaudeError:
        auth = "none found"
    except Exception as exc:  # a missing profile, a broken credential_process...
        auth = f"none: loading AWS credentials failed ({type(exc).__name__})"
    return base_url(settings), auth


def messages_body(invoke_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """An InvokeModel body as the Messages API's body and headers."""
    payload = {"model": invoke_id}
    payload.update(
        (k, v) for k, v in body.items() if k not in ("anthropic_version", "anthropic_beta")
    )
    headers = {"anthropic-version": API_VERSION}
    if body.get("anthropic_beta"):
        headers["anthropic-beta"] = ",".join(body["anthropic_beta"])
    return payload, headers


class MantleClient:
    """The Messages API route, with the calls of `BedrockClient` (invoke, stream, count_tokens)."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        self.settings = settings or ClientSettings()
        self._sdk: Any = None
        self._token: str | None = None

    def client(self) -> Any:
        """The SDK client (made on first use; a changed API key makes a new one)."""
        if self._sdk is not None and bearer_token() != self._token:
            self.close()
        if self._sdk is None:
            if (
                line := missing_extra("anthropic", "mantle", 'ClaudeMagic.api = "mantle"')
            ) is not None:
                raise ClaudeError(line, "config")
            try:
                self._sdk = self._make()
            except ClaudeError:
                raise
            except Exception as exc:
                raise friendly_error(exc, region=self.settings.region) from exc
        return self._sdk

    def _make(self) -> Any:
        from anthropic import AnthropicBedrockMantle, Timeout

        s = self.settings
        if s.offline and not s.endpoint_url:
            raise ClaudeError(
                "Offline mode needs the emulator's endpoint URL: run %claude offline to start it.",
                "config",
            )
        self._token = bearer_token()
        auth, _ = _auth(s)
        return AnthropicBedrockMantle(
            base_url=base_url(s),
            aws_region=effective_region(s),
            max_retries=max(0, s.max_attempts - 1),
            timeout=Timeout(s.read_timeout, connect=s.connect_timeout),
            default_headers={"anthropic-version": API_VERSION},
            **auth,
        )

    def close(self) -> None:
        if self._sdk is not None:
            self._sdk.close()
            self._sdk = None

    def _friendly(
        self, exc: BaseException, invoke_id: str, *, mid_stream: bool = False, partial: bool = False
    ) -> ClaudeError:
        return mantle_error(
            exc, invoke_id=invoke_id, settings=self.settings, mid_stream=mid_stream, partial=partial
        )

    # -- calls

    def invoke(self, invoke_id: str, body: dict[str, Any], guardrail: Guardrail = None) -> Message:
        """One request without streaming: the reply as a Message."""
        if guardrail is not None:
            raise ClaudeError(NO_GUARDRAIL, "config")
        payload, headers = messages_body(invoke_id, body)
        started = time.perf_counter()
        try:
            data = self.client().post(
                PATH, cast_to=object, body=payload, options={"headers": headers}
            )
        except Exception as exc:
            raise self._friendly(exc, invoke_id) from exc
        if not isinstance(data, dict):
            raise ClaudeError(
                f"Bedrock sent a reply that isn't a Claude message: {str(data)[:80]}", "bad_reply"
            )
        message = Message.from_dict(data)
        message.metrics["latency_ms"] = round((time.perf_counter() - started) * 1000)
        return message

    def stream(
        self, invoke_id: str, body: dict[str, Any], guardrail: Guardrail = None
    ) -> EventStream:
        """The reply's events (Anthropic event dicts), as `BedrockClient.stream`."""
        if guardrail is not None:
            raise ClaudeError(NO_GUARDRAIL, "config")
        return MantleEventStream(self, invoke_id, body)  # type: ignore[arg-type]  # the same calls

    def count_tokens(self, invoke_id: str, body: dict[str, Any]) -> int:
        """The Messages API's count_tokens (every model; one attempt)."""
        payload, headers = messages_body(invoke_id, body)
        payload = {k: v for k, v in payload.items() if k == "model" or k in COUNTED_FIELDS}
        try:
            data = self.client().post(
                COUNT_PATH,
                cast_to=object,
                body=payload,
                options={"headers": headers, "max_retries": 0},
            )
            return int(data["input_tokens"])
        except Exception as exc:
            raise self._friendly(exc, invoke_id) from exc


_CLIENTS: dict[ClientSettings, MantleClient] = {}


def mantle_for(settings: ClientSettings) -> MantleClient:
    """One cached MantleClient per distinct settings (as `client.client_for`)."""
    if settings not in _CLIENTS:
        _CLIENTS[settings] = MantleClient(settings)
    return _CLIENTS[settings]


def close_all() -> None:
    """Close every cached client's connections (the extension is unloaded)."""
    clients = list(_CLIENTS.values())
    _CLIENTS.clear()
    for client in clients:
        try:
            client.close()
        except Exception:  # a connection pool that is gone already
            pass


class MantleEventStream(EventStream):
    """The Messages API's stream: the SDK decodes the server-sent events into dicts."""

    _stream_key = "stream"

    @property
    def closed(self) -> bool:
        return self._raw is None or bool(self._raw.response.is_closed)

    def _call(self, client: Any) -> dict[str, Any]:
        from anthropic import Stream

        payload, headers = messages_body(self.invoke_id, self._body)
        payload["stream"] = True
        stream = client.post(
            PATH,
            cast_to=object,
            body=payload,
            options={"headers": headers},
            stream=True,
            stream_cls=Stream[object],
        )
        return {
            "ResponseMetadata": {"RequestId": stream.response.headers.get("x-amzn-requestid")},
            "stream": stream,
        }

    def _events_of(self, raw: Any) -> Iterator[dict[str, Any]]:
        return iter(raw)


def mantle_error(
    exc: BaseException,
    *,
    invoke_id: str,
    settings: ClientSettings,
    mid_stream: bool = False,
    partial: bool = False,
) -> ClaudeError:
    """Any failure of the SDK's calls as one line (shared with the other routes where they agree)."""
    if isinstance(exc, ClaudeError):
        return exc
    import anthropic

    region = settings.region or catalog.DEFAULT_REGION
    model = catalog.lookup(invoke_id)
    name = model.name if model is not None else invoke_id
    if isinstance(exc, anthropic.APIStatusError):
        error = exc.body.get("error", {}) if isinstance(exc.body, dict) else {}
        if not error and isinstance(exc.body, dict) and exc.body.get("type"):
            error = (
                exc.body
            )  # an SSE error event's payload: {"type": "error", "error": {...}} or bare
        kind = str(error.get("type") or "")
        text = " ".join(str(error.get("message") or exc.message).split())
        code = ERROR_CODES.get(kind, "")
        if kind == "authentication_error" or exc.status_code == 401:
            code = (
                "InvalidSignatureException"
                if "signature" in text.lower()
                else "UnrecognizedClientException"
                if "security token" in text
                else "AccessDeniedException"
            )
        stream_broken = mid_stream or exc.status_code == 200
        retried = exc.status_code in (408, 409, 429) or exc.status_code >= 500
        attempts = max(1, settings.max_attempts) if retried else 1
        return coded_error(
            code or f"HTTP {exc.status_code}",
            text,
            attempts,
            name=name,
            invoke_id=invoke_id,
            region=region,
            stream_broken=stream_broken,
            partial=partial,
        )
    if isinstance(exc, anthropic.APITimeoutError):
        if mid_stream:
            return ClaudeError(
                f"The stream stalled: no data from Bedrock for {settings.read_timeout:g} s. "
                + ("The partial answer is kept. " if partial else "")
                + "Run the cell again, or raise %config ClaudeMagic.read_timeout.",
                "timeout",
                mid_stream=True,
            )
        return ClaudeError(
            f"No reply from Bedrock within {settings.read_timeout:g} s (read timeout): raise it "
            "with %config ClaudeMagic.read_timeout = 600",
            "timeout",
        )
    if isinstance(exc, anthropic.APIConnectionError) or isinstance(
        exc, (ConnectionError, json.JSONDecodeError)
    ):
        if mid_stream:
            detail = (
                "an event that isn't JSON"
                if isinstance(exc, json.JSONDecodeError)
                else "the connection was closed"
            )
            return ClaudeError(
                dropped_message(detail, partial), "connection_dropped", mid_stream=True
            )
        target = base_url(settings)
        hint = (
            "is the emulator running? (%claude offline starts one)"
            if settings.endpoint_url
            else "check your network connection and the region"
        )
        return ClaudeError(f"Could not connect to {target}: {hint}.", "connection")
    if isinstance(exc, RuntimeError) and "credentials" in str(exc).lower():
        return ClaudeError(NO_CREDENTIALS, "no_credentials")
    return friendly_error(
        exc,
        invoke_id=invoke_id,
        region=region,
        endpoint_url=settings.endpoint_url,
        read_timeout=settings.read_timeout,
        mid_stream=mid_stream,
        partial=partial,
    )
