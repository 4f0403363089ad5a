"""Background answers: `%%claude --background` returns at once and the answer streams
into its own cell from a worker thread while other cells run.

- The cell starts the answer's view itself (the live widget is displayed in the cell
  with a display id) and copies its context. The worker runs the answer inside that
  copy, so every message it sends (widget state, the appends the view's Output widget
  captures, the final static bundle by display id) carries the answer cell's parent
  header and lands in that cell, whatever cell runs meanwhile; nothing is displayed
  into another cell. `ParentGuard` keeps the worker from moving the kernel-wide
  fallback parent (which threads started by other cells print through) to the answer.
- One worker thread per chat takes that chat's answers in order, so a later cell
  sends a history that includes the earlier answer; different chats run side by side.
  A foreground cell on a chat waits for that chat's answers first. A worker ends when
  its queue is empty.
- Stop (the Stop button beside the header, `%claude stop`) sets the answer's flag: it
  stops at the next streamed event and keeps the partial answer, marked stopped; when
  no event comes within `CUT_AFTER` seconds (a stalled stream), the stream's socket is
  shut so the read ends. A queued answer is dropped before anything is sent. A kernel
  interrupt reaches only the main thread, so it never stops a background answer.
- `%claude wait` blocks until answers end, then sends each ended answer's static
  bundle again from its own cell (nbclient and papermill keep only the running
  cell's messages).
- `Jobs.close()` (on `%unload_ext` and at interpreter exit) stops every answer and
  joins the threads.
- Python tools run in the kernel, so `-b` with them is refused (with the trait alone,
  such a cell runs in the foreground); MCP tools run in their server, so they may, and
  a tool that asks first asks with buttons in the answer's cell.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ClaudeMagicError
from .answer import answer
from .prepare import PreparedCell
from .send import Stopped
from .session import KernelSession

POLL = 0.1  # seconds between checks while the main thread waits (keeps it interruptible)
CUT_AFTER = 1.0  # seconds a stopped answer may wait for its next event before its socket is shut
STOP_GRACE = 5.0  # seconds `%claude stop` waits for a stopped answer to end
CLOSE_TIMEOUT = 10.0  # seconds `close()` waits for each worker
KEEP_ENDED = 50  # ended jobs remembered (for `%claude wait` to send again)


@dataclass(eq=False)
class Job:
    """One background answer."""

    number: int
    session: KernelSession
    prepared: PreparedCell
    view: Any
    context: contextvars.Context
    button: Any = None
    state: str = "queued"  # queued, running, done, stopped, failed
    error: str = ""
    chars: int = 0  # characters of the reply shown so far
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    ended: float | None = None
    stop_requested: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    stream: Any = None  # the open EventStream of the running request
    closing: tuple[str, str | None] | None = None  # (footer, error) the view ended with
    republished: bool = False
    cutter: threading.Timer | None = None

    @property
    def chat(self) -> str:
        return self.prepared.chat

    @property
    def cell(self) -> str:
        n = self.prepared.execution_count
        return f"cell [{n}]" if n is not None else "a cell"

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def describe(self) -> str:
        return f"{self.cell} (chat {self.chat!r})"

    def cut(self) -> None:
        """Shut the socket of the open stream, so a read waiting for data ends now."""
        http = getattr(getattr(self.stream, "_raw", None), "_raw_stream", None)  # urllib3 response
        sock = getattr(getattr(http, "connection", None), "sock", None)
        if sock is not None and not self.done.is_set():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def republish(self) -> None:
        """Send the ended answer's static bundle again, from the running cell, to its
        display id: clients that keep only the running cell's messages (nbclient,
        papermill) then save it in the answer's cell too."""
        display_id = getattr(self.view, "display_id", None)
        if self.republished or self.closing is None or not display_id:
            return
        from IPython.display import update_display

        self.republished = True
        footer, error = self.closing
        update_display(self.view.bundle(footer, error=error), display_id=display_id, raw=True)

    def outcome(self) -> str:
        return self.state + (f": {self.error}" if self.error and self.state != "done" else "")


