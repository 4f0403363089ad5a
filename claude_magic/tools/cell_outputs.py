"""Cell outputs as text for Claude, tracebacks cut to your own frames.

Streams, results, displays and errors, in order, terminal codes stripped; images are
kept apart for image blocks."""

from __future__ import annotations

import os
import re
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/webp")
MAX_USER_FRAMES = 6
MAX_FRAME_LINES = 4  # a frame's header, then up to this many lines ending at the arrow
MAX_ERROR_CHARS = 4000

_RULE = re.compile(r"^-{8,}$")
_TRACEBACK_HEAD = re.compile(r"^(?:\S+\s+)?Traceback \(most recent call last\):?$")
_CHAINS = {
    "The above exception was the direct cause": "Raised from",
    "During handling of the above exception": "While handling",
}
_CELL_FRAME = re.compile(r"^(?:Cell In ?\[\s*\d+\]|Input In \[\s*\d+\])")
_IPYTHON_FILE_FRAME = re.compile(r"^File (?P<path>.+?):(?P<line>\d+)(?:, in (?P<where>.+))?$")
_PYTHON_FILE_FRAME = re.compile(
    r'^File "(?P<path>.+?)", line (?P<line>\d+)(?:, in (?P<where>.+))?$'
)
_ARROW = re.compile(r"^\s*-*>\s*\d+")


def strip_ansi(text: str) -> str:
    """`text` without terminal colour and cursor codes."""
    return ANSI.sub("", text)


def joined(value: Any) -> str:
    """An nbformat multiline string (a string or a list of strings) as one string."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "".join(str(part) for part in value)
    return "" if value is None else str(value)


def settle_carriage_returns(text: str) -> str:
    """What a terminal would show: each line as last rewritten after `\\r` (progress bars)."""
    if "\r" not in text:
        return text
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join(
        line.rsplit("\r", 1)[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r")
        for line in lines
    )


def image_mime(data: dict[str, Any]) -> str | None:
    """The first image type in a display bundle Claude can read, if any."""
    return next((mime for mime in IMAGE_MIMES if data.get(mime)), None)


@dataclass
class OutputText:
    """A cell's outputs as text pieces, in order, with the images kept apart."""

    pieces: list[str] = field(default_factory=list)  # streams, results and displays
    errors: list[str] = field(default_factory=list)  # one text per error output
    images: list[tuple[str, str]] = field(default_factory=list)  # (mime, base64 data)
    lines: int = 0  # lines of text output (errors aside)

    @property
    def body(self) -> str:
        return "".join(self.pieces)


def read_outputs(outputs: Iterable[dict[str, Any]], *, stopped: bool = False) -> OutputText:
    """Text for each output; images are numbered in the text ("[image 1]") and kept in
    `images`. `stopped`: an interrupted cell, whose KeyboardInterrupt shows where it was."""
    read = OutputText()
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            text = settle_carriage_returns(strip_ansi(joined(output.get("text"))))
            read.pieces.append(text)
        elif kind in ("execute_result", "display_data"):
            found = output.get("data")
            data: dict[str, Any] = found if isinstance(found, dict) else {}
            text = strip_ansi(joined(data.get("text/plain"))).rstrip("\n")
            mime = image_mime(data)
            if mime is not None:
                read.images.append((mime, "".join(joined(data[mime]).split())))
                marker = f"[image {len(read.images)}]"
                shown = f"{marker} {text}" if kind == "execute_result" and text else marker
            elif text:
                shown = text
            else:
                kinds = ", ".join(sorted(data)) or "nothing"
                shown = f"[a display of {kinds}]"
            if kind == "execute_result":
                count = output.get("execution_count")
                shown = f"Out[{count}]: {shown}" if count is not None else shown
            read.pieces.append(_on_own_line(read.pieces, shown) + "\n")
        elif kind == "error":
            read.errors.append(error_text(output, stopped=stopped))
    read.lines = sum(
        piece.count("\n") + (0 if piece.endswith("\n") else 1) for piece in read.pieces if piece
    )
    return read


def _on_own_line(pieces: list[str], text: str) -> str:
    return "\n" + text if pieces and pieces[-1] and not pieces[-1].endswith("\n") else text


# ------------------------------------------------------------------ errors


def error_text(output: dict[str, Any], *, stopped: bool = False) -> str:
    """`ExceptionName: message`, then the frames of the user's own code (notebook cells and
    files outside the Python installation) with the lines up to the failing one; library
    frames are reduced to one line each, long runs of them to their ends."""
    ename, evalue = str(output.get("ename") or "Error"), strip_ansi(str(output.get("evalue") or ""))
    headline = f"{ename}: {evalue}" if evalue else ename
    segments: list[list[str]] = [[]]
    chains: list[str] = []
    for entry in output.get("traceback") or []:
        text = strip_ansi(str(entry)).strip("\n")
        first = text.strip().split("\n", 1)[0].strip()
        chain = next((label for start, label in _CHAINS.items() if first.startswith(start)), None)
        if chain:
            chains.append(chain)
            segments.append([])
        elif text.strip() and not _RULE.match(first) and not _TRACEBACK_HEAD.match(first):
            segments[-1].append(text)
    last = segments[-1]
    if last:
        exception = _exception_line(last, ename)  # as IPython wrote it (a SyntaxError's is clearer)
        headline = _cut_line(exception or headline)
    if stopped and ename == "KeyboardInterrupt":
        headline = "Where it stopped:"
    lines = [headline, *_frames(last)]
    for label, earlier in zip(reversed(chains), reversed(segments[:-1]), strict=True):
        cause = next((e.strip() for e in reversed(earlier) if not _frame_kind(e)), "")
        if cause:
            lines.append(f"{label}: {cause.splitlines()[-1].strip()}")
    text = "\n".join(lines)
    if len(text) > MAX_ERROR_CHARS:
        cut = len(text) - MAX_ERROR_CHARS
        text = f"{text[: MAX_ERROR_CHARS // 2]}\n[... {cut:,} characters cut]\n{text[-MAX_ERROR_CHARS // 2 :]}"
    return text


