"""Prompt caching: breakpoints placed (and skipped below the minimum), the emulator's
cache with usage and expiry on its movable clock, and the cost in `%claude usage`."""

from __future__ import annotations

import json
import urllib.request

import pytest
from helpers import SONNET
from magic_helpers import last_body

from claude_magic.models import catalog

LONG = "Facts about the project. " * 500  # about 2,000 tokens: above Sonnet 4.5's 1,024


@pytest.fixture
def shell(shell):
    shell.ip.user_ns["LONG"] = LONG
    return shell


def _ok(run):
    assert run.success, run.stdout + run.stderr
    return run


def _markers(body):
    found = []
    for i, tool in enumerate(body.get("tools") or []):
        if "cache_control" in tool:
            found.append(("tools", i, tool["cache_control"]))
    system = body.get("system")
    if isinstance(system, list):
        found += [
            ("system", i, b["cache_control"]) for i, b in enumerate(system) if "cache_control" in b
        ]
    for m, message in enumerate(body["messages"]):
        content = message["content"]
        if isinstance(content, list):
            found += [("messages", m, b["cache_control"]) for b in content if "cache_control" in b]
    return found


def _usage(emulator):
    return [r for r in emulator.requests()]


def test_breakpoints_on_system_and_newest_turn_then_read(shell, emulator):
    shell.run("%config ClaudeMagic.system = LONG")
    first = _ok(shell.ask("-m sonnet-4.5", "First question?"))
    body = last_body(emulator)
    assert _markers(body) == [
        ("system", 0, {"type": "ephemeral"}),
        ("messages", 0, {"type": "ephemeral"}),
    ]
    assert body["system"][0]["text"] == LONG
    assert "written to cache" in first.stdout and "cached" not in first.stdout
    second = _ok(shell.ask("-m sonnet-4.5", "Second question?"))
    body = last_body(emulator)
    assert [(w, i) for w, i, _ in _markers(body)] == [
        ("system", 0),
        ("messages", 0),
        ("messages", 2),
    ]
    assert "cached" in second.stdout
    turns = shell.magic.session.chats.get().turns
    assert turns[0].usage.cache_creation_input_tokens > 0
    assert turns[1].usage.cache_read_input_tokens >= turns[0].usage.cache_creation_input_tokens
    # the conversation's own blocks never carry the markers
    assert all("cache_control" not in b for t in turns for b in t.user)


def test_no_breakpoints_below_the_minimum(shell, emulator):
    _ok(shell.ask("-m sonnet-4.5 -s 'Be brief.'", "Hi"))
    body = last_body(emulator)
    assert _markers(body) == [] and body["system"] == "Be brief."
    shell.run("%config ClaudeMagic.system = LONG")
    _ok(shell.ask("-m haiku-4.5", "Hi"))  # Haiku 4.5 caches from 4,096 tokens
    assert _markers(last_body(emulator)) == []


def test_no_cache_option_and_trait(shell, emulator):
    shell.run("%config ClaudeMagic.system = LONG")
    _ok(shell.ask("-m sonnet-4.5 --no-cache", "Hi"))
    assert _markers(last_body(emulator)) == [] and isinstance(last_body(emulator)["system"], str)
    shell.run("%config ClaudeMagic.cache = False")
    _ok(shell.ask("-m sonnet-4.5", "Hi"))
    assert _markers(last_body(emulator)) == []


def test_one_hour_ttl(shell, emulator):
    shell.run("%config ClaudeMagic.system = LONG")
    shell.run("%config ClaudeMagic.cache_ttl = '1h'")
    _ok(shell.ask("-m sonnet-4.5", "Hi"))
    assert {str(c) for _, _, c in _markers(last_body(emulator))} == {
        str({"type": "ephemeral", "ttl": "1h"})
    }
    emulator.advance_clock(600)  # past 5 minutes, within the hour
    _ok(shell.ask("-m sonnet-4.5", "Again"))
    assert shell.magic.session.chats.get().turns[-1].usage.cache_read_input_tokens > 0


