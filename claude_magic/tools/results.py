"""Running one `tool_use` block into a `tool_result` block: the call, its errors, its content."""

from __future__ import annotations

import json
import os
import sysconfig
import traceback
from typing import Any, Protocol, TypeGuard

from ..core.messages import Block, text_block, tool_result_block
from .approval import (
    Approver,
)
from .schema import ToolError
from .toolset import ToolSet

MAX_RESULT_CHARS = 20_000


def _truncate(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return (
        text[:limit]
        + f"\n… [output truncated: {len(text):,} characters, showing the first {limit:,}]"
    )


def _module_of(obj: Any) -> str:
    return type(obj).__module__ or ""


def _is_image_like(obj: Any) -> bool:
    module = _module_of(obj)
    if module.startswith("matplotlib") and (
        hasattr(obj, "savefig") or hasattr(getattr(obj, "figure", None), "savefig")
    ):
        return True
    if module.startswith("PIL.") and hasattr(obj, "save") and hasattr(obj, "size"):
        return True
    if module == "numpy" and type(obj).__name__ == "ndarray":
        shape: tuple[int, ...] = tuple(getattr(obj, "shape", ()))
        dtype = str(getattr(obj, "dtype", ""))
        if dtype != "uint8":
            return False
        return (len(shape) == 3 and shape[2] in (3, 4)) or (len(shape) == 2 and min(shape) >= 8)
    if isinstance(obj, (bytes, bytearray)):
        from ..media.formats import sniff_format

        return sniff_format(bytes(obj)) in ("PNG", "JPEG", "GIF", "WEBP")
    return (
        module.startswith("IPython")
        and type(obj).__name__ == "Image"
        and isinstance(getattr(obj, "data", None), bytes)
    )


def image_content(obj: Any) -> Block:
    """An image block for an image-like object, sized and encoded for the API."""
    from ..media.figures import figure_of, image_from_object, prepare_figure
    from ..media.images import prepare_image

    figure = figure_of(obj)
    if figure is not None:
        try:
            return prepare_figure(figure).to_block()  # drawn at the size Claude gets
        except Exception:  # drawn at full size and downscaled, as any image
            pass
    return prepare_image(image_from_object(obj)).to_block()


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, int, float, list, dict)):
        try:
            return json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            pass
    return repr(value)


def result_content(value: Any) -> str | list[Block]:
    """A tool's return value as tool_result content: text, or image blocks for images."""
    if (
        isinstance(value, list)
        and value
        and all(isinstance(b, dict) and b.get("type") in ("text", "image") for b in value)
    ):  # already content blocks (the computer-use tools answer so)
        return [
            text_block(_truncate(b["text"]) or "(empty)") if b["type"] == "text" else b
            for b in value
        ]
    if _is_image_like(value):
        return [image_content(value)]
    if isinstance(value, (list, tuple)) and any(_is_image_like(v) for v in value):
        return [
            image_content(v)
            if _is_image_like(v)
            else text_block(_truncate(_as_text(v)) or "(empty)")
            for v in value
        ]
    text = _truncate(_as_text(value))
    return text if text.strip() else "(no output)"


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_DIRS = tuple(
    {
        os.path.abspath(p) + os.sep
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(key))
    }
)
MAX_FRAMES = 6


class ToolResultBlock(dict):
    """A tool_result block (a plain dict on the wire) that may carry, for the user's
    eyes only, the full traceback of the exception the tool raised."""

    traceback: str | None = None
    headline: str | None = None  # one line for the view (a notebook step: status, lines, time)


def _is_package_file(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep)


def _is_user_file(filename: str) -> bool:
    """Not this package, the standard library or an installed library."""
    path = os.path.abspath(filename)
    return (
        not filename.startswith("<frozen")
        and not _is_package_file(filename)
        and not path.startswith(_LIBRARY_DIRS)
    )


def _where(filename: str) -> str:
    """A file as the model may see it: no path, nothing for a notebook cell."""
    base = os.path.basename(filename)
    return "" if "ipykernel_" in filename or base.startswith("<") else f" ({base})"


def _tool_frames(exc: BaseException) -> Any:
    """The traceback from the first frame past this package's own calling code."""
    tb = exc.__traceback__
    while tb is not None and _is_package_file(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb


def short_error(exc: BaseException) -> str:
    """The exception line, then the frames of the user's own code (outermost first):
    function, line and source, no paths and no traceback header."""
    frames = [f for f in traceback.extract_tb(_tool_frames(exc)) if _is_user_file(f.filename)]
    lines = ["".join(traceback.format_exception_only(type(exc), exc)).strip() or type(exc).__name__]
    for frame in frames[-MAX_FRAMES:]:
        source = f": {frame.line.strip()}" if frame.line and frame.line.strip() else ""
        lines.append(f"  {frame.name}{_where(frame.filename)}, line {frame.lineno}{source}")
    return _truncate("\n".join(lines), 4000)


def full_traceback(exc: BaseException) -> str:
    """The whole traceback from the tool's own call on, as Python prints it."""
    return "".join(traceback.format_exception(type(exc), exc, _tool_frames(exc))).rstrip()


def _error_result(use_id: str, exc: BaseException) -> Block:
    block = ToolResultBlock(tool_result_block(use_id, short_error(exc), is_error=True))
    block.traceback = _truncate(full_traceback(exc))
    return block


class RichResult(Protocol):
    """A tool's return value that makes its own tool_result: its content, and whether it
    is an error (a notebook step's outcome does so)."""

    @property
    def is_error(self) -> bool: ...

    def content(self) -> str | list[Block]: ...


def is_rich_result(value: Any) -> TypeGuard[RichResult]:
    return callable(getattr(type(value), "content", None)) and hasattr(value, "is_error")


def run_tool(tool_use: Block, toolset: ToolSet, approver: Approver) -> Block:
    """Run one `tool_use` block and return its `tool_result` block (never raises,
    except KeyboardInterrupt)."""
    use_id, name = tool_use.get("id", ""), tool_use.get("name", "")
    tool_input = tool_use.get("input")
    tool_input = tool_input if isinstance(tool_input, dict) else {}
    found = toolset.get(name)
    if found is None:
        available = ", ".join(toolset.names) or "none"
        return tool_result_block(
            use_id, f"Unknown tool {name!r}. Available tools: {available}.", is_error=True
        )
    if found.confirm:
        refusal = approver.refusal(name, tool_input)
        if refusal:
            return tool_result_block(use_id, refusal, is_error=True)
    try:
        value = found.handler(tool_input)
    except ToolError as exc:
        return tool_result_block(use_id, str(exc) or type(exc).__name__, is_error=True)
    except (Exception, SystemExit) as exc:
        return _error_result(use_id, exc)
    if is_rich_result(value):
        try:
            block = ToolResultBlock(
                tool_result_block(use_id, value.content(), is_error=bool(value.is_error))
            )
        except Exception as exc:  # a result that can't say what it is
            return _error_result(use_id, exc)
        summary = getattr(value, "summary", None)
        block.headline = summary() if callable(summary) else None
        return block
    try:
        return tool_result_block(use_id, result_content(value))
    except Exception as exc:  # e.g. an array that is no image after all
        note = f"\n(could not be sent as an image: {exc})"
        return tool_result_block(use_id, _truncate(repr(value)) + note)
