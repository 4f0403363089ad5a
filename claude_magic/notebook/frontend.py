"""The bridge to claude-magic's JupyterLab extension: over one comm ("claude-magic") the
kernel asks the page to insert a code cell below an agent cell and run it as an ordinary
execution, gets the cell's nbformat outputs back, and removes step cells nobody edited."""

from __future__ import annotations

import _thread
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TARGET = "claude-magic"
VERSION = 1
REPLY_TIMEOUT = 15.0  # seconds the kernel may sit idle with a request unanswered
INTERRUPT_GRACE = 5.0  # seconds an interrupted step gets to stop before it is given up on
RECENT_STARTS = 64  # cell starts remembered for a step whose "inserted" comes late


class FrontEndError(RuntimeError):
    """The page could not run or answer a request (one line, for the user)."""


@dataclass
class StepCell:
    """One step as it ran in its own cell: the cell's id, count, outputs and timing."""

    cell_id: str | None
    execution_count: int | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"  # ok | error | aborted | timeout | interrupted
    queued_at: float = 0.0  # time.monotonic() when the request went out
    started_at: float | None = None  # when the kernel started the cell (pre_run_cell)
    ended_at: float | None = None  # when the cell finished (post_run_cell, else the reply)


@dataclass
class _Request:
    """A `run` request while it waits for its replies."""

    request: str
    queued_at: float
    heard_at: float
    cell_id: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    reply: dict[str, Any] | None = None  # "done" or "failed"
    outcome: str | None = None  # "timeout" or "interrupted", once the step was interrupted
    interrupted_at: float | None = None
    interrupts: int = 0