def test_usage_and_cost_with_cache(shell, emulator):
    shell.run("%config ClaudeMagic.system = LONG")
    for question in ("One?", "Two?", "Three?"):
        _ok(shell.ask("-m sonnet-4.5", question))
    run = _ok(shell.run("%claude usage"))
    assert "cache written" in run.stdout and "uncached $" in run.stdout
    from claude_magic.core.costs import summarise

    turns = shell.magic.session.chats.get().turns
    summary = summarise(turns)
    model = catalog.resolve("sonnet-4.5").model
    u = summary.usage
    expected = model.cost(
        u.input_tokens,
        u.output_tokens,
        cache_write_tokens=u.cache_creation_input_tokens,
        cache_read_tokens=u.cache_read_input_tokens,
        geography="us",
    )
    assert summary.cost == pytest.approx(expected)  # the us. profile the alias picked
    assert summary.cost < summary.uncached_cost
    assert f"{summary.cost:.4f}" in run.stdout and f"{summary.uncached_cost:.4f}" in run.stdout


# -- the emulator's cache -------------------------------------------------------------------

PROFILE = SONNET


def _body(system_marker=None, user="Hi", **extra):
    system = [
        {
            "type": "text",
            "text": LONG,
            **({"cache_control": system_marker} if system_marker else {}),
        }
    ]
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "system": system,
        "messages": [{"role": "user", "content": user}],
        **extra,
    }


def _invoke(client, body):
    return json.loads(client.invoke_model(modelId=PROFILE, body=json.dumps(body))["body"].read())[
        "usage"
    ]


def test_emulator_cache_write_read_and_expiry(bedrock_client, emulator):
    marker = {"type": "ephemeral"}
    written = _invoke(bedrock_client, _body(marker))
    assert written["cache_creation_input_tokens"] > 1024 and written["cache_read_input_tokens"] == 0
    read = _invoke(bedrock_client, _body(marker, user="Another question"))
    assert read["cache_read_input_tokens"] == written["cache_creation_input_tokens"]
    assert read["cache_creation_input_tokens"] == 0 and read["input_tokens"] < 20
    # the clock moved past the TTL, by the admin route
    request = urllib.request.Request(
        emulator.url + "/_emulator/clock",
        method="POST",
        data=json.dumps({"advance": 301}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert json.loads(response.read())["offset"] == 301
    expired = _invoke(bedrock_client, _body(marker))
    assert expired["cache_read_input_tokens"] == 0 and expired["cache_creation_input_tokens"] > 0
    # no marker, no caching
    plain = _invoke(bedrock_client, _body())
    assert plain["cache_read_input_tokens"] == 0 and plain["cache_creation_input_tokens"] == 0


def test_emulator_stream_metrics_count_the_cache(bedrock_client, emulator):
    body = json.dumps(_body({"type": "ephemeral"}))
    bedrock_client.invoke_model(modelId=PROFILE, body=body)
    response = bedrock_client.invoke_model_with_response_stream(modelId=PROFILE, body=body)
    events = [json.loads(item["chunk"]["bytes"]) for item in response["body"]]
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["cacheReadInputTokenCount"] > 1024 and metrics["cacheWriteInputTokenCount"] == 0
    assert (
        events[0]["message"]["usage"]["cache_read_input_tokens"]
        == metrics["cacheReadInputTokenCount"]
    )


def test_emulator_below_minimum_caches_nothing(bedrock_client):
    body = _body(user="Hi")
    body["system"] = [{"type": "text", "text": "Short.", "cache_control": {"type": "ephemeral"}}]
    usage = _invoke(bedrock_client, body)
    assert usage["cache_creation_input_tokens"] == 0


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": f"t{i}", "cache_control": {"type": "ephemeral"}}
                        for i in range(5)
                    ],
                }
            ],
            "A maximum of 4 blocks with cache_control may be provided. Found 5.",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "text",
                            "text": "a",
                            "cache_control": {"type": "ephemeral", "ttl": "5m"},
                        },
                        {
                            "type": "text",
                            "text": "b",
                            "cache_control": {"type": "ephemeral", "ttl": "1h"},
                        },
                    ],
                }
            ],
            "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block",
        ),
    ],
)
def test_emulator_breakpoint_rules(bedrock_client, messages, error):
    from botocore.exceptions import ClientError

    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": messages}
    with pytest.raises(ClientError) as info:
        bedrock_client.invoke_model(modelId=PROFILE, body=json.dumps(body))
    assert error in info.value.response["Error"]["Message"]
