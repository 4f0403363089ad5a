"""Notebook context on request, in real kernels: `%claude fix` sends the failed cell and
its error and puts the corrected code in a new cell; `--above N` sends the cells run
before; `--var` describes a DataFrame or an array without sending it whole."""

from __future__ import annotations

import json

import pytest
from helpers import HAIKU
from kernel_helpers import run_in_kernel

from claude_magic.notebook.context import describe_value


@pytest.fixture
def kernel(magic_env, new_kernel):
    """A kernel with the magic loaded, talking to the emulator, on a model of our choosing."""
    with new_kernel() as kc:
        run_in_kernel(kc, "%load_ext claude_magic")
        run_in_kernel(kc, f"%config ClaudeMagic.model = '{HAIKU}'")
        yield kc


def _shown(messages: list[dict]) -> str:
    return "\n".join(json.dumps(m["content"]) for m in messages)


def _sent_text(emulator) -> list[str]:
    """The text blocks of the last request's last user message."""
    content = emulator.requests()[-1]["body"]["messages"][-1]["content"]
    return [block["text"] for block in content if block.get("type") == "text"]


def test_fix_sends_the_failed_cell_and_puts_the_fix_below(kernel, magic_env):
    reply, messages = run_in_kernel(kernel, "%claude fix")
    printed = [m["content"]["text"] for m in messages if m["msg_type"] == "stream"]
    assert printed == [
        "No cell has raised an error since %load_ext claude_magic: nothing to fix.\n"
    ]
    assert not magic_env.requests() and not reply.get("payload")

    run_in_kernel(kernel, "def ratio(a, b):\n    return a / b")
    failed, _ = run_in_kernel(kernel, "total = 10\nratio(total, 0)", check=False)
    assert failed["status"] == "error"
    failed_cell = failed["execution_count"]
    run_in_kernel(kernel, "print('fine')")  # a later cell that worked

    magic_env.script(
        {
            "content": [
                {
                    "type": "text",
                    "text": "The divisor is zero.\n\n```python\ntotal = 10\nratio(total, 2)\n```",
                }
            ],
            "stop_reason": "end_turn",
        }
    )
    reply, messages = run_in_kernel(kernel, "%claude fix")
    [context, prompt] = _sent_text(magic_env)
    assert f"Cell [{failed_cell}]" in context and "total = 10\nratio(total, 0)" in context
    assert "ZeroDivisionError: division by zero" in context
    assert f"Cell In[{failed_cell}], line 2, in <module>" in context
    assert "in ratio" in context and "return a / b" in context
    assert "interactiveshell" not in context and "site-packages" not in context
    assert "corrected cell" in prompt
    assert [p for p in reply["payload"] if p["source"] == "set_next_input"] == [
        {"source": "set_next_input", "text": "total = 10\nratio(total, 2)", "replace": False}
    ]
    assert "The divisor is zero." in _shown(messages)
    assert f"Context: cell [{failed_cell}]" in _shown(messages)

    reply, messages = run_in_kernel(kernel, f"%claude fix {failed_cell - 1}")
    assert "ran without an error: nothing to fix" in _shown(messages)
    assert len(magic_env.requests()) == 1


def test_above_and_var_carry_the_notebook(kernel, magic_env):
    run_in_kernel(kernel, "a = 1")
    first, _ = run_in_kernel(kernel, "print('two')")
    second, _ = run_in_kernel(kernel, "b = 3\nb")
    _, messages = run_in_kernel(kernel, "%%claude --above 2\nWhat did I do?")
    [context, prompt] = _sent_text(magic_env)
    assert prompt == "What did I do?"
    one, two = f"Cell [{first['execution_count']}]", f"Cell [{second['execution_count']}]"
    assert one in context and two in context and context.index(one) < context.index(two)
    assert (
        "print('two')" in context
        and "two\n" in context
        and "Out[" in context
        and "b = 3" in context
    )
    assert "a = 1" not in context and context.count("Cell [") == 2
    assert f"Context: cells [{first['execution_count']}], [{second['execution_count']}]" in _shown(
        messages
    )

    run_in_kernel(
        kernel,
        "import pandas as pd, numpy as np\n"
        "df = pd.DataFrame({'city': ['Oslo', 'Lima', 'Pune'], 'temp': [3.5, 18.0, 27.25]})\n"
        "big = np.arange(10_000_000, dtype=np.int64)",
    )
    _, messages = run_in_kernel(kernel, "%%claude --var df --var big\nSummarise")
    df_block, big_block, prompt = _sent_text(magic_env)
    assert "shape: (3, 2)" in df_block and "\n  city: " in df_block and "temp: float64" in df_block
    assert "| Oslo" in df_block and "27.25" in df_block and "describe()" in df_block
    assert "shape: (10000000,)" in big_block and "int64" in big_block and "9999999" in big_block
    body_size = len(json.dumps(magic_env.requests()[-1]["body"]))
    assert body_size < 6000 and len(big_block) < 1000
    assert "Context: variables df, big" in _shown(messages)

    reply, messages = run_in_kernel(kernel, "%%claude --var nope\nHi", check=False)
    assert reply["status"] == "error" and "--var nope" in reply["evalue"]


