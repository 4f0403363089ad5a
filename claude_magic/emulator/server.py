"""The emulator's HTTP server: bedrock-runtime's InvokeModel, InvokeModelWithResponseStream,
Converse, ConverseStream and CountTokens over HTTP/1.1, plus unsigned `/_emulator/...` admin
routes for loopback clients (health, request log, scripted replies, faults, settings).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..core.messages import Message
from .control.batch import batch_route, is_batch_path
from .control.catalogue import catalogue_route, is_catalogue_path
from .errors import BedrockError, validation
from .faults import GUARDRAIL, REQUEST_FAULTS, Fault
from .guardrail import guardrail_reply, invoke_body
from .routes import (
    CONVERSE,
    CONVERSE_STREAM,
    COUNT_TOKENS,
    INVOKE,
    STREAM,
    is_admin_path,
    is_model_path,
    model_route,
    unknown_route,
)
from .state import EmulatorState, package_version, set_pace, set_today
from .wire import sigv4
from .wire.events import check_script, complete_message, stream_events
from .wire.eventstream import chunk_frame, corrupt, exception_frame

if TYPE_CHECKING:
    from .converse import ConverseRequest

MAX_REQUEST_BYTES = 64 * 1024 * 1024  # larger bodies are refused unread
SOCKET_TIMEOUT = 120.0
_LINGER_RESET = struct.pack("ii", 1, 0)
_END_OF_STREAM = b"0\r\n\r\n"


class BadRequest(Exception):
    """A request the HTTP layer cannot make sense of; the connection is closed after it."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or a name) only ever means this machine."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return bool(infos) and all(is_loopback(str(info[4][0])) for info in infos)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def loopback_url(url: Any) -> str | None:
    """An endpoint URL the emulator may reach (its S3): http(s) on loopback only."""
    if url is None:
        return None
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname or not is_loopback(parts.hostname):
        raise ValueError(f"the emulator's S3 endpoint must be on loopback (http://127.0.0.1:PORT), not {url!r}")
    return str(url).rstrip("/")


