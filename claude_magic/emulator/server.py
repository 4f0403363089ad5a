"""The emulator's HTTP server: HTTP/1.1 framing around the routes table. It reads request
bodies (plain or chunked), resolves each request to a route and its handler, and sends
JSON, event streams and errors, acting out stream faults on the wire. Admin routes answer
loopback clients only, and not web pages.

It stays within its limits: so many connections at once (idle keep-alive ones give way to
new ones, else a new one gets 503), and a deadline for each request's headers and body to
arrive (408 after it). No request gets a Python error in its answer: one its checks did not
foresee is a 400 ValidationException, a failure of the emulator a 500 with a fixed message.
"""

from __future__ import annotations

import io
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
from typing import Any
from urllib.parse import urlsplit

from . import admin
from .connections import ConnectionSlots, DeadlineReader, RequestTimeout, fixed_response
from .errors import BedrockError, UnforeseenInput, malformed
from .exchange import BadRequest, Request
from .faults import Fault
from .loopback import is_loopback
from .request_log import logged_headers
from .routes import ADMIN, resolve
from .state import EmulatorState, package_version
from .wire.eventstream import chunk_frame, corrupt, exception_frame
from .wire.sse import STREAM_ERROR_TYPES, anthropic_error, corrupt_event, error_event

MAX_REQUEST_BYTES = 64 * 1024 * 1024  # larger bodies are refused unread
SOCKET_TIMEOUT = 120.0  # for a keep-alive connection's next request, and for each write
_LINGER_RESET = struct.pack("ii", 1, 0)
_END_OF_STREAM = b"0\r\n\r\n"
UNFORESEEN = "the request does not have the shape this operation takes"
INTERNAL = "The emulator failed while answering this request; its standard error has the details."


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
        self.rfile.close()
        self._reader = DeadlineReader(
            self.connection, SOCKET_TIMEOUT, self.server.state.limits.request_timeout
        )
        self._reader.on_request_start = self._busy
        self.rfile = io.BufferedReader(self._reader)
        self.server.connections.opened(self.connection)

    def finish(self) -> None:
        self.server.connections.closed(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def handle_one_request(self) -> None:
        self._status: int | None = None
        self._errors = "bedrock"  # the shape of error answers (the service's)
        self._entry: dict[str, Any] | None = None
        self._request_id = str(uuid.uuid4())
        try:
            self.raw_requestline = self.rfile.readline(65537)
            self._busy()
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
            if not self.close_connection:
                self.server.connections.set_idle(self.connection, True)  # until its next request
        except RequestTimeout:
            self.close_connection = True
            self._send_raw(
                fixed_response(
                    408,
                    "Request Timeout",
                    "RequestTimeoutException",
                    f"The request did not arrive within "
                    f"{self.server.state.limits.request_timeout:g} seconds.",
                )
            )
        except OSError:  # idle timeouts and broken connections alike
            self.close_connection = True
        finally:
            if self._entry is not None:
                self._entry["finished"] = time.time()  # when the response was out

    def _busy(self) -> None:
        """A request has begun on this connection: it may not close to make room."""
        self.server.connections.set_idle(self.connection, False)

    def _send_raw(self, response: bytes) -> None:
        try:
            self.connection.settimeout(1.0)
            self.wfile.write(response)
            self.wfile.flush()
        except OSError:
            pass

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
        self._reader.received()
        status = 400 if code >= 500 else code
        if self.request_version in ("HTTP/0.9", ""):
            self.request_version = "HTTP/1.0"  # always answer with a status line
        reason = message or self.responses.get(code, ("Bad request",))[0]
        self.close_connection = True
        self._send_json(status, {"message": reason}, error_type="BadRequestException")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.state.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def abort(self) -> None:
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
        if self._errors == "anthropic":  # the Messages API's shape (bedrock-mantle)
            status, payload, headers = anthropic_error(error, self._request_id)
            self._send_json(status, payload, headers=headers)
            return
        self._send_json(
            error.status, {"message": error.message}, error_type=error.error_type_header
        )

    # -- routing: the table resolves, a handler answers -----------------------------------

    def _dispatch(self) -> None:
        started = time.monotonic()
        target = self.path
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = parts.path + ("?" + parts.query if parts.query else "")
        path, _, query = target.partition("?")
        resolution = resolve(self.command, path)
        self._errors = resolution.service.errors
        try:
            try:
                body = self._read_body()
            finally:
                self._reader.received()  # the deadline is for reading; answers take their time
            if resolution.service.loopback_only:
                if not is_loopback(self.client_address[0]):
                    raise BedrockError(
                        "AccessDeniedException", "Admin routes answer loopback clients only.", 403
                    )
                refused = admin.refusal(self.headers, body)
                if refused is not None:
                    raise refused
            logged_as = resolution.logged_as()
            if logged_as is not None:
                self._log_request(*logged_as, body)
            refusal = resolution.refusal()
            if refusal is not None:
                raise refusal
            route = resolution.route
            assert route is not None
            route.handler(
                self,
                Request(
                    self.command,
                    path,
                    query,
                    self.headers,
                    body,
                    started,
                    route.operation,
                    resolution.identifier,
                ),
            )
        except BadRequest as exc:
            self.close_connection = True
            if self._entry is None and resolution.service is not ADMIN:
                self._log_request(self.command + " " + path[:200], None, b"")
            if self._errors == "anthropic":
                self._send_bedrock_error(BedrockError("BadRequestException", str(exc), exc.status))
            else:
                self._send_json(exc.status, {"message": str(exc)}, error_type="BadRequestException")
        except BedrockError as exc:
            self._send_bedrock_error(exc)
        except OSError:
            raise  # the connection broke or timed out: nothing more to say on it
        except UnforeseenInput as exc:  # malformed in a way the checks did not foresee
            self._fail(exc.__cause__ or exc, malformed(UNFORESEEN))
        except Exception as exc:  # a bug in the emulator, never the client's fault
            self._fail(exc, BedrockError("InternalServerException", INTERNAL))

    def _fail(self, exc: BaseException, error: BedrockError) -> None:
        """Answer an unexpected exception with `error` (or cut a started response off); its
        traceback goes to stderr, never to the client."""
        traceback.print_exception(exc, file=sys.stderr)
        self.close_connection = True
        if self._status is not None:
            self.abort()
            return
        self._send_bedrock_error(error)

    def _log_request(self, operation: str, model_id: str | None, body: bytes) -> None:
        """The request's entry in GET /_emulator/requests, with its status (which requests
        have one: the routes table says)."""
        log = self.server.state.log
        kept, size = log.body(body)
        headers = logged_headers(self.headers.items())
        entry: dict[str, Any] = {
            "operation": operation,
            "model_id": model_id,
            "body": kept,
            "headers": headers,
            "time": time.time(),
            "status": None,  # the response status, once there is one
        }
        self._entry = entry
        log.add(entry, size + sum(len(k) + len(v) for k, v in headers.items()))

    # -- what a handler answers through (exchange.Exchange) ------------------------------

    @property
    def state(self) -> EmulatorState:
        return self.server.state

    def wait(self, seconds: float) -> None:
        """Sleep, cut short when the server stops."""
        self.server.stopping.wait(seconds)

    def note(self, key: str, value: Any) -> None:
        """Add a field to this request's entry in the request log."""
        if self._entry is not None:
            self.server.state.log.note(self._entry, key, value)

    def send_json(self, payload: Any, headers: dict[str, str] | None = None) -> None:
        """A 200 reply with a JSON body."""
        self._send_json(200, payload, headers=headers)

    def send_event_stream(
        self, frames: Iterator[tuple[bytes, bool, bytes]], fault: Fault | None
    ) -> None:
        """A 200 event stream of (frame, is a content delta, event JSON), at the pace, meeting
        `fault` after its number of events."""
        self._send_stream(
            frames,
            fault,
            {
                "Content-Type": "application/vnd.amazon.eventstream",
                "X-Amzn-Bedrock-Content-Type": "application/json",
            },
        )

    def send_sse(self, frames: Iterator[tuple[bytes, bool, bytes]], fault: Fault | None) -> None:
        """A 200 stream of server-sent events (the Messages API), as `send_event_stream`: a
        stream exception is an `error` event, bad_crc an event that isn't JSON."""
        self._send_stream(
            frames,
            fault,
            {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"},
            sse=True,
        )

    def _send_stream(
        self,
        frames: Iterator[tuple[bytes, bool, bytes]],
        fault: Fault | None,
        headers: dict[str, str],
        sse: bool = False,
    ) -> None:
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
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
                    frame = corrupt_event() if sse else corrupt(frame)
                    write(b"%x\r\n%b\r\n%b" % (len(frame), frame, _END_OF_STREAM))
                    return
                if self._stream_fault(fault, sse):
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
                frame = (
                    corrupt_event()
                    if sse
                    else corrupt(chunk_frame(b'{"type":"ping"}', sequence + 1))
                )
                write(b"%x\r\n%b\r\n" % (len(frame), frame))
            elif self._stream_fault(fault, sse):
                return
        write(_END_OF_STREAM)

    def _stream_fault(self, fault: Fault, sse: bool = False) -> bool:
        """Act out a stream fault; True when the stream has ended."""
        if fault.type == "stall":
            self.server.stopping.wait(fault.seconds or 0)
            return False
        if fault.type == "disconnect":
            self.abort()
            return True
        exception = fault.exception or "modelStreamErrorException"
        if sse:
            frame = error_event(
                STREAM_ERROR_TYPES.get(exception, "api_error"), fault.stream_message()
            )
        else:
            frame = exception_frame(exception, fault.stream_message())
        self.wfile.write(b"%x\r\n%b\r\n%b" % (len(frame), frame, _END_OF_STREAM))
        return True


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP server with a thread per connection, within the state's limit of
    connections; it closes its open connections on shutdown."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], state: EmulatorState, tls: ssl.SSLContext | None = None
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.state = state
        self.tls = tls  # serve HTTPS with this context
        self.stopping = threading.Event()
        self.connections = ConnectionSlots(
            state.limits.max_connections, tls is not None, serve=super().process_request
        )
        super().__init__(address, EmulatorHandler)

    def server_bind(self) -> None:
        # The plain socket bind: HTTPServer's version does a slow reverse DNS lookup.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.tls is not None:  # the handshake runs in the handler's thread, on first read
            connection = self.tls.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections.admit(request, client_address)  # its thread, once it has a slot

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.give_back()

    def close_connections(self) -> None:
        self.connections.close_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.state.verbose:
            super().handle_error(request, client_address)
