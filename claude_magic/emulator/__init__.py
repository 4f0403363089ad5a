"""A local Amazon Bedrock Runtime emulator for Anthropic Claude models.

It speaks bedrock-runtime's wire protocol (SigV4-signed rest-json, AWS event streams),
so an unmodified boto3 client works against it with only `endpoint_url` changed::

    with Emulator() as emu:
        client = boto3.client("bedrock-runtime", endpoint_url=emu.url, ...)
        emu.script({"content": [{"type": "text", "text": "Hi!"}]})
        emu.script_steps([{"tool": "run_code", "input": {"code": "x = 1"}}, "Done."])
        emu.fault("throttle", times=2)

`python -m claude_magic.emulator` runs it from the command line.

Inside, split by concern: `routes` (the one table of paths, operations and handlers),
`server` (HTTP in and out), `connections` (the connection limit, request deadlines),
`json_body` (request bodies as strict JSON), `exchange` (what a handler sees of a request),
`operations` (the Bedrock operations' handlers), `admin` (the `/_emulator` routes),
`loopback`, `state` (request log, scripts, faults, pace), `steps` (scripted runs in short),
`request_log`, `limits`, `wire/` (event stream, SigV4, API keys), `validation/` (Bedrock's
rules and messages), `responder/` (the offline answers), `control/` (the control plane:
model listings, batch jobs), `faults`, `guardrail`, `converse/` (Converse requests in the
InvokeModel form, replies back in Converse's shapes), `media` and `tokens`.

May import `core` and `models` only: never the client side (`bedrock`, `tools`, `notebook`).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ..models.catalog import Model
from .control.batch import batch_step as _batch_step
from .errors import BedrockError
from .faults import Fault
from .limits import Limits
from .loopback import is_loopback, loopback_url
from .server import EmulatorServer
from .state import EmulatorState, set_pace, set_today
from .steps import step_message
from .wire.bearer import parse_bearer_tokens
from .wire.events import check_script
from .wire.sigv4 import parse_credentials

__all__ = ["BedrockError", "Emulator", "RemoteNotAllowed"]


class RemoteNotAllowed(ValueError):
    """Listening on a non-loopback address was asked for without allowing it."""


class Emulator:
    """A running emulator: in-process server thread, request log, scripts and faults.

    `pace` is tokens per second for streamed (and invoked) replies, None for as fast as
    possible. `credentials` ("KEY:SECRET", a pair or {key: secret}) turns on SigV4
    signature checks; without it any signed request is accepted. `today` ("YYYY-MM-DD")
    is the date model lifecycles are judged by (default: the real date); `models` adds
    models to the catalogue's (catalog.toml fields as a dict, `id` required, or Models).
    `bearer_tokens` (one Bedrock API key or several) are the keys accepted in
    `Authorization: Bearer`; without them any key is, unless `credentials` are set.
    `tls` (a certificate file and its key file, or an `ssl.SSLContext`) serves HTTPS,
    which boto3 needs before it sends an API key.

    Bounds: `max_connections` open at once (beyond, idle keep-alive connections close, else
    the new one gets 503 ServiceUnavailableException); `request_timeout` seconds for a
    request's headers and body to arrive (a streamed reply may take longer); the request
    log keeps the newest `log_requests` requests and `log_bytes` bytes of their bodies, a
    body above `log_body_bytes` as its size and SHA-256.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        pace: float | None = None,
        credentials: str | tuple[str, str] | Mapping[str, str] | None = None,
        bearer_tokens: str | Iterable[str] | None = None,
        tls: tuple[str, str] | ssl.SSLContext | None = None,
        allow_remote: bool = False,
        verbose: bool = False,
        today: str | date | None = None,
        models: Iterable[Model | dict[str, Any]] = (),
        s3_endpoint_url: str | None = None,
        batch_step: float | None = None,
        max_connections: int = Limits.max_connections,
        request_timeout: float = Limits.request_timeout,
        log_requests: int = Limits.log_requests,
        log_bytes: int = Limits.log_bytes,
        log_body_bytes: int = Limits.log_body_bytes,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise RemoteNotAllowed(
                f"refusing to listen on {host}, which is not a loopback address; "
                "pass --allow-remote (allow_remote=True) to expose the emulator"
            )
        self.host = host
        self.port = port
        limits = Limits(max_connections, request_timeout, log_requests, log_bytes, log_body_bytes)
        self._state = EmulatorState(
            set_pace(pace),
            parse_credentials(credentials),
            parse_bearer_tokens(bearer_tokens),
            limits,
        )
        self._tls = _tls_context(tls)
        self._state.verbose = verbose
        self._state.today = set_today(today)
        for model in models:
            self._state.models.add(model)
        self.s3_endpoint_url = s3_endpoint_url
        if batch_step is not None:
            self.batch_step = batch_step
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind and serve in a background thread (idempotent)."""
        if self._server is None:
            server = EmulatorServer((self.host, self.port), self._state, self._tls)
            self.port = server.server_port
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.2},
                name=f"claude-magic-emulator:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The endpoint_url for boto3, e.g. http://127.0.0.1:54321 (https:// with `tls`)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}"

    def __repr__(self) -> str:
        return f"Emulator({self.url!r}, running={self.running})"

    # -- settings -----------------------------------------------------------------------

    @property
    def pace(self) -> float | None:
        """Tokens per second for replies; None means as fast as possible."""
        return self._state.pace

    @pace.setter
    def pace(self, value: float | None) -> None:
        self._state.pace = set_pace(value)

    @property
    def today(self) -> date | None:
        """The date lifecycles are judged by; None means the real date."""
        return self._state.today

    @today.setter
    def today(self, value: str | date | None) -> None:
        self._state.today = set_today(value)

    def add_model(self, model: Model | dict[str, Any]) -> Model:
        """Serve one more model (listed by the control plane, callable by id and profile)."""
        return self._state.models.add(model)

    def clear_models(self) -> None:
        """Serve the catalogue's models only again."""
        self._state.models.clear_added()

    @property
    def s3_endpoint_url(self) -> str | None:
        """Where batch jobs read input and write output: an S3 API on loopback (moto's
        server mode); None means batch jobs are refused."""
        return self._state.batch.s3_endpoint_url

    @s3_endpoint_url.setter
    def s3_endpoint_url(self, value: str | None) -> None:
        self._state.batch.s3_endpoint_url = loopback_url(value)

    @property
    def batch_step(self) -> float:
        """Seconds each batch job state (Submitted, Validating, ...) lasts."""
        return self._state.batch.step

    @batch_step.setter
    def batch_step(self, value: float) -> None:
        self._state.batch.step = _batch_step(value)

    # -- requests, scripts, faults -------------------------------------------------------

    def requests(self) -> list[dict[str, Any]]:
        """Model requests received, oldest first: operation, model_id, body, headers, status
        (and, for Converse, `invoke_body`: the InvokeModel body it was answered as). The
        newest `log_requests` only; a body above `log_body_bytes` is `{"omitted": true,
        "bytes": N, "sha256": HEX}`; credentials in headers are redacted."""
        return self._state.requests()

    def clear_requests(self) -> None:
        self._state.clear_requests()

    def script(self, message: dict[str, Any] | str) -> None:
        """Queue the reply for the next (valid) invoke or stream request: an Anthropic
        message whose missing fields (id, model, usage, stop_reason...) get filled in."""
        self._state.add_script({"content": message} if isinstance(message, str) else message)

    def script_steps(self, steps: Iterable[str | dict[str, Any]]) -> None:
        """Queue a whole run, one reply per model request: each step a text (the final
        answer), a tool call `{"tool": NAME, "input": {...}, "text": optional preface}`,
        or a message as `script` takes. All are checked before any is queued."""
        messages = [step_message(step) for step in steps]
        for message in messages:
            check_script(message)
        for message in messages:
            self._state.add_script(message)

    def clear_scripts(self) -> None:
        self._state.clear_scripts()

    def fault(
        self,
        type: str,
        times: int = 1,
        after_events: int = 0,
        exception: str | None = None,
        seconds: float | None = None,
        message: str | None = None,
        rate: float | None = None,
    ) -> None:
        """Make the next `times` model requests fail: request faults `throttle`,
        `unavailable`, `internal`, `model_timeout`; stream faults `stream_exception`
        (`exception` e.g. "modelStreamErrorException"), `disconnect`, `stall`
        (`seconds`), `bad_crc`, acting after `after_events` events; `guardrail` makes the
        next request naming a guardrail meet an intervention (`message`: its blocked text).
        With `rate`, each request meets the fault with that probability. `batch_record_error`
        (with `rate`) fails that share of the records of the next `times` batch jobs."""
        self._state.faults.add(Fault(type, times, after_events, exception, seconds, message, rate))

    def faults(self) -> list[dict[str, Any]]:
        return self._state.faults.pending()

    def clear_faults(self) -> None:
        self._state.faults.clear()

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock forward (cached prompt prefixes expire); the total
        offset in seconds. `POST /_emulator/clock {"advance": SECONDS}` does the same."""
        return self._state.cache.advance(seconds)

    def reset(self) -> None:
        """Forget recorded requests, queued scripts, faults and cached prefixes."""
        self._state.reset()


def _tls_context(tls: tuple[str, str] | ssl.SSLContext | None) -> ssl.SSLContext | None:
    if tls is None or isinstance(tls, ssl.SSLContext):
        return tls
    certfile, keyfile = tls
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    return context
