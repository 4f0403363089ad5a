"""The live views: TextView in a real IPython shell, WidgetView in a real ipykernel.

The kernel tests drive the view with an artificial clock (so throttling is
deterministic) and read every IOPub message the execution produced.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from kernel_helpers import message_bytes, run_in_kernel

# Runs in the test process and in the kernel: a deterministic synthetic reply.
REPLY_SOURCE = textwrap.dedent(
    '''
    def synthetic_reply(tokens):
        """Paragraphs, lists, tables and code fences, cut to `tokens` split_tokens pieces."""
        from claude_magic.core.messages import split_tokens
        parts, i = [], 0
        while sum(len(split_tokens(p)) for p in parts) < tokens:
            parts.append(f"Paragraph {i}: the model explains step {i} of the analysis, "
                         f"mentions `df.groupby('k{i}')` and **why** it matters for the outliers.")
            if i % 3 == 1:
                parts.append("\\n".join(f"- point {i}.{j} about the data" for j in range(5)))
            if i % 5 == 2:
                parts.append("```python\\n" + "\\n".join(f"value_{i}_{j} = compute({j})" for j in range(40)) + "\\n```")
            if i % 7 == 3:
                parts.append("| key | count |\\n|---|---:|\\n" + "\\n".join(f"| k{i}_{j} | {j * 7} |" for j in range(12)))
            i += 1
        return "".join(split_tokens("\\n\\n".join(parts))[:tokens])
    '''
)
namespace: dict = {}
exec(REPLY_SOURCE, namespace)
synthetic_reply = namespace["synthetic_reply"]

# Runs in the kernel: feed a reply to the view one token per event.
FEED_SOURCE = textwrap.dedent(
    '''
    from dataclasses import replace

    from claude_magic.core.messages import Message, split_tokens
    from claude_magic.core.stream import fold_event
    import os

    from claude_magic.notebook.view import make_view

    VIEW = "widgets"  # or "deltas": which live view make_view is asked for

    def start_view(now):
        os.environ["CLAUDE_MAGIC_LIVE_VIEW"] = VIEW
        try:
            view = make_view(get_ipython(), clock=lambda: now[0])
        finally:
            del os.environ["CLAUDE_MAGIC_LIVE_VIEW"]
        assert type(view).__name__ == {"widgets": "WidgetView", "deltas": "DeltaView"}[VIEW], type(view)
        view.start({"model": "Claude Test", "chat": "default"})
        return view

    def stream_message(view, now, text, step, tool=None, copies=False):
        """Stream one message; with `copies`, hand the view a fresh copy each time."""
        message = Message()
        def event(e):
            fold_event(message, e)
            view.update(replace(message, content=[dict(b) for b in message.content]) if copies else message)
        event({"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 9}}})
        event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        for token in split_tokens(text):
            now[0] += step
            event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token}})
        event({"type": "content_block_stop", "index": 0})
        if tool:
            event({"type": "content_block_start", "index": 1, "content_block":
                   {"type": "tool_use", "id": "toolu_1", "name": tool, "input": {}}})
            for piece in ('{"ci', 'ty": "Par', 'is"}'):
                now[0] += step
                event({"type": "content_block_delta", "index": 1,
                       "delta": {"type": "input_json_delta", "partial_json": piece}})
            event({"type": "content_block_stop", "index": 1})
        event({"type": "message_delta", "delta": {"stop_reason": "tool_use" if tool else "end_turn"},
               "usage": {"output_tokens": len(split_tokens(text))}})
        event({"type": "message_stop"})
        return message

    def feed(text, step, copies=False):
        now = [0.0]
        view = start_view(now)
        stream_message(view, now, text, step, copies=copies)
        view.finish("end_turn · fed", "end_turn")
        return now[0]

    def tool_loop(step):
        now = [0.0]
        view = start_view(now)
        view.notice("history rewound")
        first = stream_message(view, now, "Let me check the weather.", step, tool="get_weather")
        view.tool_call(first.tool_uses[0])
        view.tool_result_block({"type": "tool_result", "tool_use_id": "toolu_1",
                                "content": [{"type": "text", "text": "18 °C and sunny <script>alert(1)</script>"}]})
        view.new_message()
        stream_message(view, now, "It is **18 °C** in Paris.", step)
        view.finish("end_turn · loop", "end_turn")

    def two_messages(step):
        now = [0.0]
        view = start_view(now)
        stream_message(view, now, "First answer, with its last words.", step)
        view.new_message()
        stream_message(view, now, "Second answer.", step)
        view.finish("end_turn · two", "end_turn")
    '''
)
INTERVAL = 1 / 15
STEP = 0.015  # artificial seconds per token: ~67 tokens/s
# a reply with a table: its rows show once the table is complete, never as raw Markdown
TABLE_REPLY = (
    "Here is the request, row by row, as the emulator saw it when it arrived. " * 3
    + "\n\n| Request | Value |\n|---|---|\n"
    + "".join(f"| row {i} | {i * 7} |\n" for i in range(8))
    + "\nAfter the table, more words."
)


def run_cell(client, code: str) -> list[dict]:
    """Execute code in the kernel; return the IOPub messages it caused."""
    return run_in_kernel(client, code)[1]


@pytest.fixture(scope="module")
def kernel(new_kernel):
    with new_kernel() as client:
        run_cell(client, REPLY_SOURCE + FEED_SOURCE)
        yield client


def final_display(messages: list[dict]) -> dict[str, str]:
    first = next(
        m
        for m in messages
        if m["msg_type"] == "display_data"
        and "application/vnd.jupyter.widget-view+json" in m["content"]["data"]
    )
    display_id = first["content"]["transient"]["display_id"]
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    assert len(updates) == 1
    assert updates[0]["content"]["transient"]["display_id"] == display_id
    return updates[0]["content"]["data"]


def appended_html(messages: list[dict]) -> list[str]:
    return [
        m["content"]["data"]["text/html"]
        for m in messages
        if m["msg_type"] == "display_data" and "text/html" in m["content"]["data"]
    ]


def tail_updates(messages: list[dict]) -> int:
    return sum(
        1
        for m in messages
        if m["msg_type"] == "comm_msg" and "value" in m["content"]["data"].get("state", {})
    )


def test_widget_view_streams_blocks_once_and_leaves_the_static_bundle(kernel):
    tokens = 5000
    reply = synthetic_reply(tokens)
    messages = run_cell(kernel, f"elapsed = feed(synthetic_reply({tokens}), {STEP})")
    bundle = final_display(messages)
    assert set(bundle) == {"text/html", "text/markdown", "text/plain"}
    assert bundle["text/markdown"] == reply
    assert "<table>" in bundle["text/html"] and "<pre><code" in bundle["text/html"]
    assert "end_turn · fed" in bundle["text/html"] and "Claude Test" in bundle["text/plain"]

    # Every paragraph was appended to the body exactly once while streaming.
    body = "".join(appended_html(messages))
    paragraphs = reply.count("Paragraph ")
    assert paragraphs > 30
    for i in range(paragraphs - 1):
        assert body.count(f"Paragraph {i}:") == 1, i

    # Live updates happened, and no more often than the throttle allows.
    elapsed = tokens * STEP
    assert elapsed / INTERVAL / 3 < tail_updates(messages) <= elapsed / INTERVAL + 20


def test_widget_view_holds_an_unfinished_table_back(kernel):
    messages = run_cell(kernel, f"feed({TABLE_REPLY!r}, {STEP})")
    tails = [
        m["content"]["data"]["state"]["value"]
        for m in messages
        if m["msg_type"] == "comm_msg" and "value" in m["content"]["data"].get("state", {})
    ]
    assert any("row by row" in t for t in tails) and any("After the table" in t for t in tails)
    assert not [t for t in tails if "|" in t or "Request" in t]  # no raw or half-built table
    body = "".join(appended_html(messages))
    assert body.count("<table>") == 1 and body.count("row 7") == 1


def test_widget_view_traffic_grows_linearly(kernel):
    totals = {}
    for tokens in (1250, 5000):
        messages = run_cell(kernel, f"feed(synthetic_reply({tokens}), {STEP})")
        totals[tokens] = sum(message_bytes(m) for m in messages)
    growth = totals[5000] / totals[1250]
    assert 2.5 < growth < 6, totals  # a view resending the whole text would give ~16


def test_widget_view_tool_loop(kernel):
    messages = run_cell(kernel, f"tool_loop({STEP})")
    body = "".join(appended_html(messages))
    assert body.count("get_weather") == 1  # the call is shown once, though also passed to tool_call
    assert "history rewound" in body
    assert "&lt;script&gt;" in body and "<script" not in body
    html = final_display(messages)["text/html"]
    order = [
        html.index(s)
        for s in (
            "history rewound",
            "Let me check",
            "get_weather",
            "18 °C and sunny",
            "<strong>18 °C</strong>",
            "end_turn · loop",
        )
    ]
    assert order == sorted(order)
    assert html.count("<details") == 2


def test_widget_view_accepts_a_fresh_copy_of_the_snapshot_each_time(kernel):
    reply = synthetic_reply(1500)
    messages = run_cell(kernel, f"feed(synthetic_reply(1500), {STEP}, copies=True)")
    body = "".join(appended_html(messages))
    for i in range(reply.count("Paragraph ") - 1):
        assert body.count(f"Paragraph {i}:") == 1, i
    assert final_display(messages)["text/markdown"] == reply


def test_widget_view_new_message_flushes_the_unfinished_block(kernel):
    messages = run_cell(kernel, f"two_messages({STEP})")
    body = "".join(appended_html(messages))
    assert body.count("its last words.") == 1 and body.count("Second answer.") == 1
    assert body.index("its last words.") < body.index("Second answer.")
    assert (
        final_display(messages)["text/markdown"]
        == "First answer, with its last words.\n\nSecond answer."
    )


# ---------------------------------------------------------------- TextView in plain IPython


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell(FEED_SOURCE.replace("WidgetView", "TextView"))
    return shell


def test_text_view_writes_each_character_once(shell, capsys):
    reply = synthetic_reply(1500)
    shell.user_ns["reply"] = reply
    capsys.readouterr()
    result = shell.run_cell(
        "now = [0.0]\n"
        "view = start_view(now)\n"
        "stream_message(view, now, reply, 0.015)\n"
        "view.finish('end_turn · 9 in / 1500 out tokens', 'end_turn')\n"
    )
    result.raise_error()
    out = capsys.readouterr().out
    header, rest = out.split("\n", 1)
    assert header == "Claude Test · chat default"
    assert rest.count(reply) == 1
    assert rest == reply + "\nend_turn · 9 in / 1500 out tokens\n"
    assert len(out) == len(header) + 1 + len(reply) + len("\nend_turn · 9 in / 1500 out tokens\n")


def test_text_view_tool_loop(shell, capsys):
    from claude_magic.notebook.view import TextView, make_view

    assert isinstance(make_view(shell), TextView)
    capsys.readouterr()
    shell.run_cell(
        "now = [0.0]\n"
        "view = start_view(now)\n"
        "first = stream_message(view, now, 'Checking.', 0.015, tool='get_weather')\n"
        "view.tool_call(first.tool_uses[0])\n"
        "view.tool_result('toolu_1', '18 °C')\n"
        "stream_message(view, now, 'It is 18 °C.', 0.015)\n"
        "view.fail('connection lost', 'partial')\n"
    ).raise_error()
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "Checking.",
        "[tool] get_weather {",
        '  "city": "Paris"',
        "}",
        "[result] 18 °C",
        "It is 18 °C.",
        "Error: connection lost",
        "partial",
    ]


def test_nbclient_notebook_keeps_the_answer_not_the_widgets_text(run_notebook):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(REPLY_SOURCE + FEED_SOURCE),
        nbformat.v4.new_code_cell(f"feed(synthetic_reply(1500), {STEP});"),
    ]
    run_notebook(notebook)
    outputs = notebook.cells[1].outputs
    assert [o.output_type for o in outputs] == ["display_data"]
    assert outputs[0].data["text/markdown"] == synthetic_reply(1500)
    assert "Paragraph 3:" in outputs[0].data["text/html"]
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(w["model_name"] == "OutputModel" for w in state.values())
    assert "Paragraph" not in json.dumps(state)  # emptied before the widgets closed
