"""MCP server configuration as Claude Code (`.mcp.json`) and Claude Desktop write it: the
`mcpServers` JSON read from a dict or a file, `${VAR}` taken from the environment when a
server starts, and a masked form for display (no secret values)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...core.errors import ClaudeMagicError

DEFAULT_TIMEOUT = 120.0  # seconds a tool call may take
DEFAULT_STARTUP_TIMEOUT = 30.0  # seconds a server may take to start and list its tools
SERVER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET_WORDS = ("token", "key", "secret", "password", "passwd", "auth", "credential", "cookie")
MASK = "***"


class McpConfigError(ClaudeMagicError):
    """An MCP server configuration that cannot be used."""


@dataclass(frozen=True)
class ServerSpec:
    """One MCP server: a command to run (stdio) or a URL (Streamable HTTP), as configured
    (`${VAR}` not yet expanded), with how its tools are approved."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    url: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    trusted: bool = False  # every tool runs without asking
    auto_approve_read_only: bool = False  # tools annotated readOnlyHint run without asking
    timeout: float = DEFAULT_TIMEOUT
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    source: str = field(default="", compare=False)  # where it was configured, for listings

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"

    def describe(self) -> str:
        """The command line or URL, secrets masked."""
        if self.url:
            return mask_url(self.url)
        return " ".join([self.command or "", *mask_args(self.args)]).strip()

    def masked(self) -> dict[str, Any]:
        """The entry as `mcpServers` JSON, secret values replaced by ***."""
        entry: dict[str, Any] = {}
        if self.url:
            entry["type"] = "http"
            entry["url"] = mask_url(self.url)
            if self.headers:
                entry["headers"] = {k: mask_value(v) for k, v in self.headers}
        else:
            entry["command"] = self.command
            if self.args:
                entry["args"] = mask_args(self.args)
            if self.cwd:
                entry["cwd"] = self.cwd
        if self.env:
            entry["env"] = {k: mask_value(v) for k, v in self.env}
        for key in ("trusted", "auto_approve_read_only"):
            if getattr(self, key):
                entry[key] = True
        if self.timeout != DEFAULT_TIMEOUT:
            entry["timeout"] = self.timeout
        if self.startup_timeout != DEFAULT_STARTUP_TIMEOUT:
            entry["startup_timeout"] = self.startup_timeout
        return entry

    def expanded(self, environ: Mapping[str, str] | None = None) -> ServerSpec:
        """The spec with `${VAR}` and `${VAR:-default}` replaced from the environment
        (command, args, cwd, url, env and headers); an unset variable without a default
        is one line naming it."""
        environ = os.environ if environ is None else environ

        def expand(text: str) -> str:
            def value(match: re.Match[str]) -> str:
                name, default = match.group(1), match.group(2)
                if name in environ:
                    return environ[name]
                if default is not None:
                    return default
                raise McpConfigError(
                    f"MCP server {self.name!r}: ${{{name}}} is not set in the "
                    "environment (set it, or write ${" + name + ":-default})."
                )

            return _VARIABLE.sub(value, text)

        return replace(
            self,
            command=expand(self.command) if self.command else self.command,
            args=tuple(expand(a) for a in self.args),
            cwd=expand(self.cwd) if self.cwd else self.cwd,
            url=expand(self.url) if self.url else self.url,
            env=tuple((k, expand(v)) for k, v in self.env),
            headers=tuple((k, expand(v)) for k, v in self.headers),
        )


def _is_reference(value: str) -> bool:
    """Whether `value` only names environment variables (nothing secret in it)."""
    return bool(value) and _VARIABLE.sub("", value).strip() == ""


def _secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def mask_value(value: str) -> str:
    """An env or header value for display: `${VAR}` references as written, else ***."""
    return value if _is_reference(value) else MASK


def mask_url(url: str) -> str:
    """A URL without its password, nor the values of query parameters that look secret."""
    url = re.sub(r"(//[^/@:]*):[^/@]*@", r"\1:" + MASK + "@", url)
    return re.sub(
        r"([?&]([^=&#]+)=)([^&#]*)",
        lambda m: (
            m.group(1)
            + (MASK if _secret_name(m.group(2)) and not _is_reference(m.group(3)) else m.group(3))
        ),
        url,
    )


def mask_args(args: tuple[str, ...] | list[str]) -> list[str]:
    """Command arguments with the values of secret-looking flags (`--api-key X`,
    `--token=X`) masked."""
    out: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next and not _is_reference(arg):
            out.append(MASK)
        elif arg.startswith("-") and "=" in arg and _secret_name(arg.split("=", 1)[0]):
            flag, value = arg.split("=", 1)
            out.append(arg if _is_reference(value) else f"{flag}={MASK}")
        else:
            out.append(arg)
        hide_next = arg.startswith("-") and "=" not in arg and _secret_name(arg)
    return out


# -- reading ----------------------------------------------------------------------------------