class FrontEnd:
    """This kernel's end of the comm to the JupyterLab extension (one per kernel session)."""

    def __init__(self, shell: Any, reply_timeout: float = REPLY_TIMEOUT) -> None:
        self.shell = shell
        self.reply_timeout = reply_timeout
        self.state = "unknown"  # unknown | ready | absent
        self.frontend: str | None = None  # e.g. "JupyterLab 4.6.6", once ready
        self._comm: Any = None  # the comm of the page that answered
        self._instance: str | None = None  # which page, of those sharing the comm
        self._hello: Any = None
        self._lock = threading.Condition()
        self._requests: dict[str, _Request] = {}
        self._removals: dict[str, tuple[list[str], Callable[[list[str], list[str]], Any]]] = {}
        self._starts: dict[str, float] = {}  # recent cell id -> started (for a late "inserted")
        self._running: str | None = None  # the cell executing now ("" for one without an id)
        self._interrupting = threading.Lock()  # held while a step's cell is interrupted
        self._quiet_since = time.monotonic()
        self._hooked = False
        self._target = False

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    # -- the handshake

    def announce(self) -> None:
        """Open the comm and say hello; the extension answers "ready". Idempotent, and
        nothing happens outside a kernel."""
        if getattr(self.shell, "kernel", None) is None or self.state == "ready":
            return
        if self._hello is not None and self.state == "unknown":
            return  # said hello already; the answer comes when the kernel is idle
        import comm

        if not self._hooked:
            self.shell.events.register("pre_run_cell", self._pre_run_cell)
            self.shell.events.register("post_run_cell", self._post_run_cell)
            self._hooked = True
        if not self._target:
            comm.get_comm_manager().register_target(TARGET, self._opened_by_page)
            self._target = True
        self.state = "unknown"
        hello = comm.create_comm(target_name=TARGET, data={"type": "hello", "version": VERSION})
        self._serve(hello)
        self._hello = hello

    def _opened_by_page(self, page_comm: Any, msg: dict[str, Any]) -> None:
        """The extension opened a comm (e.g. its page was reloaded): it is ready."""
        self._serve(page_comm)
        self._receive(page_comm, msg)

    def _serve(self, channel: Any) -> None:
        channel.on_msg(lambda msg: self._receive(channel, msg))
        channel.on_close(lambda msg: self._closed(channel))

    def _receive(self, channel: Any, msg: dict[str, Any]) -> None:
        data = msg.get("content", {}).get("data") or {}
        kind = data.get("type")
        with self._lock:
            self._quiet_since = time.monotonic()
            if kind == "ready":
                self._adopt(channel, data)
            elif kind in ("inserted", "done", "failed"):
                self._run_reply(data)
            elif kind == "removed":
                self._removed(data)
            self._lock.notify_all()

    def _adopt(self, channel: Any, data: dict[str, Any]) -> None:
        if channel is self._comm or int(data.get("version", 0)) < VERSION:
            return  # a second page on the same comm: the first one serves
        old, self._comm = self._comm, channel
        self._instance = data.get("instance")
        self.frontend = str(data.get("frontend") or "a front end")
        self.state = "ready"
        if old is not None and old is not self._hello:
            _close_quietly(old)

    def _closed(self, channel: Any) -> None:
        with self._lock:
            if channel is self._hello and self.state == "unknown":
                self.state = "absent"  # the page has no claude-magic extension
            if channel is self._comm:
                self._comm = None
                self.state = "absent"
                self._fail_all("The notebook's page closed the connection.")
            self._lock.notify_all()

    def _fail_all(self, reason: str) -> None:
        for pending in self._requests.values():
            if pending.reply is None:
                pending.reply = {"type": "failed", "reason": reason}
        removals, self._removals = self._removals, {}
        for cells, on_done in removals.values():
            _call_quietly(on_done, [], cells)

    # -- which cell the kernel runs

    def _pre_run_cell(self, info: Any) -> None:
        cell_id = getattr(info, "cell_id", None) or ""
        now = time.monotonic()
        with self._lock:
            pending = self._step_of(cell_id) if cell_id else None
            if pending is not None and pending.started_at is None:
                pending.started_at = now
            elif cell_id:
                self._starts[cell_id] = now
                while len(self._starts) > RECENT_STARTS:
                    del self._starts[next(iter(self._starts))]
            self._lock.notify_all()
        self._running = cell_id  # last: from here on a step's cell may be interrupted

    def _post_run_cell(self, result: Any) -> None:
        now = time.monotonic()
        cell_id = self._running
        for _ in range(3):
            try:
                with self._interrupting:
                    self._running = None
                with self._lock:
                    self._quiet_since = now
                    pending = self._step_of(cell_id) if cell_id else None
                    if pending is not None and pending.started_at is not None:
                        pending.ended_at = now
                    self._lock.notify_all()
                return
            except KeyboardInterrupt:  # a step's interrupt, arriving just as the step ended
                continue

    def _step_of(self, cell_id: str) -> _Request | None:
        for pending in self._requests.values():
            if pending.cell_id == cell_id:
                return pending
        return None

    # -- steps

    def _run_reply(self, data: dict[str, Any]) -> None:
        pending = self._requests.get(str(data.get("request")))
        if pending is None:
            return
        pending.heard_at = time.monotonic()
        cell_id = data.get("cell")
        if cell_id and pending.cell_id is None:
            pending.cell_id = str(cell_id)
            started = self._starts.pop(pending.cell_id, None)
            if started is not None and pending.started_at is None:
                pending.started_at = started
                if self._running != pending.cell_id:
                    pending.ended_at = pending.ended_at or time.monotonic()
        if data.get("type") in ("done", "failed"):
            pending.reply = data

    def run_step(
        self,
        agent_cell: str,
        after: str | None,
        code: str,
        metadata: dict[str, Any] | None = None,
        timeout: float | None = 120.0,
        stop: threading.Event | None = None,
    ) -> StepCell:
        """Insert `code` as a cell below `after` (else below the agent cell), run it and
        wait for it. Call from a worker thread: the replies arrive while the kernel is
        idle. A step that runs `timeout` seconds is interrupted ("timeout"); so is one
        running when `stop` is set ("interrupted"). Raises FrontEndError when the page
        can't run it, closes the connection or does not answer."""
        if threading.current_thread() is threading.main_thread():
            raise RuntimeError(
                "run_step waits for the kernel to be idle: call it from a worker thread"
            )
        now = time.monotonic()
        with self._lock:
            channel = self._comm
            if channel is None or self.state != "ready":
                raise FrontEndError("The notebook's claude-magic extension is not connected.")
            pending = _Request(request=uuid.uuid4().hex, queued_at=now, heard_at=now)
            self._requests[pending.request] = pending
        try:
            channel.send(
                {
                    "type": "run",
                    "request": pending.request,
                    "to": self._instance,
                    "agent_cell": agent_cell,
                    "after": after,
                    "code": code,
                    "metadata": metadata or {},
                }
            )
            return self._wait(pending, timeout, stop)
        finally:
            with self._lock:
                self._requests.pop(pending.request, None)

    def _wait(
        self, pending: _Request, timeout: float | None, stop: threading.Event | None
    ) -> StepCell:
        with self._lock:
            while pending.reply is None:
                self._lock.wait(0.05)
                now = time.monotonic()
                running = pending.started_at is not None and self._running == pending.cell_id
                if running and pending.outcome is None:
                    if stop is not None and stop.is_set():
                        pending.outcome = "interrupted"
                    elif timeout is not None and now - (pending.started_at or now) >= timeout:
                        pending.outcome = "timeout"
                    if pending.outcome is not None:
                        self._interrupt(pending, now)
                elif running and pending.interrupted_at is not None:
                    if now - pending.interrupted_at >= INTERRUPT_GRACE:
                        if pending.interrupts >= 3:
                            break  # it does not stop: give up waiting for it
                        self._interrupt(pending, now)
                if self._unanswered(pending, now):
                    raise FrontEndError("The notebook did not answer: is its page still open?")
        reply = pending.reply or {}
        if reply.get("type") == "failed":
            raise FrontEndError(str(reply.get("reason") or "The notebook could not run the step."))
        status = str(reply.get("status") or "aborted")
        if pending.outcome is not None:
            status = pending.outcome
        elif stop is not None and stop.is_set():
            status = "interrupted"
        outputs = reply.get("outputs")
        return StepCell(
            cell_id=pending.cell_id or reply.get("cell"),
            execution_count=reply.get("execution_count"),
            outputs=list(outputs) if isinstance(outputs, list) else [],
            status=status,
            queued_at=pending.queued_at,
            started_at=pending.started_at,
            ended_at=pending.ended_at or time.monotonic(),
        )

    def _unanswered(self, pending: _Request, now: float) -> bool:
        """Nothing came back although the kernel sat idle for the whole reply timeout."""
        if self._running is not None:
            return False
        last = max(pending.heard_at, self._quiet_since, pending.ended_at or 0.0)
        return now - last > self.reply_timeout

    def _interrupt(self, pending: _Request, now: float) -> None:
        """KeyboardInterrupt in the main thread, if it still runs the step's cell (the
        post_run_cell hook takes the same lock before it says the cell has ended)."""
        pending.interrupted_at = now
        pending.interrupts += 1
        with self._interrupting:
            if self._running != pending.cell_id:
                return
            if hasattr(signal, "pthread_kill"):  # wakes a main thread that sleeps, too
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            else:
                _thread.interrupt_main()

    # -- removing step cells

    def remove_cells(
        self, agent_cell: str, cells: dict[str, str], on_done: Callable[[list[str], list[str]], Any]
    ) -> None:
        """Ask the page to delete each cell whose source is still the one given (a cell
        the user edited stays); `on_done(removed, kept)` is called when it has."""
        with self._lock:
            channel = self._comm
            if channel is None or self.state != "ready":
                raise FrontEndError("The notebook's claude-magic extension is not connected.")
            request = uuid.uuid4().hex
            self._removals[request] = (list(cells), on_done)
        channel.send(
            {
                "type": "remove",
                "request": request,
                "to": self._instance,
                "agent_cell": agent_cell,
                "cells": dict(cells),
            }
        )

    def _removed(self, data: dict[str, Any]) -> None:
        entry = self._removals.pop(str(data.get("request")), None)
        if entry is not None:
            _call_quietly(entry[1], list(data.get("removed") or []), list(data.get("kept") or []))

    # -- the end

    def close(self) -> None:
        """Unhook, close the comm and fail whatever still waits."""
        with self._lock:
            self._fail_all("claude_magic was unloaded.")
            for channel in (self._comm, self._hello):
                if channel is not None:
                    _close_quietly(channel)
            self._comm = self._hello = None
            self.state = "unknown"
            self._lock.notify_all()
        if self._hooked:
            for event, hook in (
                ("pre_run_cell", self._pre_run_cell),
                ("post_run_cell", self._post_run_cell),
            ):
                try:
                    self.shell.events.unregister(event, hook)
                except ValueError:
                    pass
            self._hooked = False
        if self._target:
            import comm

            comm.get_comm_manager().unregister_target(TARGET, self._opened_by_page)
            self._target = False


def _close_quietly(channel: Any) -> None:
    try:
        channel.close()
    except Exception:  # the kernel is shutting down, or the comm is gone already
        pass


def _call_quietly(callback: Callable[..., Any], *args: Any) -> None:
    try:
        callback(*args)
    except Exception:  # a caller's callback must not break the comm's message handling
        pass
