"""The thinking section's HTML: escaped text, closed, and what it says without text."""

from __future__ import annotations

import re

from claude_magic.core.messages import Message, Usage
from claude_magic.core.render import footer_text, static_bundle
from claude_magic.core.thinking import hidden_thinking_note, live_thinking_html, thinking_html


def test_text_is_escaped_and_the_section_closed():
    html = thinking_html(
        [{"type": "thinking", "thinking": "<script>x()</script>", "signature": "s"}], 12
    )
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert html.startswith('<details class="claude-magic-thinking">') and "open" not in html
    assert "Thinking (12 thinking tokens)" in html


def test_no_section_without_text_the_footer_says_it():
    signature_only = {"type": "thinking", "thinking": "", "signature": "s"}
    redacted = {"type": "redacted_thinking", "data": "x"}
    assert thinking_html([signature_only], 21) == "" and thinking_html([redacted], 5) == ""
    message = Message(
        content=[signature_only, {"type": "text", "text": "Answer."}],
        usage=Usage(input_tokens=12, output_tokens=126, thinking_tokens=21),
    )
    bundle = static_bundle([message], footer=footer_text("end_turn", message.usage))
    assert (
        "claude-magic-thinking" not in bundle["text/html"] and "Thinking" not in bundle["text/html"]
    )
    assert "21 thinking tokens" in bundle["text/html"]
    assert footer_text(
        "end_turn",
        Usage(output_tokens=9, thinking_tokens=5),
        thinking_note=hidden_thinking_note([redacted]),
    ) == ("end_turn · 0 in / 9 out tokens · 5 thinking tokens (redacted by the safety system)")
    assert hidden_thinking_note([signature_only]) == "" and hidden_thinking_note([]) == ""


def test_opened_text_is_set_apart_from_the_answer():
    message = Message(
        content=[
            {"type": "thinking", "thinking": "plan", "signature": "s"},
            {"type": "text", "text": "Answer."},
        ]
    )
    html = static_bundle([message])["text/html"]
    style = re.search(r'<div class="claude-magic-thinking-text" style="([^"]*)">plan</div>', html)
    assert style, html  # kept by the sanitiser: muted, smaller, a rule on its left
    assert "color:" in style.group(1) and "font-size:0.9em" in style.group(1)
    assert "border-left:" in style.group(1) and "padding-left:" in style.group(1)
    assert '<div class="claude-magic-answer"><p>Answer.</p>' in html  # the answer: plain


def test_live_section_is_bounded():
    html = live_thinking_html({"type": "thinking", "thinking": "a" * 50_000})
    assert "Thinking…" in html and len(html) < 5_000


def test_static_bundle_keeps_it_above_the_answer():
    message = Message(
        content=[
            {"type": "thinking", "thinking": "plan", "signature": "s"},
            {"type": "text", "text": "Answer."},
        ],
        usage=Usage(thinking_tokens=7),
    )
    bundle = static_bundle([message])
    html = bundle["text/html"]
    assert html.index("claude-magic-thinking") < html.index("Answer.")
    assert "<details" in html and "<details open" not in html and "7 thinking tokens" in html
    assert "plan" not in bundle["text/plain"]