def _exception_line(entries: list[str], ename: str) -> str | None:
    """The exception as the traceback's last entry states it, taken out of `entries`."""
    last = entries[-1]
    if not _frame_kind(last):
        if last.strip().startswith(ename):
            entries.pop()
            return last.strip()
        return None
    lines = last.rstrip().split("\n")
    if len(lines) > 1 and lines[-1].strip().startswith(f"{ename}:"):
        entries[-1] = "\n".join(lines[:-1])
        return lines[-1].strip()
    return None


def _cut_line(text: str, limit: int = 1000) -> str:
    return (
        text if len(text) <= limit else f"{text[:limit]}[... {len(text) - limit:,} characters cut]"
    )


def _frame_kind(entry: str) -> str | None:
    """ "user" or "library" for a traceback frame, None for anything else."""
    head = entry.strip().split("\n", 1)[0].strip()
    if _CELL_FRAME.match(head):
        return "user"
    found = _IPYTHON_FILE_FRAME.match(head) or _PYTHON_FILE_FRAME.match(head)
    if found is None:
        return None
    return "user" if is_user_file(found["path"]) else "library"


def _frames(entries: list[str]) -> list[str]:
    kinds = [_frame_kind(entry) for entry in entries]
    user = [i for i, kind in enumerate(kinds) if kind == "user"]
    keep_from = user[-MAX_USER_FRAMES] if len(user) > MAX_USER_FRAMES else 0
    lines: list[str] = []
    if keep_from:
        lines.append(f"  [... {sum(1 for k in kinds[:keep_from] if k)} outer frames not shown]")
    run: list[str] = []  # consecutive library frames, one line each

    def end_run() -> None:
        if len(run) > 2:
            lines.extend([run[0], f"  [... {len(run) - 2} library frames]", run[-1]])
        else:
            lines.extend(run)
        run.clear()

    for entry, kind in zip(entries[keep_from:], kinds[keep_from:], strict=True):
        if kind == "library":
            run.append("  " + _library_line(entry))
            continue
        end_run()
        if kind == "user":
            lines.extend("  " + line for line in _user_frame_lines(entry))
        else:
            other = [line.rstrip() for line in entry.strip("\n").split("\n") if line.strip()]
            lines.extend(other[:20])
    end_run()
    return lines


def _user_frame_lines(entry: str) -> list[str]:
    """The frame's header, then the source lines up to and including the arrow."""
    lines = [line.rstrip() for line in entry.strip("\n").split("\n")]
    head, body = lines[0].strip(), lines[1:]
    arrow = next((i for i, line in enumerate(body) if _ARROW.match(line)), None)
    if arrow is None:
        return [head, *[line for line in body if line.strip()][:MAX_FRAME_LINES]]
    shown = [line for line in body[max(0, arrow - MAX_FRAME_LINES + 1) : arrow + 1] if line.strip()]
    return [head, *shown]


def _library_line(entry: str) -> str:
    """`File .../pandas/core/frame.py:4330, in DataFrame.__getitem__`: where, briefly."""
    head = entry.strip().split("\n", 1)[0].strip()
    found = _IPYTHON_FILE_FRAME.match(head) or _PYTHON_FILE_FRAME.match(head)
    if found is None:
        return head
    where = (found["where"] or "").split("(", 1)[0]
    return f"File {_short_path(found['path'])}:{found['line']}" + (f", in {where}" if where else "")


def _short_path(path: str) -> str:
    for marker in ("site-packages/", "dist-packages/"):
        if marker in path:
            return "…/" + path.split(marker, 1)[1]
    found = re.search(r"/lib/python\d+(?:\.\d+)?t?/(.+)$", path)
    return "…/" + found.group(1) if found else path


def is_user_file(path: str) -> bool:
    """A file of the user's own: not in the Python installation, not a library's
    relative path (compiled extensions name theirs so), not `<frozen ...>`."""
    if path.startswith("<") or not (
        path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", path)
    ):
        return False
    if any(marker in path for marker in ("site-packages", "dist-packages")):
        return False
    real = os.path.realpath(os.path.expanduser(path))
    return not real.startswith(_installation_roots())


def _installation_roots() -> tuple[str, ...]:
    import sys

    roots = {
        sysconfig.get_paths().get(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")
    }
    roots |= {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return tuple(os.path.realpath(root) + os.sep for root in roots if root)
