"""A per-cell record of what each notebook cell showed: images, text and source.

`OutputRecorder(shell).install()` wraps the shell's display publisher
(`display()`), its displayhook (`Out[n]`) and, while a cell runs, the `write`
of stdout/stderr. Everything a cell shows between `pre_run_cell` and
`post_run_cell` belongs to it (displays from other threads excepted: a background
answer's), including matplotlib-inline figures (published
during `post_execute`); the cell's number is taken from
`post_run_cell(result).execution_count`, which is right on every IPython version.
Memory stays bounded: the last `max_cells` cells and `max_image_bytes` of images,
oldest dropped first. `uninstall()` puts every wrapped method back.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..media.formats import decode_image_payload

IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml")  # in order of preference
TEXT_MIMES = ("text/markdown", "text/plain")  # in order of preference
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SKIPPED_CELL_PREFIX = "%%claude"
MAGIC_PREFIX = "%claude"  # line commands: their errors are the magic's, not the user's
DEFAULT_MAX_TEXT_CHARS = 100_000  # per cell
_MAX_OPEN_CELLS = 16  # nesting depth of run_cell kept (guards against unmatched events)


@dataclass(frozen=True)
class RecordedImage:
    """One image a cell showed."""

    data: bytes = field(repr=False)
    mime: str

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class _Output:
    kind: str  # "stream", "display" or "result"
    parts: list[str] = field(default_factory=list)  # text, in pieces (streams grow by many writes)
    image: RecordedImage | None = None
    display_id: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


@dataclass
class CellRecord:
    """What one cell showed, in order."""

    source: str
    number: int | None = None
    outputs: list[_Output] = field(default_factory=list)
    error: str = ""
    error_trace: str = ""  # the user's own frames and the exception (see `error_report`)
    text_chars: int = 0
    text_omitted: int = 0
    images_dropped: int = 0
    clear_pending: bool = False

    @property
    def images(self) -> list[RecordedImage]:
        return [o.image for o in self.outputs if o.image is not None]


class OutputRecorder:
    """Records the rich outputs of each cell, keyed by execution count."""

    def __init__(
        self,
        shell: Any,
        max_cells: int = 100,
        max_image_bytes: int = 256 * 1024 * 1024,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    ) -> None:
        self.shell = shell
        self.max_cells = max_cells
        self.max_image_bytes = max_image_bytes
        self.max_text_chars = max_text_chars
        self._cells: OrderedDict[int, CellRecord] = OrderedDict()
        self._open: list[CellRecord | None] = []  # running cells; None for skipped ones
        self._image_bytes = 0
        self._busy = 0  # > 0 while a wrapped display call runs (its own prints aren't output)
        self._patches: list[tuple[Any, str, bool, Any, Any]] = []
        self._stream_patches: list[tuple[Any, str, bool, Any, Any]] = []
        self.installed = False
        # Wrappers record only while their generation is current: one left inside someone
        # else's wrapper after an unpatch then just passes calls through.
        self._generation = 0
        self._stream_generation = 0

    # ------------------------------------------------------------ install / uninstall

    def install(self) -> None:
        """Start recording (idempotent)."""
        if self.installed:
            return
        self.installed = True
        shell = self.shell
        self._patch(shell.display_pub, "publish", self._wrap_publish, self._patches)
        self._patch(shell.display_pub, "clear_output", self._wrap_clear_output, self._patches)
        self._patch(
            shell.displayhook, "write_format_data", self._wrap_write_format_data, self._patches
        )
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)

    def uninstall(self) -> None:
        """Stop recording and restore every wrapped method (recorded cells are kept)."""
        if not self.installed:
            return
        self.installed = False
        self._generation += 1
        for event, callback in (
            ("pre_run_cell", self._pre_run_cell),
            ("post_run_cell", self._post_run_cell),
        ):
            if callback in self.shell.events.callbacks[event]:
                self.shell.events.unregister(event, callback)
        self._unpatch_streams()
        self._unpatch(self._patches)
        self._open.clear()

    def _unpatch_streams(self) -> None:
        self._stream_generation += 1
        self._unpatch(self._stream_patches)

    @staticmethod
    def _patch(obj: Any, name: str, make_wrapper: Any, registry: list) -> bool:
        own = vars(obj) if hasattr(obj, "__dict__") else {}
        had_own = name in own
        wrapper = make_wrapper(getattr(obj, name))
        try:
            setattr(obj, name, wrapper)
        except (AttributeError, TypeError):
            return False  # e.g. a C-level stream without an instance dict
        registry.append((obj, name, had_own, own.get(name), wrapper))
        return True

    @staticmethod
    def _unpatch(registry: list) -> None:
        while registry:
            obj, name, had_own, previous, wrapper = registry.pop()
            if vars(obj).get(name) is not wrapper:
                continue  # someone wrapped over us; our wrapper now just passes through
            if had_own:
                setattr(obj, name, previous)
            else:
                delattr(obj, name)

    # ------------------------------------------------------------ wrappers

    def _wrap_publish(self, original: Any) -> Any:
        generation = self._generation

        def publish(data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not threading.main_thread():
                # another thread's display (a background answer) is no output of the running cell
                return original(data, metadata, *args, **kwargs)
            self._busy += 1
            try:
                value = original(data, metadata, *args, **kwargs)
            finally:
                self._busy -= 1
            if generation == self._generation:
                self._safely(
                    self._on_display, data, kwargs.get("transient"), kwargs.get("update", False)
                )
            return value

        return publish

    def _wrap_write_format_data(self, original: Any) -> Any:
        generation = self._generation

        def write_format_data(format_dict: Any, md_dict: Any = None) -> Any:
            self._busy += 1
            try:
                value = original(format_dict, md_dict)
            finally:
                self._busy -= 1
            if generation == self._generation:
                self._safely(self._on_result, format_dict)
            return value

        return write_format_data

    def _wrap_clear_output(self, original: Any) -> Any:
        generation = self._generation

        def clear_output(wait: bool = False) -> Any:
            if threading.current_thread() is not threading.main_thread():
                return original(wait)
            self._busy += 1
            try:
                value = original(wait)
            finally:
                self._busy -= 1
            if generation == self._generation:
                self._safely(self._on_clear, wait)
            return value

        return clear_output

    def _wrap_write(self, original: Any) -> Any:
        generation = self._stream_generation

        def write(text: Any, *args: Any, **kwargs: Any) -> Any:
            value = original(text, *args, **kwargs)
            if (
                generation == self._stream_generation
                and isinstance(text, str)
                and text
                and not self._quiet()
            ):
                self._safely(self._on_stream, text)
            return value

        return write

    def _quiet(self) -> bool:
        """True while the shell writes display text or a traceback itself."""
        shell = self.shell
        return bool(
            self._busy
            or getattr(shell.displayhook, "is_active", False)
            or getattr(shell.display_pub, "is_publishing", False)
            or getattr(shell, "showing_traceback", False)
        )

    def _safely(self, handler: Any, *args: Any) -> None:
        """Run a recording step; a recording problem must never break the user's output."""
        if not self.installed:
            return
        try:
            handler(*args)
        except Exception:  # noqa: BLE001 - recording is best effort by design
            pass

    # ------------------------------------------------------------ events

    def _pre_run_cell(self, info: Any) -> None:
        source = getattr(info, "raw_cell", "") or ""
        skipped = source.lstrip().startswith(SKIPPED_CELL_PREFIX)
        if not self._open:
            for stream_name in ("stdout", "stderr"):
                stream = getattr(sys, stream_name, None)
                if stream is not None:
                    self._patch(stream, "write", self._wrap_write, self._stream_patches)
        self._open.append(None if skipped else CellRecord(source))
        del self._open[:-_MAX_OPEN_CELLS]

    def _post_run_cell(self, result: Any) -> None:
        if not self._open:
            return  # installed while this cell ran: its start was not seen
        cell = self._open.pop()
        if not self._open:
            self._unpatch_streams()
        number = getattr(result, "execution_count", None)
        if not getattr(getattr(result, "info", None), "store_history", True):
            number = None  # such a cell has no execution count of its own
        if cell is None or number is None:
            self._forget_images(cell)
            return
        error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
        if error is not None:
            cell.error = f"{type(error).__name__}: {error}"
            cell.error_trace = user_traceback(error, self.shell)
        cell.number = number
        old = self._cells.pop(number, None)
        self._forget_images(old)
        self._cells[number] = cell
        while len(self._cells) > self.max_cells:
            _, dropped = self._cells.popitem(last=False)
            self._forget_images(dropped)

    # ------------------------------------------------------------ recording

    def _current(self) -> CellRecord | None:
        return self._open[-1] if self._open else None

    def _on_display(self, data: Any, transient: Any, update: bool) -> None:
        display_id = transient.get("display_id") if isinstance(transient, dict) else None
        if update:
            if display_id:
                self._update_display(display_id, data)
            return
        cell = self._current()
        if cell is not None:
            self._add_bundle(cell, "display", data, display_id)

    def _on_result(self, format_dict: Any) -> None:
        cell = self._current()
        if cell is not None:
            self._add_bundle(cell, "result", format_dict, None)

    def _on_clear(self, wait: bool) -> None:
        cell = self._current()
        if cell is None:
            return
        if wait:
            cell.clear_pending = True
        else:
            self._clear(cell)

    def _on_stream(self, text: str) -> None:
        cell = self._current()
        if cell is None:
            return
        self._apply_pending_clear(cell)
        text = self._budget_text(cell, text)
        if not text:
            return
        if cell.outputs and cell.outputs[-1].kind == "stream":
            cell.outputs[-1].parts.append(text)
        else:
            cell.outputs.append(_Output("stream", [text]))

    def _add_bundle(self, cell: CellRecord, kind: str, data: Any, display_id: str | None) -> None:
        output = self._output_from_bundle(cell, kind, data, display_id)
        if output is None:
            return
        self._apply_pending_clear(cell)
        cell.outputs.append(output)
        if output.image is not None:
            self._image_bytes += output.image.size
            self._enforce_image_budget()

    def _output_from_bundle(
        self, cell: CellRecord, kind: str, data: Any, display_id: str | None
    ) -> _Output | None:
        if not isinstance(data, dict) or WIDGET_MIME in data:
            return None
        for mime in IMAGE_MIMES:
            value = data.get(mime)
            if isinstance(value, (bytes, str)) and value:
                return _Output(
                    kind,
                    image=RecordedImage(decode_image_payload(value), mime),
                    display_id=display_id,
                )
        for mime in TEXT_MIMES:
            value = data.get(mime)
            if isinstance(value, str) and value:
                text = self._budget_text(cell, value if value.endswith("\n") else value + "\n")
                return _Output(kind, [text], display_id=display_id) if text else None
        return None

    def _update_display(self, display_id: str, data: Any) -> None:
        for cell in [*reversed(self._open), *reversed(self._cells.values())]:
            if cell is None:
                continue
            for index, output in enumerate(cell.outputs):
                if output.display_id != display_id:
                    continue
                replacement = self._output_from_bundle(cell, output.kind, data, display_id)
                if output.image is not None:
                    self._image_bytes -= output.image.size
                if replacement is None:
                    del cell.outputs[index]
                    return
                cell.outputs[index] = replacement
                if replacement.image is not None:
                    self._image_bytes += replacement.image.size
                    self._enforce_image_budget()
                return

    def _budget_text(self, cell: CellRecord, text: str) -> str:
        room = self.max_text_chars - cell.text_chars
        kept = text[: max(0, room)]
        cell.text_chars += len(kept)
        cell.text_omitted += len(text) - len(kept)
        return kept

    def _apply_pending_clear(self, cell: CellRecord) -> None:
        if cell.clear_pending:
            self._clear(cell)

    def _clear(self, cell: CellRecord) -> None:
        self._forget_images(cell)
        cell.outputs.clear()
        cell.text_chars = cell.text_omitted = 0
        cell.clear_pending = False

    def _forget_images(self, cell: CellRecord | None) -> None:
        if cell is not None:
            self._image_bytes -= sum(image.size for image in cell.images)
            cell.outputs = [o for o in cell.outputs if o.image is None]

    def _enforce_image_budget(self) -> None:
        """Drop the oldest images (finished cells first, then running ones) until within budget."""
        for cell in [*self._cells.values(), *self._open]:
            if self._image_bytes <= self.max_image_bytes:
                return
            if cell is None:
                continue
            while self._image_bytes > self.max_image_bytes:
                index = next((i for i, o in enumerate(cell.outputs) if o.image is not None), None)
                if index is None:
                    break
                image = cell.outputs.pop(index).image
                assert image is not None
                self._image_bytes -= image.size
                cell.images_dropped += 1

    def replace_outputs(self, n: int, outputs: list[dict[str, Any]]) -> None:
        """Set what cell [n] showed from nbformat output dicts, for a cell whose outputs
        were captured instead of shown (an agent cell's inline step); its error stays as
        recorded."""
        cell = self._cells.get(n)
        if cell is None:
            return
        self._clear(cell)
        for output in outputs:
            kind = output.get("output_type")
            if kind == "stream":
                value = output.get("text")
                text = self._budget_text(
                    cell, "".join(value) if isinstance(value, list) else str(value or "")
                )
                if text and cell.outputs and cell.outputs[-1].kind == "stream":
                    cell.outputs[-1].parts.append(text)
                elif text:
                    cell.outputs.append(_Output("stream", [text]))
            elif kind in ("display_data", "execute_result") and isinstance(
                output.get("data"), dict
            ):
                data = {
                    mime: "".join(value) if isinstance(value, list) else value
                    for mime, value in output["data"].items()
                }
                self._safely(
                    self._add_bundle,
                    cell,
                    "display" if kind == "display_data" else "result",
                    data,
                    None,
                )

    # ------------------------------------------------------------ queries

    def cells(self) -> list[int]:
        """The execution counts of the recorded cells, oldest first."""
        return list(self._cells)

    def record(self, n: int) -> CellRecord | None:
        """Everything recorded for cell [n], if anything."""
        return self._cells.get(n)

    def source(self, n: int) -> str | None:
        cell = self._cells.get(n)
        return cell.source if cell else None

    def images(self, n: int) -> list[RecordedImage]:
        """Every image cell [n] showed, in order ([] if none or not recorded)."""
        cell = self._cells.get(n)
        return cell.images if cell else []

    def image(self, n: int, k: int = 1) -> RecordedImage | None:
        """The k-th (1-based) image cell [n] showed."""
        images = self.images(n)
        return images[k - 1] if 1 <= k <= len(images) else None

    def latest_with_image(self, before: int | None = None) -> int | None:
        """The most recent recorded cell that showed an image, optionally before cell `before`."""
        for number in reversed(self._cells):
            if (before is None or number < before) and self._cells[number].images:
                return number
        return None

    def text(self, n: int) -> str:
        """What cell [n] printed, displayed as text or returned, and its error, in order."""
        cell = self._cells.get(n)
        if cell is None:
            return ""
        parts = []
        for output in cell.outputs:
            if output.kind == "result" and output.text:
                parts.append(f"Out[{n}]: {output.text}")
            elif output.text:
                parts.append(output.text)
        if cell.text_omitted:
            parts.append(f"[... {cell.text_omitted} more characters of output not kept]\n")
        if cell.error:
            parts.append(cell.error + "\n")
        return "".join(parts)

    def error_report(self, n: int) -> str | None:
        """Cell [n]'s exception with the traceback frames of the user's own code, if it raised."""
        cell = self._cells.get(n)
        return (cell.error_trace or cell.error) if cell is not None and cell.error else None

    def last_error(self, before: int | None = None) -> int | None:
        """The most recent recorded cell that raised (the magic's own commands aside)."""
        for number in reversed(self._cells):
            cell = self._cells[number]
            if (
                (before is None or number < before)
                and cell.error
                and not cell.source.lstrip().startswith(MAGIC_PREFIX)
            ):
                return number
        return None

    @property
    def image_bytes(self) -> int:
        """Bytes of images currently kept."""
        return self._image_bytes

    def clear(self) -> None:
        """Forget every recorded cell."""
        self._cells.clear()
        self._image_bytes = sum(image.size for cell in self._open if cell for image in cell.images)


