"""A tool that raises: the model gets the exception and the user's own frames, the user
gets a short line with the full traceback collapsed behind it (shell and kernel)."""

from __future__ import annotations

import re

from kernel_helpers import python_notebook

from claude_magic.core.messages import text_block

FAILING_TOOL = '''
import json

def lookup(city: str) -> str:
    """Population of a city."""
    return _parse(city)

def _parse(city):
    return json.loads(city)["population"]
'''
HEADER = "Traceback (most recent call last)"


def _script_failing_call(emulator) -> None:
    emulator.script(
        {
            "content": [
                text_block("Checking."),
                {
                    "type": "tool_use",
                    "id": "toolu_bdrk_01",
                    "name": "lookup",
                    "input": {"city": "Lisbon"},
                },
            ],
            "stop_reason": "tool_use",
        }
    )
    emulator.script({"content": [text_block("The lookup failed.")], "stop_reason": "end_turn"})


def _sent_error(emulator) -> str:
    last = emulator.requests()[-1]["body"]["messages"][-1]
    (result,) = [b for b in last["content"] if b.get("type") == "tool_result"]
    assert result["is_error"] is True
    return result["content"]


def _check_model_sees_short_error(text: str) -> None:
    first, *frames = text.splitlines()
    assert first.startswith("json.decoder.JSONDecodeError: Expecting value: line 1 column 1")
    assert [re.match(r"  (\w+), line \d+: ", f).group(1) for f in frames] == ["lookup", "_parse"]
    assert frames[-1].endswith('return json.loads(city)["population"]')
    assert HEADER not in text
    assert "ipykernel" not in text and "ipython-input" not in text and "/" not in text.split(":")[0]
    assert "json/decoder.py" not in text and "claude_magic" not in text  # no library frames


def test_shell_failing_tool_is_short_for_model_and_user(shell, emulator):
    shell.run(FAILING_TOOL)
    _script_failing_call(emulator)
    run = shell.ask("--tools lookup", "How many people live in Lisbon?")
    assert run.success, run.stdout + run.stderr
    _check_model_sees_short_error(_sent_error(emulator))
    assert "[error] json.decoder.JSONDecodeError: Expecting value" in run.stdout
    assert HEADER not in run.stdout + run.stderr
    assert "The lookup failed." in run.stdout


def test_kernel_failing_tool_keeps_the_full_traceback_collapsed(magic_env, run_notebook, tmp_path):
    _script_failing_call(magic_env)
    nb = python_notebook(
        "%load_ext claude_magic",
        FAILING_TOOL,
        "%%claude --tools lookup\nHow many people live in Lisbon?",
    )
    run_notebook(nb, tmp_path)
    _check_model_sees_short_error(_sent_error(magic_env))
    outputs = nb.cells[2].outputs
    assert not [o for o in outputs if o.get("output_type") in ("error", "stream")], outputs
    final = [o["data"] for o in outputs if "text/markdown" in o.get("data", {})][-1]
    html = final["text/html"]
    collapsed = re.search(
        r'<details class="claude-magic-traceback"><summary[^>]*>full traceback</summary>'
        r"<pre>(.*?)</pre></details>",
        html,
        re.S,
    )
    assert collapsed, html
    assert HEADER in collapsed.group(1) and "in _parse" in collapsed.group(1)
    assert "json/decoder.py" in collapsed.group(1)  # the whole traceback, on demand
    assert html.count(HEADER) == 1  # nowhere else in the answer
    assert "<details open" not in html
    assert (
        '<details class="claude-magic-tool-error"><summary>✗ json.decoder.JSONDecodeError: Expecting value'
        in html
    )
    assert HEADER not in final["text/plain"] and HEADER not in final["text/markdown"]
    assert "The lookup failed." in final["text/plain"]
