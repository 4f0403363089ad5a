"""Property: whatever arrives over the socket, the emulator answers without a 5xx and
without hanging (requests are half-closed after sending, reads have a timeout)."""

from __future__ import annotations

import http.client
import io
import json
import socket
from urllib.parse import quote

import pytest
from helpers import HAIKU
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_magic.emulator import Emulator

READ_TIMEOUT = 20.0
AUTH = "AWS4-HMAC-SHA256 Credential=k/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0"


@pytest.fixture(scope="module")
def server():
    with Emulator() as emulator:
        yield emulator


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
block_types = st.sampled_from(["text", "image", "document", "tool_use", "tool_result", "thinking", "bogus"])
content_blocks = st.fixed_dictionaries(
    {"type": block_types},
    optional={
        "text": json_values, "source": json_values, "id": json_values, "name": json_values,
        "input": json_values, "tool_use_id": json_values, "content": json_values, "is_error": json_values,
    },
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", 3]),
         "content": st.one_of(st.text(max_size=30), st.lists(content_blocks, max_size=3), json_values)}
    ),
    max_size=4,
)
messages_bodies = st.fixed_dictionaries(
    {},
    optional={
        "anthropic_version": st.sampled_from(["bedrock-2023-05-31", "2023-06-01"]) | json_values,
        "max_tokens": st.integers(-5, 100_000) | json_values,
        "messages": messages | json_values,
        "system": st.text(max_size=20) | json_values,
        "temperature": st.floats(-1, 2) | json_values,
        "top_p": json_values, "top_k": json_values,
        "stop_sequences": st.lists(st.text(max_size=5), max_size=3) | json_values,
        "tools": st.lists(st.dictionaries(st.sampled_from(["name", "type", "input_schema", "description"]), json_values), max_size=2) | json_values,
        "tool_choice": json_values,
        "anthropic_beta": json_values,
        "thinking": json_values,
        "stream": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    messages_bodies.map(lambda v: json.dumps(v).encode()),
    messages_bodies.map(lambda v: json.dumps({"input": {"invokeModel": {"body": json.dumps(v)}}}).encode()),
)
model_ids = st.one_of(
    st.sampled_from([
        HAIKU, "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-7",
        "", "%", "%zz", "..",
    ]),
    st.text(max_size=40),
)
operations = st.sampled_from(["invoke", "invoke-with-response-stream", "count-tokens", "converse", "", "x"])
paths = st.one_of(
    st.builds(lambda m, op, enc: f"/model/{quote(m, safe='') if enc else m}/{op}", model_ids, operations, st.booleans()),
    st.sampled_from([
        "/_emulator/health", "/_emulator/requests", "/_emulator/script", "/_emulator/faults",
        "/_emulator/config", "/_emulator/reset", "/_emulator", "/", "*", "//model//invoke",
        "http://localhost/model/x/invoke", "/model/", "/model",
    ]),
    st.text(min_size=1, max_size=60),
)
methods = st.sampled_from(["POST", "GET", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "BREW", "post"])
header_names = st.sampled_from([
    "Content-Type", "Accept", "X-Amzn-Bedrock-Accept", "X-Amzn-Bedrock-Trace", "Expect", "Connection", "X-Junk",
])
header_values = st.one_of(
    st.sampled_from(["application/json", "text/plain", "*/*", "close", "keep-alive", "100-continue", "ENABLED"]),
    st.text(max_size=30),
)
content_lengths = st.one_of(
    st.just("exact"), st.just("missing"), st.integers(0, 600).map(str),
    st.sampled_from(["-1", "abc", "1e3", " 12", "99999999999999999999", "0x10", "²", "1_0", "+5"]),
    st.text(max_size=6),
)


def build_request(method, path, headers, auth, length, chunked, body, version) -> bytes:
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1"]
    if auth:
        lines.append(f"Authorization: {auth}")
    lines += [f"{name}: {value}" for name, value in headers]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        body = b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body) if chunked == "good" else body
    elif length == "exact":
        lines.append(f"Content-Length: {len(body)}")
    elif length != "missing":
        lines.append(f"Content-Length: {length}")
    head = "\r\n".join(lines)
    try:
        raw_head = head.encode("latin-1")  # what the server decodes headers as
    except UnicodeEncodeError:
        raw_head = head.encode("utf-8", "surrogatepass")
    return raw_head + b"\r\n\r\n" + body