# ------------------------------------------------------------ errors

MAX_ERROR_FRAMES = 12  # the innermost ones are kept
MAX_ERROR_CHARS = 4000


def user_traceback(error: BaseException, shell: Any) -> str:
    """The exception as Python prints it, keeping only frames of the user's own code: notebook
    cells (named `Cell In[3], line 2`) and files outside the Python installation, so
    neither IPython's machinery nor library internals. Bounded in frames and characters."""
    import traceback

    report = traceback.TracebackException.from_exception(error, capture_locals=False)
    frames = [f for f in report.stack if _is_user_file(f.filename, shell)]
    dropped = len(frames) - MAX_ERROR_FRAMES
    lines = ["Traceback (most recent call last):\n"] if frames else []
    if dropped > 0:
        lines.append(f"  [... {dropped} outer frames not shown]\n")
    for frame in frames[-MAX_ERROR_FRAMES:]:
        lines.append(f"  {_place(frame.filename, shell)}, line {frame.lineno}, in {frame.name}\n")
        if frame.line:
            lines.append(f"    {frame.line.strip()}\n")
    for line in report.format_exception_only():
        lines.append(_name_cells(line, shell))
    text = "".join(lines)
    if len(text) > MAX_ERROR_CHARS:
        half = MAX_ERROR_CHARS // 2
        text = f"{text[:half]}\n[... {len(text) - 2 * half} characters omitted ...]\n{text[-half:]}"
    return text


