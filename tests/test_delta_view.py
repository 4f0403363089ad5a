"""DeltaView in a real ipykernel: the live messages carry only what is new (text
deltas, then each finished block's sanitised HTML once), the answer ends as the
same static bundle, and a front end that never loads the widget gets WidgetView.

`Page` does what the widget's JavaScript does with each message, so the tests can
check what a page shows while the answer streams.
"""

from __future__ import annotations

import json
import zlib

import pytest
from kernel_helpers import run_in_kernel
from test_view import FEED_SOURCE, REPLY_SOURCE, STEP, TABLE_REPLY, final_display, synthetic_reply

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class Page:
    """The widget's state in a page, from its messages (live_widget.py's `apply`)."""

    def __init__(self) -> None:
        self.n, self.html, self.tail, self.preview, self.gaps = -1, "", "", "", 0
        self.thinking_title, self.thinking = (
            "",
            "",
        )  # the live thinking section (hidden when no title)

    def apply(self, content: dict, buffers: list) -> None:
        html = zlib.decompress(bytes(buffers[0])).decode() if content.get("h") else ""
        if content.get("f"):
            self.html, self.tail, self.preview = html, content.get("t", ""), content.get("p", "")
            self.thinking_title, self.thinking = content.get("s", ""), content.get("r", "")
        else:
            self.gaps += content["n"] != self.n + 1
            self.html += html
            kept = self.tail.encode("utf-16-le")[2 * content.get("k", 0) :].decode("utf-16-le")
            self.tail = kept + content.get("t", "")
            self.preview = content.get("p", self.preview)
            if "s" in content:
                self.thinking_title, self.thinking = content["s"], ""
            self.thinking += content.get("r", "")
        self.n = content["n"]


def content_bytes(m: dict) -> int:
    return len(json.dumps(m["content"], ensure_ascii=False).encode()) + sum(
        len(b) for b in m.get("buffers") or ()
    )


def live_comm(messages: list[dict]) -> tuple[str, list[dict]]:
    """The live widget's comm id and its custom messages."""
    shown = next(
        m
        for m in messages
        if m["msg_type"] == "display_data" and WIDGET_MIME in m["content"]["data"]
    )
    comm_id = shown["content"]["data"][WIDGET_MIME]["model_id"]
    custom = [
        m
        for m in messages
        if m["msg_type"] == "comm_msg"
        and m["content"]["comm_id"] == comm_id
        and m["content"]["data"].get("method") == "custom"
    ]
    return comm_id, custom


@pytest.fixture(scope="module")
def kernel(new_kernel):
    with new_kernel() as client:
        run_in_kernel(client, REPLY_SOURCE + FEED_SOURCE + "\nVIEW = 'deltas'")
        yield client


