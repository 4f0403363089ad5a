"""Tool names for MCP tools: `server__tool`, within Bedrock's rule for tool names
(`^[a-zA-Z0-9_-]{1,64}$`), distinct for every tool of a server."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

SEPARATOR = "__"
MAX_NAME = 64
_INVALID = re.compile(r"[^a-zA-Z0-9_-]+")


def _clean(text: str) -> str:
    return _INVALID.sub("_", text).strip("_") or "x"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def prefixed_name(server: str, tool: str) -> str:
    """`server__tool`, invalid characters replaced by `_`; a name past 64 characters is cut
    and ends with a short digest of the original names, so it stays unique."""
    name = f"{_clean(server)}{SEPARATOR}{_clean(tool)}"
    if len(name) <= MAX_NAME:
        return name
    suffix = "_" + _digest(f"{server}\0{tool}")
    return name[: MAX_NAME - len(suffix)] + suffix


def prefixed_names(server: str, tools: Iterable[str]) -> dict[str, str]:
    """Prefixed name -> the server's own tool name, for every tool; two tools whose cleaned
    names meet get digests of their original names."""
    out: dict[str, str] = {}
    for tool in tools:
        name = prefixed_name(server, tool)
        if name in out and out[name] != tool:
            suffix = "_" + _digest(f"{server}\0{tool}")
            name = name[: MAX_NAME - len(suffix)] + suffix
        out[name] = tool
    return out
