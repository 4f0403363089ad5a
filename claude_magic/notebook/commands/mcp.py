"""`%claude mcp`: the kernel's MCP servers: list them, add one, show its tools, stop or
remove one."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ...core.errors import ClaudeMagicError
from .registry import _Parser, command, option
from .tables import table

if TYPE_CHECKING:
    from ...tools.mcp.hub import McpHub, ServerState
    from ..session import KernelSession

USAGE = (
    "mcp [add NAME [--env K=V] [--header 'K: V'] [--trusted] [--auto-approve-read-only] "
    "[--timeout S] (-- COMMAND ARGS... | --url URL) | tools NAME | stop NAME | remove NAME]"
)


@command(
    "mcp",
    "MCP servers whose tools `%%claude --mcp NAME` offers: without arguments, each "
    "server, its state and tools; `add` one for this kernel (a command run over stdio, or a "
    "Streamable HTTP URL; `python` is the kernel's own); `tools NAME` their schemas (starts it); "
    "`stop NAME`; `remove NAME` (an added one). Servers start on first use and stop with the "
    "kernel; tools ask before they run unless the server is trusted",
    option("words", nargs=argparse.REMAINDER),
    usage=USAGE,
)
def mcp(session: KernelSession, args: argparse.Namespace) -> None:
    words: list[str] = list(args.words)
    hub = session.mcp()
    configured = session.config().mcp_servers
    if not words:
        print(listing(hub.states(configured)))
        return
    verb, rest = words[0], words[1:]
    if verb == "add":
        _add(hub, configured, rest)
    elif verb in ("tools", "stop", "remove"):
        if len(rest) != 1:
            raise ClaudeMagicError(f"%claude mcp {verb} NAME: name one server.")
        name = rest[0]
        if verb == "tools":
            _tools(session, hub, configured, name)
        elif verb == "stop":
            hub.specs(configured)  # a configuration that cannot be read says so
            print(
                f"Stopped MCP server {name!r}."
                if hub.stop(name)
                else f"MCP server {name!r} is not running."
            )
        elif hub.remove(name):
            print(f"Removed MCP server {name!r}.")
        else:
            raise ClaudeMagicError(
                f"No MCP server {name!r} was added with %claude mcp add "
                "(configured ones stay in ClaudeMagic.mcp_servers)."
            )
    else:
        raise ClaudeMagicError(
            f"Unknown %claude mcp command {verb!r}: use add, tools, stop or remove "
            "(no arguments: the list)."
        )


def _add_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mcp add", add_help=False)
    parser.add_argument("name")
    parser.add_argument("--url")
    parser.add_argument("--env", action="append", default=[], metavar="K=V")
    parser.add_argument("--header", action="append", default=[], metavar="K: V")
    parser.add_argument("--cwd")
    parser.add_argument("--trusted", action="store_true")
    parser.add_argument("--auto-approve-read-only", action="store_true")
    parser.add_argument("--timeout", type=float)
    return parser


def _pairs(items: list[str], separator: str, what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, found, value = item.partition(separator)
        if not found or not key.strip():
            raise ClaudeMagicError(
                f"%claude mcp add: {what} {item!r} should read NAME{separator}VALUE."
            )
        out[key.strip()] = value.strip() if separator == ":" else value
    return out


def _add(hub: McpHub, configured: Any, words: list[str]) -> None:
    if "--" in words:
        split = words.index("--")
        words, command_line = words[:split], words[split + 1 :]
    else:
        command_line = []
    args = _add_parser().parse_args(words)
    if bool(command_line) == bool(args.url):
        raise ClaudeMagicError(
            "%claude mcp add NAME -- COMMAND ARGS... (stdio) or "
            "%claude mcp add NAME --url URL (Streamable HTTP): give one of them."
        )
    entry: dict[str, Any] = {}
    if args.url:
        entry = {"type": "http", "url": args.url, "headers": _pairs(args.header, ":", "--header")}
    else:
        entry = {"command": command_line[0], "args": command_line[1:]}
        if args.cwd:
            entry["cwd"] = args.cwd
    entry["env"] = _pairs(args.env, "=", "--env")
    entry["trusted"] = args.trusted
    entry["auto_approve_read_only"] = args.auto_approve_read_only
    if args.timeout is not None:
        entry["timeout"] = args.timeout
    replaces = args.name in hub.specs(configured)
    spec = hub.add(args.name, entry)
    note = " (it replaces the one of that name for this kernel)" if replaces else ""
    print(
        f"Added MCP server {spec.name!r}: {spec.transport} {spec.describe()}{note}. "
        f"`%%claude --mcp {spec.name}` offers its tools; it starts on first use."
    )


def _tools(session: KernelSession, hub: McpHub, configured: Any, name: str) -> None:
    from ...tools.toolset import ToolSet

    tools = ToolSet(hub.tools(name, configured))
    print(tools.render_text() if len(tools) else f"MCP server {name!r} offers no tools.")


def _approval(state: ServerState) -> str:
    if state.spec.trusted:
        return "trusted"
    return "asks (read-only tools don't)" if state.spec.auto_approve_read_only else "asks"


def listing(states: list[ServerState]) -> str:
    """The servers as a table, then each running server's tools."""
    if not states:
        return (
            "No MCP servers. Add one with %claude mcp add NAME -- COMMAND ARGS... (or --url URL), "
            "or set ClaudeMagic.mcp_servers to a dict or a .mcp.json path."
        )
    from ...tools.mcp.names import prefixed_names

    rows = [("server", "state", "transport", "approval", "tools", "from")]
    notes = []
    for state in states:
        spec = state.spec
        count = str(len(state.tools)) if state.state == "running" else "-"
        rows.append(
            (
                spec.name,
                state.state,
                f"{spec.transport}: {spec.describe()}",
                _approval(state),
                count,
                spec.source,
            )
        )
        if state.state == "running":
            started = f", started in {state.start_seconds:.1f} s" if state.start_seconds else ""
            names = prefixed_names(spec.name, [t.name for t in state.tools])
            read_only = {t.name for t in state.tools if t.read_only}
            shown = [f"{p} (read-only)" if o in read_only else p for p, o in names.items()]
            notes.append(
                f"{spec.name} ({state.detail or 'server'}{started}): {', '.join(shown) or 'no tools'}"
            )
        elif state.state == "failed":
            notes.append(state.detail)
    return "\n".join([table(rows), *notes])