def test_live_messages_carry_only_deltas(kernel):
    tokens = 2000
    reply = synthetic_reply(tokens)
    _, messages = run_in_kernel(kernel, f"feed(synthetic_reply({tokens}), {STEP})")
    comm_id, custom = live_comm(messages)
    page, watched = Page(), []
    for m in custom:
        page.apply(m["content"]["data"]["content"], m.get("buffers") or [])
        watched.append((page.html, page.tail))
    assert page.gaps == 0 and page.tail == ""
    # live updates at most every 1/15 s (of the view's clock), and no fewer than a third of that
    elapsed = tokens * STEP
    assert elapsed * 15 / 3 < len(custom) <= elapsed * 15 + 5
    # while streaming the page showed the answer growing: text first, blocks later
    middle_html, middle_tail = watched[len(watched) // 2]
    assert middle_tail and middle_tail in reply and "<" not in middle_html.split("</div>")[-1]
    # every paragraph reached the page as HTML exactly once, in order
    paragraphs = reply.count("Paragraph ")
    assert paragraphs > 10
    for i in range(paragraphs):
        assert page.html.count(f"Paragraph {i}:") == 1, i
    assert "<table>" in page.html and "<pre><code" in page.html
    # each character of text went out about once (whole states at the start aside)
    sent_text = sum(len(m["content"]["data"]["content"].get("t", "")) for m in custom)
    assert len(reply) * 0.9 < sent_text < len(reply) * 1.1
    # live traffic: everything but the final bundle, within 2x the answer + 150 B a message
    bundle = final_display(messages)
    assert bundle["text/markdown"] == reply and "end_turn · fed" in bundle["text/html"]
    live = [
        m
        for m in messages
        if m["msg_type"] in ("comm_open", "comm_msg", "comm_close", "display_data")
    ]
    answer = len(reply.encode())
    assert sum(content_bytes(m) for m in live) <= 2 * answer + 150 * len(live)
    assert max(content_bytes(m) for m in custom) < 3000
    # the widget's synced state never holds the answer
    for m in messages:
        if m["msg_type"] in ("comm_open", "comm_msg") and m["content"].get("comm_id") == comm_id:
            state = m["content"]["data"].get("state") or {}
            assert "Paragraph" not in json.dumps(state)


def test_an_unfinished_table_is_held_back(kernel):
    _, messages = run_in_kernel(kernel, f"feed({TABLE_REPLY!r}, {STEP})")
    _, custom = live_comm(messages)
    page, tails = Page(), []
    for m in custom:
        page.apply(m["content"]["data"]["content"], m.get("buffers") or [])
        tails.append(page.tail)
    assert any("row by row" in t for t in tails) and any("After the table" in t for t in tails)
    assert not [t for t in tails if "|" in t]  # the raw Markdown rows never show
    assert page.html.count("<table>") == 1 and page.html.count("row 7") == 1


def test_tool_loop_and_two_messages_reach_the_page(kernel):
    _, messages = run_in_kernel(kernel, f"tool_loop({STEP})")
    _, custom = live_comm(messages)
    page = Page()
    for m in custom:
        page.apply(m["content"]["data"]["content"], m.get("buffers") or [])
    html = page.html
    order = [
        html.index(s)
        for s in (
            "history rewound",
            "Let me check",
            "get_weather",
            "18 °C and sunny",
            "<strong>18 °C</strong>",
        )
    ]
    assert order == sorted(order) and html.count("get_weather") == 1
    assert "&lt;script&gt;" in html and "<script" not in html
    assert "end_turn · loop" in final_display(messages)["text/html"]
    status = [
        m["content"]["data"]["state"]["status"]
        for m in messages
        if m["msg_type"] == "comm_msg" and "status" in (m["content"]["data"].get("state") or {})
    ]
    assert "● running get_weather…" in status

    _, messages = run_in_kernel(kernel, f"two_messages({STEP})")
    _, custom = live_comm(messages)
    page = Page()
    for m in custom:
        page.apply(m["content"]["data"]["content"], m.get("buffers") or [])
    assert page.html.count("its last words.") == 1 and page.html.count("Second answer.") == 1
    assert page.html.index("its last words.") < page.html.index("Second answer.")


def test_model_markup_reaches_the_page_only_as_text_or_sanitised_html(kernel):
    payload = (
        'Injected: <img src=x onerror="window.__pwned=1"> and <script>window.__pwned=2</script>\n\n'
        "[x](javascript:window.__pwned=3) and more text to close the block\n\nlast"
    )
    _, messages = run_in_kernel(kernel, f"feed({payload!r}, {STEP})")
    _, custom = live_comm(messages)
    page = Page()
    for m in custom:
        page.apply(m["content"]["data"]["content"], m.get("buffers") or [])
        assert (
            "<script" not in page.html
            and "<img" not in page.html
            and 'href="javascript' not in page.html
        )
        assert "<script" not in page.preview
    assert "&lt;script&gt;" in page.html
    # the raw text went as text (the page appends it to a text node)
    assert any("<script>" in m["content"]["data"]["content"].get("t", "") for m in custom)


def test_a_front_end_that_never_answers_gets_widget_view(new_kernel):
    with new_kernel() as client:
        run_in_kernel(client, REPLY_SOURCE + FEED_SOURCE)
        probe = (
            "from claude_magic.notebook.view import make_view\n"
            "print(type(make_view(get_ipython())).__name__)"
        )
        code = (
            "now = [0.0]\nv = make_view(get_ipython(), clock=lambda: now[0])\n"
            "v.start({'model': 'Claude Test'})\nstream_message(v, now, 'Hello **there**.', 0.01)\n"
            "v.finish('done')\nprint(type(v).__name__)"
        )
        _, messages = run_in_kernel(client, code)
        assert "DeltaView" in "".join(
            m["content"].get("text", "") for m in messages if m["msg_type"] == "stream"
        )
        comm_id, _ = live_comm(messages)
        assert not [
            m for m in messages if m["msg_type"] == "comm_close"
        ]  # kept open for the page's answer
        _, messages = run_in_kernel(client, probe)
        assert "WidgetView" in "".join(
            m["content"].get("text", "") for m in messages if m["msg_type"] == "stream"
        )

    with new_kernel() as client:  # a page that loads the widget says so
        run_in_kernel(client, REPLY_SOURCE + FEED_SOURCE)
        _, messages = run_in_kernel(client, code)
        comm_id, _ = live_comm(messages)
        ready = client.session.msg(
            "comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": {"ready": 1}}}
        )
        client.shell_channel.send(ready)
        _, messages = run_in_kernel(client, code)
        assert "DeltaView" in "".join(
            m["content"].get("text", "") for m in messages if m["msg_type"] == "stream"
        )
        closed = {m["content"]["comm_id"] for m in messages if m["msg_type"] == "comm_close"}
        assert (
            comm_id in closed and live_comm(messages)[0] in closed
        )  # the old one, then this one at once


