"""One MCP server connection, on the hub's event loop: the official SDK's `Client` over
stdio (the server's stderr kept in a file, for its tail) or Streamable HTTP, held open by
one task until it is stopped; the tools it lists; calls with a timeout; failures as one
line naming the server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from .config import ServerSpec

STDERR_TAIL_BYTES = 4096
STDERR_TAIL_LINES = 2
STDERR_KEEP_BYTES = 4 * 1024 * 1024  # a chatty server's log is emptied past this
PING_TIMEOUT = 3.0


class ServerFailure(Exception):
    """The server failed to start, crashed or hung: `str()` is the one line users see."""


class ToolCallFailure(Exception):
    """The call failed but the server is fine (it refused the call, or the call timed
    out while the server still answers): `str()` goes to the model as the result."""


@dataclass(frozen=True)
class ListedTool:
    """A tool as the server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, or the exception itself."""
    inner = getattr(exc, "exceptions", None)
    if isinstance(inner, (list, tuple)) and inner:
        return [leaf for e in inner for leaf in _leaves(e)]
    return [exc]


def _version() -> str:
    """claude-magic's version, as installed (what it tells servers it is)."""
    from importlib import metadata

    try:
        return metadata.version("claude-magic")
    except metadata.PackageNotFoundError:
        return "0"


def _error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    if code is None:
        code = getattr(getattr(exc, "error", None), "code", None)
    return code if isinstance(code, int) else None


def _describe(exc: BaseException) -> str:
    """A short phrase for what went wrong."""
    from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

    leaves = [e for e in _leaves(exc) if not isinstance(e, asyncio.CancelledError)] or [exc]
    first = leaves[0]
    code = _error_code(first)
    if code == CONNECTION_CLOSED:
        return "closed the connection"
    if code == REQUEST_TIMEOUT or isinstance(first, TimeoutError):
        return "did not answer in time"
    if isinstance(first, FileNotFoundError):
        return f"could not be started: command not found ({first.filename or first})"
    if isinstance(first, PermissionError):
        return f"could not be started: {first.strerror or first} ({first.filename})"
    name = type(first).__name__
    text = str(first).strip().splitlines()[0] if str(first).strip() else ""
    if "connect" in name.lower() or "connect" in text.lower():
        return f"could not be reached ({text or name})"
    return f"failed: {text or name}"


