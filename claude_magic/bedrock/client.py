"""The boto3 edge: a bedrock-runtime client with retries and timeouts, invoke and
stream calls, and friendly one-line errors for everything that can go wrong.

boto3 is imported lazily, inside functions. Every public call raises `ClaudeError`
(never a raw botocore exception); the original stays in `__cause__`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterator
from typing import Any

from ..core.messages import Message
from ..models import catalog
from .errors import NO_CREDENTIALS, ClaudeError, dropped_message, friendly_error, in_band_error
from .settings import OFFLINE_CREDENTIALS, RETRY_MODES, ClientSettings, bearer_token, boto_session
from .stream_frames import anthropic_events, stream_items

# ---------------------------------------------------------------- the client


class BedrockClient:
    """A bedrock-runtime client built lazily from `ClientSettings` and cached."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        self.settings = settings or ClientSettings()
        self._client: Any = None
        self._region: str | None = None
        self._token: str | None = None  # the API key the client was made with

    # -- setup

    @property
    def region(self) -> str:
        """The region requests go to (creating the client if needed)."""
        self.client()
        return self._region or catalog.DEFAULT_REGION

    def client(self) -> Any:
        """The boto3 bedrock-runtime client; raises ClaudeError when it can't be made.
        botocore reads the API key when a client is made: a changed key makes a new one."""
        if self._client is not None and bearer_token() != self._token:
            self.close()
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
            raise ClaudeError(
                f"Unknown retry mode {s.retry_mode!r}: use one of {', '.join(RETRY_MODES)}.",
                "config",
            )
        if s.offline and not s.endpoint_url:
            raise ClaudeError(
                "Offline mode needs the emulator's endpoint URL: run %claude offline to start it.",
                "config",
            )
        session = boto_session(s)
        region = s.region or session.region_name or catalog.DEFAULT_REGION
        credentials: dict[str, str] = {}
        signing: dict[str, str] = {}
        token = self._token = bearer_token()
        if s.offline:
            credentials = dict(OFFLINE_CREDENTIALS)
            # SigV4 chosen in code: botocore then never sends an API key to the local emulator.
            signing = {"signature_version": "v4"}
        elif token is None and session.get_credentials() is None:
            if not s.endpoint_url:
                raise ClaudeError(NO_CREDENTIALS, "no_credentials")
            # An emulator or proxy at a custom endpoint doesn't check signatures.
            credentials = dict(OFFLINE_CREDENTIALS)
        # With an API key set, botocore signs with it (Authorization: Bearer) and ignores
        # access keys, as boto3 does everywhere.
        config = Config(
            retries={"mode": s.retry_mode, "total_max_attempts": max(1, s.max_attempts)},
            read_timeout=s.read_timeout,
            connect_timeout=s.connect_timeout,
            max_pool_connections=max(1, s.max_pool_connections),
            user_agent_extra="claude-magic",
            **signing,
        )
        client = session.client(
            "bedrock-runtime",
            region_name=region,
            endpoint_url=s.endpoint_url,
            config=config,
            **credentials,
        )
        self._region = client.meta.region_name
        return client

    def _friendly(self, exc: BaseException, invoke_id: str, **kw: Any) -> ClaudeError:
        if isinstance(exc, ClaudeError):
            return exc
        return friendly_error(
            exc,
            invoke_id=invoke_id,
            region=self._region or self.settings.region,
            endpoint_url=self.settings.endpoint_url,
            read_timeout=self.settings.read_timeout,
            **kw,
        )

    # -- calls

    def invoke(self, invoke_id: str, body: dict[str, Any], guardrail: Guardrail = None) -> Message:
        """InvokeModel: the whole reply as a Message, with latency and token
        counts from the response headers in `message.metrics`."""
        client = self.client()
        started = time.perf_counter()
        try:
            response = client.invoke_model(
                modelId=invoke_id,
                body=_dumps(body),
                contentType="application/json",
                accept="application/json",
                **_guardrail_headers(guardrail),
            )
            raw = response["body"].read()
        except Exception as exc:
            raise self._friendly(exc, invoke_id) from exc
        try:
            message = Message.from_dict(json.loads(raw))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ClaudeError(
                f"Bedrock sent a reply that isn't a Claude message: {str(raw[:80])}", "bad_reply"
            ) from exc
        message.metrics.update(_header_metrics(response))
        message.metrics["latency_ms"] = round((time.perf_counter() - started) * 1000)
        return message

    def stream(
        self, invoke_id: str, body: dict[str, Any], guardrail: Guardrail = None
    ) -> EventStream:
        """InvokeModelWithResponseStream: an iterator of decoded Anthropic event
        dicts. Use it as a context manager (or call `close()`) so the HTTP
        connection is closed when the consumer stops early."""
        return EventStream(self, invoke_id, body, guardrail)

    def converse(
        self, invoke_id: str, body: dict[str, Any], guardrail: Guardrail = None
    ) -> Message:
        """Converse, for the same body as `invoke`: the reply as a Message."""
        from .converse import converse_request, guardrail_config
        from .converse_events import message_from_response

        request = {**converse_request(invoke_id, body), **guardrail_config(guardrail)}
        client = self.client()
        started = time.perf_counter()
        try:
            response = client.converse(**request)
        except Exception as exc:
            raise self._friendly(exc, invoke_id) from exc
        message = message_from_response(response, invoke_id)
        message.metrics.update(_header_metrics(response))
        message.metrics["latency_ms"] = round((time.perf_counter() - started) * 1000)
        return message

    def converse_stream(
        self, invoke_id: str, body: dict[str, Any], guardrail: Guardrail = None
    ) -> EventStream:
        """ConverseStream, for the same body as `stream`: the same Anthropic event dicts."""
        return ConverseEventStream(self, invoke_id, body, guardrail)

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


