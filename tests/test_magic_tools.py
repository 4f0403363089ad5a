"""Tools through `%%claude`: options, config, decorator, the loop, approval, computer use."""

from __future__ import annotations

from magic_helpers import last_body

WEATHER = '''
def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather for a city.

    Args:
        city: The city name.
        unit: celsius or fahrenheit.
    """
    return f"Sunny, 21 degrees {unit} in {city}"
'''


def _tool_results(body):
    return [
        b
        for m in body["messages"]
        if m["role"] == "user"
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
    ]


def _tool_uses(body):
    return [
        b
        for m in body["messages"]
        if m["role"] == "assistant"
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_use"
    ]


def test_tools_option_runs_the_loop(shell, emulator):
    shell.run(WEATHER)
    run = shell.ask("--tools get_weather", "What's the weather? Use get_weather for Lisbon.")
    assert run.success, run.stdout + run.stderr
    requests = emulator.requests()
    assert len(requests) == 2
    first = requests[0]["body"]
    assert first["tools"][0]["name"] == "get_weather"
    assert first["tools"][0]["input_schema"]["required"] == ["city"]
    final = requests[-1]["body"]
    uses, results = _tool_uses(final), _tool_results(final)
    assert [r["tool_use_id"] for r in results] == [u["id"] for u in uses]
    assert "Sunny, 21 degrees" in str(results[0]["content"])
    # the next cell sends the whole exchange, every tool_use paired
    shell.ask("--tools get_weather", "Thanks")
    body = last_body(emulator)
    assert [m["role"] for m in body["messages"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]


def test_plain_follow_up_after_a_tool_turn(shell, emulator):
    shell.run(WEATHER)
    assert shell.ask(
        "--tools get_weather", "What's the weather? Use get_weather for Lisbon."
    ).success
    for prompt in ("Thanks", "And tomorrow?"):
        run = shell.ask("", prompt)
        assert run.success, run.stdout + run.stderr
        body = last_body(emulator)
        assert "tools" not in body and _tool_uses(body) == [] and _tool_results(body) == []
        assert "get_weather" in str(body["messages"][1]) and "Sunny" in str(body["messages"][2])
    shell.run("del get_weather")
    run = shell.ask("", "Once more")
    assert run.success, run.stdout + run.stderr
    run = shell.run(
        "import claude_magic\nclaude_magic.ask('And from Python?', chat='default').text"
    )
    assert run.success and run.result, run.stdout + run.stderr
    assert _tool_uses(last_body(emulator)) == [] and len(last_body(emulator)["messages"]) == 11
    assert (
        shell.magic.session.chats.get().turns[0].replies[0].tool_uses
    )  # the chat keeps the blocks
    shell.run(WEATHER)
    emulator.clear_requests()
    assert shell.ask("--tools get_weather", "Thanks again").success
    first = emulator.requests()[0]["body"]
    assert [u["name"] for u in _tool_uses(first)] == ["get_weather"] and len(
        _tool_results(first)
    ) == 1


def test_decorated_and_configured_tools(shell, emulator):
    shell.run(
        "import claude_magic\n@claude_magic.tool\ndef add(a: int, b: int) -> int:\n"
        "    'Add two numbers.'\n    return a + b\n"
    )
    shell.run(WEATHER)
    shell.run("%config ClaudeMagic.tools = ['get_weather']")
    run = shell.ask("", "Please add 2 and 3 with add")
    assert run.success, run.stderr
    names = sorted(t["name"] for t in emulator.requests()[0]["body"]["tools"])
    assert names == ["add", "get_weather"]
    listing = shell.run("%claude tools").stdout
    assert "add" in listing and "get_weather" in listing and "city" in listing


def test_tool_choice_applies_to_the_first_request_only(shell, emulator):
    shell.run(WEATHER)
    run = shell.ask("--tools get_weather --tool-choice get_weather", "Anything")
    assert run.success, run.stderr
    requests = emulator.requests()
    assert requests[0]["body"]["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert "tool_choice" not in requests[-1]["body"]
    bad = shell.ask("--tools get_weather --tool-choice nope", "x")
    assert not bad.success and "no tool of that name" in bad.stdout + bad.stderr


def test_max_steps_is_said_plainly(shell, emulator):
    shell.run(WEATHER)
    for n in range(4):
        emulator.script(
            {
                "content": [
                    {
                        "type": "tool_use",
                        "id": f"toolu_loop{n}",
                        "name": "get_weather",
                        "input": {"city": "Rome"},
                    }
                ],
                "stop_reason": "tool_use",
            }
        )
    run = shell.ask("--tools get_weather --max-steps 2", "Loop forever")
    assert run.success, run.stderr
    assert "Stopped after 2 tool steps" in run.stdout
    emulator.clear_scripts()
    assert shell.ask("--tools get_weather", "and after").success


def test_confirm_tool_is_refused_without_stdin(shell, emulator):
    shell.run(
        "import claude_magic, pathlib\n@claude_magic.tool(confirm=True)\n"
        "def delete_file(path: str) -> str:\n    'Delete a file.'\n"
        "    pathlib.Path(path).write_text('deleted')\n    return 'done'\n"
    )
    emulator.script(
        {
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_del",
                    "name": "delete_file",
                    "input": {"path": "victim.txt"},
                }
            ],
            "stop_reason": "tool_use",
        }
    )
    run = shell.ask("", "Delete victim.txt")
    assert run.success, run.stderr
    result = _tool_results(last_body(emulator))[0]
    assert result["is_error"] is True
    assert "approval" in str(result["content"])
    import pathlib

    assert not pathlib.Path("victim.txt").exists()
    shell.run("%config ClaudeMagic.auto_approve_tools = True")
    emulator.script(
        {
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_del2",
                    "name": "delete_file",
                    "input": {"path": "victim.txt"},
                }
            ],
            "stop_reason": "tool_use",
        }
    )
    assert shell.ask("", "Delete victim.txt now").success
    assert pathlib.Path("victim.txt").read_text() == "deleted"


