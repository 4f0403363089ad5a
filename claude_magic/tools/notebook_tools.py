"""An agent cell's notebook tools, and a step's outcome as Claude reads it.

The tools are `run_code`, `read_cells`, `list_variables` and `inspect_variable`; the
workspace they act on is the notebook layer's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core.messages import Block, text_block
from .cell_outputs import error_text, read_outputs
from .toolset import Tool, ToolSet

MAX_STEP_CHARS = 10_000  # text of one step's result, in all
MAX_STEP_IMAGES = 4  # images of one step's result (a request takes at most 20)
STATUSES = ("ok", "error", "timeout", "interrupted", "rejected", "needs_approval", "failed")
ERROR_STATUSES = frozenset(STATUSES) - {"ok"}


@dataclass
class StepOutcome:
    """What one `run_code` step gave: nbformat v4 output dicts and how it ended.

    `status` is one of STATUSES; `note` says why it was rejected, failed or needs approval;
    `time_limit` is the limit a timed-out step ran into (seconds)."""

    code: str
    outputs: list[dict[str, Any]] = field(default_factory=list)
    execution_count: int | None = None
    elapsed: float = 0.0
    status: str = "ok"
    note: str = ""
    time_limit: float | None = None

    @property
    def is_error(self) -> bool:
        return self.status in ERROR_STATUSES

    @property
    def ran(self) -> bool:
        """Whether the code ran at all (an error, timeout or interrupt included)."""
        return self.status in ("ok", "error", "timeout", "interrupted")

    def content(
        self, *, max_chars: int = MAX_STEP_CHARS, max_images: int = MAX_STEP_IMAGES
    ) -> list[Block]:
        """The `tool_result` content: one text block (output, result, error), then each
        image the step showed as an image block (at most `max_images`)."""
        header = self._header()
        if not self.ran:
            return [text_block(header)]
        read = read_outputs(self.outputs, stopped=self.status in ("timeout", "interrupted"))
        errors = "\n".join(read.errors)
        room = max(max_chars - len(header) - len(errors), max_chars // 4)
        body = _cut(read.body.rstrip("\n"), room)
        if not body and not errors and not read.images:
            body = "(no output)" if self.status == "ok" else "(no output before it stopped)"
        text = "\n".join(part for part in (header, body, errors) if part)
        blocks: list[Block] = [text_block(text)]
        notes: list[str] = []
        for number, (mime, data) in enumerate(read.images, start=1):
            if number > max_images:
                notes.append(
                    f"[{len(read.images) - max_images} more image(s) not sent: at most "
                    f"{max_images} per step; save or show fewer figures]"
                )
                break
            try:
                blocks.append(_image_block(mime, data))
            except Exception as exc:  # noqa: BLE001 - a broken image is reported, not raised
                notes.append(f"[image {number} could not be sent: {exc}]")
        if notes:
            blocks[0] = text_block(text + "\n" + "\n".join(notes))
        return blocks

    def _header(self) -> str:
        status, note = self.status, self.note.strip()
        if status == "rejected":
            return "The user rejected this step; it did not run." + (
                f" Reason: {note}" if note else ""
            )
        if status == "needs_approval":
            why = note.removeprefix("no one can answer here").strip(" :,()")
            return (
                "Nothing ran: this step needs the user's approval and no one can answer here"
                + (f" ({why})" if why else "")
                + ". Stop and tell the user to run the cell with "
                "--agent auto to let steps run without asking, or --agent plan to only read "
                "the notebook."
            )
        if status == "failed":
            return "The step could not be run" + (f": {note}" if note else ".")
        if status == "timeout":
            limit = self.time_limit if self.time_limit is not None else self.elapsed
            return (
                f"The step was interrupted after {_seconds(limit)}, the time limit for a step "
                "(ClaudeMagic.agent_step_timeout). Output until then:"
            )
        if status == "interrupted":
            return "The user interrupted this step. Output until then:"
        return ""

    def summary(self) -> str:
        """One line for the view: "ok · 2 lines · 1 image · 0.4 s", "ZeroDivisionError:
        division by zero · 0.1 s", "rejected: <reason>"."""
        status, note = self.status, " ".join(self.note.split())
        if status in ("rejected", "needs_approval", "failed"):
            label = {
                "rejected": "rejected",
                "needs_approval": "not run: needs approval",
                "failed": "failed",
            }[status]
            return f"{label}: {_short(note, 100)}" if note and status != "needs_approval" else label
        read = read_outputs(self.outputs)
        parts: list[str] = []
        if status == "error":
            error = next((o for o in self.outputs if o.get("output_type") == "error"), None)
            if error is not None:
                parts.append(_short(" ".join(error_text(error).split("\n", 1)[0].split()), 100))
            else:
                parts.append("error")
        elif status == "timeout":
            limit = self.time_limit if self.time_limit is not None else self.elapsed
            parts.append(f"timed out after {_seconds(limit)}")
        elif status == "interrupted":
            parts.append("interrupted")
        else:
            parts.append("ok")
            if not read.lines and not read.images:
                parts.append("no output")
        if read.lines and status != "error":
            parts.append(f"{read.lines} line{'s' if read.lines != 1 else ''}")
        if read.images:
            parts.append(f"{len(read.images)} image{'s' if len(read.images) != 1 else ''}")
        if status != "timeout":
            parts.append(_seconds(self.elapsed))
        return " · ".join(parts)