class StoppableView:
    """The job's view as the answer sees it: raises `Stopped` once, at the next
    streamed event after a stop was asked for; everything else goes to the view."""

    def __init__(self, view: Any, job: Job) -> None:
        self._view = view
        self._job = job
        self._raised = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)

    @property
    def stop_requested(self) -> bool:
        return self._job.stop_requested.is_set()

    @property
    def stop_event(self) -> threading.Event:
        """Set when the user stops the answer (an agent step waits on it)."""
        return self._job.stop_requested

    def _check(self) -> None:
        if self._job.stop_requested.is_set() and not self._raised:
            self._raised = True
            raise Stopped

    def due(self) -> bool:
        self._check()
        return self._view.due()

    def update(self, message: Any) -> None:
        self._view.update(message)
        self._job.chars = len(message.text)
        self._check()

    def finish(self, footer: str, stop_reason: str | None = None) -> None:
        self._view.finish(footer, stop_reason)
        self._job.closing = (footer, None)

    def fail(self, text: str, footer: str = "") -> None:
        self._view.fail(text, footer)
        self._job.closing = (footer, text)


_worker = threading.local()  # .active: this thread is running a background answer


class ParentGuard:
    """ipywidgets' `Output.__enter__` calls `shell.set_parent`, which also sets the
    kernel-wide fallback parent that threads started by other cells print through.
    Called from an answer's worker, it sets only the worker's own context (which holds
    that parent already)."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._wrapper: Any = None

    def install(self) -> None:
        shell = self.shell
        original = getattr(shell, "set_parent", None)
        thread_only = getattr(shell, "set_thread_parent", None)
        if original is None or thread_only is None or self._wrapper is not None:
            return  # no per-thread parents (older ipykernel): nothing to keep apart

        def set_parent(parent: Any, *args: Any, **kwargs: Any) -> Any:
            if getattr(_worker, "active", False):
                return thread_only(parent)
            return original(parent, *args, **kwargs)

        shell.set_parent = self._wrapper = set_parent

    def uninstall(self) -> None:
        if self._wrapper is not None and vars(self.shell).get("set_parent") is self._wrapper:
            del self.shell.set_parent
        self._wrapper = None


class JobClient:
    """The Bedrock client as a background answer uses it: remembers the open stream."""

    def __init__(self, client: Any, job: Job) -> None:
        self._client = client
        self._job = job

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def stream(self, invoke_id: str, body: dict[str, Any]) -> Any:
        self._job.stream = events = self._client.stream(invoke_id, body)
        return events


class Jobs:
    """The kernel's background answers: a queue and a worker thread per chat."""

    def __init__(self, shell: Any = None) -> None:
        self._guard = ParentGuard(shell)
        if shell is not None:
            self._guard.install()
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Job]] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._jobs: list[Job] = []
        self._count = 0
        self.closed = False
        atexit.register(self.close)

    # -- submitting and running

    def next_number(self) -> int:
        with self._lock:
            self._count += 1
            return self._count

    def submit(self, job: Job) -> None:
        with self._lock:
            if self.closed:
                raise ClaudeMagicError("Background answers are shut down: reload the extension.")
            self._jobs.append(job)
            ended = [j for j in self._jobs if not j.active]
            for old in ended[:-KEEP_ENDED]:
                self._jobs.remove(old)
            self._queues.setdefault(job.chat, deque()).append(job)
            if job.chat not in self._workers:
                worker = threading.Thread(
                    target=self._work,
                    args=(job.chat,),
                    daemon=True,
                    name=f"claude-magic-answer-{job.chat}",
                )
                self._workers[job.chat] = worker
                worker.start()

    def _work(self, chat: str) -> None:
        _worker.active = True
        while True:
            with self._lock:
                queue = self._queues.get(chat)
                if not queue:
                    self._queues.pop(chat, None)
                    self._workers.pop(chat, None)
                    return
                job = queue.popleft()
                job.state, job.started = "running", time.monotonic()
            self._run(job)

    def _run(self, job: Job) -> None:
        view = StoppableView(job.view, job)
        client = JobClient(job.session.client(job.prepared.settings), job)
        try:
            job.context.run(answer, job.session, job.prepared, view, background=True, client=client)
        except BaseException as exc:  # noqa: BLE001 - a worker must end its job whatever happened
            job.state = "stopped" if job.stop_requested.is_set() else "failed"
            job.error = (
                str(exc) if isinstance(exc, ClaudeMagicError) else f"{type(exc).__name__}: {exc}"
            )
            if not getattr(
                job.view, "finished", True
            ):  # it failed before the answer's own handling
                quietly(job.context.run, view.fail, job.error)
        else:
            job.state = "done"
        finally:
            self._end(job)

    def _end(self, job: Job) -> None:
        if job.cutter is not None:
            job.cutter.cancel()
        if job.button is not None:
            quietly(job.context.run, job.button.close)
        job.ended = time.monotonic()
        job.done.set()

    # -- looking, stopping, waiting

    def active(self, chat: str | None = None) -> list[Job]:
        """Running and queued answers (of `chat`, else of every chat), oldest first."""
        with self._lock:
            return [j for j in self._jobs if j.active and (chat is None or j.chat == chat)]

    def stop(self, job: Job) -> None:
        """Stop a running answer (at its next event) or drop a queued one."""
        with self._lock:
            queue = self._queues.get(job.chat)
            dropped = job.state == "queued" and queue is not None and job in queue
            if dropped and queue is not None:
                queue.remove(job)
                job.state, job.error = "stopped", "Stopped before it started; nothing was sent."
            job.stop_requested.set()
            if job.state == "running" and job.cutter is None:
                job.cutter = threading.Timer(CUT_AFTER, job.cut)
                job.cutter.daemon = True
                job.cutter.start()
        if dropped:
            quietly(job.context.run, job.view.fail, job.error)
            job.closing = ("", job.error)
            self._end(job)

    def stop_all(self, chat: str | None = None) -> list[Job]:
        """Stop the answers of `chat` (else all), the queued ones first so none starts."""
        jobs = self.active(chat)
        for job in reversed(jobs):
            self.stop(job)
        return jobs

    def wait(self, jobs: list[Job], timeout: float | None = None) -> list[Job]:
        """Wait until `jobs` have ended (or `timeout` seconds); return those still active."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for job in jobs:
            while not job.done.is_set():
                left = POLL if deadline is None else min(POLL, deadline - time.monotonic())
                if left <= 0:
                    return [j for j in jobs if j.active]
                job.done.wait(left)
        return []

    def ended(self) -> list[Job]:
        """Answers that have ended, oldest first."""
        with self._lock:
            return [j for j in self._jobs if not j.active]

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Stop every answer and join the worker threads."""
        with self._lock:
            self.closed = True
            workers = list(self._workers.values())
        stopped = self.stop_all()
        self.wait(stopped, CUT_AFTER)
        for job in stopped:
            job.cut()
        for worker in workers:
            if worker is not threading.current_thread():
                worker.join(timeout)
        self._guard.uninstall()
        atexit.unregister(self.close)


def quietly(call: Any, *args: Any) -> None:
    try:
        call(*args)
    except Exception:  # noqa: BLE001 - tidying up a view must never break the caller
        pass


def jobs_of(session: KernelSession) -> Jobs:
    """The kernel's background answers (made on first use)."""
    if not isinstance(session.jobs, Jobs):
        session.jobs = Jobs(session.shell)
    return session.jobs


def active_jobs(session: KernelSession, chat: str | None = None) -> list[Job]:
    """Running and queued answers, without making the queue when there is none."""
    return session.jobs.active(chat) if isinstance(session.jobs, Jobs) else []