def test_text_outside_the_basic_plane_is_counted_as_the_page_counts(kernel):
    reply = "\n\n".join(
        f"Paragraph {i}: 😀 naïve 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 text, part {i} — and more 🎉 words." for i in range(12)
    )
    _, messages = run_in_kernel(kernel, f"feed({reply!r}, {STEP})")
    _, custom = live_comm(messages)
    page = Page()
    for m in custom:
        page.apply(m["content"]["data"]["content"], m.get("buffers") or [])
        # the unfinished paragraph only: no cut character, nothing of a finished one
        assert page.tail in reply and "Paragraph".startswith(page.tail[:9])
    assert page.gaps == 0 and page.tail == ""
    for i in range(12):
        assert page.html.count(f"Paragraph {i}: 😀") == 1


THINKING_SOURCE = '''
def stream_thinking(view, now, thinking, text, step, kind="thinking"):
    """One message: a thinking block (streamed, or empty but signed, or redacted), then text."""
    message = Message()
    def event(e):
        fold_event(message, e)
        view.update(message)
    event({"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 9}}})
    if kind == "redacted":
        event({"type": "content_block_start", "index": 0,
               "content_block": {"type": "redacted_thinking", "data": "RW5jcnlwdGVk"}})
    else:
        event({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}})
        for token in split_tokens(thinking):
            now[0] += step
            event({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "thinking_delta", "thinking": token}})
        event({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "c2ln"}})
    now[0] += step if thinking else 0.2  # a block without text: the model thinks a while
    view.update(message)
    event({"type": "content_block_stop", "index": 0})
    event({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}})
    for token in split_tokens(text):
        now[0] += step
        event({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": token}})
    event({"type": "content_block_stop", "index": 1})
    event({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
           "usage": {"output_tokens": 120, "output_tokens_details": {"thinking_tokens": 77}}})
    event({"type": "message_stop"})

def think(thinking, text, step, kind="thinking"):
    now = [0.0]
    view = start_view(now)
    stream_thinking(view, now, thinking, text, step, kind)
    view.finish("end_turn · thought", "end_turn")
'''

THINKING = "Weigh <b>options</b> and <script>window.__pwned=4</script> compare them. " * 60


def _replay(custom: list[dict]) -> tuple[Page, list[tuple[str, str, str]]]:
    """The page after every message, and (html, thinking title, thinking text) after each."""
    page, seen = Page(), []
    for m in custom:
        page.apply(m["content"]["data"]["content"], m.get("buffers") or [])
        seen.append((page.html, page.thinking_title, page.thinking))
    return page, seen


def test_thinking_fills_a_live_collapsed_section_from_deltas(kernel):
    run_in_kernel(kernel, THINKING_SOURCE)
    _, messages = run_in_kernel(kernel, f"think({THINKING!r}, 'The answer is **42**.', {STEP})")
    _, custom = live_comm(messages)
    page, seen = _replay(custom)
    assert page.gaps == 0
    # while it streamed, the live section was titled and its text grew, as text (never HTML)
    live = [thought for _, title, thought in seen if title == "Thinking…"]
    assert len(live) > 10 and len(set(live)) > 10
    assert all(THINKING.startswith(t) for t in live) and live == sorted(live, key=len)
    assert any("<script>" in t for t in live)
    # the thinking text went out about once, as deltas (whole states at the start aside)
    sent = sum(len(m["content"]["data"]["content"].get("r", "")) for m in custom)
    assert len(THINKING) <= sent < len(THINKING) * 1.1
    assert max(content_bytes(m) for m in custom) < 3000
    # finished, the live section is gone and the block is one closed, escaped section
    assert page.thinking_title == "" and page.thinking == ""
    for html, _, _ in seen:
        assert "<script" not in html and "<b>" not in html
    assert (
        page.html.count('<details class="claude-magic-thinking">') == 1
        and "<details open" not in page.html
    )
    assert "Weigh &lt;b&gt;options&lt;/b&gt;" in page.html
    assert page.html.index("claude-magic-thinking") < page.html.index("<strong>42</strong>")
    final = final_display(messages)["text/html"]
    assert (
        '<details class="claude-magic-thinking">' in final
        and "Thinking (77 thinking tokens)" in final
    )
    assert "<script" not in final and "<b>options" not in final


