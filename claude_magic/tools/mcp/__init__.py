"""MCP servers as tools: the `mcpServers` configuration (`config`), one connection per
server through the official `mcp` SDK over stdio or Streamable HTTP (`connection`), the
kernel's servers on an event loop of their own (`hub`), tool names (`names`) and results
as tool_result content (`content`); a small server for demos and tests (`demo_server`).

The `mcp` package is imported only when a server is used.
"""

from .config import McpConfigError, ServerSpec, masked_setting, parse_servers, server_spec
from .hub import McpError, McpHub, ServerState
from .names import prefixed_name

__all__ = [
    "McpConfigError",
    "McpError",
    "McpHub",
    "ServerSpec",
    "ServerState",
    "masked_setting",
    "parse_servers",
    "prefixed_name",
    "server_spec",
]
