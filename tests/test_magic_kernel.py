"""`%%claude` in real kernels: nbclient-executed notebooks keep the answer, model
output is rendered safely, and a kernel interrupt mid-stream leaves a valid chat."""

from __future__ import annotations

import json
import re
import time
from html.parser import HTMLParser
from queue import Empty

import nbformat
import pytest
from kernel_helpers import python_notebook, run_in_kernel
from nbclient.exceptions import CellExecutionError

XSS_REPLY = (
    'Look: <img src=x onerror="window.pwned=1"> and <script>window.pwned=2</script>\n\n'
    "[click](javascript:window.pwned=3)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
)


@pytest.fixture
def kernel_env(magic_env):
    """Kernels started by the test inherit the emulator endpoint and dummy keys."""
    return magic_env


class _ActiveHTML(HTMLParser):
    """Collects tags and attributes that could run code."""

    def __init__(self) -> None:
        super().__init__()
        self.dangerous: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "embed"):
            self.dangerous.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith(
                ("javascript:", "data:text")
            ):
                self.dangerous.append(f"{tag}[{name}]")


def test_nbclient_notebook_keeps_static_answer(kernel_env, run_notebook, tmp_path):
    kernel_env.script(
        {
            "content": [
                {"type": "text", "text": "## Title\n\n- one\n- two\n\n```python\nx = 1\n```"}
            ],
            "stop_reason": "end_turn",
        }
    )
    nb = run_notebook(
        python_notebook("%load_ext claude_magic", "%%claude\nFormat something"), tmp_path
    )
    outputs = nb.cells[1].outputs
    bundles = [
        o["data"] for o in outputs if o.get("output_type") in ("display_data", "execute_result")
    ]
    final = [b for b in bundles if "text/html" in b and "text/markdown" in b and "text/plain" in b]
    assert final, outputs
    html = final[-1]["text/html"]
    assert "<h2" in html and "<li>one</li>" in html and "<code" in html
    assert "end_turn" in html or "end_turn" in final[-1]["text/plain"]
    assert final[-1]["text/markdown"].startswith("## Title")
    assert not any("application/vnd.jupyter.widget-view+json" in b for b in bundles[-1:])
    saved = tmp_path / "run.ipynb"
    nbformat.write(nb, saved)
    assert (
        "Format something"
        in kernel_env.requests()[-1]["body"]["messages"][-1]["content"][-1]["text"]
    )
    assert "<li>one</li>" in saved.read_text()


def test_model_output_is_never_active_html(kernel_env, run_notebook, tmp_path):
    kernel_env.script({"content": [{"type": "text", "text": XSS_REPLY}], "stop_reason": "end_turn"})
    nb = run_notebook(python_notebook("%load_ext claude_magic", "%%claude\nInject"), tmp_path)
    html_parts = [
        o["data"]["text/html"] for o in nb.cells[1].outputs if "text/html" in o.get("data", {})
    ]
    assert html_parts
    for html in html_parts:
        parser = _ActiveHTML()
        parser.feed(html)
        assert parser.dangerous == [], html
    assert "&lt;script&gt;" in html_parts[-1]
    assert "<table" in html_parts[-1]


def test_errors_in_a_kernel_are_short(kernel_env, run_notebook, tmp_path):
    nb = python_notebook("%load_ext claude_magic", "%%claude -m no-such-model\nHi")
    with pytest.raises(CellExecutionError) as info:
        run_notebook(nb, tmp_path)
    error = [o for o in nb.cells[1].outputs if o["output_type"] == "error"][0]
    assert "Unknown model 'no-such-model'" in "".join(error["traceback"])
    assert len(error["traceback"]) == 1
    del info


def test_an_error_the_answer_shows_fails_the_cell_without_a_second_copy(
    kernel_env, run_notebook, tmp_path
):
    kernel_env.fault("throttle", times=10)
    nb = python_notebook(
        "%load_ext claude_magic\n%config ClaudeMagic.max_attempts = 1",
        "%%claude\nHi",
        "print('not reached')",
    )
    with pytest.raises(CellExecutionError):  # "Run all" stops at the failed cell
        run_notebook(nb, tmp_path)
    outputs = nb.cells[1].outputs
    error = next(o for o in outputs if o["output_type"] == "error")
    assert "throttling" in error["evalue"]
    shown = "".join(error["traceback"])
    assert re.sub(r"\x1b\[[0-9;]*m", "", shown).strip() == ""  # the front end prints nothing more
    answer = [o["data"] for o in outputs if "text/html" in o.get("data", {})][-1]
    assert answer["text/html"].count("throttling") == 1 and "⚠" in answer["text/html"]
    assert nb.cells[2].outputs == []


CONFIRMED_TOOL = (
    "%load_ext claude_magic\nimport claude_magic\n\n@claude_magic.tool(confirm=True)\n"
    "def delete_file(path: str) -> str:\n    'Delete a file.'\n    return 'deleted ' + path\n"
)


