"""The thinking section's HTML: escaped text, closed, and what it says without text."""

from __future__ import annotations

from claude_magic.core.messages import Message, Usage
from claude_magic.core.render import static_bundle
from claude_magic.core.thinking import live_thinking_html, thinking_html


def test_text_is_escaped_and_the_section_closed():
    html = thinking_html([{"type": "thinking", "thinking": "<script>x()</script>", "signature": "s"}], 12)
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert html.startswith('<details class="claude-magic-thinking">') and "open" not in html
    assert "Thinking (12 thinking tokens)" in html


def test_signature_only_and_redacted_say_so():
    assert "only its signature" in thinking_html([{"type": "thinking", "thinking": "", "signature": "s"}], 1)
    assert "(1 thinking token)" in thinking_html([{"type": "thinking", "thinking": "", "signature": "s"}], 1)
    assert "redacted" in thinking_html([{"type": "redacted_thinking", "data": "x"}])


def test_live_section_is_bounded():
    html = live_thinking_html({"type": "thinking", "thinking": "a" * 50_000})
    assert "Thinking…" in html and len(html) < 5_000


def test_static_bundle_keeps_it_above_the_answer():
    message = Message(content=[{"type": "thinking", "thinking": "plan", "signature": "s"},
                               {"type": "text", "text": "Answer."}], usage=Usage(thinking_tokens=7))
    bundle = static_bundle([message])
    html = bundle["text/html"]
    assert html.index("claude-magic-thinking") < html.index("Answer.")
    assert "<details" in html and "<details open" not in html and "7 thinking tokens" in html
    assert "plan" not in bundle["text/plain"]
