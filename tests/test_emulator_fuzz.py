"""Property: whatever arrives over the socket, the emulator answers without a 5xx and
without hanging (requests are half-closed after sending, reads have a timeout); and any
JSON shape sent to InvokeModel, Converse or the admin routes is a 4xx whose body holds no
Python error, with nothing raised that the checks did not foresee."""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
from urllib.parse import quote

import pytest
from helpers import HAIKU, png_b64
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
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
block_types = st.sampled_from(
    ["text", "image", "document", "tool_use", "tool_result", "thinking", "bogus"]
)
content_blocks = st.fixed_dictionaries(
    {"type": block_types},
    optional={
        "text": json_values,
        "source": json_values,
        "id": json_values,
        "name": json_values,
        "input": json_values,
        "tool_use_id": json_values,
        "content": json_values,
        "is_error": json_values,
    },
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "assistant", "system", 3]),
            "content": st.one_of(
                st.text(max_size=30), st.lists(content_blocks, max_size=3), json_values
            ),
        }
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
        "top_p": json_values,
        "top_k": json_values,
        "stop_sequences": st.lists(st.text(max_size=5), max_size=3) | json_values,
        "tools": st.lists(
            st.dictionaries(
                st.sampled_from(["name", "type", "input_schema", "description"]), json_values
            ),
            max_size=2,
        )
        | json_values,
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
    messages_bodies.map(
        lambda v: json.dumps({"input": {"invokeModel": {"body": json.dumps(v)}}}).encode()
    ),
)
model_ids = st.one_of(
    st.sampled_from(
        [
            HAIKU,
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-7",
            "",
            "%",
            "%zz",
            "..",
        ]
    ),
    st.text(max_size=40),
)
operations = st.sampled_from(
    ["invoke", "invoke-with-response-stream", "count-tokens", "converse", "", "x"]
)
paths = st.one_of(
    st.builds(
        lambda m, op, enc: f"/model/{quote(m, safe='') if enc else m}/{op}",
        model_ids,
        operations,
        st.booleans(),
    ),
    st.sampled_from(
        [
            "/_emulator/health",
            "/_emulator/requests",
            "/_emulator/script",
            "/_emulator/faults",
            "/_emulator/config",
            "/_emulator/reset",
            "/_emulator",
            "/",
            "*",
            "//model//invoke",
            "http://localhost/model/x/invoke",
            "/model/",
            "/model",
        ]
    ),
    st.text(min_size=1, max_size=60),
)
methods = st.sampled_from(
    ["POST", "GET", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "BREW", "post"]
)
header_names = st.sampled_from(
    [
        "Content-Type",
        "Accept",
        "X-Amzn-Bedrock-Accept",
        "X-Amzn-Bedrock-Trace",
        "Expect",
        "Connection",
        "X-Junk",
    ]
)
header_values = st.one_of(
    st.sampled_from(
        ["application/json", "text/plain", "*/*", "close", "keep-alive", "100-continue", "ENABLED"]
    ),
    st.text(max_size=30),
)
content_lengths = st.one_of(
    st.just("exact"),
    st.just("missing"),
    st.integers(0, 600).map(str),
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
            st.sampled_from(
                [
                    {"type": "string"},
                    {"type": "integer"},
                    {"type": "number"},
                    {"type": "boolean"},
                    {"type": "array", "items": {"type": "string"}},
                    {"enum": ["a", 1, None]},
                    {"type": "object", "properties": {"x": {"type": "string"}}},
                    {},
                ]
            ),
            max_size=4,
        ),
    ),
)
tools = st.lists(
    st.builds(
        lambda name, desc, schema: {"name": name, "description": desc, "input_schema": schema},
        tool_names,
        st.text(max_size=30),
        schemas,
    ),
    max_size=3,
    unique_by=lambda t: t["name"],
)