def _cell_name(filename: str, shell: Any) -> str | None:
    try:
        named = shell.compile.format_code_name(filename)
    except Exception:  # noqa: BLE001 - an older or replaced compiler: no cell names
        return None
    return f"{named[0]} {named[1]}" if named else None


def _is_user_file(filename: str, shell: Any) -> bool:
    if _cell_name(filename, shell):
        return True
    if filename.startswith("<"):
        return False  # <frozen ...>, <string>: not a file of the user's
    import os

    path = os.path.realpath(filename)
    return not any(path.startswith(root) for root in _installation_roots())


@functools.lru_cache(maxsize=1)
def _installation_roots() -> tuple[str, ...]:
    """Where Python, its standard library and installed packages live (`dir/` each)."""
    import os
    import sysconfig

    roots = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots |= {sys.prefix, sys.base_prefix}
    return tuple(os.path.realpath(root) + os.sep for root in roots if root)


def _place(filename: str, shell: Any) -> str:
    return _cell_name(filename, shell) or f'File "{filename}"'


def _name_cells(line: str, shell: Any) -> str:
    """A SyntaxError's `File "/tmp/ipykernel_1/123.py", line 2` with the cell named instead."""
    stripped = line.strip()
    if stripped.startswith('File "') and '"' in stripped[6:]:
        filename = stripped[6 : stripped.index('"', 6)]
        name = _cell_name(filename, shell)
        if name:
            return line.replace(f'File "{filename}"', name)
    return line