@pytest.mark.parametrize("kind", ["thinking", "redacted"])
def test_thinking_without_text_leaves_no_section(kernel, kind):
    run_in_kernel(kernel, THINKING_SOURCE)
    _, messages = run_in_kernel(kernel, f"think('', 'Done.', {STEP}, {kind!r})")
    _, custom = live_comm(messages)
    page, seen = _replay(custom)
    assert any(title == "Thinking…" for _, title, _ in seen)  # live while the block was open
    assert page.thinking_title == "" and "claude-magic-thinking" not in page.html
    final = final_display(messages)["text/html"]
    assert "claude-magic-thinking" not in final and "Thinking" not in final and "Done." in final


THREAD_SOURCE = '''
import contextvars
import threading

import ipywidgets

def from_a_thread(step):
    """Start the view in the cell with a button beside the header; answer from a thread."""
    now = [0.0]
    button = ipywidgets.Button(description="Stop")
    os.environ["CLAUDE_MAGIC_LIVE_VIEW"] = "deltas"
    try:
        view = make_view(get_ipython(), clock=lambda: now[0])
    finally:
        del os.environ["CLAUDE_MAGIC_LIVE_VIEW"]
    view.start({"model": "Claude Test", "chat": "default", "controls": [button]})
    context = contextvars.copy_context()

    def work():
        first = stream_message(view, now, "Let me look it up.", step, tool="lookup")
        view.tool_call(first.tool_uses[0])
        view.tool_result("toolu_1", "KeyError: 'population'", is_error=True,
                         traceback_text="Traceback (most recent call last):\\n  File <script>x</script>\\n"
                                        "KeyError: 'population'")
        view.new_message()
        stream_message(view, now, "It failed **twice**.", step)
        view.finish("end_turn · thread", "end_turn")

    worker = threading.Thread(target=lambda: context.run(work))
    worker.start()
    worker.join()
    button.close()
    print("display id:", view.display_id, "button:", button.model_id if button.comm else "closed")
'''


def test_a_worker_thread_streams_with_controls_beside_the_header(kernel):
    run_in_kernel(kernel, THREAD_SOURCE)
    _, messages = run_in_kernel(kernel, f"from_a_thread({STEP})")
    comm_id, custom = live_comm(messages)
    opened = [m for m in messages if m["msg_type"] == "comm_open"]
    (button,) = [
        m["content"]["comm_id"]
        for m in opened
        if m["content"]["data"]["state"].get("_model_name") == "ButtonModel"
    ]
    (answer,) = [m for m in opened if m["content"]["comm_id"] == comm_id]
    assert answer["content"]["data"]["state"]["controls"] == [f"IPY_MODEL_{button}"]
    assert opened.index(answer) > [m["content"]["comm_id"] for m in opened].index(button)
    # every message of the thread went to this cell, the final bundle to the view's display id
    printed = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
    shown = next(
        m
        for m in messages
        if m["msg_type"] == "display_data" and WIDGET_MIME in m["content"]["data"]
    )
    display_id = shown["content"]["transient"]["display_id"]
    assert f"display id: {display_id} " in printed
    page, _ = _replay(custom)
    assert page.gaps == 0
    order = [
        page.html.index(s)
        for s in ("Let me look it up.", "lookup", "KeyError", "<strong>twice</strong>")
    ]
    assert order == sorted(order)
    # the failed tool's full traceback is there, collapsed and escaped, live and in the bundle
    for html in (page.html, final_display(messages)["text/html"]):
        assert (
            '<details class="claude-magic-traceback"><summary' in html
            and "<details open" not in html
        )
        assert (
            "Traceback (most recent call last)" in html
            and "&lt;script&gt;" in html
            and "<script" not in html
        )
    assert "end_turn · thread" in final_display(messages)["text/html"]