def _conversation(turns: list, tools_: list, choice: str | None, extras: dict) -> dict:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": extras.pop("max_tokens"),
        "messages": [
            {"role": "user" if i % 2 == 0 else "assistant", "content": t}
            for i, t in enumerate(turns)
        ],
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
    st.lists(
        st.one_of(
            texts,
            st.lists(
                st.builds(lambda t: {"type": "text", "text": t}, texts), min_size=1, max_size=2
            ),
        ),
        min_size=1,
        max_size=4,
    ),
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
        "POST",
        f"/model/{quote(model, safe='')}/{op}",
        [],
        AUTH,
        "exact",
        None,
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
            response = http.client.HTTPResponse(
                connection, method=method if not statuses else "GET"
            )  # type: ignore[arg-type]
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
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
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


# -- well-formed HTTP, malformed JSON: every field of a valid request, wrongly typed ---------

SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
PNG_B64 = png_b64()
REPR = re.compile(r"Traceback|\w(Error|Exception)\(")

any_text = st.text(
    st.characters(categories=["L", "N", "P", "Zs", "Cs"]), max_size=12
)  # lone surrogates too
wild_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["city"],
    "properties": {
        "city": {"type": "string", "enum": ["Paris", "Oslo"]},
        "days": {"type": "array", "items": {"type": "integer"}},
        "where": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"lat": {"type": "number"}},
        },
    },
}
INVOKE_TEMPLATES = [
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 300,
        "temperature": 0.5,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u1"},
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "tools": [{"name": "get_weather", "description": "Weather.", "input_schema": SCHEMA}],
        "tool_choice": {"type": "auto"},
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather in Paris?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
                    },
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "notes"},
                        "title": "notes",
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "Sunny"}],
                    },
                ],
            },
        ],
    },
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": "Plan a trip to Oslo."}],
    },
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 300,
        "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "The weather in Oslo as JSON."}]}
        ],
    },
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 300,
        "anthropic_beta": ["computer-use-2025-01-24"],
        "tools": [
            {
                "type": "computer_20250124",
                "name": "computer",
                "display_width_px": 1024,
                "display_height_px": 768,
            },
            {"type": "bash_20250124", "name": "bash"},
        ],
        "messages": [{"role": "user", "content": "Take a screenshot."}],
    },
]
CONVERSE_TEMPLATES = [
    {
        "system": [{"text": "Be brief."}, {"cachePoint": {"type": "default"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": "What is in these?"},
                    {"image": {"format": "png", "source": {"bytes": PNG_B64}}},
                    {
                        "document": {
                            "format": "txt",
                            "name": "notes",
                            "source": {"text": "some notes"},
                        }
                    },
                    {"cachePoint": {"type": "default", "ttl": "5m"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {
                        "toolUse": {
                            "toolUseId": "t1",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        }
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "toolResult": {
                            "toolUseId": "t1",
                            "status": "success",
                            "content": [
                                {"text": "Sunny"},
                                {"json": {"c": 21}},
                                {"image": {"format": "png", "source": {"bytes": PNG_B64}}},
                            ],
                        }
                    },
                    {"guardContent": {"text": {"text": "and tomorrow?"}}},
                ],
            },
        ],
        "inferenceConfig": {"maxTokens": 400, "temperature": 0.3, "stopSequences": ["END"]},
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "get_weather",
                        "description": "Weather.",
                        "inputSchema": {"json": SCHEMA},
                    }
                },
                {"cachePoint": {"type": "default"}},
            ],
            "toolChoice": {"auto": {}},
        },
        "outputConfig": {
            "textFormat": {"structure": {"jsonSchema": {"schema": json.dumps(SCHEMA)}}}
        },
        "additionalModelRequestFields": {"top_k": 5},
        "additionalModelResponseFieldPaths": ["/stop_sequence"],
    },
    {
        "messages": [
            {"role": "user", "content": [{"text": "Think first."}]},
            {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "Hmm.", "signature": "c2ln"}}},
                    {"reasoningContent": {"redactedContent": "c2Vj"}},
                    {"text": "Done."},
                ],
            },
            {"role": "user", "content": [{"text": "And?"}]},
        ],
        "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
        "inferenceConfig": {"maxTokens": 2000},
    },
]
ADMIN_TEMPLATES = {
    "/_emulator/script": {
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 12, "output_tokens": 7},
    },
    "/_emulator/faults": [
        {
            "type": "stream_exception",
            "after_events": 2,
            "exception": "internalServerException",
            "times": 1,
            "message": "boom",
            "rate": 0.5,
        }
    ],
    "/_emulator/config": {
        "pace": None,
        "batch_step": 1,
        "today": "2026-12-01",
        "s3_endpoint_url": None,
    },
    "/_emulator/models": {
        "id": "anthropic.claude-opus-6",
        "profiles": ["us", "global"],
        "max_output_tokens": 8000,
        "context_window": 200000,
        "launched": "2026-01-01",
        "aliases": ["opus-6"],
        "effort_levels": ["low", "high"],
        "cache_ttls": ["5m"],
        "computer_use": ["2025-11-24"],
        "long_context": [1000000, "context-1m-2025-08-07"],
        "input_price": 5,
        "structured_output": True,
    },
    "/_emulator/clock": {"advance": 30},
}


