"""Agent steps run inline, their outputs captured, within a time limit.

The code runs on the kernel's main thread while the agent cell runs, as a cell of its own
(`In`/`Out` and `%history` keep it), its outputs captured as nbformat output dicts
instead of shown.

Captured: stdout and stderr (written to by `print`, logging handlers, warnings), displays
(matplotlib-inline figures included, which are shown on `post_execute`), the displayhook's
result and the traceback, each of which ipykernel would otherwise send straight to the
front end. Calls from other threads (a background answer) pass through. Every swapped hook
is put back afterwards. Output written to the process's file descriptors directly (a
subprocess that inherits them) is not captured.
"""

from __future__ import annotations

import _thread
import base64
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..tools.notebook_tools import StepOutcome

MAX_CAPTURED_CHARS = 2_000_000  # of stream text per step; the rest is dropped with a note


def run_inline(shell: Any, code: str, *, timeout: float | None) -> StepOutcome:
    """Run `code` as a cell of its own (store_history=True), capturing its outputs; after
    `timeout` seconds (None or <= 0: no limit) the main thread is interrupted and the
    status is "timeout". A KeyboardInterrupt from the user makes it "interrupted"."""
    from ..tools.notebook_tools import StepOutcome

    capture = OutputCapture(shell)
    timer = Interrupter(timeout)
    started = time.monotonic()
    result: Any = None
    escaped = False  # a KeyboardInterrupt that came out of run_cell itself
    with _kept_state(shell), _own_number(shell), capture:
        try:
            try:
                timer.start()
                result = shell.run_cell(code, store_history=True)
            finally:
                timer.stop()
        except KeyboardInterrupt:
            escaped = True
    elapsed = time.monotonic() - started
    error = None
    if result is not None:
        error = (
            result.error_in_exec if result.error_in_exec is not None else result.error_before_exec
        )
    if timer.fired:
        status = "timeout"
    elif escaped or isinstance(error, KeyboardInterrupt):
        status = "interrupted"
    elif error is not None:
        status = "error"
    else:
        status = "ok"
    number = getattr(result, "execution_count", None) if code.strip() else None
    outputs = capture.finished()
    if number is not None:
        _record(shell, number, outputs)
    return StepOutcome(
        code=code,
        outputs=outputs,
        execution_count=number,
        elapsed=elapsed,
        status=status,
        time_limit=timeout if status == "timeout" else None,
    )


def _record(shell: Any, number: int, outputs: list[dict[str, Any]]) -> None:
    """The step's outputs for `--above` and read_cells, as if it had shown them."""
    from .session import session_of

    session = session_of(shell)
    if session is not None:
        session.recorder.replace_outputs(number, outputs)


# ------------------------------------------------------------------ state kept around a step


@contextlib.contextmanager
def _kept_state(shell: Any) -> Iterator[None]:
    """What a nested run_cell overwrites and the running agent cell still needs: the
    displayhook's ExecutionResult, ipykernel's last traceback, the session's running cell."""
    from .session import session_of

    displayhook = shell.displayhook
    session = session_of(shell)
    saved = {
        name: getattr(shell, name)
        for name in ("_last_traceback", "_last_traceback_during_displayhook")
        if hasattr(shell, name)
    }
    exec_result = getattr(displayhook, "exec_result", None)
    running = session.cell if session is not None else None
    try:
        yield
    finally:
        displayhook.exec_result = exec_result
        for name, value in saved.items():
            setattr(shell, name, value)
        if session is not None and running is not None:
            session.cell = running


@contextlib.contextmanager
def _own_number(shell: Any) -> Iterator[None]:
    """Give the step a number of its own while a stored cell runs. IPython >= 9.8 counts a
    cell before running it, so a nested cell takes the next number by itself; older
    versions count after, and the step would reuse the running cell's."""
    running = getattr(shell.displayhook, "exec_result", None)
    nested = bool(getattr(getattr(running, "info", None), "store_history", False))
    if not nested or _counts_first():
        yield
        return
    shell.execution_count += 1
    try:
        yield
    finally:
        shell.execution_count -= 1  # the running cell counts itself when it ends


def _counts_first() -> bool:
    import IPython

    return tuple(int(p) for p in IPython.version_info[:2]) >= (9, 8)


# ------------------------------------------------------------------ the time limit