def _strings(name: str, key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(v, (str, int, float)) for v in value
    ):
        raise McpConfigError(f"MCP server {name!r}: {key!r} must be a list of strings.")
    return tuple(str(v) for v in value)


def _pairs(name: str, key: str, value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise McpConfigError(f"MCP server {name!r}: {key!r} must be an object of strings.")
    return tuple((str(k), str(v)) for k, v in value.items())


def _seconds(name: str, key: str, value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise McpConfigError(f"MCP server {name!r}: {key!r} must be a positive number of seconds.")
    return float(value)


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not SERVER_NAME.match(name):
        raise McpConfigError(
            f"MCP server name {name!r} is not allowed: use 1-64 letters, digits, '_', '-' or '.'."
        )
    return name


def server_spec(name: str, entry: Any, source: str = "") -> ServerSpec:
    """One `mcpServers` entry: `{"command", "args", "env", "cwd"}` (stdio) or
    `{"type": "http", "url", "headers"}`; plus `trusted`, `auto_approve_read_only`,
    `timeout` and `startup_timeout`."""
    check_name(name)
    if not isinstance(entry, Mapping):
        raise McpConfigError(
            f"MCP server {name!r}: its entry must be an object with a command or a url."
        )
    kind = entry.get("type") or entry.get("transport") or ("http" if entry.get("url") else "stdio")
    kind = str(kind).lower()
    if kind in ("streamable-http", "streamable_http", "streamablehttp"):
        kind = "http"
    if kind == "sse":
        raise McpConfigError(
            f"MCP server {name!r}: the old SSE transport is not supported; use the "
            'server\'s Streamable HTTP URL (type "http").'
        )
    common: dict[str, Any] = {
        "name": name,
        "env": _pairs(name, "env", entry.get("env")),
        "trusted": bool(entry.get("trusted", False)),
        "auto_approve_read_only": bool(entry.get("auto_approve_read_only", False)),
        "timeout": _seconds(name, "timeout", entry.get("timeout"), DEFAULT_TIMEOUT),
        "startup_timeout": _seconds(
            name, "startup_timeout", entry.get("startup_timeout"), DEFAULT_STARTUP_TIMEOUT
        ),
        "source": source,
    }
    if kind == "http":
        url = entry.get("url")
        if not isinstance(url, str) or not re.match(r"^(https?://|\$\{)", url):
            raise McpConfigError(
                f'MCP server {name!r}: an http server needs a "url" (http:// or https://).'
            )
        return ServerSpec(url=url, headers=_pairs(name, "headers", entry.get("headers")), **common)
    if kind != "stdio":
        raise McpConfigError(f'MCP server {name!r}: unknown type {kind!r} (use "stdio" or "http").')
    command = entry.get("command")
    if not isinstance(command, str) or not command.strip():
        raise McpConfigError(f'MCP server {name!r}: a stdio server needs a "command".')
    cwd = entry.get("cwd")
    return ServerSpec(
        command=command,
        args=_strings(name, "args", entry.get("args")),
        cwd=str(cwd) if cwd else None,
        **common,
    )


def parse_servers(value: Any) -> dict[str, ServerSpec]:
    """The servers of a configuration: None, a dict (either `{"mcpServers": {...}}` or the
    servers themselves), or the path of a JSON file holding one (`.mcp.json`,
    `claude_desktop_config.json`)."""
    if value is None or value == "" or value == {}:
        return {}
    source = "ClaudeMagic.mcp_servers"
    if isinstance(value, (str, os.PathLike)):
        path = Path(value).expanduser()
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise McpConfigError(f"No MCP configuration file at {str(path)!r}.") from None
        except (OSError, ValueError) as exc:
            raise McpConfigError(
                f"Could not read the MCP configuration {str(path)!r}: {exc}."
            ) from None
        source = str(path)
    if not isinstance(value, Mapping):
        raise McpConfigError(
            "ClaudeMagic.mcp_servers must be a dict of servers, or the path of a "
            "JSON file such as .mcp.json."
        )
    servers = value.get("mcpServers", value)
    if not isinstance(servers, Mapping):
        raise McpConfigError('"mcpServers" must be an object: server name -> its entry.')
    return {name: server_spec(name, entry, source) for name, entry in servers.items()}


def masked_setting(value: Any) -> Any:
    """`ClaudeMagic.mcp_servers` as `%claude config` shows it: a path as is, servers masked
    (an entry that cannot be read is shown as such, never its values)."""
    if value is None or isinstance(value, (str, os.PathLike)):
        return value
    if not isinstance(value, Mapping):
        return f"<{type(value).__name__}>"
    wrapped = "mcpServers" in value and isinstance(value["mcpServers"], Mapping)
    servers = value["mcpServers"] if wrapped else value
    shown: dict[str, Any] = {}
    for name, entry in servers.items():
        try:
            shown[str(name)] = server_spec(str(name), entry).masked()
        except McpConfigError:
            shown[str(name)] = "<not a valid server entry>"
    return {"mcpServers": shown} if wrapped else shown