def _paths(value: object, prefix: tuple = ()):
    """Every place in a JSON value: the root, then each key's and item's, depth first."""
    yield prefix
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        yield from _paths(child, (*prefix, key))


def _replaced(value: object, path: tuple, new: object) -> object:
    if not path:
        return new
    head, *rest = path
    copy = dict(value) if isinstance(value, dict) else list(value)  # type: ignore[call-overload]
    copy[head] = _replaced(copy[head], tuple(rest), new)
    return copy


@st.composite
def mutated(draw, template: object) -> object:
    """`template` with one to three of its places (any depth) replaced by wild JSON values."""
    value = template
    for _ in range(draw(st.integers(1, 3))):
        value = _replaced(value, draw(st.sampled_from(list(_paths(value)))), draw(wild_values))
    return value


def _deep(depth: int, kind: str) -> str:
    return '{"a":' * depth + "1" + "}" * depth if kind == "object" else "[" * depth + "]" * depth


deep_json = st.builds(_deep, st.integers(200, 3000), st.sampled_from(["object", "array"]))
model_bodies = st.one_of(
    st.sampled_from(INVOKE_TEMPLATES).flatmap(mutated).map(json.dumps),
    st.sampled_from(CONVERSE_TEMPLATES).flatmap(mutated).map(json.dumps),
    wild_values.map(json.dumps),
    deep_json,
    deep_json.map(
        lambda deep: (
            '{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": ' + deep + "}"
        )
    ),
    deep_json.map(
        lambda deep: json.dumps(
            {
                "messages": [{"role": "user", "content": [{"text": "hi"}]}],
                "outputConfig": {"textFormat": {"structure": {"jsonSchema": {"schema": deep}}}},
            }
        )
    ),
)


