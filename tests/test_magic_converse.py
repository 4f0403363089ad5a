"""The magic's Converse backend (`ClaudeMagic.api = "converse"`) and guardrails, in a real
IPython shell against the emulator through real boto3."""

from __future__ import annotations

import base64

import pytest
from helpers import HAIKU, png

WEATHER = '''
def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: The city name.
    """
    return f"Sunny, 21 degrees in {city}"
'''


@pytest.fixture
def shell(shell):
    shell.run(f"%config ClaudeMagic.model = '{HAIKU}'")
    shell.run("%config ClaudeMagic.api = 'converse'")
    return shell


def test_streamed_cell_uses_converse_stream(shell, emulator, tmp_path):
    (tmp_path / "plot.png").write_bytes(png())
    (tmp_path / "notes.txt").write_text("Some notes.")
    run = shell.ask(
        '-s "Be brief." --max-tokens 500 -t 0.5 --stop END --image plot.png --doc notes.txt',
        "Hello over Converse",
    )
    assert run.success, run.stdout + run.stderr
    assert "Hello over Converse" in run.stdout
    (entry,) = emulator.requests()
    assert entry["operation"] == "ConverseStream" and entry["model_id"] == HAIKU
    body = entry["body"]
    assert body["system"] == [{"text": "Be brief."}]
    assert body["inferenceConfig"] == {
        "maxTokens": 500,
        "temperature": 0.5,
        "stopSequences": ["END"],
    }
    assert body["additionalModelResponseFieldPaths"] == ["/stop_sequence"]
    content = body["messages"][0]["content"]
    assert content[0]["image"]["format"] == "png"
    assert base64.b64decode(content[0]["image"]["source"]["bytes"]) == png()
    assert (
        content[1]["document"]["format"] == "txt" and content[1]["document"]["name"] == "notes-txt"
    )
    assert content[-1] == {"text": "Hello over Converse"}
    assert "anthropic_version" not in body

    shell.ask("--no-stream", "And again")
    follow = emulator.requests()[-1]
    assert follow["operation"] == "Converse"
    roles = [m["role"] for m in follow["body"]["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert "Hello over Converse" in follow["body"]["messages"][1]["content"][0]["text"]


def test_tool_loop_over_converse(shell, emulator):
    shell.run(WEATHER)
    run = shell.ask("--tools get_weather", "Use get_weather for city: Lisbon")
    assert run.success, run.stdout + run.stderr
    first, second = emulator.requests()
    assert first["operation"] == second["operation"] == "ConverseStream"
    spec = first["body"]["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["name"] == "get_weather" and spec["inputSchema"]["json"]["required"] == ["city"]
    uses = [b["toolUse"] for b in second["body"]["messages"][1]["content"] if "toolUse" in b]
    (result,) = [b["toolResult"] for b in second["body"]["messages"][2]["content"]]
    assert result["toolUseId"] == uses[0]["toolUseId"]
    assert "Sunny, 21 degrees in Lisbon" in result["content"][0]["text"]
    assert "Sunny" in run.stdout or "get_weather" in run.stdout


def test_plain_follow_up_after_a_tool_turn_over_converse(shell, emulator):
    shell.run(WEATHER)
    assert shell.ask("--tools get_weather", "Use get_weather for city: Lisbon").success
    shell.run("del get_weather")
    for options, prompt in (("", "Thanks"), ("--no-stream", "And tomorrow?")):
        run = shell.ask(options, prompt)
        assert run.success, run.stdout + run.stderr
        body = emulator.requests()[-1]["body"]
        blocks = [b for m in body["messages"] for b in m["content"]]
        assert "toolConfig" not in body and not any(
            "toolUse" in b or "toolResult" in b for b in blocks
        )
        assert "get_weather" in str(body["messages"][1]) and "Sunny" in str(body["messages"][2])
    shell.run(WEATHER)
    assert shell.ask("--tools get_weather", "Thanks again").success
    assert any(
        "toolUse" in b for m in emulator.requests()[-1]["body"]["messages"] for b in m["content"]
    )


def test_tool_choice_reaches_tool_config(shell, emulator):
    shell.run(WEATHER)
    shell.ask("--tools get_weather --tool-choice get_weather --max-steps 1", "Weather please")
    assert emulator.requests()[0]["body"]["toolConfig"]["toolChoice"] == {
        "tool": {"name": "get_weather"}
    }


def test_thinking_reply_goes_back_as_reasoning_content(shell, emulator):
    emulator.script(
        {
            "content": [
                {"type": "thinking", "thinking": "Pondering.", "signature": "sig-1"},
                {"type": "text", "text": "The answer is 42."},
            ]
        }
    )
    run = shell.ask("", "Think about it")
    assert run.success, run.stdout + run.stderr
    assert "The answer is 42." in run.stdout
    shell.ask("", "Why?")
    assistant = emulator.requests()[-1]["body"]["messages"][1]["content"]
    assert assistant[0] == {
        "reasoningContent": {"reasoningText": {"text": "Pondering.", "signature": "sig-1"}}
    }
    assert assistant[1] == {"text": "The answer is 42."}


def test_usage_and_cache_tokens_in_the_footer(shell, emulator):
    emulator.script(
        {
            "content": "cached answer",
            "usage": {"input_tokens": 20, "output_tokens": 7, "cache_read_input_tokens": 3000},
        }
    )
    run = shell.ask("", "Cached?")
    assert "3,020 in (3,000 cached) / 7 out tokens" in run.stdout
    assert "$" in run.stdout  # the cost estimate


@pytest.mark.parametrize(
    "options, words",
    [
        ("--prefill Sure", "Converse has no prefill"),
        ("--tools get_weather --tool-choice none", "Converse has no tool_choice none"),
    ],
)
def test_what_converse_lacks_is_one_line(shell, emulator, options, words):
    shell.run(WEATHER)
    run = shell.ask(options, "Go")
    assert not run.success
    message = str(run.error)
    assert words in message and "ClaudeMagic.api = 'invoke'" in message
    assert "\n" not in message
    assert emulator.requests() == []


def test_errors_are_the_same_one_line(shell, emulator):
    emulator.fault("throttle")
    run = shell.ask("", "Hi")
    assert not run.success
    assert "Traceback" not in run.stdout + run.stderr
    assert emulator.requests()[-1]["operation"] == "ConverseStream"
    emulator.fault("stream_exception", after_events=4)
    run = shell.ask("", "Hello again")
    assert not run.success and "partial answer is kept" in str(run.error)
    history = shell.magic.session.chats.get("default").messages()
    assert history[-1]["role"] == "assistant"


@pytest.mark.parametrize("api", ["converse", "invoke"])
def test_guardrail_intervention_is_shown(shell, emulator, api):
    shell.run(f"%config ClaudeMagic.api = '{api}'")
    shell.run("%config ClaudeMagic.guardrail_id = 'gr1abc'")
    shell.run("%config ClaudeMagic.guardrail_version = '2'")
    emulator.fault("guardrail", message="Blocked by the safety policy.")
    run = shell.ask("", "Something risky")
    assert run.success, run.stdout + run.stderr
    assert "Blocked by the safety policy." in run.stdout
    assert "guardrail intervened" in run.stdout and "guardrail_intervened" in run.stdout
    entry = emulator.requests()[-1]
    if api == "converse":
        assert entry["body"]["guardrailConfig"] == {
            "guardrailIdentifier": "gr1abc",
            "guardrailVersion": "2",
        }
    else:
        assert entry["operation"] == "InvokeModelWithResponseStream"
        assert entry["headers"]["X-Amzn-Bedrock-GuardrailIdentifier"] == "gr1abc"
        assert entry["headers"]["X-Amzn-Bedrock-GuardrailVersion"] == "2"


def test_guardrail_needs_both_traits(shell, emulator):
    shell.run("%config ClaudeMagic.guardrail_id = 'gr1abc'")
    run = shell.ask("", "Hi")
    assert not run.success and "guardrail_version" in str(run.error)
    assert emulator.requests() == []
