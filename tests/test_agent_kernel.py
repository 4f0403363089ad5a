"""Agent cells in a real kernel with no front-end extension (as nbclient, VS Code or a
plain Jupyter client see it): steps run inline, a plot goes back as an image block, a
kernel interrupt mid-step ends the loop with what ran kept and a valid chat."""

from __future__ import annotations

import time

from kernel_helpers import python_notebook
from test_magic_kernel import _drain, _run


def _outputs_text(messages: list[dict]) -> str:
    parts = []
    for m in messages:
        content = m["content"]
        parts.append(content.get("text", ""))
        parts += [str(v) for k, v in (content.get("data") or {}).items() if k.startswith("text/")]
    return "\n".join(parts)


def test_inline_steps_in_a_kernel_send_a_plot_and_say_where_they_run(magic_env, new_kernel):
    with new_kernel() as kc:
        _run(kc, "%load_ext claude_magic")
        magic_env.script_steps(
            [
                {
                    "tool": "run_code",
                    "input": {
                        "code": "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\n"
                        "plt.title('trend');\nprint('plotted')"
                    },
                },
                "Plotted.",
            ]
        )
        messages = _run(kc, "%%claude --agent auto\nPlot it.")
        assert not [m for m in messages if m["msg_type"] == "error"]
        text = _outputs_text(messages)
        assert "steps run inline in this cell" in text and "1 step run" in text
        result = [
            b
            for m in magic_env.requests()[-1]["body"]["messages"]
            if m["role"] == "user"
            for b in m["content"]
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ][0]
        kinds = [part["type"] for part in result["content"]]
        assert kinds == ["text", "image"] and "plotted" in result["content"][0]["text"]
        # no raw step output reached the agent cell: only the view's own displays
        assert not [m for m in messages if m["msg_type"] == "execute_result"]
        history = _run(kc, "print('\\n'.join(In[-3:]))")
        assert "plt.plot([1, 3, 2])" in _outputs_text(history)
        again = _run(kc, "%%claude --agent auto\nAgain.")  # said once per kernel
        assert "steps run inline in this cell" not in _outputs_text(again)


def test_a_kernel_interrupt_mid_step_ends_the_loop_and_keeps_the_chat(magic_env, new_kernel):
    with new_kernel() as kc:
        _run(kc, "%load_ext claude_magic")
        magic_env.script_steps(
            [
                {"tool": "run_code", "input": {"code": "first = 1"}},
                {
                    "tool": "run_code",
                    "input": {
                        "code": "import time\nprint('sleeping', flush=True)\n"
                        "time.sleep(60)\nsecond = 2"
                    },
                },
                {"tool": "run_code", "input": {"code": "third = 3"}},
                "Never said.",
            ]
        )
        msg_id = kc.execute("%%claude --agent auto\nThree steps.")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the second step has started
            if len(magic_env.requests()) >= 2:
                break
            time.sleep(0.05)
        time.sleep(1.0)
        kc.manager.interrupt_kernel()
        messages = _drain(kc, msg_id)
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        assert errors and errors[0]["ename"] == "Interrupted", errors
        assert len(magic_env.requests()) == 2
        state = _outputs_text(_run(kc, "print(first, 'second' in dir(), 'third' in dir())"))
        assert "1 False False" in state
        magic_env.clear_scripts()
        after = _run(kc, "%%claude\nStill there?")
        assert not [m for m in after if m["msg_type"] == "error"]
        roles = [m["role"] for m in magic_env.requests()[-1]["body"]["messages"]]
        assert roles[0] == "user" and roles[-1] == "user" and len(roles) % 2 == 1


def test_steps_never_run_without_approval_in_nbclient(magic_env, run_notebook, tmp_path):
    magic_env.script_steps(
        [
            {"tool": "run_code", "input": {"code": "open('ran.txt', 'w').write('x')"}},
            "Could not run it.",
        ]
    )
    nb = python_notebook(
        "%load_ext claude_magic",
        "%%claude --agent\nWrite a file.",
    )
    run_notebook(nb, tmp_path)
    assert not (tmp_path / "ran.txt").exists()
    result = [
        b
        for m in magic_env.requests()[-1]["body"]["messages"]
        if m["role"] == "user"
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
    ][0]
    assert result["is_error"] and "approval" in str(result["content"])