def _answer(
    port: int, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=READ_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _restore(server: Emulator) -> None:
    server.reset()
    server.pace = None
    server.today = None
    server.clear_models()
    server.batch_step = 1
    server.s3_endpoint_url = None


def _assert_client_error_without_internals(status: int, data: bytes, captured) -> None:
    text = data.decode("utf-8", "replace")
    assert status < 500, text[:500]
    assert not REPR.search(text), text[:500]
    assert "Traceback" not in captured.readouterr().err  # no exception escaped the rules


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@FUZZ
@given(
    model=st.sampled_from([HAIKU, SONNET_45]),
    operation=st.sampled_from(
        ["invoke", "invoke-with-response-stream", "converse", "converse-stream", "count-tokens"]
    ),
    body=model_bodies,
)
def test_model_operations_refuse_malformed_json_with_a_4xx(server, capsys, model, operation, body):
    if operation == "count-tokens":
        body = json.dumps({"input": {"invokeModel": {"body": body}}})
    headers = {"Authorization": AUTH, "Content-Type": "application/json"}
    capsys.readouterr()
    try:
        status, data = _answer(
            server.port, "POST", f"/model/{model}/{operation}", body.encode(), headers
        )
    finally:
        _restore(server)
    _assert_client_error_without_internals(status, data, capsys)


@FUZZ
@given(
    route_and_body=st.one_of(
        st.sampled_from(sorted(ADMIN_TEMPLATES.items())).flatmap(
            lambda item: st.tuples(st.just(item[0]), mutated(item[1]).map(json.dumps))
        ),
        st.tuples(
            st.sampled_from(sorted(ADMIN_TEMPLATES)), wild_values.map(json.dumps) | deep_json
        ),
    ),
)
def test_admin_routes_refuse_malformed_json_with_a_4xx(server, capsys, route_and_body):
    route, body = route_and_body
    capsys.readouterr()
    try:
        status, data = _answer(
            server.port, "POST", route, body.encode(), {"Content-Type": "application/json"}
        )
        _assert_client_error_without_internals(status, data, capsys)
        if status == 200 and route in ("/_emulator/script", "/_emulator/models"):
            # what was accepted is used by the next request without a server error
            model = "us.anthropic.claude-opus-6" if route == "/_emulator/models" else HAIKU
            for operation in ("invoke", "invoke-with-response-stream", "converse"):
                request = (
                    {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
                    if operation == "converse"
                    else INVOKE_TEMPLATES[0]
                )
                if route == "/_emulator/script":
                    _answer(
                        server.port,
                        "POST",
                        route,
                        body.encode(),
                        {"Content-Type": "application/json"},
                    )
                status, data = _answer(
                    server.port,
                    "POST",
                    f"/model/{model}/{operation}",
                    json.dumps(request).encode(),
                    {"Authorization": AUTH},
                )
                _assert_client_error_without_internals(status, data, capsys)
    finally:
        _restore(server)


# -- the malformed inputs that once answered 500 with a Python repr -------------------------

MINIMAL = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 20,
    "messages": [{"role": "user", "content": "Hi"}],
}
CONVERSE_USER = {"role": "user", "content": [{"text": "Hi"}]}
MALFORMED = {
    "object nested 5,000 deep": ("invoke", b'{"a":' * 5000 + b"1" + b"}" * 5000),
    "array nested 5,000 deep": ("invoke", b"[" * 5000 + b"]" * 5000),
    "nested 5,000 deep, Converse": ("converse", b'{"a":' * 5000 + b"1" + b"}" * 5000),
    "a lone surrogate": (
        "invoke",
        json.dumps({**MINIMAL, "messages": [{"role": "user", "content": "\ud800"}]}).encode(),
    ),
    "a lone surrogate, streamed": (
        "invoke-with-response-stream",
        json.dumps({**MINIMAL, "messages": [{"role": "user", "content": "a \udfff b"}]}).encode(),
    ),
    "a lone surrogate, Converse": (
        "converse",
        json.dumps({"messages": [{"role": "user", "content": [{"text": "\ud800"}]}]}).encode(),
    ),
    "image.format as a list": (
        "converse",
        json.dumps(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"image": {"format": ["png"], "source": {"bytes": PNG_B64}}}],
                    }
                ]
            }
        ).encode(),
    ),
    "toolResult.content as a bool": (
        "converse",
        json.dumps(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"toolResult": {"toolUseId": "t1", "content": True}}],
                    }
                ],
                "toolConfig": {
                    "tools": [
                        {"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}
                    ]
                },
            }
        ).encode(),
    ),
    "tools[].type as a list": (
        "invoke",
        json.dumps({**MINIMAL, "tools": [{"type": ["custom"], "name": "f"}]}).encode(),
    ),
    "schema.properties not an object": (
        "invoke",
        json.dumps(
            {
                **MINIMAL,
                "output_config": {
                    "format": {
                        "type": "json_schema",
                        "schema": {
                            "type": "object",
                            "properties": 5,
                            "additionalProperties": False,
                        },
                    }
                },
            }
        ).encode(),
    ),
    "schema string nested 5,000 deep, Converse": (
        "converse",
        json.dumps(
            {
                "messages": [CONVERSE_USER],
                "outputConfig": {
                    "textFormat": {"structure": {"jsonSchema": {"schema": "[" * 5000 + "]" * 5000}}}
                },
            }
        ).encode(),
    ),
}