def test_describe_value_never_sends_large_values_whole():
    text = describe_value("words", ["word"] * 1_000_000, max_chars=500)
    assert "len 1,000,000" in text and len(text) < 600
    assert describe_value("s", "x" * 10_000, max_chars=200).count("x") < 250


@pytest.fixture
def shell(magic_env):
    from magic_helpers import Shell

    sh = Shell()
    sh.run(f"%config ClaudeMagic.model = '{HAIKU}'")
    yield sh
    sh.close()


def test_errors_keep_only_the_users_frames_and_stay_bounded(shell):
    recorder = shell.magic.session.recorder
    shell.run("import json\ndef load(text):\n    return json.loads(text)")
    shell.run("load('{bad')")
    report = recorder.error_report(recorder.last_error())
    assert "in load" in report and "return json.loads(text)" in report
    assert "json.decoder.JSONDecodeError" in report and "decoder.py" not in report
    assert "interactiveshell" not in report

    shell.run("def deeper(n):\n    return deeper(n + 1)")
    shell.run("deeper(0)")
    report = recorder.error_report(recorder.last_error())
    assert "RecursionError" in report and "outer frames not shown" in report
    assert report.count("in deeper") <= 12 and len(report) < 4200

    shell.run("%claude fix 9999")
    assert recorder.last_error() is not None and "deeper" in recorder.source(recorder.last_error())


def test_above_without_a_number_takes_the_cells_since_the_last_question(shell, magic_env):
    shell.run("before = 1")
    assert shell.ask("", "First question").success
    shell.run("after_one = 2")
    shell.run("%claude config")  # the magic's own commands are not context
    shell.run("print('after two')")
    run = shell.ask("--above", "Second question")
    assert run.success, run.error
    context = magic_env.requests()[-1]["body"]["messages"][-1]["content"][0]["text"]
    assert "after_one = 2" in context and "print('after two')" in context
    assert "before = 1" not in context and "%claude config" not in context
    assert context.count("Cell [") == 2
    assert "Context: cells" in run.stdout

    shell.run("%config ClaudeMagic.context_max_chars = 300")
    shell.run("long = 'x' * 5000\nprint(long)")
    assert shell.ask("--above 1", "Third").success
    context = magic_env.requests()[-1]["body"]["messages"][-1]["content"][0]["text"]
    assert "characters omitted" in context and len(context) < 1200


def test_above_keeps_the_newest_cells_within_its_budget(shell, magic_env):
    from claude_magic.notebook import context

    shell.run("%config ClaudeMagic.context_max_chars = 200")
    for i in range(context.MAX_ABOVE_CELLS + 5):
        shell.run(f"print('{i:03d}' * 60)")
    run = shell.ask("--above", "Everything?")
    assert run.success, run.error
    sent = magic_env.requests()[-1]["body"]["messages"][-1]["content"][0]["text"]
    assert len(sent) < context.MAX_ABOVE_CELLS * 200 + 500
    assert f"{context.MAX_ABOVE_CELLS + 4:03d}" in sent and "000000" not in sent
    assert "older cell(s) left out" in run.stdout


def test_a_rerun_question_counts_from_the_question_before_it(shell, magic_env):
    shell.run("first = 1")
    assert shell.ask("", "Q1", cell_id="q1").success
    shell.run("second = 2")
    assert shell.ask("--above", "Q2", cell_id="q2").success
    shell.run("third = 3")
    run = shell.ask("--above", "Q2 again", cell_id="q2")  # replaces Q2's turn: counts from Q1
    assert run.success, run.error
    context = magic_env.requests()[-1]["body"]["messages"][-1]["content"][0]["text"]
    assert "second = 2" in context and "third = 3" in context and "first = 1" not in context
