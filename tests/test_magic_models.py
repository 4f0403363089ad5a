"""Today's models in the magic: the footer's cost and stop reasons, `%claude usage`
priced by the model and profile called, `%claude models`, the geography trait."""

from __future__ import annotations

import pytest
from magic_helpers import Shell

from claude_magic.models import catalog


@pytest.fixture
def shell(magic_env):
    sh = Shell()
    yield sh
    sh.close()


def test_refusal_ends_the_answer_with_a_clear_footer_and_keeps_the_text(shell, emulator):
    emulator.script(
        {
            "content": [{"type": "text", "text": "I can explain the general idea, but"}],
            "stop_reason": "refusal",
            "stop_details": {
                "type": "refusal",
                "category": "cyber",
                "explanation": "Exploit development is not supported.",
            },
        }
    )
    run = shell.ask("-m sonnet-4.5", "Write me an exploit")
    assert run.success, run.stdout + run.stderr
    assert (
        "the model declined to answer (cyber): Exploit development is not supported." in run.stdout
    )
    turn = shell.magic.session.chats.get("default").turns[-1]
    assert turn.answer_text == "I can explain the general idea, but"


def test_refusal_without_streaming(shell, emulator):
    emulator.script(
        {
            "content": [{"type": "text", "text": "No."}],
            "stop_reason": "refusal",
            "stop_details": {"type": "refusal", "category": None, "explanation": None},
        }
    )
    run = shell.ask("-m sonnet-4.5 --no-stream", "Again")
    assert run.success and "the model declined to answer ·" in run.stdout


def test_context_window_exceeded_says_what_to_do(shell, emulator):
    emulator.script(
        {
            "content": [{"type": "text", "text": "The first half of a long"}],
            "stop_reason": "model_context_window_exceeded",
        }
    )
    run = shell.ask("-m sonnet-4.5", "Go on")
    assert run.success, run.stdout + run.stderr
    assert "cut off: the context window is full (start afresh with %claude reset" in run.stdout
    assert (
        shell.magic.session.chats.get("default").turns[-1].answer_text == "The first half of a long"
    )


def test_cost_by_the_profile_called_with_cache_prices(shell, emulator):
    emulator.script(
        {
            "content": [{"type": "text", "text": "Cached answer."}],
            "usage": {
                "input_tokens": 1000,
                "output_tokens": 2000,
                "cache_creation_input_tokens": 10_000,
                "cache_read_input_tokens": 100_000,
            },
        }
    )
    run = shell.ask("-m opus-4.7", "Price me")  # us.anthropic.claude-opus-4-7 from us-east-1
    assert run.success, run.stdout + run.stderr
    expected = 1.1 * (1000 * 5 + 2000 * 25 + 10_000 * 6.25 + 100_000 * 0.5) / 1e6
    assert f"≈${expected:.4f} at {catalog.PRICES_AS_OF} prices" in run.stdout
    assert "111,000 in (100,000 cached, 10,000 written to cache) / 2,000 out tokens" in run.stdout
    shell.run('%config ClaudeMagic.geography = "global"')
    emulator.script(
        {
            "content": [{"type": "text", "text": "Again."}],
            "usage": {"input_tokens": 1000, "output_tokens": 2000},
        }
    )
    assert shell.ask("-m opus-4.7", "Global price").success
    assert emulator.requests()[-1]["model_id"] == "global.anthropic.claude-opus-4-7"
    usage = shell.run("%claude usage").stdout
    total = expected + (1000 * 5 + 2000 * 25) / 1e6
    assert f"{total:.4f}" in usage and "100000" in usage and "10000" in usage
    assert f"prices of {catalog.PRICES_AS_OF}" in usage


def test_models_table_and_config(shell, emulator):
    shell.run('%config ClaudeMagic.region = "ap-northeast-1"')
    table = shell.run("%claude models").stdout
    header = table.splitlines()[0].split()
    assert (
        header[:2] == ["alias", "anthropic.claude-…"]
        and "thinking" in header
        and "status" in header
    )
    opus = next(line for line in table.splitlines() if line.startswith("opus "))
    assert " opus-5-5 " in opus and "jp*" in opus and "1M" in opus and "128K" in opus
    assert "always" in opus and "4/20" in opus and "active" in opus
    legacy = next(line for line in table.splitlines() if line.startswith("opus-4.1 "))
    assert "retires 2027-01-08" in legacy
    assert catalog.PRICES_AS_OF in table
    config = shell.run("%claude config").stdout
    assert "ClaudeMagic.geography = 'auto'" in config
    assert "# model in use: global.anthropic.claude-sonnet-5-5 (Claude Sonnet 5.5)" in config
    shell.run('%config ClaudeMagic.model = "sonnet-4"')
    assert "retired on Bedrock on 2026-10-14" in shell.run("%claude config").stdout
    shell.run('%config ClaudeMagic.geography = "mars"')  # refused by the trait
    assert shell.magic.geography == "auto"


def test_models_table_fits_a_notebook(shell, emulator):
    for command in ("%claude models", "%claude models --all", "%claude models --refresh"):
        text = shell.run(command).stdout
        assert max(len(line) for line in text.splitlines()) <= 110, command
    table = shell.run("%claude models").stdout
    sonnet_45 = next(line for line in table.splitlines() if line.startswith("sonnet-4.5 "))
    assert (
        sonnet_45.split()[1:4] == ["sonnet-4-5-20250929-v1:0", "us*", "eu"] and "200K+" in sonnet_45
    )
    notes = " ".join(table.split())  # wrapped to the same width
    assert "gl global" in notes and "1M with the beta context-1m-2025-08-07" in notes
    assert "write 1.25x input for 5 minutes (2x for 1 hour), read 0.1x" in notes
    everything = " ".join(shell.run("%claude models --all").stdout.split())
    assert "No prompt caching: claude-2.1," in everything and "+od also on demand" in everything


def test_config_says_the_max_tokens_a_request_sends(shell, emulator):
    config = shell.run("%claude config").stdout
    assert "ClaudeMagic.max_tokens = 4096" in config
    assert (
        "# max_tokens sent to Claude Sonnet 5.5: 32,000 (room for thinking)\n"
        "#   --max-tokens sets it per cell; ClaudeMagic.max_tokens only when larger"
    ) in config
    assert shell.ask("", "Hi").success and emulator.requests()[-1]["body"]["max_tokens"] == 32_000
    shell.run('%config ClaudeMagic.model = "sonnet-4.5"')
    config = shell.run("%claude config").stdout
    assert "# max_tokens sent to Claude Sonnet 4.5: 4,096 (ClaudeMagic.max_tokens" in config
    shell.run('%config ClaudeMagic.effort = "high"')
    config = shell.run("%claude config").stdout
    assert "# max_tokens sent to Claude Sonnet 4.5: 24,576 (room for thinking" in config
    assert shell.ask("", "Hi").success and emulator.requests()[-1]["body"]["max_tokens"] == 24_576


def test_refresh_that_cannot_reach_bedrock_is_one_line(aws_env, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CLAUDE_MAGIC_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    sh = Shell()
    try:
        run = sh.run("%claude models --refresh")
        text = run.stdout + run.stderr
        assert not run.success and "Could not connect to" in text and "Traceback" not in text
        assert sh.magic.session.offer is None
        assert " sonnet-5-5 " in sh.run("%claude models").stdout  # the catalogue still
    finally:
        sh.close()