class Interrupter:
    """Interrupts the thread that made it after `timeout` seconds (KeyboardInterrupt);
    `stop()` makes sure no interrupt arrives after it returns."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout if timeout is not None and timeout > 0 else None
        self.fired = False
        self._lock = threading.Lock()
        self._stopped = False
        self._main = threading.current_thread() is threading.main_thread()
        self._target = threading.get_ident()
        self._timer: threading.Timer | None = None
        self._handler: Any = None

    def start(self) -> None:
        if self.timeout is None:
            return
        if self._main and not callable(signal.getsignal(signal.SIGINT)):
            # interrupt_main does nothing while SIGINT is ignored (outside a cell in ipykernel)
            self._handler = signal.signal(signal.SIGINT, signal.default_int_handler)
        self._timer = threading.Timer(self.timeout, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self.fired = True
            if self._main and hasattr(signal, "pthread_kill"):
                # a real signal: it also ends a blocking call (sleep, socket, lock) at once
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            elif self._main:
                _thread.interrupt_main()
            else:
                import ctypes

                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self._target), ctypes.py_object(KeyboardInterrupt)
                )

    def stop(self) -> None:
        """No more interrupts; one the timer already sent, arriving late, is absorbed here
        (a user's KeyboardInterrupt still propagates)."""
        while True:
            try:
                with self._lock:
                    self._stopped = True
                if self._timer is not None:
                    self._timer.cancel()
                if self.fired:
                    _let_pending_interrupt_arrive()
                if self._handler is not None:
                    signal.signal(signal.SIGINT, self._handler)
                    self._handler = None
                return
            except KeyboardInterrupt:
                if not self.fired:
                    raise


def _let_pending_interrupt_arrive() -> None:
    """Run a few Python calls, so that an interrupt already requested (the interpreter
    delivers it between bytecodes) is raised, and absorbed, here."""
    try:
        for _ in range(100):
            _nothing()
        time.sleep(0.001)
    except KeyboardInterrupt:
        pass


def _nothing() -> None:
    return None


# ------------------------------------------------------------------ capturing


class OutputCapture:
    """While entered, everything the current thread shows becomes nbformat output dicts
    in `outputs` and reaches no front end."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.outputs: list[dict[str, Any]] = []
        self._displays: dict[str, dict[str, Any]] = {}  # display_id -> its display_data output
        self._clear_pending = False
        self._thread = threading.current_thread()
        self._saved: list[tuple[Any, str, bool, Any]] = []
        self._stream_chars = 0
        self._dropped = 0

    def __enter__(self) -> OutputCapture:
        for name in ("stdout", "stderr"):
            with contextlib.suppress(Exception):
                getattr(sys, name).flush()  # the agent cell's own output goes first
        try:
            for name in ("stdout", "stderr"):
                self._capture_stream(name)
            shell = self.shell
            publisher = shell.display_pub
            self._swap(publisher, "publish", self._publish_wrapper(publisher.publish))
            self._swap(publisher, "clear_output", self._clear_wrapper(publisher.clear_output))
            hook = shell.displayhook
            for name in ("start_displayhook", "write_output_prompt", "finish_displayhook"):
                self._swap(hook, name, self._pass_other_threads(getattr(hook, name), _quiet))
            self._swap(
                hook,
                "write_format_data",
                self._pass_other_threads(hook.write_format_data, self._result),
            )
            self._swap(
                shell, "_showtraceback", self._pass_other_threads(shell._showtraceback, self._error)
            )
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def finished(self) -> list[dict[str, Any]]:
        """The outputs, with a note when stream text was dropped."""
        if self._dropped:
            self.outputs.append(
                {
                    "output_type": "stream",
                    "name": "stderr",
                    "text": f"[... {self._dropped:,} more characters of output dropped]\n",
                }
            )
            self._dropped = 0
        return self.outputs

    # -- swapping attributes, and putting them back

    def _swap(self, obj: Any, name: str, value: Any) -> bool:
        own = vars(obj) if hasattr(obj, "__dict__") else {}
        had_own, previous = name in own, own.get(name)
        try:
            setattr(obj, name, value)
        except (AttributeError, TypeError):
            return False  # e.g. a C-level stream
        self._saved.append((obj, name, had_own, previous))
        return True

    def _restore(self) -> None:
        while self._saved:
            obj, name, had_own, previous = self._saved.pop()
            if had_own:
                setattr(obj, name, previous)
            else:
                with contextlib.suppress(AttributeError):
                    delattr(obj, name)

    def _mine(self) -> bool:
        return threading.current_thread() is self._thread

    def _pass_other_threads(self, original: Any, own: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            return own(*args, **kwargs) if self._mine() else original(*args, **kwargs)

        return call

    # -- streams

    def _capture_stream(self, name: str) -> None:
        stream = getattr(sys, name, None)
        if stream is None:
            return
        original = stream.write

        def write(text: Any, *args: Any, **kwargs: Any) -> Any:
            if not self._mine():
                return original(text, *args, **kwargs)
            if isinstance(text, bytes):
                text = text.decode("utf-8", "replace")
            self._stream(name, str(text))
            return len(text)

        # patched on the stream itself, so handlers holding it (logging) are captured too;
        # a stream that can't be patched is replaced in `sys` instead
        if not self._swap(stream, "write", write):
            self._swap(sys, name, _StreamProxy(stream, write))

    def _stream(self, name: str, text: str) -> None:
        if not text:
            return
        room = MAX_CAPTURED_CHARS - self._stream_chars
        if len(text) > room:
            self._dropped += len(text) - max(room, 0)
            text = text[: max(room, 0)]
            if not text:
                return
        self._stream_chars += len(text)
        self._before_output()
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    # -- displays, the result, the error

    def _publish_wrapper(self, original: Any) -> Any:
        def publish(data: Any = None, metadata: Any = None, *args: Any, **kwargs: Any) -> Any:
            if not self._mine():
                return original(data, metadata, *args, **kwargs)
            transient = kwargs.get("transient")
            display_id = transient.get("display_id") if isinstance(transient, dict) else None
            if kwargs.get("update"):
                shown = self._displays.get(display_id) if display_id else None
                if shown is None:  # a display from before the step: update it where it is
                    return original(data, metadata, *args, **kwargs)
                shown["data"], shown["metadata"] = _bundle(data), _metadata(metadata)
                return None
            output = {
                "output_type": "display_data",
                "data": _bundle(data),
                "metadata": _metadata(metadata),
            }
            self._before_output()
            self.outputs.append(output)
            if display_id:
                self._displays[str(display_id)] = output
            return None

        return publish

    def _clear_wrapper(self, original: Any) -> Any:
        def clear_output(wait: bool = False) -> Any:
            if not self._mine():
                return original(wait)
            if wait:
                self._clear_pending = True
            else:
                self._clear()
            return None

        return clear_output

    def _before_output(self) -> None:
        if self._clear_pending:
            self._clear()

    def _clear(self) -> None:
        self.outputs.clear()
        self._displays.clear()
        self._clear_pending = False

    def _result(self, format_dict: Any, md_dict: Any = None) -> None:
        hook = self.shell.displayhook
        count = getattr(hook, "prompt_count", None)
        self._before_output()
        self.outputs.append(
            {
                "output_type": "execute_result",
                "execution_count": count,
                "data": _bundle(format_dict),
                "metadata": _metadata(md_dict),
            }
        )

    def _error(self, etype: Any, evalue: Any, stb: Any) -> None:
        try:
            message = str(evalue)
        except Exception:  # noqa: BLE001 - an exception whose str() fails
            message = f"<{type(evalue).__name__}>"
        self._before_output()
        self.outputs.append(
            {
                "output_type": "error",
                "ename": getattr(etype, "__name__", str(etype)),
                "evalue": message,
                "traceback": [str(line) for line in stb or []],
            }
        )


def _quiet(*args: Any, **kwargs: Any) -> None:
    return None


def _bundle(data: Any) -> dict[str, Any]:
    """A display bundle as nbformat keeps it: binary data as base64 text."""
    if not isinstance(data, dict):
        return {}
    bundle: dict[str, Any] = {}
    for mime, value in data.items():
        if isinstance(value, (bytes, bytearray)):
            bundle[str(mime)] = base64.b64encode(bytes(value)).decode("ascii")
        elif isinstance(value, (str, dict, list, int, float, bool)) or value is None:
            bundle[str(mime)] = value
        else:
            bundle[str(mime)] = str(value)
    return bundle


def _metadata(metadata: Any) -> dict[str, Any]:
    return dict(metadata) if isinstance(metadata, dict) else {}


class _StreamProxy:
    """Stands in for a stream whose `write` can't be replaced (a C-level one)."""

    def __init__(self, stream: Any, write: Any) -> None:
        self._stream = stream
        self.write = write

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