def batch_step(value: Any) -> float:
    """Seconds each batch job state lasts (0 to 60)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 60:
        raise ValueError("batch_step must be a number of seconds between 0 and 60")
    return float(value)


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise BadRequest("the body must be JSON") from None


def invoke_frames(message: Message, started: float) -> Iterator[tuple[bytes, bool, bytes]]:
    """(frame, is a content delta, event JSON) for each InvokeModel stream event."""
    for sequence, (event, is_delta) in enumerate(stream_events(message, started)):
        yield chunk_frame(event, sequence), is_delta, event


def _loggable_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")


def _cache_headers(message: Message) -> dict[str, str]:
    usage = message.usage
    if not (usage.cache_read_input_tokens or usage.cache_creation_input_tokens):
        return {}
    return {"X-Amzn-Bedrock-Cache-Read-Input-Token-Count": str(usage.cache_read_input_tokens),
            "X-Amzn-Bedrock-Cache-Write-Input-Token-Count": str(usage.cache_creation_input_tokens)}


class EmulatorHandler(BaseHTTPRequestHandler):
    """One connection: HTTP/1.1 keep-alive, any method, JSON error bodies."""

    protocol_version = "HTTP/1.1"
    server_version = f"claude-magic-emulator/{package_version()}"
    disable_nagle_algorithm = True
    timeout = SOCKET_TIMEOUT
    server: EmulatorServer

    # -- connection plumbing ------------------------------------------------------------

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        self.server.untrack(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def handle_one_request(self) -> None:
        self._status: int | None = None
        self._entry: dict[str, Any] | None = None
        self._request_id = str(uuid.uuid4())
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._dispatch()
            self.wfile.flush()
        except OSError:  # timeouts and broken connections alike
            self.close_connection = True
        finally:
            if self._entry is not None:
                self._entry["finished"] = time.time()  # when the response was out

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            self.send_error(400, "HTTP/0.9 requests are not supported")
            return False
        return True

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        if self._entry is not None:
            self._entry["status"] = code  # before the client can see the response
        super().send_response(code, message)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, headers) as JSON; never a 5xx."""
        status = 400 if code >= 500 else code
        if self.request_version in ("HTTP/0.9", ""):
            self.request_version = "HTTP/1.0"  # always answer with a status line
        reason = message or self.responses.get(code, ("Bad request",))[0]
        self.close_connection = True
        self._send_json(status, {"message": reason}, error_type="BadRequestException")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.state.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _abort(self) -> None:
        """Close the connection abruptly (TCP reset), mid-response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            self.connection.close()
            self.rfile.close()
        except OSError:
            pass

    # -- reading ------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not lengths:
            return b""
        if len(lengths) > 1:
            raise BadRequest("conflicting Content-Length headers")
        (length_text,) = lengths
        if not (length_text.isascii() and length_text.isdigit()):
            raise BadRequest(f"invalid Content-Length {length_text[:40]!r}")
        length = int(length_text)
        if length > MAX_REQUEST_BYTES:
            raise BadRequest("request body too large", 413)
        body = self.rfile.read(length)
        if len(body) < length:
            raise BadRequest("request body shorter than its Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1026)
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadRequest("malformed chunked request body") from None
            if size < 0 or total + size > MAX_REQUEST_BYTES:
                raise BadRequest("request body too large", 413)
            if size == 0:
                break
            data = self.rfile.read(size)
            if len(data) < size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BadRequest("malformed chunked request body")
            parts.append(data)
            total += size
        for _ in range(100):  # trailers, up to the blank line
            if self.rfile.readline(65537).strip() == b"":
                return b"".join(parts)
        raise BadRequest("too many trailer lines")

    # -- writing ------------------------------------------------------------------------

    def _send_json(
        self,
        status: int,
        payload: Any,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", self._request_id)
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_bedrock_error(self, error: BedrockError) -> None:
        self._send_json(error.status, {"message": error.message}, error_type=error.error_type_header)

    # -- routing ------------------------------------------------------------------------

    def _dispatch(self) -> None:
        started = time.monotonic()
        target = self.path
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = parts.path + ("?" + parts.query if parts.query else "")
        path, _, query = target.partition("?")
        try:
            body = self._read_body()
            if is_model_path(path):
                self._model_request(path, query, body, started)
            elif is_admin_path(path):
                self._admin_request(path, body)
            elif is_catalogue_path(path):
                self._catalogue_request(path, query, body)
            elif is_batch_path(path):
                self._batch_request(path, query, body)
            else:
                self._log_request(self.command + " " + path[:200], None, body)
                raise unknown_route(self.command, path)
        except BadRequest as exc:
            self.close_connection = True
            if self._entry is None and not is_admin_path(path):
                self._log_request(self.command + " " + path[:200], None, b"")
            self._send_json(exc.status, {"message": str(exc)}, error_type="BadRequestException")
        except BedrockError as exc:
            self._send_bedrock_error(exc)
        except OSError:
            raise  # the connection broke or timed out: nothing more to say on it
        except Exception as exc:  # a bug in the emulator, never the client's fault
            traceback.print_exc(file=sys.stderr)
            if self._status is not None:
                self._abort()
                return
            self.close_connection = True
            self._send_bedrock_error(
                BedrockError("InternalServerException", f"The emulator failed: {exc!r}")
            )

    def _method_not_allowed(self, allowed: str) -> BedrockError:
        return BedrockError(
            "MethodNotAllowedException",
            f"{self.command} is not allowed here; use {allowed}.",
            405,
        )

    # -- model operations ---------------------------------------------------------------

    def _model_request(self, path: str, query: str, body: bytes, started: float) -> None:
        try:
            operation, model_id = model_route(path)
        except BedrockError:
            self._log_request(self.command + " " + path[:200], None, body)
            raise
        self._log_request(operation, model_id, body)
        if self.command != "POST":
            raise self._method_not_allowed("POST")
        self._model_operation(operation, model_id, path, query, body, started)

    def _log_request(self, operation: str, model_id: str | None, body: bytes) -> None:
        """Every request but the admin routes is in GET /_emulator/requests, with its status."""
        entry: dict[str, Any] = {
            "operation": operation,
            "model_id": model_id,
            "body": _loggable_body(body),
            "headers": {name: value for name, value in self.headers.items()},
            "time": time.time(),
            "status": None,  # the response status, once there is one
        }
        self._entry = entry
        self.server.state.record(entry)

    def _catalogue_request(self, path: str, query: str, body: bytes) -> None:
        """The control plane's model listings (ListFoundationModels, ...)."""
        operation, identifier = catalogue_route(self.command, path)
        self._log_request(operation, identifier, body)
        state = self.server.state
        sigv4.check_request(self.command, path, query, list(self.headers.items()), body, state.credentials)
        self._send_json(200, state.models.handle(operation, identifier, query, state.today))

    def _model_operation(
        self, operation: str, model_id: str, path: str, query: str, body: bytes, started: float
    ) -> None:
        from .responder.respond import estimate_input_tokens, respond
        from .validation.converse import validate_converse
        from .validation.request import validate_count_tokens, validate_invoke

        state = self.server.state
        sigv4.check_request(
            self.command, path, query, list(self.headers.items()), body, state.credentials,
            bearer_tokens=state.bearer_tokens,
        )
        fault = state.faults.take(operation)
        if fault is not None and fault.type in REQUEST_FAULTS:
            raise fault.error()
        if operation == COUNT_TOKENS:
            _, inner = validate_count_tokens(model_id, body, models=state.models, today=state.today)
            self._send_json(200, {"inputTokens": estimate_input_tokens(inner)})
            return
        converse = None
        if operation in (CONVERSE, CONVERSE_STREAM):
            model, converse = validate_converse(model_id, body, self.headers,  # type: ignore[arg-type]
                                                models=state.models, today=state.today)
            request, guardrail = converse.body, converse.guardrail
            if self._entry is not None:
                self._entry["invoke_body"] = request  # the InvokeModel form it was answered as
        else:
            model, request = validate_invoke(model_id, body, self.headers,  # type: ignore[arg-type]
                                             models=state.models, today=state.today)
            guardrail = self.headers.get("X-Amzn-Bedrock-GuardrailIdentifier")
        if operation in (INVOKE, CONVERSE) and fault is not None and fault.type == "disconnect":
            self._abort()  # before any reply is made: a queued script stays queued
            return
        intervention = state.faults.take(GUARDRAIL) if guardrail else None
        script = state.next_script() if intervention is None else None
        if intervention is not None:
            message = complete_message(guardrail_reply(intervention), model, estimate_input_tokens(request))
        elif script is not None:
            message = complete_message(script, model, estimate_input_tokens(request))
        else:
            reply = respond(model, request)
            message = complete_message(reply, model, reply.usage.input_tokens or estimate_input_tokens(request))
        from .cache import account

        account(message, state.cache.use(model, request))
        if operation == STREAM:
            self._stream(invoke_frames(message, started), fault)
        elif operation == CONVERSE_STREAM and converse is not None:
            from .converse.stream import converse_frames

            self._stream(converse_frames(message, converse, started), fault)
        else:
            self._invoke_reply(message, fault, started, converse)

    def _invoke_reply(
        self, message: Message, fault: Fault | None, started: float, converse: ConverseRequest | None
    ) -> None:
        pace = self.server.state.pace
        if pace:
            self.server.stopping.wait(message.usage.output_tokens / pace)
        if fault is not None and fault.type == "stall":
            self.server.stopping.wait(fault.seconds or 0)
        latency = round((time.monotonic() - started) * 1000)
        if converse is not None:
            from .converse.response import converse_response

            self._send_json(200, converse_response(message, converse, latency))
            return
        self._send_json(
            200,
            invoke_body(message),
            headers={
                "X-Amzn-Bedrock-Input-Token-Count": str(message.usage.input_tokens),
                "X-Amzn-Bedrock-Output-Token-Count": str(message.usage.output_tokens),
                "X-Amzn-Bedrock-Invocation-Latency": str(latency),
                **_cache_headers(message),
            },
        )

    def _stream(self, frames: Iterator[tuple[bytes, bool, bytes]], fault: Fault | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("X-Amzn-Bedrock-Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", self._request_id)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        write = self.wfile.write
        pace = self.server.state.pace
        interval = 1.0 / pace if pace else 0.0
        next_delta = time.monotonic()
        trigger = fault.after_events if fault is not None else -1
        sent = self.server.state.sent_frames
        sequence = 0
        for sequence, (frame, is_delta, event) in enumerate(frames):
            if sequence == trigger and fault is not None:
                if fault.type == "bad_crc":
                    frame = corrupt(frame)
                    write(b"%x\r\n%b\r\n%b" % (len(frame), frame, _END_OF_STREAM))
                    return
                if self._stream_fault(fault):
                    return
            if interval and is_delta:
                next_delta = max(next_delta + interval, time.monotonic() - 1.0)
                delay = next_delta - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            write(b"%x\r\n%b\r\n" % (len(frame), frame))
            if sent is not None:
                sent.append((time.monotonic(), sequence, event))
        if fault is not None and trigger > sequence:
            if fault.type == "bad_crc":
                frame = corrupt(chunk_frame(b'{"type":"ping"}', sequence + 1))
                write(b"%x\r\n%b\r\n" % (len(frame), frame))
            elif self._stream_fault(fault):
                return
        write(_END_OF_STREAM)

    def _stream_fault(self, fault: Fault) -> bool:
        """Act out a stream fault; True when the stream has ended."""
        if fault.type == "stall":
            self.server.stopping.wait(fault.seconds or 0)
            return False
        if fault.type == "disconnect":
            self._abort()
            return True
        frame = exception_frame(fault.exception or "modelStreamErrorException", fault.stream_message())
        self.wfile.write(b"%x\r\n%b\r\n%b" % (len(frame), frame, _END_OF_STREAM))
        return True

    # -- control plane: batch inference jobs ----------------------------------------------

    def _batch_request(self, path: str, query: str, body: bytes) -> None:
        operation, job_id = batch_route(self.command, path)
        state = self.server.state
        sigv4.check_request(self.command, path, query, list(self.headers.items()), body, state.credentials)
        self._send_json(200, state.batch.handle(operation, job_id, query, body))

    # -- admin routes -------------------------------------------------------------------

    def _admin_request(self, path: str, body: bytes) -> None:
        if not is_loopback(self.client_address[0]):
            raise BedrockError("AccessDeniedException", "Admin routes answer loopback clients only.", 403)
        state = self.server.state
        route = path[len("/_emulator") :].rstrip("/") or "/"
        method = "GET" if self.command == "HEAD" else self.command
        handlers: dict[str, dict[str, Any]] = {
            "/health": {"GET": state.health},
            "/requests": {
                "GET": lambda: {"requests": state.requests()},
                "DELETE": lambda: {"cleared": state.clear_requests()},
            },
            "/script": {
                "GET": lambda: {"scripts": state.pending_scripts()},
                "POST": lambda: self._queue_scripts(body),
                "DELETE": lambda: {"cleared": state.clear_scripts()},
            },
            "/faults": {
                "GET": lambda: {"faults": state.faults.pending()},
                "POST": lambda: self._queue_faults(body),
                "DELETE": lambda: {"cleared": state.faults.clear()},
            },
            "/config": {"GET": self._config, "POST": lambda: self._config(body)},
            "/models": {
                "GET": lambda: {"models": [m.id for m in state.models.added()]},
                "POST": lambda: self._add_models(body),
                "DELETE": lambda: {"cleared": state.models.clear_added()},
            },
            "/reset": {"POST": lambda: state.reset() or {"status": "ok"}},
            "/clock": {"GET": lambda: {"offset": state.cache.offset},
                       "POST": lambda: self._advance_clock(body)},
        }
        if route not in handlers:
            raise BedrockError(
                "UnknownOperationException",
                f"Unknown admin route {path[:200]}; try {', '.join('/_emulator' + r for r in handlers)}.",
                404,
            )
        if method not in handlers[route]:
            raise self._method_not_allowed(" or ".join(handlers[route]))
        try:
            result = handlers[route][method]()
        except ValueError as exc:
            raise validation(str(exc)) from None
        self._send_json(200, result)

    def _queue_scripts(self, body: bytes) -> dict[str, Any]:
        payload = _parse_json(body)
        messages = payload if isinstance(payload, list) else [payload]
        for message in messages:
            check_script(message)
        for message in messages:
            self.server.state.add_script(message)
        return {"queued": len(messages), "scripts": len(self.server.state.pending_scripts())}

    def _queue_faults(self, body: bytes) -> dict[str, Any]:
        payload = _parse_json(body)
        faults = [Fault.from_dict(item) for item in (payload if isinstance(payload, list) else [payload])]
        for fault in faults:
            self.server.state.faults.add(fault)
        return {"queued": len(faults), "faults": self.server.state.faults.pending()}

    def _advance_clock(self, body: bytes) -> dict[str, Any]:
        payload = _parse_json(body)
        if not isinstance(payload, dict) or set(payload) != {"advance"}:
            raise ValueError('clock takes {"advance": SECONDS}')
        return {"offset": self.server.state.cache.advance(payload["advance"])}

    def _config(self, body: bytes | None = None) -> dict[str, Any]:
        if body is not None:
            payload = _parse_json(body)
            if not isinstance(payload, dict) or set(payload) - {"pace", "batch_step", "s3_endpoint_url",
                                                                "today"}:
                raise ValueError('config accepts {"pace": tokens_per_second or null, "batch_step": '
                                 'seconds, "s3_endpoint_url": a loopback URL, "today": "YYYY-MM-DD" '
                                 'or null}')
            if "pace" in payload:
                self.server.state.pace = set_pace(payload["pace"])
            if "batch_step" in payload:
                self.server.state.batch.step = batch_step(payload["batch_step"])
            if "s3_endpoint_url" in payload:
                self.server.state.batch.s3_endpoint_url = loopback_url(payload["s3_endpoint_url"])
            if "today" in payload:
                self.server.state.today = set_today(payload["today"])
        batch, today = self.server.state.batch, self.server.state.today
        return {"pace": self.server.state.pace, "batch_step": batch.step,
                "s3_endpoint_url": batch.s3_endpoint_url,
                "today": today.isoformat() if today else None}

    def _add_models(self, body: bytes) -> dict[str, Any]:
        payload = _parse_json(body)
        entries = payload if isinstance(payload, list) else [payload]
        from .control.catalogue import model_from_user

        made = [model_from_user(entry) for entry in entries]  # all or none
        for model in made:
            self.server.state.models.add(model)
        return {"added": [m.id for m in made]}


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP server that can close its open connections on shutdown."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], state: EmulatorState, tls: ssl.SSLContext | None = None
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.state = state
        self.tls = tls  # serve HTTPS with this context
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, EmulatorHandler)

    def server_bind(self) -> None:
        # The plain socket bind: HTTPServer's version does a slow reverse DNS lookup.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.tls is not None:  # the handshake runs in the handler's thread, on first read
            connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.state.verbose:
            super().handle_error(request, client_address)