def _cut(text: str, limit: int) -> str:
    """`text` within `limit` characters: its start and end, the middle replaced by a note."""
    if len(text) <= limit:
        return text
    keep = max(limit - 40, 2)
    head, tail = keep * 2 // 5, keep - keep * 2 // 5
    return f"{text[:head]}\n[... {len(text) - head - tail:,} characters cut]\n{text[len(text) - tail :]}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def _image_block(mime: str, data: str) -> Block:
    """An image block for a display's base64 image, sized and encoded for the API."""
    from ..media.formats import decode_image_payload
    from ..media.images import prepare_image

    return prepare_image(decode_image_payload(data)).to_block()


# ------------------------------------------------------------------ the tools


class NotebookWorkspace(Protocol):
    """What an agent cell's tools act on (the notebook layer implements it)."""

    def run_code(self, code: str) -> StepOutcome: ...

    def read_cells(self, start: int | None = None, end: int | None = None) -> str: ...

    def list_variables(self) -> str: ...

    def inspect_variable(self, name: str) -> str: ...


RUN_CODE = (
    "Run Python code in the user's Jupyter kernel as a new notebook cell: it shares the "
    "notebook's variables and imports, and is kept in its history. Returns what the cell "
    "printed and returned, its error with the traceback of the notebook's own code, and plots "
    "as images. Work in small steps (one idea per call) and look at data before changing it. "
    "The user may be asked to approve each step and may reject it; a step running too long "
    "is interrupted. Don't install packages, start servers or long jobs, or change files the "
    "user didn't ask about."
)
READ_CELLS = (
    "Read cells the user ran in this notebook: each cell's source and a short version of its "
    "output, by execution count (the [n] shown beside a cell), oldest first. Without "
    "arguments: the most recent cells."
)
LIST_VARIABLES = (
    "List the variables defined in the notebook: name, type and a one-line summary (the shape "
    "of DataFrames and arrays, the length of collections, the value of short scalars). "
    "Modules, functions and classes are left out."
)
INSPECT_VARIABLE = (
    "Describe one variable without printing all of it: a DataFrame's shape, dtypes, head and "
    "describe(); an array's shape, dtype, range and a sample; other values a shortened repr."
)


def agent_tools(workspace: NotebookWorkspace, *, can_run: bool) -> ToolSet:
    """The tools of an agent cell, acting on `workspace`; `can_run=False` (plan mode)
    leaves `run_code` out. None asks for approval itself: `workspace.run_code` does."""

    def run_code(code: str) -> StepOutcome:
        """Run a step.

        Args:
            code: Python code to run as one notebook cell (IPython syntax such as %magics works).
        """
        return workspace.run_code(code)

    def read_cells(start: int | None = None, end: int | None = None) -> str:
        """Read cells.

        Args:
            start: The execution count of the first cell to read (default: the recent cells).
            end: The execution count of the last cell to read (inclusive; default: the latest).
        """
        return workspace.read_cells(start, end)

    def list_variables() -> str:
        """List variables."""
        return workspace.list_variables()

    def inspect_variable(name: str) -> str:
        """Inspect a variable.

        Args:
            name: The variable's name; a dotted attribute path works too (e.g. model.coef_).
        """
        return workspace.inspect_variable(name)

    tools = [
        Tool.from_function(read_cells, description=READ_CELLS, confirm=False),
        Tool.from_function(list_variables, description=LIST_VARIABLES, confirm=False),
        Tool.from_function(inspect_variable, description=INSPECT_VARIABLE, confirm=False),
    ]
    if can_run:
        tools.insert(0, Tool.from_function(run_code, description=RUN_CODE, confirm=False))
    return ToolSet(tools)
