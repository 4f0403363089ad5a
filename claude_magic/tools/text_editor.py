"""The computer-use text-editor tool, confined to a working directory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .schema import ToolError

MAX_VIEW_CHARS = 16_000


class TextEditor:
    """The text-editor tool (`str_replace_editor` / `str_replace_based_edit_tool`):
    view, create, str_replace, insert and undo_edit, confined to `root`."""

    COMMANDS = ("view", "create", "str_replace", "insert", "undo_edit")

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._history: dict[Path, list[str | None]] = {}

    def resolve(self, path: Any) -> Path:
        """The real path inside root, or ToolError "Path outside the working directory"."""
        if not isinstance(path, str) or not path.strip():
            raise ToolError('No path given: pass "path".')
        candidate = Path(path).expanduser()
        real = (candidate if candidate.is_absolute() else self.root / candidate).resolve()
        if real != self.root and not real.is_relative_to(self.root):
            raise ToolError(f"Path outside the working directory: {path} (allowed: {self.root})")
        return real

    def __call__(self, tool_input: dict[str, Any]) -> str:
        command = tool_input.get("command")
        if command not in self.COMMANDS:
            raise ToolError(f"Unknown command {command!r}: use one of {', '.join(self.COMMANDS)}.")
        path = self.resolve(tool_input.get("path"))
        shown = str(tool_input.get("path"))
        return getattr(self, command)(path, shown, tool_input)

    # each command takes (real path, the path as the model wrote it, the whole input)

    def view(self, path: Path, shown: str, tool_input: dict[str, Any]) -> str:
        if path.is_dir():
            return self._list_dir(path, shown)
        lines = self._read(path, shown).splitlines()
        start, end = 1, len(lines)
        view_range = tool_input.get("view_range")
        if view_range is not None:
            if (
                not isinstance(view_range, list)
                or len(view_range) != 2
                or not all(isinstance(n, int) for n in view_range)
            ):
                raise ToolError(
                    "view_range must be two line numbers, e.g. [1, 20] (end -1 = last line)."
                )
            start, end = view_range[0], (len(lines) if view_range[1] == -1 else view_range[1])
            if not (1 <= start <= max(len(lines), 1)) or end < start or end > len(lines):
                raise ToolError(f"Invalid view_range {view_range}: {shown} has {len(lines)} lines.")
        numbered = _numbered(lines[start - 1 : end], start)
        if len(numbered) > MAX_VIEW_CHARS:
            numbered = numbered[:MAX_VIEW_CHARS] + "\n… [truncated: use view_range to see the rest]"
        return f"Here's the result of running `cat -n` on {shown}:\n{numbered}"

    def create(self, path: Path, shown: str, tool_input: dict[str, Any]) -> str:
        text = tool_input.get("file_text")
        if not isinstance(text, str):
            raise ToolError("create needs file_text.")
        if path.exists():
            raise ToolError(
                f"File already exists at: {shown}. Cannot overwrite files using command `create`."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write(path, text, previous=None)
        return f"File created successfully at: {shown}"

    def str_replace(self, path: Path, shown: str, tool_input: dict[str, Any]) -> str:
        old, new = tool_input.get("old_str"), tool_input.get("new_str") or ""
        if not isinstance(old, str) or not old:
            raise ToolError("str_replace needs a non-empty old_str.")
        text = self._read(path, shown)
        count = text.count(old)
        if count == 0:
            raise ToolError(
                f"No replacement was performed: old_str did not appear verbatim in {shown}."
            )
        if count > 1:
            lines = [text[:i].count("\n") + 1 for i in _find_all(text, old)]
            raise ToolError(
                f"No replacement was performed: old_str occurs {count} times in {shown} "
                f"(lines {', '.join(map(str, lines))}); make it unique."
            )
        self._write(path, text.replace(old, new), previous=text)
        first = text[: text.index(old)].count("\n") + 1
        snippet = self._snippet(path, first, new.count("\n") + 1)
        return f"The file {shown} has been edited.\n{snippet}"

    def insert(self, path: Path, shown: str, tool_input: dict[str, Any]) -> str:
        line = tool_input.get("insert_line")
        new = tool_input.get("new_str", tool_input.get("insert_text"))
        if not isinstance(new, str):
            raise ToolError("insert needs new_str.")
        text = self._read(path, shown)
        lines = text.splitlines(keepends=True)
        if not isinstance(line, int) or not 0 <= line <= len(lines):
            raise ToolError(f"Invalid insert_line {line!r}: use 0 to {len(lines)} for {shown}.")
        if lines and line == len(lines) and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.insert(line, new if new.endswith("\n") else new + "\n")
        self._write(path, "".join(lines), previous=text)
        snippet = self._snippet(path, line + 1, new.count("\n") + 1)
        return f"The file {shown} has been edited.\n{snippet}"

    def undo_edit(self, path: Path, shown: str, tool_input: dict[str, Any]) -> str:
        history = self._history.get(path)
        if not history:
            raise ToolError(f"No edit to undo for {shown}.")
        previous = history.pop()
        if previous is None:
            path.unlink(missing_ok=True)
            return f"Undid the creation of {shown}: the file was removed."
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(previous)
        return f"Last edit to {shown} undone.\n{self._snippet(path, 1, 0, context=8)}"

    def _read(self, path: Path, shown: str) -> str:
        if not path.exists():
            raise ToolError(f"No such file: {shown}")
        if not path.is_file():
            raise ToolError(f"Not a regular file: {shown}")
        try:
            with open(path, encoding="utf-8", newline="") as f:
                return f.read()
        except UnicodeDecodeError:
            raise ToolError(f"{shown} is not a UTF-8 text file.") from None

    def _write(self, path: Path, text: str, previous: str | None) -> None:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        self._history.setdefault(path, []).append(previous)

    def _snippet(self, path: Path, first: int, count: int, context: int = 4) -> str:
        lines = path.read_text(encoding="utf-8").splitlines()
        start = max(1, first - context)
        end = min(len(lines), first + count - 1 + context)
        return _numbered(lines[start - 1 : end], start)

    def _list_dir(self, path: Path, shown: str, limit: int = 1000) -> str:
        entries: list[str] = []
        for child in sorted(path.iterdir()):
            if child.name.startswith("."):
                continue
            entries.append(f"{shown.rstrip('/')}/{child.name}" + ("/" if child.is_dir() else ""))
            if child.is_dir() and not child.is_symlink():
                for grandchild in sorted(child.iterdir()):
                    if not grandchild.name.startswith("."):
                        suffix = "/" if grandchild.is_dir() else ""
                        entries.append(
                            f"{shown.rstrip('/')}/{child.name}/{grandchild.name}{suffix}"
                        )
        more = f"\n… and {len(entries) - limit} more" if len(entries) > limit else ""
        return (
            f"Files and directories up to 2 levels deep in {shown}, excluding hidden items:\n"
            + "\n".join(entries[:limit])
            + more
        )


def _numbered(lines: list[str], start: int) -> str:
    return "\n".join(f"{n:6}\t{line}" for n, line in enumerate(lines, start))


def _find_all(text: str, part: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(part), text)]