Guardrail = tuple[str, str] | None  # (identifier, version)


def _guardrail_headers(guardrail: Guardrail) -> dict[str, str]:
    if guardrail is None:
        return {}
    return {"guardrailIdentifier": guardrail[0], "guardrailVersion": guardrail[1]}


def _dumps(body: dict[str, Any]) -> str:
    """The body as sent: compact JSON (fitting.fit_body's size estimate assumes it)."""
    return json.dumps(body, separators=(",", ":"))


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

    def __init__(
        self,
        owner: BedrockClient,
        invoke_id: str,
        body: dict[str, Any],
        guardrail: Guardrail = None,
    ) -> None:
        self._owner = owner
        self.invoke_id = invoke_id
        self._body = body
        self._guardrail = guardrail
        self._events = self._generate()
        self._raw: Any = None  # botocore's EventStream
        self.response_metadata: dict[str, Any] = {}
        self.yielded = 0  # events handed out so far
        self.content_events = 0  # content_block_* events among them
        self.stopped = False  # message_stop seen

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._events  # a loop over the stream runs the generator itself

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

    def _generate(self) -> Generator[dict[str, Any], None, None]:
        owner, invoke_id = self._owner, self.invoke_id
        try:
            response = self._call(owner.client())
            self.response_metadata = response.get("ResponseMetadata", {})
            self._raw = response[self._stream_key]
            for event in self._events_of(self._raw):
                kind = event.get("type")
                if kind == "content_block_delta":  # the hot path: one test per delta
                    self.content_events += 1
                elif kind == "error":
                    raise in_band_error(event, self.content_events > 0)
                elif kind == "message_stop":
                    self.stopped = True
                elif isinstance(kind, str) and kind.startswith("content_block"):
                    self.content_events += 1
                self.yielded += 1
                yield event
            if self.yielded and not self.stopped:
                raise ClaudeError(
                    dropped_message(
                        "the stream ended before the answer was complete", self.content_events > 0
                    ),
                    "connection_dropped",
                    mid_stream=True,
                )
        except (GeneratorExit, ClaudeError):
            raise
        except Exception as exc:
            raise owner._friendly(
                exc, invoke_id, mid_stream=self.yielded > 0, partial=self.content_events > 0
            ) from exc
        finally:
            self._close_raw()

    _stream_key = "body"

    def _call(self, client: Any) -> dict[str, Any]:
        return client.invoke_model_with_response_stream(
            modelId=self.invoke_id,
            body=_dumps(self._body),
            contentType="application/json",
            accept="application/json",
            **_guardrail_headers(self._guardrail),
        )

    def _events_of(self, raw: Any) -> Iterator[dict[str, Any]]:
        return anthropic_events(raw)


class ConverseEventStream(EventStream):
    """ConverseStream's events, translated into the Anthropic event dicts."""

    _stream_key = "stream"

    def _call(self, client: Any) -> dict[str, Any]:
        from .converse import converse_request, guardrail_config

        request = {
            **converse_request(self.invoke_id, self._body),
            **guardrail_config(self._guardrail),
        }
        return client.converse_stream(**request)

    def _events_of(self, raw: Any) -> Iterator[dict[str, Any]]:
        from .converse_events import ConverseEvents

        translate = ConverseEvents(self.invoke_id)
        for item in stream_items(raw):
            yield from translate(item)
