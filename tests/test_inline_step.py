"""An agent cell's step run inline, in a real IPython shell and a real kernel: it becomes a
cell of its own in the history, every output it makes is captured as nbformat outputs and
none reaches the running agent cell; errors, plots, time limits and interrupts; every
swapped hook is put back."""

from __future__ import annotations

import json
import sys

import pytest
from kernel_helpers import run_in_kernel

from claude_magic.notebook.inline_step import run_inline
from claude_magic.notebook.notebook_reading import read_cells
from claude_magic.notebook.session import session_of

INLINE = "module://matplotlib_inline.backend_inline"


def _hooks(ip) -> dict:
    """Every attribute a step swaps, as it is now."""
    return {
        "stdout": (
            sys.stdout,
            vars(sys.stdout).get("write") if hasattr(sys.stdout, "__dict__") else None,
        ),
        "stderr": (
            sys.stderr,
            vars(sys.stderr).get("write") if hasattr(sys.stderr, "__dict__") else None,
        ),
        "publisher": {n: vars(ip.display_pub).get(n) for n in ("publish", "clear_output")},
        "hook": {
            n: vars(ip.displayhook).get(n)
            for n in (
                "start_displayhook",
                "write_output_prompt",
                "write_format_data",
                "finish_displayhook",
            )
        },
        "showtraceback": vars(ip).get("_showtraceback"),
    }


def test_a_step_prints_and_returns_into_its_own_history_entry(shell):
    ip = shell.ip
    before = _hooks(ip)
    number = ip.execution_count
    outcome = run_inline(
        ip, "import sys\nprint('hello')\nprint('careful', file=sys.stderr)\n21 * 2", timeout=30
    )
    assert outcome.status == "ok" and not outcome.is_error
    assert outcome.execution_count == number
    assert outcome.outputs == [
        {"output_type": "stream", "name": "stdout", "text": "hello\n"},
        {"output_type": "stream", "name": "stderr", "text": "careful\n"},
        {
            "output_type": "execute_result",
            "execution_count": number,
            "data": {"text/plain": "42"},
            "metadata": {},
        },
    ]
    assert ip.execution_count == number + 1
    assert ip.user_ns["In"][number].endswith("21 * 2") and ip.user_ns["Out"][number] == 42
    assert ip.user_ns["_"] == 42
    assert _hooks(ip) == before
    history = shell.run("%history -n -l 1")
    assert f"{number}:" in history.stdout and "print('hello')" in history.stdout
    assert outcome.content() == [{"type": "text", "text": f"hello\ncareful\nOut[{number}]: 42"}]


def test_steps_inside_a_running_cell_show_nothing_there_and_take_their_own_numbers(shell):
    ip = shell.ip
    ip.user_ns["run_inline"] = run_inline
    session = session_of(ip)
    agent = ip.execution_count
    run = shell.run(
        "print('agent says hi')\n"
        "running = (__import__('claude_magic.notebook.session', fromlist=['x'])"
        ".session_of(get_ipython()).cell.execution_count)\n"
        "first = run_inline(get_ipython(), \"x = 5\\nprint('x is', x)\\nx * 2\", timeout=30)\n"
        'second = run_inline(get_ipython(), "from IPython.display import display, clear_output\\n'
        "display('gone')\\nclear_output()\\ndisplay({'text/plain': 'kept'}, raw=True)\\n"
        "h = display({'text/plain': 'v1'}, raw=True, display_id=True)\\nh.update({'text/plain': 'v2'}, raw=True)\\n"
        'undefined_name", timeout=30)\n'
        "after = (__import__('claude_magic.notebook.session', fromlist=['x'])"
        ".session_of(get_ipython()).cell.execution_count)\n"
        "print('agent done')"
    )
    assert run.success, run.stdout + run.stderr
    assert run.stdout == "agent says hi\nagent done\n"  # the agent cell shows only its own
    assert run.stderr == ""
    ns = ip.user_ns
    first, second = ns["first"], ns["second"]
    assert ns["running"] == ns["after"] == agent  # the session still knows the running cell
    assert (first.execution_count, second.execution_count) == (agent + 1, agent + 2)
    assert first.outputs[-1]["data"] == {"text/plain": "10"} and ns["Out"][agent + 1] == 10
    assert ns["In"][agent].startswith("print('agent says hi')")
    assert ns["In"][agent + 1] == "x = 5\nprint('x is', x)\nx * 2" and ns["x"] == 5
    assert second.status == "error"
    assert [(o["output_type"], o.get("data", {}).get("text/plain")) for o in second.outputs] == [
        ("display_data", "kept"),
        ("display_data", "v2"),
        ("error", None),
    ]
    text = second.content()[0]["text"]
    assert text.startswith("kept\nv2\nNameError: name 'undefined_name' is not defined\n")
    assert f"Cell In[{agent + 2}], line 7" in text and "\x1b" not in text
    nxt = ip.execution_count
    assert nxt == agent + 3 and shell.run("y = 1").success and ns["In"][nxt] == "y = 1"
    cells = read_cells(session)  # the steps are cells of the notebook's record
    assert f"Cell [{agent + 1}]" in cells and "x is 5" in cells and f"Out[{agent + 1}]: 10" in cells
    assert "NameError" in cells and "kept" in cells


