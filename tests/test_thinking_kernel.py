"""The thinking section in a real kernel: live in the widget, a closed <details> in the
static bundle, sanitised; signature-only thinking gets no section."""

from __future__ import annotations

import json

from kernel_helpers import run_in_kernel


def _html_outputs(messages):
    return [
        m["content"]["data"]["text/html"]
        for m in messages
        if m["msg_type"] in ("display_data", "update_display_data", "execute_result")
        and "text/html" in m["content"].get("data", {})
    ]


def test_thinking_section_live_and_static(magic_env, new_kernel):
    magic_env.pace = 400  # slow enough for live renders while the thinking streams
    magic_env.script(
        {
            "content": [
                {"type": "thinking", "thinking": "Weigh <b>options</b> " * 30},
                {"type": "text", "text": "The answer."},
            ]
        }
    )
    magic_env.script(
        {
            "content": [{"type": "thinking", "thinking": ""}, {"type": "text", "text": "Done."}],
            "usage": {"output_tokens": 90},
        }
    )
    try:
        with new_kernel() as kc:
            run_in_kernel(kc, "%load_ext claude_magic")
            _, messages = run_in_kernel(
                kc, "%%claude -m sonnet-4.5 --think 2000 --out ans\nThink first."
            )
            live = [json.dumps(m["content"]) for m in messages if m["msg_type"] == "comm_msg"]
            assert any("Thinking\\u2026" in text or "Thinking…" in text for text in live)
            final = _html_outputs(messages)[-1]
            assert (
                '<details class="claude-magic-thinking">' in final and "<details open" not in final
            )
            assert "Weigh &lt;b&gt;options&lt;/b&gt;" in final and "<b>options</b>" not in final
            assert final.index("claude-magic-thinking") < final.index("The answer.")
            _, messages = run_in_kernel(kc, "print(repr(ans))")
            printed = "".join(
                m["content"].get("text", "") for m in messages if m["msg_type"] == "stream"
            )
            assert printed.strip() == "'The answer.'"
            _, messages = run_in_kernel(kc, "%%claude -m sonnet-4.5 --think 2000\nAgain.")
            final = _html_outputs(messages)[-1]
            assert (
                "claude-magic-thinking" not in final and "signature" not in final
            )  # nothing to open
            assert "Done." in final
    finally:
        magic_env.pace = None