class Connection:
    """One running (or starting) server. Every method runs on the hub's event loop."""

    def __init__(self, spec: ServerSpec, expanded: ServerSpec) -> None:
        self.spec = spec  # as configured, to notice a change
        self.expanded = expanded  # ${VAR} expanded: what is run
        self.client: Any = None
        self.tools: list[ListedTool] = []
        self.server_info = ""
        self.started = 0.0
        self.start_seconds = 0.0
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stderr: Any = None  # the server's stderr, once it was started

    # -- stderr

    def _open_stderr(self) -> Any:
        """The file the server's stderr goes to: nameless where the system allows (nothing
        is left behind, even when the kernel is killed), open for appending so that
        emptying it keeps the server writing at its start."""
        if self._stderr is None:
            handle = tempfile.TemporaryFile(  # noqa: SIM115 (the child writes to it; closed in remove_log)
                mode="w+", encoding="utf-8", errors="replace"
            )
            with contextlib.suppress(ImportError, OSError):
                import fcntl

                flags = fcntl.fcntl(handle.fileno(), fcntl.F_GETFL)
                fcntl.fcntl(handle.fileno(), fcntl.F_SETFL, flags | os.O_APPEND)
            self._stderr = handle
        return self._stderr

    def stderr_tail(self) -> str:
        """The last lines the server wrote to stderr, on one line ("" when none)."""
        if self._stderr is None:
            return ""
        try:
            fd = self._stderr.fileno()
            size = os.fstat(fd).st_size
            start = max(0, size - STDERR_TAIL_BYTES)
            if hasattr(os, "pread"):
                data = os.pread(fd, size - start, start)
            else:  # pragma: no cover - Windows
                os.lseek(fd, start, os.SEEK_SET)
                data = os.read(fd, size - start)
        except (OSError, ValueError):
            return ""
        text = data.decode("utf-8", "replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        tail = " | ".join(lines[-STDERR_TAIL_LINES:])
        return tail if len(tail) <= 300 else "…" + tail[-299:]

    def _trim_stderr(self) -> None:
        """Empty a server's log once it is large (the server keeps appending to it)."""
        with contextlib.suppress(OSError, ValueError):
            if self._stderr is not None:
                fd = self._stderr.fileno()
                if os.fstat(fd).st_size > STDERR_KEEP_BYTES:
                    os.ftruncate(fd, 0)

    def failure(self, what: str) -> ServerFailure:
        """The one line for a failure: the server, what happened, its stderr's last lines."""
        where = self.expanded.url if self.expanded.url else None
        line = f"MCP server {self.spec.name!r} {what}"
        if where:
            line += f" ({self.spec.describe()})"
        tail = self.stderr_tail()
        if tail:
            line += f"; its stderr ends: {tail}"
        return ServerFailure(line)

    # -- the transport

    @contextlib.asynccontextmanager
    async def _transport(self) -> AsyncIterator[Any]:
        spec = self.expanded
        if spec.url:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            async with httpx2.AsyncClient(
                headers=dict(spec.headers), timeout=httpx2.Timeout(30.0, read=300.0)
            ) as http:
                async with streamable_http_client(spec.url, http_client=http) as streams:
                    yield streams
            return
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(
            command=spec.command or "",
            args=list(spec.args),
            env=dict(spec.env) or None,
            cwd=spec.cwd,
        )
        async with stdio_client(params, errlog=self._open_stderr()) as streams:
            yield streams

    async def _hold(self, ready: asyncio.Future[None]) -> None:
        """Open the client, list the tools, then hold the connection until stopped."""
        from mcp import Client
        from mcp_types import Implementation

        assert self._stop is not None
        try:
            client = Client(
                self._transport(),
                client_info=Implementation(name="claude-magic", version=_version()),
            )
            async with client:
                self.client = client
                self.server_info = _server_info(client)
                self.tools = await _list_tools(client)
                ready.set_result(None)
                await self._stop.wait()
        except asyncio.CancelledError:
            if not ready.done():
                ready.cancel()
            raise
        except BaseException as exc:  # reported through `ready`, or by the next call
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
        finally:
            self.client = None

    async def start(self) -> None:
        """Start the server and list its tools, within its startup timeout."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._stop = asyncio.Event()
        self.started = time.monotonic()
        self._task = loop.create_task(self._hold(ready), name=f"mcp-{self.spec.name}")
        timeout = self.spec.startup_timeout
        try:
            await asyncio.wait_for(asyncio.shield(ready), timeout)
        except asyncio.TimeoutError:
            await self.stop()
            raise self.failure(f"did not start within {timeout:g} s") from None
        except asyncio.CancelledError:
            await self.stop()
            raise
        except Exception as exc:
            await self.stop()
            raise self.failure(_describe(exc)) from None
        self.start_seconds = time.monotonic() - self.started

    async def stop(self) -> None:
        """Close the connection (the SDK ends a stdio server: stdin closed, then signals)."""
        task = self._task
        if self._stop is not None:
            self._stop.set()
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), 10.0)
            except (asyncio.TimeoutError, Exception):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(task, 5.0)
        self._task = None
        self.client = None

    def remove_log(self) -> None:
        """Close (and so remove) the server's stderr file."""
        handle, self._stderr = self._stderr, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()

    @property
    def alive(self) -> bool:
        return self.client is not None and self._task is not None and not self._task.done()

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """The tool's `CallToolResult`. A refused call or a timeout of a server that
        still answers raises ToolCallFailure; a dead or hung server, ServerFailure."""
        from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        if not self.alive:
            raise self.failure("has stopped")
        self._trim_stderr()
        timeout = self.spec.timeout
        try:
            return await self.client.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            code = _error_code(exc)
            if code == REQUEST_TIMEOUT or isinstance(exc, TimeoutError):
                if await self._answers():
                    raise ToolCallFailure(
                        f"{tool} took longer than {timeout:g} s and was cancelled "
                        f"(MCP server {self.spec.name!r})."
                    ) from None
                raise self.failure(
                    f"did not answer {tool} within {timeout:g} s and was stopped"
                ) from None
            if code is not None and code != CONNECTION_CLOSED:
                raise ToolCallFailure(
                    f"MCP server {self.spec.name!r} refused {tool}: {exc}"
                ) from None
            if type(exc).__name__ == "ValidationError":
                raise ToolCallFailure(
                    f"MCP server {self.spec.name!r} sent a result for {tool} "
                    f"that does not fit the protocol: {exc}"
                ) from None
            raise self.failure(_describe(exc) + f" during {tool}") from None

    async def _answers(self) -> bool:
        """Whether the server still answers (a fresh tools/list: ping is gone from the
        newest protocol)."""
        try:
            await asyncio.wait_for(self.client.list_tools(cache_mode="refresh"), PING_TIMEOUT)
        except Exception:
            return False
        return True


def _server_info(client: Any) -> str:
    info = getattr(client, "server_info", None)
    if info is None:
        return ""
    return f"{info.name} {info.version}".strip()


async def _list_tools(client: Any) -> list[ListedTool]:
    tools: list[ListedTool] = []
    cursor: str | None = None
    for _ in range(100):  # a paginator that never ends cannot hang the start
        page = await client.list_tools(cursor=cursor)
        for tool in page.tools:
            annotations = tool.annotations
            tools.append(
                ListedTool(
                    name=tool.name,
                    description=tool.description or tool.title or "",
                    input_schema=dict(tool.input_schema or {"type": "object"}),
                    read_only=bool(annotations is not None and annotations.read_only_hint),
                )
            )
        cursor = page.next_cursor
        if not cursor:
            break
    return tools
