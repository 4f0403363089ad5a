"""A small MCP server for demos and tests, built on the SDK's `MCPServer`: text, image,
embedded-resource, error, slow, hanging and crashing tools, offline.

    python -m claude_magic.tools.mcp.demo_server                # stdio
    python -m claude_magic.tools.mcp.demo_server --http 0       # Streamable HTTP on loopback

With `--http PORT` (0: any free port) the first line on stdout is the server's URL.
`--require-header NAME=VALUE` refuses HTTP requests without that header;
`--fail-on-start` writes a line to stderr and exits before serving.
"""

import argparse
import asyncio
import io
import os
import socket
import sys
import time
from typing import Annotated, Any

from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import EmbeddedResource, TextResourceContents, ToolAnnotations
from pydantic import Field

STATIONS = {
    "paris": "12.5 °C, 81 % humidity, wind 14 km/h W, light rain",
    "madrid": "24.0 °C, 35 % humidity, wind 6 km/h S, clear",
    "oslo": "3.5 °C, 70 % humidity, wind 20 km/h N, cloudy",
}
NOTES = "Station readings are made up for this demo. Units: °C, %, km/h."


def build_server() -> MCPServer:
    """The demo server and its tools (their annotations are read at run time: this module
    does not postpone them)."""
    server = MCPServer(
        "claude-magic-demo",
        version="1.0",
        log_level="WARNING",
        instructions="Made-up weather stations, a chart maker and test tools.",
    )
    read_only = ToolAnnotations(read_only_hint=True)

    @server.tool(annotations=read_only)
    def station_reading(city: Annotated[str, Field(description="City name, e.g. Paris")]) -> str:
        """The latest reading of the weather station in a city (made-up data)."""
        reading = STATIONS.get(city.strip().lower())
        if reading is None:
            raise ToolError(f"No station in {city!r}; stations: {', '.join(sorted(STATIONS))}.")
        return f"{city.strip().title()}: {reading}"

    @server.tool(annotations=read_only)
    def bar_chart(
        values: Annotated[list[float], Field(description="Bar heights")], title: str = ""
    ) -> Image:
        """Draw a bar chart of the values as a PNG image."""
        return Image(data=_bar_chart_png(values, title), format="png")

    @server.tool(annotations=read_only)
    def station_notes() -> EmbeddedResource:
        """Notes about the stations, as an embedded resource."""
        return EmbeddedResource(
            type="resource",
            resource=TextResourceContents(
                uri="demo://stations/notes", mime_type="text/plain", text=NOTES
            ),
        )

    @server.tool()
    def fail(message: str = "something went wrong") -> str:
        """Always fails with the given message (to show tool errors)."""
        raise ToolError(message)

    @server.tool()
    async def slow(seconds: float = 5.0) -> str:
        """Wait this many seconds, then answer."""
        await asyncio.sleep(seconds)
        return f"waited {seconds:g} s"

    @server.tool()
    async def freeze(seconds: float = 60.0) -> str:
        """Block the whole server for this many seconds (to show how a hung server is reported)."""
        time.sleep(seconds)
        return f"was frozen for {seconds:g} s"

    @server.tool(annotations=read_only)
    def process_id() -> int:
        """The server's process id."""
        return os.getpid()

    @server.tool()
    def repeat(text: str, times: int = 1000) -> str:
        """The text repeated, one copy per line (to show long results)."""
        return "\n".join([text] * times)

    @server.tool()
    def crash() -> str:
        """Make the server crash (to show how a crash is reported)."""
        sys.stderr.write("demo server: crashing on request\n")
        sys.stderr.flush()
        os._exit(3)

    return server


def _bar_chart_png(values: list[float], title: str) -> bytes:
    from PIL import Image, ImageDraw

    width, height, margin = 320, 200, 20
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((margin, 4), title[:40], fill="black")
    top = max([abs(v) for v in values] or [1.0]) or 1.0
    step = (width - 2 * margin) / max(len(values), 1)
    for i, value in enumerate(values):
        bar = (height - 2 * margin) * abs(value) / top
        x0 = margin + i * step + 2
        draw.rectangle(
            [x0, height - margin - bar, x0 + step - 4, height - margin], fill="steelblue"
        )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class _RequireHeader:
    """ASGI middleware: 401 unless the request carries the header."""

    def __init__(self, app: Any, name: str, value: str) -> None:
        self.app, self.name, self.value = app, name.lower().encode(), value.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(self.name) != self.value:
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"missing or wrong header"})
            return
        await self.app(scope, receive, send)


def serve_http(server: Any, port: int, header: str | None) -> None:
    """Serve Streamable HTTP on 127.0.0.1:`port`; print the URL first."""
    import uvicorn

    app = server.streamable_http_app()
    if header:
        name, _, value = header.partition("=")
        app = _RequireHeader(app, name, value)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # connections wait in the backlog until the server accepts them
    print(f"http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A small MCP server for demos and tests.")
    parser.add_argument(
        "--http", type=int, metavar="PORT", help="serve Streamable HTTP on loopback"
    )
    parser.add_argument(
        "--require-header", metavar="NAME=VALUE", help="HTTP: refuse requests without it"
    )
    parser.add_argument("--fail-on-start", action="store_true", help="exit at once with an error")
    args = parser.parse_args(argv)
    if args.fail_on_start:
        sys.stderr.write("demo server: refusing to start (--fail-on-start)\n")
        sys.exit(2)
    server = build_server()
    if args.http is not None:
        serve_http(server, args.http, args.require_header)
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