def test_computer_use_tools_and_beta(shell, emulator):
    shell.run("%config ClaudeMagic.auto_approve_tools = True")
    emulator.script(
        {
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_bash",
                    "name": "bash",
                    "input": {"command": "echo from-bash > made.txt && cat made.txt"},
                }
            ],
            "stop_reason": "tool_use",
        }
    )
    run = shell.ask("--computer-use -m opus-4.5", "Make a file")
    assert run.success, run.stdout + run.stderr
    first = emulator.requests()[0]["body"]
    assert first["anthropic_beta"] == ["computer-use-2025-11-24"]
    assert {(t["type"], t["name"]) for t in first["tools"]} == {
        ("computer_20251124", "computer"),
        ("bash_20250124", "bash"),
        ("text_editor_20250728", "str_replace_based_edit_tool"),
    }
    assert "from-bash" in str(_tool_results(last_body(emulator))[0]["content"])
    emulator.reset()
    older = shell.ask("--computer-use -m haiku-4.5", "Try")  # the newest version Haiku 4.5 has
    assert older.success, older.stdout + older.stderr
    body = emulator.requests()[0]["body"]
    assert body["anthropic_beta"] == ["computer-use-2025-01-24"]
    assert {t["type"] for t in body["tools"]} == {
        "computer_20250124",
        "bash_20250124",
        "text_editor_20250429",
    }
    retired = shell.ask("--computer-use -m sonnet-3.5-v2", "Try")
    assert (
        not retired.success
        and "retired on Bedrock on 2026-07-30" in retired.stdout + retired.stderr
    )


def test_a_missing_display_is_said_once_per_kernel(shell, emulator, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    runs = [shell.ask("--computer-use", "Use bash to run `echo hi`.") for _ in range(3)]
    printed = "".join(run.stdout + run.stderr for run in runs)
    assert printed.count("the screen tool will report it") == 1, printed
    assert "claude-magic: No X display" in runs[0].stdout


def test_prefill_with_tools_is_refused(shell, emulator):
    shell.run(WEATHER)
    run = shell.ask("--tools get_weather --prefill Sure", "x")
    assert not run.success and "--prefill can't be combined with tools" in run.stdout + run.stderr
    assert emulator.requests() == []


def test_images_from_a_long_tool_loop_stay_within_limits(shell, emulator):
    shell.run(
        "from PIL import Image\ndef snap(n: int) -> object:\n    'A picture.'\n"
        "    return Image.new('RGB', (24, 24), (n * 10 % 255, 0, 0))\n"
    )
    for n in range(22):
        emulator.script(
            {
                "content": [
                    {"type": "tool_use", "id": f"toolu_snap{n}", "name": "snap", "input": {"n": n}}
                ],
                "stop_reason": "tool_use",
            }
        )
    run = shell.ask("--tools snap --max-steps 30", "Take 22 pictures")
    assert run.success, run.stdout + run.stderr
    requests = emulator.requests()
    assert len(requests) == 23 and all(r["status"] == 200 for r in requests)
    last = requests[-1]["body"]
    images = [
        b
        for m in last["messages"]
        for blk in m["content"]
        if isinstance(blk, dict)
        for b in ([blk] + (blk.get("content") if isinstance(blk.get("content"), list) else []))
        if isinstance(b, dict) and b.get("type") == "image"
    ]
    assert len(images) == 20
    assert "omitted" in str(last["messages"])
