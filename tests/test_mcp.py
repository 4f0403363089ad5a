"""MCP servers as tools: configuration, names and masking; the hub against the demo server
(built on the SDK's MCPServer) over stdio and over Streamable HTTP on loopback; and
`%claude mcp` / `%%claude --mcp` in a real IPython shell against the emulator."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time

import pytest
from magic_helpers import last_body

from claude_magic.tools.mcp import McpError, McpHub, masked_setting, parse_servers, prefixed_name
from claude_magic.tools.mcp.config import McpConfigError, mask_args, mask_url, server_spec
from claude_magic.tools.mcp.names import prefixed_names
from claude_magic.tools.schema import NAME_PATTERN, ToolError

DEMO = [sys.executable, "-m", "claude_magic.tools.mcp.demo_server"]
DEMO_ENTRY = {"command": DEMO[0], "args": DEMO[1:]}


# -- configuration ------------------------------------------------------------------------------


def test_servers_read_as_claude_code_and_desktop_write_them(tmp_path):
    servers = {
        "git": {
            "command": "uvx",
            "args": ["mcp-server-git", "--repository", "."],
            "env": {"A": "1"},
        },
        "web": {
            "type": "http",
            "url": "https://example.com/mcp",
            "headers": {"Authorization": "Bearer x"},
        },
    }
    for value in (servers, {"mcpServers": servers}):
        specs = parse_servers(value)
        assert specs["git"].transport == "stdio" and specs["git"].args == (
            "mcp-server-git",
            "--repository",
            ".",
        )
        assert specs["git"].env == (("A", "1"),)
        assert specs["web"].transport == "http" and specs["web"].headers == (
            ("Authorization", "Bearer x"),
        )
    path = tmp_path / ".mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    from_file = parse_servers(str(path))
    assert from_file == parse_servers(servers) and from_file["git"].source == str(path)
    assert parse_servers(None) == {} and parse_servers({}) == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"x": {"args": []}}, 'needs a "command"'),
        ({"x": {"type": "http"}}, 'needs a "url"'),
        ({"x": {"type": "sse", "url": "http://h/sse"}}, "SSE transport is not supported"),
        ({"x": {"type": "websocket", "command": "c"}}, "unknown type"),
        ({"bad name": {"command": "c"}}, "is not allowed"),
        ({"x": {"command": "c", "args": "one string"}}, "list of strings"),
        ({"x": {"command": "c", "timeout": 0}}, "positive number"),
        ("/no/such/.mcp.json", "No MCP configuration file"),
        (["not", "a", "dict"], "must be a dict"),
    ],
)
def test_bad_configuration_is_one_line(value, message):
    with pytest.raises(McpConfigError, match=re.escape(message)):
        parse_servers(value)


def test_variables_come_from_the_environment_when_a_server_starts():
    spec = server_spec(
        "s",
        {
            "type": "http",
            "url": "https://${HOST}/mcp",
            "headers": {"Authorization": "Bearer ${TOKEN}", "X-Team": "${TEAM:-data}"},
        },
    )
    expanded = spec.expanded({"HOST": "h.example", "TOKEN": "t0k"})
    assert expanded.url == "https://h.example/mcp"
    assert dict(expanded.headers) == {"Authorization": "Bearer t0k", "X-Team": "data"}
    assert spec.url == "https://${HOST}/mcp"  # the configured spec keeps the reference
    with pytest.raises(McpConfigError, match=r"\$\{TOKEN\} is not set"):
        spec.expanded({"HOST": "h"})
    stdio = server_spec(
        "s", {"command": "run", "args": ["--key", "${KEY}"], "env": {"K": "${KEY}"}}
    )
    assert stdio.expanded({"KEY": "v"}).args == ("--key", "v") and stdio.expanded(
        {"KEY": "v"}
    ).env == (("K", "v"),)


def test_secrets_are_masked_references_shown():
    shown = masked_setting(
        {
            "mcpServers": {
                "a": {
                    "command": "srv",
                    "args": ["--api-key", "k1", "--token=t1", "--port", "9"],
                    "env": {"GITHUB_TOKEN": "ghp_real", "REF": "${GITHUB_TOKEN}"},
                },
                "b": {
                    "type": "http",
                    "url": "https://user:pw@h.example/mcp?api_key=abc&x=1",
                    "headers": {"Authorization": "Bearer real"},
                },
                "c": {"command": 3},
            }
        }
    )["mcpServers"]
    text = json.dumps(shown)
    for secret in ("k1", "t1", "ghp_real", "pw", "abc", "Bearer real"):
        assert secret not in text, secret
    assert shown["a"]["args"] == ["--api-key", "***", "--token=***", "--port", "9"]
    assert shown["a"]["env"] == {"GITHUB_TOKEN": "***", "REF": "${GITHUB_TOKEN}"}
    assert shown["b"]["url"] == "https://user:***@h.example/mcp?api_key=***&x=1"
    assert shown["c"] == "<not a valid server entry>"
    assert masked_setting("~/.mcp.json") == "~/.mcp.json"
    assert mask_url("http://h/mcp?token=${T}") == "http://h/mcp?token=${T}"
    assert mask_args(["--password", "${PW}"]) == ["--password", "${PW}"]


def test_tool_names_are_prefixed_within_bedrocks_rule():
    assert prefixed_name("time", "get_current_time") == "time__get_current_time"
    assert prefixed_name("my.server", "do it/now") == "my_server__do_it_now"
    long = prefixed_name("s" * 40, "t" * 40)
    assert len(long) == 64 and NAME_PATTERN.match(long)
    assert long != prefixed_name("s" * 40, "t" * 39 + "u")
    names = prefixed_names("srv", ["a.b", "a_b", "a b"])
    assert len(names) == 3 and sorted(names.values()) == ["a b", "a.b", "a_b"]
    assert all(NAME_PATTERN.match(n) for n in names)


# -- the hub over stdio ----------------------------------------------------------------------


@pytest.fixture
def hub():
    made = McpHub()
    yield made
    made.close()


def _tools(hub, name="demo"):
    return {t.name: t for t in hub.tools(name)}


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_stdio_server_tools_and_results(hub):
    hub.add("demo", {**DEMO_ENTRY, "auto_approve_read_only": True})
    tools = _tools(hub)
    assert {
        "demo__station_reading",
        "demo__bar_chart",
        "demo__fail",
        "demo__slow",
        "demo__crash",
    } <= set(tools)
    reading = tools["demo__station_reading"]
    assert reading.definition["input_schema"]["required"] == ["city"]
    assert "weather station" in reading.definition["description"]
    assert not reading.confirm and tools["demo__fail"].confirm  # read-only runs without asking
    assert reading.handler({"city": "Paris"}) == [
        {"type": "text", "text": "Paris: 12.5 °C, 81 % humidity, wind 14 km/h W, light rain"}
    ]
    image = tools["demo__bar_chart"].handler({"values": [1, 3, 2]})
    assert image[0]["type"] == "image" and image[0]["source"]["media_type"] == "image/png"
    note = tools["demo__station_notes"].handler({})[0]["text"]
    assert note.startswith("[resource demo://stations/notes (text/plain)]\n") and "made up" in note
    with pytest.raises(ToolError, match="boom"):
        tools["demo__fail"].handler({"message": "boom"})
    with pytest.raises(ToolError, match="No station in 'Atlantis'"):
        reading.handler({"city": "Atlantis"})
    long = tools["demo__repeat"].handler({"text": "x" * 99, "times": 1000})[0]["text"]
    assert len(long) < 20_200 and long.endswith("showing the first 20,000]")
    [state] = hub.states()
    assert (
        state.state == "running" and state.detail == "claude-magic-demo 1.0" and state.start_seconds
    )


def test_a_server_is_started_once_and_reused(hub):
    hub.add("demo", DEMO_ENTRY)
    pid = int(_tools(hub)["demo__process_id"].handler({})[0]["text"])
    assert int(_tools(hub)["demo__process_id"].handler({})[0]["text"]) == pid
    assert hub.stop("demo") and _wait_gone(pid)
    assert [s.state for s in hub.states()] == ["stopped"]
    assert int(_tools(hub)["demo__process_id"].handler({})[0]["text"]) != pid


def test_slow_tool_times_out_and_the_server_stays(hub):
    hub.add("demo", {**DEMO_ENTRY, "timeout": 1})
    tools = _tools(hub)
    pid = tools["demo__process_id"].handler({})
    started = time.monotonic()
    with pytest.raises(
        ToolError, match=r"slow took longer than 1 s and was cancelled \(MCP server 'demo'\)"
    ):
        tools["demo__slow"].handler({"seconds": 30})
    assert time.monotonic() - started < 6
    assert tools["demo__process_id"].handler({}) == pid


def test_hung_server_is_stopped_and_the_next_use_restarts_it(hub):
    hub.add("demo", {**DEMO_ENTRY, "timeout": 1})
    tools = _tools(hub)
    pid = int(tools["demo__process_id"].handler({})[0]["text"])
    with pytest.raises(ToolError) as caught:
        tools["demo__freeze"].handler({"seconds": 60})
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith("MCP server 'demo' did not answer freeze within 1 s and was stopped")
    assert line.endswith("(the next use starts it again).")
    assert _wait_gone(pid)
    assert hub.states()[0].state == "failed"
    assert int(tools["demo__process_id"].handler({})[0]["text"]) != pid


def test_crash_is_one_line_with_the_stderr_tail_then_restarts(hub):
    hub.add("demo", DEMO_ENTRY)
    tools = _tools(hub)
    with pytest.raises(ToolError) as caught:
        tools["demo__crash"].handler({})
    line = str(caught.value)
    assert "\n" not in line
    assert line == (
        "MCP server 'demo' closed the connection during crash; its stderr ends: demo server: "
        "crashing on request (the next use starts it again)."
    )
    assert [s.state for s in hub.states()] == ["failed"] and hub.states()[0].detail.startswith(
        "MCP server 'demo'"
    )
    assert tools["demo__station_reading"].handler({"city": "Oslo"})[0]["text"].startswith("Oslo:")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX files without a name")
def test_the_stderr_file_has_no_name_and_is_private(hub):
    hub.add("demo", DEMO_ENTRY)
    _tools(hub)
    handle = hub._connections["demo"]._stderr
    info = os.fstat(handle.fileno())
    assert info.st_nlink == 0  # nothing left in the temporary folder, even if the kernel dies
    assert stat.S_IMODE(info.st_mode) & 0o077 == 0
    hub.stop("demo")
    assert handle.closed


def test_a_large_stderr_file_is_emptied_and_the_server_writes_at_its_start(hub, monkeypatch):
    from claude_magic.tools.mcp import connection as connection_module

    monkeypatch.setattr(connection_module, "STDERR_KEEP_BYTES", 1000)
    hub.add("demo", DEMO_ENTRY)
    tools = _tools(hub)
    fd = os.dup(hub._connections["demo"]._stderr.fileno())  # still open once the hub closes it
    os.write(fd, b"old noise\n" * 200)  # as if the server had been chatty
    assert tools["demo__process_id"].handler({})  # a call empties the file first
    assert os.fstat(fd).st_size == 0
    with pytest.raises(ToolError, match="its stderr ends: demo server: crashing on request"):
        tools["demo__crash"].handler({})
    # the crash's line went to the start of the emptied file, not after the old noise
    assert os.fstat(fd).st_size == len("demo server: crashing on request\n")
    os.close(fd)


def test_a_server_that_fails_to_start_names_itself_and_its_stderr(hub):
    hub.add("broken", {**DEMO_ENTRY, "args": [*DEMO_ENTRY["args"], "--fail-on-start"]})
    with pytest.raises(McpError) as caught:
        hub.tools("broken")
    assert str(caught.value) == (
        "MCP server 'broken' closed the connection; its stderr ends: demo server: "
        "refusing to start (--fail-on-start) (the next use starts it again)."
    )
    hub.add("missing", {"command": "no-such-mcp-server-command"})
    with pytest.raises(
        McpError, match=r"^MCP server 'missing' could not be started: command not found"
    ):
        hub.tools("missing")
    with pytest.raises(McpError, match=r"No MCP server named 'nope' \(servers: broken, missing\)"):
        hub.tools("nope")


def test_calls_from_worker_threads_share_the_server(hub):
    from concurrent.futures import ThreadPoolExecutor

    hub.add("demo", DEMO_ENTRY)
    tool = _tools(hub)["demo__slow"]
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: tool.handler({"seconds": 2})[0]["text"], range(4)))
    # one after the other would take 8 s
    assert answers == ["waited 2 s"] * 4 and time.monotonic() - started < 6


# -- Streamable HTTP on loopback -------------------------------------------------------------


@pytest.fixture
def http_server():
    """The demo server over Streamable HTTP on a free loopback port, requiring a header."""
    process = subprocess.Popen(
        [*DEMO, "--http", "0", "--require-header", "X-Demo-Key=s3cret"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), process.stderr.read()
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_http_server_with_headers_from_the_environment(hub, http_server, monkeypatch):
    monkeypatch.setenv("DEMO_KEY", "s3cret")
    config = {
        "mcpServers": {
            "web": {
                "type": "http",
                "url": http_server,
                "headers": {"X-Demo-Key": "${DEMO_KEY}"},
                "timeout": 4,
            }
        }
    }
    tools = {
        t.name: t for t in hub.tools("web", config)
    }  # 4 s: ordinary calls fit on a busy machine
    assert (
        tools["web__station_reading"]
        .handler({"city": "Madrid"})[0]["text"]
        .startswith("Madrid: 24.0")
    )
    assert tools["web__bar_chart"].handler({"values": [2, 1]})[0]["type"] == "image"
    with pytest.raises(ToolError, match="nope"):
        tools["web__fail"].handler({"message": "nope"})
    with pytest.raises(ToolError, match="slow took longer than 4 s and was cancelled"):
        tools["web__slow"].handler({"seconds": 20})
    assert tools["web__station_reading"].handler({"city": "Oslo"})[0]["text"].startswith("Oslo:")


def test_http_server_refusing_the_request_is_one_line(hub, http_server, monkeypatch):
    monkeypatch.setenv("DEMO_KEY", "wrong")
    config = {"web": {"type": "http", "url": http_server, "headers": {"X-Demo-Key": "${DEMO_KEY}"}}}
    with pytest.raises(McpError) as caught:
        hub.tools("web", config)
    line = str(caught.value)
    assert line.startswith("MCP server 'web' ") and "\n" not in line and "wrong" not in line
    assert http_server in line


# -- in IPython, against the emulator --------------------------------------------------------


def _results(body):
    return [
        b
        for m in body["messages"]
        if m["role"] == "user"
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
    ]


ADD_DEMO = "%claude mcp add demo{} -- python -m claude_magic.tools.mcp.demo_server"


def test_cell_offers_and_calls_mcp_tools(shell, emulator):
    added = shell.run(ADD_DEMO.format(" --trusted"))
    assert (
        added.success
        and "Added MCP server 'demo'" in added.stdout
        and "starts on first use" in added.stdout
    )
    assert "not started" in shell.run("%claude mcp").stdout
    run = shell.ask("--mcp demo", "What does the station in Paris read? Use demo__station_reading.")
    assert run.success, run.stdout + run.stderr
    first = emulator.requests()[0]["body"]
    assert "demo__station_reading" in [t["name"] for t in first["tools"]]
    [result] = _results(last_body(emulator))
    assert "Paris: 12.5 °C" in json.dumps(result, ensure_ascii=False) and not result.get("is_error")
    listing = shell.run("%claude mcp").stdout
    assert re.search(
        r"demo\s+running\s+stdio: python -m claude_magic\.tools\.mcp\.demo_server\s+trusted",
        listing,
    )
    assert "demo__station_reading (read-only)" in listing
    schemas = shell.run("%claude mcp tools demo").stdout
    assert "demo__station_reading\n" in schemas and "city: string, required" in schemas
    assert shell.run("%claude mcp stop demo").stdout.strip() == "Stopped MCP server 'demo'."
    assert shell.run("%claude mcp stop demo").stdout.strip() == "MCP server 'demo' is not running."


def test_error_results_and_images_reach_the_model(shell, emulator):
    shell.run(ADD_DEMO.format(" --trusted"))
    assert shell.ask("--mcp demo", 'Use demo__fail with message: "disk full"').success
    [result] = _results(last_body(emulator))
    assert result["is_error"] is True and "disk full" in json.dumps(result)
    assert shell.ask("--mcp demo --new", "Use demo__bar_chart with values: [3, 1, 2]").success
    [result] = _results(last_body(emulator))
    assert [b["type"] for b in result["content"]] == ["image"]


def test_mcp_tools_ask_first_unless_trusted_or_read_only_allowed(shell, emulator):
    shell.run(ADD_DEMO.format(""))
    assert shell.ask("--mcp demo", "Use demo__station_reading for Oslo").success
    [result] = _results(last_body(emulator))
    assert result["is_error"] and "needs the user's approval" in json.dumps(result)
    shell.run(ADD_DEMO.format(" --auto-approve-read-only"))
    assert shell.ask("--mcp demo --new", "Use demo__station_reading for Oslo").success
    assert "Oslo: 3.5" in json.dumps(_results(last_body(emulator)), ensure_ascii=False)
    assert shell.ask("--mcp demo --new", "Use demo__fail").success  # not read-only: still asks
    assert "needs the user's approval" in json.dumps(_results(last_body(emulator)))
    shell.run("%config ClaudeMagic.auto_approve_tools = True")
    assert shell.ask("--mcp demo --new", 'Use demo__fail with message: "after approval"').success
    assert "after approval" in json.dumps(_results(last_body(emulator)))


def test_configured_servers_and_one_line_errors(shell, emulator, tmp_path):
    (tmp_path / ".mcp.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "demo": {
                        "command": "python",
                        "args": ["-m", "claude_magic.tools.mcp.demo_server"],
                        "env": {"DEMO_TOKEN": "real-secret"},
                        "trusted": True,
                    }
                }
            }
        )
    )
    shell.run(f"%config ClaudeMagic.mcp_servers = {str(tmp_path / '.mcp.json')!r}")
    assert shell.ask("--mcp demo", "Use demo__station_reading for Madrid").success
    assert "Madrid: 24.0" in json.dumps(_results(last_body(emulator)), ensure_ascii=False)
    shell.run(
        "%config ClaudeMagic.mcp_servers = {'demo': {'command': 'python', 'args': "
        "['-m', 'claude_magic.tools.mcp.demo_server'], 'env': {'DEMO_TOKEN': 'real-secret'}}}"
    )
    config = shell.run("%claude config").stdout
    assert "ClaudeMagic.mcp_servers = {'demo': {'command': 'python'" in config
    assert "real-secret" not in config and "'DEMO_TOKEN': '***'" in config
    for line, message in [
        ("--mcp nope", "No MCP server named 'nope' (servers: demo)"),
        ("--mcp ','", "Name the MCP servers whose tools to offer"),
    ]:
        run = shell.ask(line, "hello")
        assert not run.success and message in run.stdout + run.stderr
        assert "Traceback" not in run.stdout + run.stderr
    shell.run("%claude mcp add bad -- python -m claude_magic.tools.mcp.demo_server --fail-on-start")
    run = shell.ask("--mcp bad", "hello")
    assert not run.success and "Traceback" not in run.stdout + run.stderr
    assert (
        "MCP server 'bad' closed the connection; its stderr ends: demo server: refusing to start "
        "(--fail-on-start) (the next use starts it again)."
    ) in run.stdout + run.stderr
    assert "failed" in shell.run("%claude mcp").stdout
    for bad, message in [
        ("add x", "give one of them"),
        ("add x --url u -- cmd", "give one of them"),
        ("frob", "Unknown %claude mcp command 'frob'"),
        ("tools", "name one server"),
        ("remove demo", "No MCP server 'demo' was added"),
    ]:
        run = shell.run(f"%claude mcp {bad}")
        assert not run.success and message in run.stdout + run.stderr, bad


def test_unloading_stops_the_servers(shell, emulator):
    shell.run(ADD_DEMO.format(" --trusted"))
    assert shell.ask("--mcp demo", "Use demo__process_id").success
    pid = int(_results(last_body(emulator))[0]["content"][0]["text"])
    assert _alive(pid)
    shell.run("%unload_ext claude_magic")
    assert _wait_gone(pid)


def test_loading_the_extension_does_not_import_the_sdk():
    code = (
        "import sys; from IPython.core.interactiveshell import InteractiveShell;"
        "ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'claude_magic');"
        "ip.run_line_magic('claude', 'mcp add t -- python -m mcp_server_time');"
        "ip.run_line_magic('claude', 'mcp');"
        "print([m for m in ('mcp', 'mcp_types', 'anyio', 'httpx2') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
