"""The magic over the Messages API on Bedrock (`ClaudeMagic.api = "mantle"`), in a real
IPython shell against the emulator through the anthropic SDK's AnthropicBedrockMantle:
aliases resolve to bare ids, streaming and not, tools, thinking, caching, --json, one-line
errors, `%claude config`, betas only where the route takes them, and token counting on
mantle where bedrock-runtime refuses the model."""

from __future__ import annotations

import pytest
from helpers import SONNET
from kernel_helpers import python_notebook

from claude_magic.bedrock.client import BedrockClient
from claude_magic.bedrock.exchange import Exchange
from claude_magic.bedrock.mantle import base_url
from claude_magic.bedrock.settings import ClientSettings
from claude_magic.core.request import RequestSpec
from claude_magic.models import catalog

WEATHER = '''
def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: The city name.
    """
    return f"Sunny, 21 degrees in {city}"
'''
BARE_SONNET = SONNET.removeprefix("us.")


@pytest.fixture
def shell(shell):
    shell.run("%config ClaudeMagic.api = 'mantle'")
    return shell


def _header(entry, name):
    return next((v for k, v in entry["headers"].items() if k.lower() == name), "")


def _messages(emulator):
    return [r for r in emulator.requests() if r["operation"] == "CreateMessage"]


def test_an_alias_is_sent_as_the_bare_model_id_and_streams(shell, emulator):
    run = shell.ask("-m sonnet-4.5 -s 'Be brief.' --max-tokens 500", "Hello over mantle")
    assert run.success, run.stdout + run.stderr
    assert "Hello over mantle" in run.stdout
    (entry,) = emulator.requests()
    assert (entry["operation"], entry["model_id"]) == ("CreateMessage", BARE_SONNET)
    body = entry["body"]
    assert (
        body["stream"] is True and body["model"] == BARE_SONNET and "anthropic_version" not in body
    )
    assert _header(entry, "anthropic-version") == "2023-06-01"
    assert body["system"] == "Be brief." and body["max_tokens"] == 500
    shell.ask("-m sonnet-4.5 --no-stream", "And again")
    follow = emulator.requests()[-1]
    assert "stream" not in follow["body"]
    assert [m["role"] for m in follow["body"]["messages"]] == ["user", "assistant", "user"]


def test_profile_ids_lose_their_geography_prefix(shell, emulator):
    assert shell.ask(f"-m {SONNET}", "Hi").success
    assert emulator.requests()[-1]["model_id"] == BARE_SONNET


