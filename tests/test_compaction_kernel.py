"""A real kernel: a chat that grows past the model's window twice keeps answering,
because Bedrock compacts it near the window (no turns left out); the turns stay in the
chat, `%claude history` shows where compaction happened, and a cited answer's markers and
passages are in the saved (static) output."""

from __future__ import annotations

import json

from kernel_helpers import run_in_kernel

TURN_TOKENS = 400_000  # two turns near Claude Sonnet 4.6's 1,000,000-token window


def _text(messages: list[dict]) -> str:
    return "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")


def _html(messages: list[dict]) -> str:
    return json.dumps(
        [
            m["content"].get("data", {}).get("text/html", "")
            for m in messages
            if m["msg_type"] in ("display_data", "update_display_data", "execute_result")
        ]
    )


def test_a_chat_crossing_the_window_twice_keeps_answering(magic_env, new_kernel, tmp_path):
    with new_kernel() as kc:
        run_in_kernel(kc, "%load_ext claude_magic\n%config ClaudeMagic.model = 'sonnet-4.6'")
        part = "word " * TURN_TOKENS
        footers = []
        for n in range(6):
            _, messages = run_in_kernel(kc, f"%%claude\nPart {n} of the log: {part}", timeout=300)
            html = _html(messages)
            assert "out tokens" in html and "leaves out" not in html, html[-2000:]
            footers.append(html)
        compacted = [
            n for n, html in enumerate(footers) if "Bedrock compacted the earlier turns" in html
        ]
        assert len(compacted) >= 2, compacted
        invokes = [
            r for r in magic_env.requests() if r["operation"] == "InvokeModelWithResponseStream"
        ]
        assert len(invokes) == 6
        sent = [
            r["body"].get("bytes") or len(json.dumps(r["body"])) for r in invokes
        ]  # large bodies: size only
        _, messages = run_in_kernel(
            kc,
            "import claude_magic\nchat = claude_magic._loaded[id(get_ipython())]"
            ".session.chats.get()\nprint(sum(len(t.prompt_text) for t in chat.turns))",
        )
        assert (
            int(_text(messages)) > 2 * 5 * 1_000_000
        )  # the chat holds over twice the window ("word " is a token)
        assert max(sent) < 5 * 1_000_000  # every request fits the window
        for n in compacted:
            body = invokes[n]["body"]
            (edit,) = [
                e for e in body["context_management"]["edits"] if e["type"] == "compact_20260112"
            ]
            assert 50_000 <= edit["trigger"]["value"] < 1_000_000
        _, messages = run_in_kernel(kc, "%%claude\nWhat were the parts about?", timeout=300)
        assert "out tokens" in _html(messages)

        _, messages = run_in_kernel(kc, "%claude history")
        history = _text(messages)
        assert history.count("── compacted here") == len(compacted)
        assert "[compacted: not sent]" in history and "Part 5 of the log" in history

        notes = tmp_path / "notes.txt"
        notes.write_text("Otters <b>hold</b> hands while sleeping.\n", encoding="utf-8")
        _, messages = run_in_kernel(
            kc, f"%%claude --new --chat cited --doc {notes} --cite -o cited\nWhat do otters do?"
        )
        final = json.loads(_html(messages))[-1]
        assert "hands while sleeping.[1]" in final and 'class="claude-magic-citations"' in final
        assert "Otters &lt;b&gt;hold&lt;/b&gt; hands" in final and "characters 0–" in final
        _, messages = run_in_kernel(
            kc, "print(cited.citations[0]['location'], cited.citations[0]['cited_text'])"
        )
        assert _text(messages).startswith("characters 0–")
