"""The computer-use `bash` tool: a persistent shell with a timeout and an output cap."""

from __future__ import annotations

import os
import secrets
import select
import shutil
import signal
import subprocess
import time
import weakref
from pathlib import Path
from typing import Any

from .schema import ToolError

BASH_TIMEOUT = 30.0
MAX_OUTPUT_BYTES = 16_000


def _kill_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
    process.wait()
    if process.stdin:
        process.stdin.close()
    if process.stdout:
        process.stdout.close()


class BashSession:
    """A persistent bash process: the working directory and variables survive between
    commands. Each command has a timeout (the shell is restarted when it runs out) and
    its output is capped (the start and the end are kept)."""

    def __init__(
        self,
        cwd: str | Path | None = None,
        timeout: float = BASH_TIMEOUT,
        max_output: int = MAX_OUTPUT_BYTES,
    ) -> None:
        self.cwd = Path(cwd) if cwd else Path.cwd()
        self.timeout = timeout
        self.max_output = max_output
        self._process: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None

    def _start(self) -> subprocess.Popen:
        if shutil.which("bash") is None:
            raise ToolError("bash is not installed on this machine.")
        env = {**os.environ, "PAGER": "cat", "GIT_PAGER": "cat", "TERM": "dumb"}
        process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
            env=env,
            start_new_session=True,
        )
        self._process = process
        self._finalizer = weakref.finalize(self, _kill_group, process)
        return process

    def close(self) -> None:
        """Stop the shell (a later command starts a new one)."""
        if self._finalizer is not None:
            self._finalizer()
        self._process = self._finalizer = None

    def restart(self) -> str:
        self.close()
        self._start()
        return "The bash tool was restarted."

    def __call__(self, tool_input: dict[str, Any]) -> str:
        """Handle a `bash` tool_use input: `{"command": ...}` or `{"restart": true}`."""
        if tool_input.get("restart"):
            return self.restart()
        command = tool_input.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolError('No command given: pass {"command": "..."} or {"restart": true}.')
        return self.run(command)

    def run(self, command: str, timeout: float | None = None) -> str:
        """Run `command` in the shell; output (stdout and stderr) with the exit code if
        it is not 0. Raises ToolError on timeout (after restarting the shell); on
        KeyboardInterrupt the shell is stopped too (a new one starts next time)."""
        try:
            return self._run(command, self.timeout if timeout is None else timeout)
        except KeyboardInterrupt:
            self.close()
            raise

    def _run(self, command: str, timeout: float) -> str:
        process = self._process if self._process and self._process.poll() is None else self._start()
        marker = f"__claude_magic_done_{secrets.token_hex(8)}__".encode()
        script = (
            f"{{\n{command}\n}} < /dev/null 2>&1\nprintf '\\n%s %s\\n' '{marker.decode()}' \"$?\"\n"
        )
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(script.encode())
            process.stdin.flush()
        except BrokenPipeError:
            self.close()
            raise ToolError(
                "The shell had exited; it was restarted: run the command again."
            ) from None
        output = _CappedOutput(self.max_output)
        deadline = time.monotonic() + timeout
        fd = process.stdout.fileno()
        pending = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                output.add(pending)
                self.restart()
                raise ToolError(
                    f"Timed out after {timeout:g} s: the shell "
                    "was restarted (working directory and variables are reset).\n" + output.text()
                )
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                code = process.wait()
                self.close()
                text = output.add(pending).text()
                return f"{text}\n[the shell exited with code {code}; a new one starts with the next command]".strip()
            pending += chunk
            found = pending.find(marker)
            if found >= 0:
                line_end = pending.find(b"\n", found)
                if line_end < 0:
                    continue
                status = pending[found + len(marker) : line_end].strip()
                body = pending[:found]
                output.add(body[:-1] if body.endswith(b"\n") else body)  # printf's newline
                text = output.text().rstrip("\n")
                if status not in (b"0", b""):
                    text = f"{text}\n[exit code {status.decode()}]".lstrip("\n")
                return text or "(no output)"
            keep = len(marker) + 32  # the marker may be split across reads
            if len(pending) > keep:
                output.add(pending[:-keep])
                pending = pending[-keep:]


class _CappedOutput:
    """Collects a stream, keeping its first and last `limit / 2` bytes."""

    def __init__(self, limit: int) -> None:
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> _CappedOutput:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > self.half:
            del self.tail[: len(self.tail) - self.half]
        return self

    def text(self) -> str:
        head = self.head.decode(errors="replace")
        if self.total <= len(self.head) + len(self.tail):
            return head + self.tail.decode(errors="replace")
        note = f"\n… [output truncated: {self.total:,} bytes, showing the first and last {self.half:,}] …\n"
        return head + note + self.tail.decode(errors="replace")