texts = st.text(min_size=1, max_size=40).filter(str.strip)
tool_names = st.sampled_from(["get_weather", "lookup", "run_code"])
schemas = st.one_of(
    st.just({"type": "object", "properties": {}}),
    st.builds(
        lambda props: {"type": "object", "properties": props, "required": sorted(props)[:1]},
        st.dictionaries(
            st.text(min_size=1, max_size=8),
            st.sampled_from([{"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"},
                             {"type": "array", "items": {"type": "string"}}, {"enum": ["a", 1, None]},
                             {"type": "object", "properties": {"x": {"type": "string"}}}, {}]),
            max_size=4,
        ),
    ),
)
tools = st.lists(
    st.builds(lambda name, desc, schema: {"name": name, "description": desc, "input_schema": schema},
              tool_names, st.text(max_size=30), schemas),
    max_size=3, unique_by=lambda t: t["name"],
)


def _conversation(turns: list, tools_: list, choice: str | None, extras: dict) -> dict:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": extras.pop("max_tokens"),
        "messages": [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)],
        **extras,
    }
    if tools_:
        body["tools"] = tools_
        if choice == "tool":
            body["tool_choice"] = {"type": "tool", "name": tools_[0]["name"]}
        elif choice:
            body["tool_choice"] = {"type": choice}
    return body


near_valid_bodies = st.builds(
    _conversation,
    st.lists(st.one_of(texts, st.lists(st.builds(lambda t: {"type": "text", "text": t}, texts), min_size=1, max_size=2)),
             min_size=1, max_size=4),
    tools,
    st.sampled_from([None, "auto", "any", "tool"]),
    st.fixed_dictionaries(
        {"max_tokens": st.integers(1, 4096)},
        optional={
            "system": texts,
            "temperature": st.floats(0, 1),
            "top_k": st.integers(0, 500),
            "stop_sequences": st.lists(st.text(min_size=1, max_size=4), max_size=3),
        },
    ),
)
near_valid_requests = st.builds(
    lambda model, op, body: build_request(
        "POST", f"/model/{quote(model, safe='')}/{op}", [], AUTH, "exact", None,
        json.dumps(
            {"input": {"invokeModel": {"body": json.dumps(body)}}} if op == "count-tokens" else body
        ).encode(),
        "HTTP/1.1",
    ),
    st.sampled_from([HAIKU, "us.anthropic.claude-opus-4-7", "anthropic.claude-v2"]),
    st.sampled_from(["invoke", "invoke-with-response-stream", "count-tokens"]),
    near_valid_bodies,
)
requests = st.one_of(
    near_valid_requests,
    st.builds(
        build_request,
        methods,
        paths,
        st.lists(st.tuples(header_names, header_values), max_size=4),
        st.sampled_from([AUTH, AUTH, "", "Bearer token", "AWS4-HMAC-SHA256 junk"]),
        content_lengths,
        st.sampled_from([None, None, None, "good", "garbage"]),
        bodies,
        st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/x", "junk"]),
    ),
    st.binary(max_size=500),
)


class _KeptOpen(io.BufferedReader):
    """One read buffer shared by successive responses on a connection."""

    def close(self) -> None:
        pass


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self._reader = _KeptOpen(socket.SocketIO(sock, "rb"))

    def makefile(self, mode: str) -> io.BufferedReader:
        return self._reader


def send_and_read(url_port: int, data: bytes, method: str) -> list[int]:
    """Send raw bytes, half-close, and parse every response until the server closes."""
    statuses: list[int] = []
    with socket.create_connection(("127.0.0.1", url_port), timeout=READ_TIMEOUT) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return statuses  # refused early; nothing more to send
        connection = _Connection(sock)
        while True:
            response = http.client.HTTPResponse(connection, method=method if not statuses else "GET")  # type: ignore[arg-type]
            try:
                response.begin()
            except http.client.RemoteDisconnected:
                return statuses
            except ConnectionResetError:
                return statuses
            statuses.append(response.status)
            response.read()
            if response.will_close:
                return statuses


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=requests)
def test_no_input_yields_a_5xx_or_a_hang(server, data):
    method = data.split(b" ", 1)[0].decode("latin-1") if b" " in data else "GET"
    try:
        statuses = send_and_read(server.port, data, method)
    finally:
        server.reset()
        server.pace = None
    assert all(100 <= status < 500 for status in statuses), statuses
    # and the server is still there
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=READ_TIMEOUT)
    connection.request("GET", "/_emulator/health")
    assert connection.getresponse().status == 200
    connection.close()
