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
from kernel_helpers import run_in_kernel, running_kernel
from test_view import FEED_SOURCE, REPLY_SOURCE, STEP, final_display, synthetic_reply

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class Page:
    """The widget's state in a page, from its messages (live_widget.py's `apply`)."""

    def __init__(self) -> None:
        self.n, self.html, self.tail, self.preview, self.gaps = -1, "", "", "", 0
        self.thinking_title, self.thinking = "", ""  # the live thinking section (hidden when no title)

    def apply(self, content: dict, buffers: list) -> None:
        html = zlib.decompress(bytes(buffers[0])).decode() if content.get("h") else ""
        if content.get("f"):
            self.html, self.tail, self.preview = html, content.get("t", ""), content.get("p", "")
            self.thinking_title, self.thinking = content.get("s", ""), content.get("r", "")
        else:
            self.gaps += content["n"] != self.n + 1
            self.html += html
            kept = self.tail.encode("utf-16-le")[2 * content.get("k", 0):].decode("utf-16-le")
            self.tail = kept + content.get("t", "")
            self.preview = content.get("p", self.preview)
            if "s" in content:
                self.thinking_title, self.thinking = content["s"], ""
            self.thinking += content.get("r", "")
        self.n = content["n"]


def content_bytes(m: dict) -> int:
    return len(json.dumps(m["content"], ensure_ascii=False).encode()) + sum(len(b) for b in m.get("buffers") or ())


def live_comm(messages: list[dict]) -> tuple[str, list[dict]]:
    """The live widget's comm id and its custom messages."""
    shown = next(m for m in messages if m["msg_type"] == "display_data" and WIDGET_MIME in m["content"]["data"])
    comm_id = shown["content"]["data"][WIDGET_MIME]["model_id"]
    custom = [m for m in messages if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
              and m["content"]["data"].get("method") == "custom"]
    return comm_id, custom


@pytest.fixture(scope="module")
def kernel():
    with running_kernel() as client:
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
    live = [m for m in messages if m["msg_type"] in ("comm_open", "comm_msg", "comm_close", "display_data")]
    answer = len(reply.encode())
    assert sum(content_bytes(m) for m in live) <= 2 * answer + 150 * len(live)
    assert max(content_bytes(m) for m in custom) < 3000
    # the widget's synced state never holds the answer
    for m in messages:
        if m["msg_type"] in ("comm_open", "comm_msg") and m["content"].get("comm_id") == comm_id:
            state = m["content"]["data"].get("state") or {}
            assert "Paragraph" not in json.dumps(state)


def test_tool_loop_and_two_messages_reach_the_page(kernel):
    _, messages = run_in_kernel(kernel, f"tool_loop({STEP})")
    _, custom = live_comm(messages)
    page = Page()
    for m in custom:
        page.apply(m["content"]["data"]["content"], m.get("buffers") or [])
    html = page.html
    order = [html.index(s) for s in ("history rewound", "Let me check", "get_weather", "18 °C and sunny",
                                     "<strong>18 °C</strong>")]
    assert order == sorted(order) and html.count("get_weather") == 1
    assert "&lt;script&gt;" in html and "<script" not in html
    assert "end_turn · loop" in final_display(messages)["text/html"]
    status = [m["content"]["data"]["state"]["status"] for m in messages if m["msg_type"] == "comm_msg"
              and "status" in (m["content"]["data"].get("state") or {})]
    assert "● running get_weather…" in status

    _, messages = run_in_kernel(kernel, f"two_messages({STEP})")
    _, custom = live_comm(messages)
    page = Page()
    for m in custom:
        page.apply(m["content"]["data"]["content"], m.get("buffers") or [])
    assert page.html.count("its last words.") == 1 and page.html.count("Second answer.") == 1
    assert page.html.index("its last words.") < page.html.index("Second answer.")


def test_model_markup_reaches_the_page_only_as_text_or_sanitised_html(kernel):
    payload = ("Injected: <img src=x onerror=\"window.__pwned=1\"> and <script>window.__pwned=2</script>\n\n"
               "[x](javascript:window.__pwned=3) and more text to close the block\n\nlast")
    _, messages = run_in_kernel(kernel, f"feed({payload!r}, {STEP})")
    _, custom = live_comm(messages)
    page = Page()
    for m in custom:
        page.apply(m["content"]["data"]["content"], m.get("buffers") or [])
        assert "<script" not in page.html and "<img" not in page.html and "href=\"javascript" not in page.html
        assert "<script" not in page.preview
    assert "&lt;script&gt;" in page.html
    # the raw text went as text (the page appends it to a text node)
    assert any("<script>" in m["content"]["data"]["content"].get("t", "") for m in custom)


def test_a_front_end_that_never_answers_gets_widget_view():
    with running_kernel() as client:
        run_in_kernel(client, REPLY_SOURCE + FEED_SOURCE)
        probe = ("from claude_magic.notebook.view import make_view\n"
                 "print(type(make_view(get_ipython())).__name__)")
        code = "now = [0.0]\nv = make_view(get_ipython(), clock=lambda: now[0])\n" \
               "v.start({'model': 'Claude Test'})\nstream_message(v, now, 'Hello **there**.', 0.01)\n" \
               "v.finish('done')\nprint(type(v).__name__)"
        _, messages = run_in_kernel(client, code)
        assert "DeltaView" in "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
        comm_id, _ = live_comm(messages)
        assert not [m for m in messages if m["msg_type"] == "comm_close"]  # kept open for the page's answer
        _, messages = run_in_kernel(client, probe)
        assert "WidgetView" in "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")

    with running_kernel() as client:  # a page that loads the widget says so
        run_in_kernel(client, REPLY_SOURCE + FEED_SOURCE)
        _, messages = run_in_kernel(client, code)
        comm_id, _ = live_comm(messages)
        ready = client.session.msg("comm_msg", {"comm_id": comm_id,
                                                "data": {"method": "custom", "content": {"ready": 1}}})
        client.shell_channel.send(ready)
        _, messages = run_in_kernel(client, code)
        assert "DeltaView" in "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
        closed = {m["content"]["comm_id"] for m in messages if m["msg_type"] == "comm_close"}
        assert comm_id in closed and live_comm(messages)[0] in closed  # the old one, then this one at once


def test_text_outside_the_basic_plane_is_counted_as_the_page_counts(kernel):
    reply = "\n\n".join(f"Paragraph {i}: 😀 naïve 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 text, part {i} — and more 🎉 words." for i in range(12))
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