def _output_area(messages: list[dict]) -> list[str]:
    """What a front end's output area holds, in order: each display's latest HTML (or text),
    and each question the kernel asked."""
    area: dict[str, str] = {}
    for n, m in enumerate(messages):
        content = m["content"]
        if m["msg_type"] == "input_request":
            area[f"question {n}"] = content["prompt"]
        elif m["msg_type"] in ("display_data", "update_display_data"):
            key = (content.get("transient") or {}).get("display_id") or f"display {n}"
            if m["msg_type"] == "display_data" or key in area:
                data = content["data"]
                area[key] = data.get("text/html") or data.get("text/plain", "")
    return list(area.values())


def test_a_tools_question_comes_before_the_answers_footer(kernel_env, new_kernel):
    with new_kernel() as kc:
        run_in_kernel(kc, CONFIRMED_TOOL)
        for view in ("deltas", "widgets"):  # the second answer: no page loaded the first's widget
            kernel_env.script(
                {
                    "content": [
                        {"type": "text", "text": "Let me delete it."},
                        {
                            "type": "tool_use",
                            "id": f"toolu_{view}",
                            "name": "delete_file",
                            "input": {"path": "notes.txt"},
                        },
                    ],
                    "stop_reason": "tool_use",
                }
            )
            kernel_env.script({"content": [{"type": "text", "text": "Deleted notes.txt."}]})
            messages: list[dict] = []

            def answer(request: dict, messages: list[dict] = messages) -> None:
                while True:  # what the kernel sent before asking arrives first, as in a page
                    try:
                        messages.append(kc.get_iopub_msg(timeout=0.5))
                    except Empty:
                        break
                messages.append(request)
                kc.input("y")

            reply = kc.execute_interactive(
                "%%claude\nDelete notes.txt",
                allow_stdin=True,
                timeout=120,
                output_hook=messages.append,
                stdin_hook=answer,
            )
            assert reply["content"]["status"] == "ok", (view, reply["content"])
            live = "claude-magic-delta" if view == "deltas" else "claude-magic-live"
            assert live in json.dumps([m["content"] for m in messages]), view
            area = [item for item in _output_area(messages) if item.strip()]
            question = next(
                i for i, item in enumerate(area) if item.startswith("Run tool delete_file")
            )
            footer = next(i for i, item in enumerate(area) if "out tokens" in item)
            assert question < footer, (
                area
            )  # the question, then the rest of the answer and its footer
            before, after = "".join(area[:question]), "".join(area[question + 1 :])
            assert (
                "Let me delete it." in before
                and "delete_file" in before
                and "out tokens" not in before
            )
            assert (
                "Deleted notes.txt." in after and "deleted notes.txt" in after
            )  # the tool's result
            assert "deleted notes.txt" in str(kernel_env.requests()[-1]["body"]["messages"][-1])


def _drain(kc, msg_id: str, timeout: float = 60) -> list[dict]:
    messages, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
    raise AssertionError("the kernel did not become idle")


def _run(kc, code: str) -> list[dict]:
    return _drain(kc, kc.execute(code))


def test_interrupt_mid_stream_keeps_a_valid_conversation(kernel_env, new_kernel):
    with new_kernel() as kc:
        _run(kc, "%load_ext claude_magic")
        kernel_env.pace = 40
        kernel_env.script(
            {"content": [{"type": "text", "text": "word " * 600}], "stop_reason": "end_turn"}
        )
        msg_id = kc.execute("%%claude\nA long answer please")
        seen_text = False
        deadline = time.monotonic() + 30
        while not seen_text and time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id and "word word" in str(msg["content"]):
                seen_text = True
        assert seen_text, "no partial answer arrived before the interrupt"
        kc.manager.interrupt_kernel()
        messages = _drain(kc, msg_id)
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        assert errors and errors[0]["ename"] == "Interrupted"
        assert "partial answer" in errors[0]["evalue"]
        assert len(kernel_env.requests()) == 1

        history = _run(kc, "%claude history")
        printed = "".join(
            m["content"].get("text", "") for m in history if m["msg_type"] == "stream"
        )
        assert "[interrupted]" in printed

        kernel_env.pace = None
        after = _run(kc, "%%claude\nAnd now?")
        assert not [m for m in after if m["msg_type"] == "error"]
        body = kernel_env.requests()[-1]["body"]
        assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
        partial = body["messages"][1]["content"][0]["text"]
        assert partial.startswith("word word") and len(partial) < len("word " * 600)


def test_load_ext_warms_up_what_the_first_answer_needs_but_not_boto3(kernel_env, new_kernel):
    with new_kernel() as kc:
        run_in_kernel(kc, "%load_ext claude_magic")
        code = (
            "import sys, threading\n"
            "for t in threading.enumerate():\n"
            "    if t.name == 'claude-magic-warm-up': t.join(60)\n"
            "from claude_magic.notebook.session import WARM_UP_MODULES\n"
            "print(sorted(m for m in WARM_UP_MODULES if m not in sys.modules), 'boto3' in sys.modules)\n"
        )
        _, messages = run_in_kernel(kc, code)
        out = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
        assert out.strip() == "[] False"  # all warm; boto3 is left for the first call to import
