"""Agent cells (`%%claude --agent`) in a real IPython shell against the emulator: with no
front end, steps run inline on the kernel's main thread and go into its history; approval
on the stdin prompt, or nothing runs; plan and auto; errors, timeouts, interrupts, the
step limit; the conversation keeps the whole loop."""

from __future__ import annotations

import io
import sys

import pytest
from magic_helpers import last_body


class Terminal(io.StringIO):
    """A terminal's stdin: what the user types, one answer per line."""

    def isatty(self) -> bool:
        return True


def _results(body):
    return [
        b
        for m in body["messages"]
        if m["role"] == "user"
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
    ]


def _text(result) -> str:
    content = result["content"]
    return (
        content
        if isinstance(content, str)
        else "\n".join(b.get("text", "") for b in content if b.get("type") == "text")
    )


def _steps(emulator, *codes: str, final: str = "All done.") -> None:
    emulator.script_steps(
        [*({"tool": "run_code", "input": {"code": code}} for code in codes), final]
    )


def test_auto_runs_steps_inline_into_the_history(shell, emulator):
    _steps(emulator, "total = 21 * 2\nprint('total is', total)", "total + 1")
    run = shell.ask("--agent auto", "Compute something.")
    assert run.success, run.stdout + run.stderr
    ns = shell.ip.user_ns
    assert ns["total"] == 42
    history = "\n".join(ns["In"])
    assert "total = 21 * 2" in history and "total + 1" in history  # store_history=True
    body = last_body(emulator)
    texts = [_text(r) for r in _results(body)]
    assert "total is 42" in texts[0] and "43" in texts[1]
    assert not any(r.get("is_error") for r in _results(body))
    first = emulator.requests()[0]["body"]
    names = [t["name"] for t in first["tools"]]
    assert names[:0] == [] and {
        "run_code",
        "read_cells",
        "list_variables",
        "inspect_variable",
    } <= set(names)
    assert "Jupyter notebook" in str(first["system"])
    assert "auto: steps run without asking" in run.stdout
    assert "2 steps run" in run.stdout
    # the conversation keeps the loop; the next cell sends it whole, every tool_use answered
    assert shell.ask("", "Thanks").success
    roles = [m["role"] for m in last_body(emulator)["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user", "assistant", "user"]


def test_ask_without_anyone_to_answer_runs_nothing(shell, emulator):
    _steps(emulator, "ran = True")
    run = shell.ask("--agent", "Do it.")
    assert run.success, run.stdout + run.stderr
    assert "ran" not in shell.ip.user_ns
    result = _results(last_body(emulator))[0]
    assert result["is_error"] and "approval" in _text(result)
    assert "0 steps run" in run.stdout


def test_ask_on_the_prompt_approve_reject_and_all(shell, emulator, monkeypatch):
    monkeypatch.setattr(sys, "stdin", Terminal("y\nn not that table\n"))
    _steps(emulator, "a = 1", "b = 2")
    assert shell.ask("--agent ask", "Two steps.").success
    ns = shell.ip.user_ns
    assert ns["a"] == 1 and "b" not in ns
    rejected = _results(last_body(emulator))[1]
    assert rejected["is_error"] and "not that table" in _text(rejected)

    monkeypatch.setattr(sys, "stdin", Terminal("a\n"))  # one answer: the rest of the cell runs
    _steps(emulator, "c = 3", "d = 4")
    run = shell.ask("--agent", "Two more.")
    assert run.success, run.stdout + run.stderr
    assert ns["c"] == 3 and ns["d"] == 4
    assert "Run step 1?" in run.stdout and "Run step 2?" not in run.stdout


def test_plan_offers_no_run_code(shell, emulator):
    emulator.script("Plan: load, then plot.")
    run = shell.ask("--agent plan", "Plan it.")
    assert run.success, run.stdout + run.stderr
    body = emulator.requests()[0]["body"]
    names = {t["name"] for t in body["tools"]}
    assert "run_code" not in names and {"read_cells", "list_variables", "inspect_variable"} <= names
    assert "cannot run code" in str(body["system"])


def test_mode_from_the_trait_and_a_bad_mode(shell, emulator):
    shell.run("%config ClaudeMagic.agent_mode = 'auto'")
    _steps(emulator, "from_trait = 'yes'")
    assert shell.ask("--agent", "Go.").success
    assert shell.ip.user_ns["from_trait"] == "yes"
    run = shell.ask("--agent sometimes", "Go.")
    assert not run.success and "--agent takes ask, plan or auto" in run.stdout + run.stderr


def test_a_failing_step_goes_back_as_an_error_with_own_frames(shell, emulator):
    code = "def helper(x):\n    return 1 / x\n\nhelper(0)"
    _steps(emulator, code, "fixed = True")
    run = shell.ask("--agent auto", "Try.")
    assert run.success, run.stdout + run.stderr
    failed, fixed = _results(last_body(emulator))
    text = _text(failed)
    assert failed["is_error"] and "ZeroDivisionError" in text and "return 1 / x" in text
    assert "\x1b[" not in text and "site-packages" not in text
    assert not fixed.get("is_error") and shell.ip.user_ns["fixed"] is True


def test_a_step_past_the_timeout_is_interrupted_and_reported(shell, emulator):
    shell.run("%config ClaudeMagic.agent_step_timeout = 0.5")
    _steps(emulator, "import time\ntime.sleep(10)\nslept = True", "after = 1")
    run = shell.ask("--agent auto", "Sleep.")
    assert run.success, run.stdout + run.stderr
    timed_out, after = _results(last_body(emulator))
    assert timed_out["is_error"] and "0.5" in _text(timed_out)
    assert "slept" not in shell.ip.user_ns and shell.ip.user_ns["after"] == 1


def test_an_interrupted_step_ends_the_loop_and_keeps_the_chat_valid(shell, emulator):
    _steps(emulator, "before = 1", "raise KeyboardInterrupt", "never = 1")
    run = shell.ask("--agent auto", "Go.")
    assert not run.success
    assert "Interrupted" in run.stdout + run.stderr and "Traceback" not in run.stdout + run.stderr
    assert shell.ip.user_ns["before"] == 1 and "never" not in shell.ip.user_ns
    emulator.clear_scripts()
    assert shell.ask("", "Still there?").success  # every tool_use of the cut turn was answered


def test_max_steps_stops_the_agent(shell, emulator):
    _steps(emulator, "s1 = 1", "s2 = 2", "s3 = 3")
    run = shell.ask("--agent auto --max-steps 2", "Go.")
    assert run.success, run.stdout + run.stderr
    ns = shell.ip.user_ns
    assert ns["s1"] == 1 and ns["s2"] == 2 and "s3" not in ns
    assert "--max-steps" in run.stdout


def test_reading_tools_never_ask(shell, emulator):
    shell.run("import numpy as np\nsales = [1, 2, 3]\narr = np.zeros((3, 4))")
    emulator.script_steps(
        [
            {"tool": "list_variables", "input": {}},
            {"tool": "inspect_variable", "input": {"name": "arr"}},
            {"tool": "read_cells", "input": {}},
            "Seen it.",
        ]
    )
    run = shell.ask("--agent", "Look around.")
    assert run.success, run.stdout + run.stderr
    listed, inspected, cells = (_text(r) for r in _results(last_body(emulator)))
    assert "sales" in listed and "arr" in listed and "np" not in listed.split()
    assert "(3, 4)" in inspected
    assert "sales = [1, 2, 3]" in cells


def test_unscripted_the_emulator_looks_runs_and_says_what_it_is(shell, emulator):
    shell.run("rows = list(range(10))")
    run = shell.ask("--agent auto", "Tell me about my data.")
    assert run.success, run.stdout + run.stderr
    requests = emulator.requests()
    assert len(requests) == 3
    results = _results(requests[-1]["body"])
    assert "rows" in _text(results[0])
    assert "emulator" in run.stdout.lower()


def test_history_shows_the_steps(shell, emulator):
    _steps(emulator, "shown = 'yes'")
    assert shell.ask("--agent auto", "Go.").success
    run = shell.run("%claude history")
    assert "run_code" in run.stdout and "shown = 'yes'" in run.stdout


@pytest.mark.parametrize("options", ["--agent --json '{}'", "--agent --prefill x"])
def test_agent_refuses_what_it_cannot_combine(shell, emulator, options):
    run = shell.ask(options, "Go.")
    assert not run.success and "--agent can't be combined" in run.stdout + run.stderr
    assert emulator.requests() == []


def test_save_load_and_export_keep_the_steps_images_included(shell, emulator, tmp_path):
    code = "from IPython.display import Image, display\nfrom helpers import png\ndisplay(Image(data=png(size=(40, 30))))"
    _steps(emulator, code)
    run = shell.ask("--agent auto", "Show a picture.")
    assert run.success, run.stdout + run.stderr
    assert (
        "[result · ok · 1 line · 1 image" in run.stdout
    )  # the step's one line: status, what it gave, time
    result = _results(last_body(emulator))[0]
    assert [part["type"] for part in result["content"]] == ["text", "image"]
    saved = tmp_path / "chats.json"
    assert shell.run(f"%claude save {saved}").success
    assert shell.run("%claude reset").success
    loaded = shell.run(f"%claude load {saved}")
    assert loaded.success, loaded.stdout + loaded.stderr
    history = shell.run("%claude history").stdout
    assert "🔧 run_code: from IPython.display import Image" in history and "→ [image 1]" in history
    exported = tmp_path / "chat.ipynb"
    assert shell.run(f"%claude export {exported}").success
    text = exported.read_text()
    assert "run_code" in text and "display(Image(data=png(size=(40, 30))))" in text
    emulator.clear_requests()
    assert shell.ask("--agent auto", "And now?").success  # the loaded chat sends the image back
    first = emulator.requests()[0]["body"]
    assert any(part.get("type") == "image" for r in _results(first) for part in r["content"])


def test_agent_cells_offer_mcp_tools_beside_the_notebooks(shell, emulator):
    assert shell.run(
        "%claude mcp add demo --trusted -- python -m claude_magic.tools.mcp.demo_server"
    ).success
    emulator.script_steps(
        [
            {"tool": "demo__station_reading", "input": {"station": "Oslo"}},
            {"tool": "run_code", "input": {"code": "reading = 3.5\nprint(reading * 2)"}},
            "Done.",
        ]
    )
    run = shell.ask("--agent auto --mcp demo", "Read Oslo's station, then double it.")
    assert run.success, run.stdout + run.stderr
    names = {t["name"] for t in emulator.requests()[0]["body"]["tools"]}
    assert {"demo__station_reading", "run_code", "list_variables"} <= names
    station, step = _results(last_body(emulator))
    assert "Oslo" in _text(station) and "7.0" in _text(step)
    assert shell.ip.user_ns["reading"] == 3.5