def test_output_from_another_thread_is_not_the_steps(shell):
    ip = shell.ip
    run = shell.run(
        "from claude_magic.notebook.inline_step import run_inline\n"
        "step = run_inline(get_ipython(), 'import threading\\n"
        't = threading.Thread(target=print, args=("from a thread",))\\nt.start(); t.join()\\n'
        'print("from the step")\', timeout=30)'
    )
    assert run.success, run.stderr
    step = ip.user_ns["step"]
    assert step.outputs == [{"output_type": "stream", "name": "stdout", "text": "from the step\n"}]
    assert run.stdout == "from a thread\n"


@pytest.fixture
def inline_plots(shell):
    """matplotlib's inline backend, as a kernel has it (figures shown after each cell)."""
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib_inline.backend_inline import configure_inline_support, flush_figures

    backend, interactive = matplotlib.get_backend(), matplotlib.is_interactive()
    plt.switch_backend(INLINE)
    matplotlib.interactive(True)
    configure_inline_support(shell.ip, INLINE)
    yield shell
    plt.close("all")
    if flush_figures in shell.ip.events.callbacks["post_execute"]:
        shell.ip.events.unregister("post_execute", flush_figures)
    matplotlib.interactive(interactive)
    plt.switch_backend(backend)


def test_a_plot_becomes_a_png_output_and_an_image_for_claude(inline_plots):
    ip = inline_plots.ip
    outcome = run_inline(
        ip,
        "import matplotlib.pyplot as plt\nplt.figure(figsize=(3, 2))\n"
        "plt.plot([1, 3, 2])\nprint('plotted')",
        timeout=60,
    )
    assert outcome.status == "ok", outcome.outputs
    kinds = [(o["output_type"], sorted(o.get("data", {}))) for o in outcome.outputs]
    assert kinds[0][0] == "stream" and kinds[-1] == ("display_data", ["image/png", "text/plain"])
    blocks = outcome.content()
    assert [b["type"] for b in blocks] == ["text", "image"]
    assert blocks[0]["text"].startswith("plotted\n") and "[image 1]" in blocks[0]["text"]
    assert blocks[1]["source"]["media_type"] == "image/png"
    assert outcome.summary().startswith("ok · ") and "1 image" in outcome.summary()


