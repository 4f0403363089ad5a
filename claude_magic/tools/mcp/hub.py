"""The MCP servers of one kernel: an event loop on a thread of its own (the kernel's
loop is never touched), servers started on first use and reused, stopped on request or
when the kernel ends, restarted on the next use after a failure; their tools as `Tool`s
for the tool loop. Every method may be called from any thread but the hub's own."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import sys
import threading
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ...core.errors import ClaudeMagicError
from ...core.extras import missing_extra
from ..schema import ToolError
from ..toolset import Tool
from .config import McpConfigError, ServerSpec, parse_servers, server_spec
from .connection import Connection, ListedTool, ServerFailure, ToolCallFailure
from .content import error_text, result_blocks
from .names import prefixed_names

T = TypeVar("T")
SLACK = 15.0  # seconds past a server's own timeouts before the caller stops waiting
PYTHON_COMMANDS = ("python", "python3")


class McpError(ClaudeMagicError):
    """An MCP server that cannot be used now: one line naming it."""


@dataclass(frozen=True)
class ServerState:
    """What `%claude mcp` shows for one server."""

    spec: ServerSpec
    state: str  # "running", "not started", "stopped", "failed"
    detail: str  # the failure line, or the server's name and version
    tools: list[ListedTool]
    start_seconds: float | None


def run_command(spec: ServerSpec) -> ServerSpec:
    """`python` and `python3` run the kernel's own interpreter (the one that has its
    packages), whatever comes first on PATH."""
    if spec.command in PYTHON_COMMANDS:
        from dataclasses import replace

        return replace(spec, command=sys.executable)
    return spec


class McpHub:
    """The kernel's MCP servers: configured ones (`ClaudeMagic.mcp_servers`, passed in by
    the caller) and ones added with `add`, which win on a name both have."""

    def __init__(self) -> None:
        self.added: dict[str, ServerSpec] = {}
        self._connections: dict[str, Connection] = {}
        self._failures: dict[str, str] = {}  # name -> the last failure line
        self._stopped: set[str] = set()
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server_locks: dict[str, threading.Lock] = {}

    # -- the loop

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_run_forever, args=(loop,), name="claude-magic-mcp", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `coro` on the hub's loop and wait for it (a KeyboardInterrupt cancels it)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("The MCP hub cannot wait for itself: call it from another thread.")
        future = asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError from None
        except BaseException:
            future.cancel()
            raise

    # -- configuration

    def specs(self, configured: Any = None) -> dict[str, ServerSpec]:
        """Every known server: `configured` (the trait: a dict or a file path), then the
        added ones."""
        return {**parse_servers(configured), **self.added}

    def add(self, name: str, entry: Mapping[str, Any]) -> ServerSpec:
        """Add (or replace) a server for this kernel; a running one of that name stops."""
        spec = server_spec(name, entry, source="%claude mcp add")
        self.added[name] = spec
        self.stop(name)
        self._stopped.discard(name)
        self._failures.pop(name, None)
        return spec

    def remove(self, name: str) -> bool:
        """Forget an added server (stopping it); False if none was added under `name`."""
        if name not in self.added:
            return False
        self.stop(name)
        del self.added[name]
        return True

    def _spec(self, name: str, configured: Any) -> ServerSpec:
        specs = self.specs(configured)
        if name not in specs:
            known = ", ".join(sorted(specs)) or "none yet"
            raise McpError(
                f"No MCP server named {name!r} (servers: {known}); add one with "
                "%claude mcp add NAME -- COMMAND ARGS... or set ClaudeMagic.mcp_servers."
            )
        return specs[name]

    # -- servers

    def connection(self, spec: ServerSpec) -> Connection:
        """The running connection for `spec`, started now if it is not running (a server
        whose configuration changed is restarted)."""
        with self._lock:
            lock = self._server_locks.setdefault(spec.name, threading.Lock())
        with lock:  # one start at a time per server
            current = self._connections.get(spec.name)
            if current is not None and current.alive and current.spec == spec:
                return current
            if current is not None:
                self._close(spec.name)
            if (line := missing_extra("mcp", "mcp", "MCP servers")) is not None:
                raise McpError(line)
            try:
                expanded = run_command(spec.expanded())
            except McpConfigError as exc:
                raise McpError(str(exc)) from None
            connection = Connection(spec, expanded)
            failure = None
            try:
                self._run(connection.start(), spec.startup_timeout + SLACK)
            except ServerFailure as exc:
                failure = str(exc)
            except TimeoutError:
                failure = str(
                    connection.failure(f"did not start within {spec.startup_timeout:g} s")
                )
            except KeyboardInterrupt:
                self._run_quietly(connection.stop())
                connection.remove_log()
                raise
            if failure is not None:  # raised here, outside the handler: no exception chain to show
                self._failed(spec.name, connection, failure)
            self._connections[spec.name] = connection
            self._stopped.discard(spec.name)
            self._failures.pop(spec.name, None)
            return connection

    def _failed(self, name: str, connection: Connection, line: str) -> None:
        self._failures[name] = line
        self._run_quietly(connection.stop())
        connection.remove_log()
        raise McpError(line + " (the next use starts it again).")

    def _run_quietly(self, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            self._run(coro, 20.0)
        except Exception:
            pass

    def _close(self, name: str) -> None:
        connection = self._connections.pop(name, None)
        if connection is not None:
            self._run_quietly(connection.stop())
            connection.remove_log()

    def stop(self, name: str) -> bool:
        """Stop a server; False if it was not running."""
        running = name in self._connections and self._connections[name].alive
        self._close(name)
        if running:
            self._stopped.add(name)
        return running

    def close(self) -> None:
        """Stop every server and the loop (the kernel ends, or the extension unloads)."""
        for name in list(self._connections):
            self._close(name)
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(5.0)  # the thread closes the loop

    # -- tools

    def listed(self, name: str, configured: Any = None) -> list[ListedTool]:
        """The tools server `name` lists (starting it on first use)."""
        return self.connection(self._spec(name, configured)).tools

    def tools(self, names: str | Iterable[str], configured: Any = None) -> list[Tool]:
        """The tools of the named servers (`"a,b"` or a list), as `Tool`s named
        `server__tool`, started on first use."""
        wanted = (
            [n for n in re.split(r"[,\s]+", names) if n] if isinstance(names, str) else list(names)
        )
        if not wanted:
            raise McpError(
                "Name the MCP servers whose tools to offer: --mcp NAME[,NAME] "
                "(%claude mcp lists them)."
            )
        out: list[Tool] = []
        for name in dict.fromkeys(wanted):
            spec = self._spec(name, configured)
            connection = self.connection(spec)
            out += self._as_tools(spec, connection.tools)
        return out

    def _as_tools(self, spec: ServerSpec, listed: list[ListedTool]) -> list[Tool]:
        by_name = {t.name: t for t in listed}
        tools = []
        for prefixed, original in prefixed_names(spec.name, by_name).items():
            item = by_name[original]
            definition: dict[str, Any] = {"name": prefixed}
            description = (
                item.description or f"The {original!r} tool of the MCP server {spec.name!r}."
            )
            definition["description"] = description
            definition["input_schema"] = _object_schema(item.input_schema)
            confirm = not (spec.trusted or (spec.auto_approve_read_only and item.read_only))
            tools.append(
                Tool(
                    name=prefixed,
                    definition=definition,
                    confirm=confirm,
                    handler=_handler(self, spec, original),
                    thread_safe=True,
                )
            )
        return tools

    def call(self, spec: ServerSpec, tool: str, arguments: dict[str, Any]) -> list[Any]:
        """Call `tool` on the server: the result as tool_result blocks. A result the server
        marks as an error, a refused call or a failed server raises ToolError with the
        line the model gets (a failed server is stopped and restarts on the next use)."""
        try:
            connection = self.connection(spec)
        except McpError as exc:
            raise ToolError(str(exc)) from None
        refused = failed = None
        try:
            result = self._run(connection.call(tool, arguments), spec.timeout + SLACK)
        except ToolCallFailure as exc:
            refused = str(exc)
        except ServerFailure as exc:
            failed = str(exc)
        except TimeoutError:
            failed = str(
                connection.failure(
                    f"did not answer {tool} within {spec.timeout:g} s and was stopped"
                )
            )
        if refused is not None:
            raise ToolError(refused)
        if failed is not None:
            self._failures[spec.name] = failed
            self._close(spec.name)
            raise ToolError(failed + " (the next use starts it again).")
        if getattr(result, "is_error", False):
            raise ToolError(error_text(result))
        return result_blocks(result)

    # -- listing

    def states(self, configured: Any = None) -> list[ServerState]:
        """Every known server with its state, in name order."""
        out = []
        for name, spec in sorted(self.specs(configured).items()):
            connection = self._connections.get(name)
            if connection is not None and connection.alive:
                out.append(
                    ServerState(
                        spec,
                        "running",
                        connection.server_info,
                        connection.tools,
                        connection.start_seconds,
                    )
                )
            elif name in self._failures:
                out.append(ServerState(spec, "failed", self._failures[name], [], None))
            else:
                state = "stopped" if name in self._stopped else "not started"
                out.append(ServerState(spec, state, "", [], None))
        return out


def _handler(hub: McpHub, spec: ServerSpec, tool: str) -> Any:
    return lambda tool_input: hub.call(spec, tool, dict(tool_input))


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The input schema as Bedrock takes it: an object schema."""
    schema = dict(schema) if isinstance(schema, dict) else {}
    if schema.get("type") != "object":
        schema = {"type": "object", "properties": {}}
    schema.pop("$schema", None)
    return schema


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=5.0))
        finally:
            loop.close()