def test_tool_loop_thinking_and_caching(shell, emulator):
    shell.run(WEATHER)
    run = shell.ask(
        "-m sonnet-4.5 --think 2048 --tools get_weather", "Use get_weather for city: Lisbon"
    )
    assert run.success, run.stdout + run.stderr
    sent = _messages(emulator)
    assert len(sent) == 2  # the tool call, then the answer with its result
    first, second = (entry["body"] for entry in sent)
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert first["tools"][0]["name"] == "get_weather"
    assert "interleaved-thinking-2025-05-14" in _header(sent[0], "anthropic-beta")
    results = [b for b in second["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert results and "Sunny, 21 degrees in Lisbon" in str(results[0]["content"])
    assert any(
        b["type"] == "thinking" for b in second["messages"][-2]["content"]
    )  # sent back unmodified


def test_json_asks_through_a_tool_where_mantle_refuses_output_format(shell, emulator):
    shell.run(
        "schema = {'type': 'object', 'properties': {'n': {'type': 'integer'}}, 'required': ['n'], "
        "'additionalProperties': False}"
    )
    run = shell.ask("-m sonnet-4.5 --json schema -o data", "Give n")
    assert run.success, run.stdout + run.stderr
    body = emulator.requests()[-1]["body"]
    assert "format" not in body.get("output_config", {}) and body["tools"]
    assert isinstance(shell.ip.user_ns["data"]["n"], int)


def test_unloading_closes_the_routes_connections(shell, emulator):
    from claude_magic.bedrock import mantle

    assert shell.ask("-m sonnet-4.5", "Hi").success
    (route_client,) = mantle._CLIENTS.values()
    sdk = route_client.client()
    assert not sdk.is_closed()
    shell.run("%unload_ext claude_magic")
    assert sdk.is_closed() and mantle._CLIENTS == {}
    shell.run("%load_ext claude_magic")  # and the route works again after a reload
    shell.run("%config ClaudeMagic.api = 'mantle'")
    assert shell.ask("-m sonnet-4.5", "Again").success


def test_config_shows_route_endpoint_and_masked_auth(shell, emulator, monkeypatch):
    shown = shell.run("%claude config").stdout
    assert "# route: Messages API (bedrock-mantle)" in shown
    assert f"# endpoint in use: {emulator.url}/anthropic" in shown
    assert "SigV4 (bedrock-mantle)" in shown and "s3cr3t" not in shown
    assert f"# model in use: {catalog.resolve('sonnet').model.id} (" in shown
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-abcd1234")
    shown = shell.run("%claude config").stdout
    assert "API key (…1234) from AWS_BEARER_TOKEN_BEDROCK" in shown and "abcd1234" not in shown
    assert shell.ask("-m sonnet-4.5", "Hi with a key").success
    assert _header(emulator.requests()[-1], "authorization").startswith("Bearer ")


def test_errors_are_one_line_and_throttles_are_retried(shell, emulator):
    emulator.fault("throttle")
    shell.run("%config ClaudeMagic.max_attempts = 3")
    assert shell.ask("-m sonnet-4.5", "Retried").success
    assert [r["status"] for r in emulator.requests()] == [429, 200]
    emulator.fault("stream_exception", after_events=6)
    run = shell.ask("-m sonnet-4.5", "Broken stream")
    assert (
        not run.success and "The stream broke off" in str(run.error) and "\n" not in str(run.error)
    )
    emulator.fault("overloaded", times=5)
    run = shell.ask("-m sonnet-4.5", "Overloaded")
    assert (
        not run.success and "unavailable" in str(run.error) and "after 3 attempts" in str(run.error)
    )
    run = shell.ask("-m sonnet-4.5 -t 3", "Out of range")
    assert not run.success


def test_a_beta_the_route_does_not_take_is_not_sent_and_explained(shell, emulator):
    shell.run("%config ClaudeMagic.api = 'converse'")
    run = shell.ask("-m sonnet-4.5 --beta compact-2026-01-12", "Hi")
    assert run.success, run.stdout + run.stderr
    assert (
        "--beta compact-2026-01-12 is not sent: Converse doesn't take it (InvokeModel and Messages API "
        '(bedrock-mantle) do: %config ClaudeMagic.api = "invoke" or "mantle")'
    ) in run.stdout
    assert "compact-2026-01-12" not in str(emulator.requests()[-1]["body"])
    shell.run("%config ClaudeMagic.api = 'mantle'")
    run = shell.ask("-m sonnet-4.5 --beta made-up-2099-01-01", "Hi")
    assert not run.success
    assert str(run.error).startswith(
        "Messages API (bedrock-mantle) refused a beta flag (Bedrock: invalid beta "
        "flag); this request sent made-up-2099-01-01"
    )


def test_token_counting_uses_mantle_where_bedrock_runtime_refuses(emulator, aws_env):
    settings = ClientSettings(endpoint_url=emulator.url, max_attempts=1)
    client = BedrockClient(settings)
    assert base_url(settings) == emulator.url + "/anthropic"
    resolved = catalog.resolve("opus-5", "us-east-1")
    assert not resolved.model.count_tokens and resolved.invoke_id.startswith("us.")
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Count me"}],
    }
    exchange = Exchange(client, RequestSpec(resolved=resolved, max_tokens=100), view=None)
    counted = exchange._count(body)
    assert counted and counted > 0
    entry = emulator.requests()[-1]
    assert (entry["operation"], entry["model_id"]) == (
        "CountMessageTokens",
        "anthropic.claude-opus-5",
    )
    on_runtime = Exchange(
        client,
        RequestSpec(resolved=catalog.resolve("sonnet-4.6", "us-east-1"), max_tokens=100),
        view=None,
    )
    on_runtime._count(body)
    assert emulator.requests()[-1]["operation"] == "CountTokens"
    client.close()


def test_mantle_cells_in_a_real_kernel(magic_env, run_notebook, tmp_path):
    magic_env.script("Answer **over mantle**.")
    nb = python_notebook(
        "%load_ext claude_magic\n%config ClaudeMagic.api = 'mantle'",
        "%%claude -m sonnet-4.5\nHello from a kernel",
        "%%claude -m sonnet-4.5 --no-stream\nAnd again",
    )
    nb = run_notebook(nb, tmp_path)
    html = [o["data"]["text/html"] for o in nb.cells[1].outputs if "text/html" in o.get("data", {})]
    assert html and "<strong>over mantle</strong>" in html[-1]
    sent = _messages(magic_env)
    assert [e["model_id"] for e in sent] == [BARE_SONNET] * 2
    assert sent[0]["body"]["stream"] is True and "stream" not in sent[1]["body"]
    assert len(sent[1]["body"]["messages"]) == 3


def test_routes_from_the_catalogue():
    from claude_magic.models.routes import ROUTES, route, sendable

    assert set(ROUTES) == {"invoke", "converse", "mantle"}
    mantle = route("mantle")
    resolved = catalog.resolve("opus-4.7", "eu-west-1")
    assert resolved.invoke_id == "eu.anthropic.claude-opus-4-7"
    assert mantle.resolved(resolved).invoke_id == "anthropic.claude-opus-4-7"
    assert route("invoke").resolved(resolved) is resolved
    arn = catalog.Resolved(
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/x", None
    )
    assert mantle.resolved(arn) is arn
    assert mantle.counts_tokens(resolved.model) and not route("invoke").counts_tokens(
        resolved.model
    )
    assert not mantle.model_view(catalog.resolve("sonnet-4.5").model).structured_output
    sent, refused = sendable(
        "converse",
        ["interleaved-thinking-2025-05-14", "compact-2026-01-12", "x-1"],
        asked=("compact-2026-01-12",),
    )
    assert sent == ("interleaved-thinking-2025-05-14", "x-1") and len(refused) == 1
    assert sendable("mantle", ["compact-2026-01-12", "token-counting-2024-11-01"]) == (
        ("compact-2026-01-12", "token-counting-2024-11-01"),
        [],
    )
