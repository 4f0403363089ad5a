"""The emulator's connections, kept within bounds: at most so many at once (an idle
keep-alive connection gives way to a new one, else the new one is answered 503), and a
deadline for each request's headers and body to arrive, however slowly they trickle in.
"""

from __future__ import annotations

import io
import json
import queue
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

_WAITING = 64  # connections over the limit that may wait for a slot; beyond, closed
_SLOT_WAIT = 0.25  # seconds each may wait for one before it is answered 503
_REQUEST_GRACE = 0.2  # seconds a refused connection has for its request to arrive


def fixed_response(status: int, reason: str, error_type: str, message: str) -> bytes:
    """A whole JSON error response that closes the connection, for when no request was read."""
    body = json.dumps({"message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"x-amzn-ErrorType: {error_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class RequestTimeout(TimeoutError):
    """A request's headers and body did not all arrive before its deadline."""


class DeadlineReader(io.RawIOBase):
    """A connection's bytes for the request parser, read under a deadline: a request (from
    its first byte, or from the connection's start) has `limit` seconds to arrive whole.
    Between requests, each read waits `idle` seconds; `on_request_start` is called when a
    kept-alive connection's next request begins."""

    def __init__(self, sock: socket.socket, idle: float, limit: float) -> None:
        super().__init__()
        self._sock = sock
        self._idle = idle
        self._limit = limit
        self._deadline: float | None = time.monotonic() + limit  # the first request's
        self.on_request_start: Callable[[], None] | None = None

    def readable(self) -> bool:
        return True

    def received(self) -> None:
        """The request is in: no deadline until the next one begins; writes wait `idle`."""
        self._deadline = None
        self._sock.settimeout(self._idle)

    def readinto(self, buffer: Any) -> int:
        if self._deadline is None:
            self._sock.settimeout(self._idle)
            count = self._sock.recv_into(buffer)
            if count:
                self._deadline = time.monotonic() + self._limit
                if self.on_request_start is not None:
                    self.on_request_start()
            return count
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise RequestTimeout()
        self._sock.settimeout(remaining)
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            raise RequestTimeout() from None


class ConnectionSlots:
    """The open connections: at most `limit` with a thread of their own (`serve` starts
    one), the idle ones among them (kept alive between requests), and a thread for the
    connections over the limit: each waits briefly for a slot, else is answered 503."""

    def __init__(self, limit: int, tls: bool, serve: Callable[[Any, Any], None]) -> None:
        self.limit = limit
        self._tls = tls  # connections are TLS sockets: refused ones are closed unanswered
        self._serve = serve
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._open: set[socket.socket] = set()
        self._idle: dict[socket.socket, float] = {}  # since when each has been idle
        self._taken = 0
        self._waiting: queue.Queue[tuple[Any, Any] | None] = queue.Queue(_WAITING)
        self._waiter: threading.Thread | None = None

    def admit(self, connection: Any, address: Any) -> None:
        """Serve a new connection if a slot can be had now, else let it wait briefly."""
        if self._take(0):
            self._start(connection, address)
            return
        with self._lock:
            if self._waiter is None:
                self._waiter = threading.Thread(
                    target=self._wait_for_slots, name="emulator-connections", daemon=True
                )
                self._waiter.start()
        try:
            self._waiting.put_nowait((connection, address))
        except queue.Full:
            _close(connection)

    def _start(self, connection: Any, address: Any) -> None:
        try:
            self._serve(connection, address)
        except BaseException:
            self.give_back()
            _close(connection)
            raise

    def _take(self, wait: float) -> bool:
        """A slot, closing the longest-idle connection for it when all are taken, waiting
        up to `wait` seconds for one; False when none could be had."""
        deadline = time.monotonic() + wait
        with self._lock:
            while True:
                if self._taken < self.limit:
                    self._taken += 1
                    return True
                evicted = next(
                    (
                        c
                        for c in sorted(self._idle, key=self._idle.__getitem__)
                        if not _request_waiting(c)
                    ),
                    None,
                )
                if evicted is not None:
                    del self._idle[evicted]
                    self._taken += 1  # its thread gives its slot back as the connection closes
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._freed.wait(remaining)
        try:
            evicted.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    def give_back(self) -> None:
        with self._lock:
            self._taken -= 1
            self._freed.notify()

    def opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.discard(connection)
            self._idle.pop(connection, None)

    def set_idle(self, connection: socket.socket, idle: bool) -> None:
        """Mark a kept-alive connection as between requests (it may close to make room)."""
        with self._lock:
            if not idle:
                self._idle.pop(connection, None)
            elif connection in self._open:
                self._idle[connection] = time.monotonic()
                self._freed.notify()

    def close_all(self) -> None:
        """Shut every open connection down, and stop admitting waiting ones."""
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._waiter is not None:
            try:
                self._waiting.put_nowait(None)
            except queue.Full:
                pass

    def _wait_for_slots(self) -> None:
        """Connections over the limit, in turn: each is served if a slot frees within a
        moment, else answered 503 (over TLS: closed)."""
        while (item := self._waiting.get()) is not None:
            connection, address = item
            if self._take(_SLOT_WAIT):
                try:
                    self._start(connection, address)
                except Exception:
                    pass  # no thread for it: it was closed
            elif self._tls:
                _close(connection)
            else:
                self._refuse(connection)

    def _refuse(self, connection: socket.socket) -> None:
        try:
            # Read what the client sends before answering, so that closing does not
            # reset its connection before it reads the answer.
            _drain(connection, _REQUEST_GRACE)
            connection.settimeout(1.0)
            connection.sendall(
                fixed_response(
                    503,
                    "Service Unavailable",
                    "ServiceUnavailableException",
                    f"The emulator is serving {self.limit} connections, its limit; "
                    "try again shortly.",
                )
            )
            connection.shutdown(socket.SHUT_WR)
            _drain(connection, _REQUEST_GRACE)
        except OSError:
            pass
        finally:
            _close(connection)


def _request_waiting(connection: socket.socket) -> bool:
    """Whether bytes of a request wait to be read on an idle connection (its end does not
    count, where it can be told apart: a closing connection may as well make room)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        if not readable or isinstance(connection, ssl.SSLSocket):
            return bool(readable)
        return bool(connection.recv(1, socket.MSG_PEEK))  # readable: this does not block
    except (OSError, ValueError):
        return False  # broken: it closes anyway


def _drain(connection: socket.socket, wait: float) -> None:
    """Read and drop what `connection` sends: waiting up to `wait` seconds for it to
    begin, then for as long as more follows at once (or until it ends)."""
    timeout = wait
    while True:
        readable, _, _ = select.select([connection], [], [], timeout)
        if not readable:
            return
        try:
            if not connection.recv(65536):
                return
        except OSError:
            return
        timeout = 0.01


def _close(connection: socket.socket) -> None:
    try:
        connection.close()
    except OSError:
        pass