@pytest.mark.parametrize("operation, body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_model_requests_are_validation_errors(emulator, capsys, operation, body):
    status, data = _answer(
        emulator.port,
        "POST",
        f"/model/{HAIKU}/{operation}",
        body,
        {"Authorization": AUTH, "Content-Type": "application/json"},
    )
    assert status == 400, data[:300]
    assert not REPR.search(data.decode()), data[:300]
    assert "Traceback" not in capsys.readouterr().err


ADMIN_MALFORMED = {
    "models: profiles as a number": (
        "/_emulator/models",
        {"id": "anthropic.claude-opus-6", "profiles": 5},
    ),
    "models: profiles alone": ("/_emulator/models", {"profiles": 5}),
    "models: a date as a number": (
        "/_emulator/models",
        {"id": "anthropic.claude-opus-6", "launched": 20260101},
    ),
    "models: an unknown computer-use version": (
        "/_emulator/models",
        {"id": "anthropic.claude-opus-6", "computer_use": ["no-such-version"]},
    ),
    "models: max_output_tokens as text": (
        "/_emulator/models",
        {"id": "anthropic.claude-opus-6", "max_output_tokens": "many"},
    ),
    "faults: exception as a list": (
        "/_emulator/faults",
        {"type": "stream_exception", "exception": ["modelStreamErrorException"]},
    ),
    "script: a lone surrogate": ("/_emulator/script", {"content": "\ud800"}),
    "script: nested 5,000 deep": ("/_emulator/script", "[" * 5000 + "]" * 5000),
}


@pytest.mark.parametrize("route, payload", ADMIN_MALFORMED.values(), ids=ADMIN_MALFORMED.keys())
def test_malformed_admin_requests_are_validation_errors(emulator, capsys, route, payload):
    body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    status, data = _answer(emulator.port, "POST", route, body, {"Content-Type": "application/json"})
    assert status == 400, data[:300]
    assert not REPR.search(data.decode()), data[:300]
    assert "Traceback" not in capsys.readouterr().err
    assert emulator.requests() == [] and emulator.faults() == []


# -- the last line of defence: an exception nothing foresaw --------------------------------


def _broken_model(**fields):
    """A model added from Python with a field of the wrong type (nothing checks a Model)."""
    import dataclasses

    from claude_magic.models import catalog

    base = catalog.lookup("anthropic.claude-haiku-4-5-20251001-v1:0")
    return dataclasses.replace(base, id="anthropic.claude-haiku-9", on_demand=True, **fields)


@pytest.mark.parametrize(
    "fields, status, code, message",
    [
        ({"max_output_tokens": "many"}, 400, "ValidationException", "Malformed input request: "),
        (
            {"cache_min_tokens": "some"},
            500,
            "InternalServerException",
            "The emulator failed while answering",
        ),
    ],
)
def test_an_unforeseen_exception_answers_without_python_internals(
    capfd, fields, status, code, message
):
    with Emulator(models=[_broken_model(**fields)]) as emulator:
        connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=READ_TIMEOUT)
        connection.request(
            "POST",
            "/model/anthropic.claude-haiku-9/invoke",
            json.dumps(MINIMAL),
            {"Authorization": AUTH},
        )
        response = connection.getresponse()
        data = response.read().decode()
        connection.close()
    assert response.status == status
    assert response.getheader("x-amzn-ErrorType").startswith(code)
    assert json.loads(data)["message"].startswith(message) and not REPR.search(data)
    assert "TypeError" in capfd.readouterr().err  # the traceback is the emulator's to show