def test_an_error_keeps_the_users_frames(shell, tmp_path, monkeypatch):
    ip = shell.ip
    shell.run("def ratio(a, b):\n    return a / b")
    outcome = run_inline(ip, "import json\ntotal = 10\nratio(total, 0)", timeout=30)
    assert outcome.status == "error" and outcome.is_error
    [error] = [o for o in outcome.outputs if o["output_type"] == "error"]
    assert error["ename"] == "ZeroDivisionError" and any(
        "\x1b[" in line for line in error["traceback"]
    )
    text = outcome.content()[0]["text"]
    lines = text.splitlines()
    assert lines[0] == "ZeroDivisionError: division by zero"
    assert any(line.strip() == f"Cell In[{outcome.execution_count}], line 3" for line in lines)
    assert any("in ratio" in line for line in lines) and "return a / b" in text
    assert "\x1b" not in text and "interactiveshell" not in text

    library = run_inline(ip, "json.loads('{')", timeout=30)
    text = library.content()[0]["text"]
    assert text.startswith("JSONDecodeError: Expecting property name enclosed in double quotes")
    assert "json/decoder.py" in text and "\n    " not in text.split("File")[-1]  # one line each
    assert len(text.splitlines()) < 10

    (tmp_path / "cleaning.py").write_text(
        "def clean(rows):\n    total = len(rows)\n    return total / rows.count('ok')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    own_file = run_inline(ip, "import cleaning\ncleaning.clean(['bad'])", timeout=30)
    lines = own_file.content()[0]["text"].splitlines()
    assert lines[0] == "ZeroDivisionError: division by zero"
    [at] = [i for i, line in enumerate(lines) if "cleaning.py:3, in clean" in line]
    assert lines[at + 1 :] == [
        "        1 def clean(rows):",
        "        2     total = len(rows)",
        "  ----> 3     return total / rows.count('ok')",
    ]

    syntax = run_inline(ip, "x = (", timeout=30)
    assert syntax.status == "error" and syntax.content()[0]["text"].startswith("SyntaxError: ")


def test_a_step_past_its_time_limit_is_interrupted(shell):
    ip = shell.ip
    number = ip.execution_count
    outcome = run_inline(
        ip, "import time\nprint('started', flush=True)\ntime.sleep(60)\nprint('never')", timeout=0.5
    )
    assert outcome.status == "timeout" and outcome.time_limit == 0.5
    assert outcome.elapsed < 30  # stopped well before the sleep ended
    assert outcome.outputs[0] == {"output_type": "stream", "name": "stdout", "text": "started\n"}
    text = outcome.content()[0]["text"]
    assert text.startswith("The step was interrupted after 0.5 s")
    assert "----> 3 time.sleep(60)" in text and "never" not in text
    assert outcome.execution_count == number and ip.execution_count == number + 1
    after = run_inline(
        ip, "import time\ntime.sleep(0.3)\n'still fine'", timeout=30
    )  # no stray interrupt
    assert after.status == "ok" and after.outputs[-1]["data"]["text/plain"] == "'still fine'"


def test_a_users_interrupt_during_a_step_says_so(shell):
    outcome = run_inline(
        shell.ip,
        (
            "import signal, threading, time\n"
            "threading.Timer(0.2, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)).start()\n"
            "time.sleep(60)"
        ),
        timeout=30,
    )
    assert outcome.status == "interrupted" and outcome.elapsed < 30
    assert outcome.content()[0]["text"].startswith("The user interrupted this step.")


def test_in_a_kernel_the_agent_cells_messages_carry_none_of_the_step(magic_env, new_kernel):
    with new_kernel() as kc:
        run_in_kernel(
            kc,
            "%load_ext claude_magic\n%matplotlib inline\nimport logging, sys\n"
            "log = logging.getLogger('steps')\nlog.addHandler(logging.StreamHandler(sys.stderr))",
        )
        reply, messages = run_in_kernel(
            kc,
            (
                "from claude_magic.notebook.inline_step import run_inline\n"
                "print('agent before')\n"
                "steps = [run_inline(get_ipython(), code, timeout=60) for code in (\n"
                "    \"print('step out')\\nlog.warning('step log')\\nimport matplotlib.pyplot as plt\\n"
                'plt.figure(figsize=(2, 2))\\nplt.plot([1, 2])\\n40 + 2",\n'
                "    \"from IPython.display import display, Markdown\\ndisplay(Markdown('**shown**'))\\n1 / 0\",\n"
                ")]\n"
                "slow = run_inline(get_ipython(), 'import time\\nprint(1)\\ntime.sleep(60)', timeout=1)\n"
                "print('agent after')"
            ),
        )
        shown = [m for m in messages if m["msg_type"] not in ("status", "execute_input")]
        assert [(m["msg_type"], m["content"].get("text")) for m in shown] == [
            ("stream", "agent before\n"),
            ("stream", "agent after\n"),
        ], shown
        assert reply["status"] == "ok"

        _, messages = run_in_kernel(
            kc,
            (
                "import json\n"
                "print(json.dumps([{'status': s.status, 'n': s.execution_count, 'outputs': s.outputs,\n"
                "                   'content': s.content()} for s in steps]))"
            ),
        )
        [printed] = [m["content"]["text"] for m in messages if m["msg_type"] == "stream"]
        first, second = json.loads(printed)
        assert first["status"] == "ok" and second["status"] == "error"
        kinds = [(o["output_type"], o.get("name")) for o in first["outputs"]]
        assert kinds[:2] == [("stream", "stdout"), ("stream", "stderr")]
        assert first["outputs"][1]["text"] == "step log\n"  # a handler that holds sys.stderr
        result = [o for o in first["outputs"] if o["output_type"] == "execute_result"]
        assert (
            result[0]["data"]["text/plain"] == "42" and result[0]["execution_count"] == first["n"]
        )
        assert any("image/png" in o.get("data", {}) for o in first["outputs"])
        assert [b["type"] for b in first["content"]] == ["text", "image"]
        assert second["outputs"][0]["data"]["text/markdown"] == "**shown**"
        assert second["outputs"][-1]["ename"] == "ZeroDivisionError"
        assert second["n"] == first["n"] + 1
        assert "ZeroDivisionError: division by zero" in second["content"][0]["text"]

        _, messages = run_in_kernel(
            kc, "print(slow.status, slow.elapsed < 30, repr(slow.outputs[0]['text']))"
        )
        assert [m["content"]["text"] for m in messages if m["msg_type"] == "stream"] == [
            "timeout True '1\\n'\n"
        ]

        later, _ = run_in_kernel(kc, "In[-3:-1]")
        assert (
            later["execution_count"] == second["n"] + 4
        )  # after the step and two cells: no collision
