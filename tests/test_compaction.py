"""Long chats in a real IPython shell against the emulator: compaction instead of
trimming (the compacted turns kept, marked and no longer sent), `%claude compact` and
`%claude history`, old tool results cleared in tool-heavy chats with the footer saying
so, caching breakpoints after the compaction block and never on cleared results, and
trimming as before, with one line saying why, where compaction isn't available."""

from __future__ import annotations

import json

import pytest
from magic_helpers import last_body

from claude_magic.core.context_edits import COMPACT_BETA, CONTEXT_BETA, STAND_IN, clearable_ids
from claude_magic.core.conversation import Chats

BIG = "word " * 20_000  # about 20,000 tokens


def _invokes(emulator):
    return [r for r in emulator.requests() if r["operation"] != "CountTokens"]


def _ok(run):
    assert run.success, run.stdout + run.stderr
    return run


def _edits(body):
    return [e["type"] for e in (body.get("context_management") or {}).get("edits", [])]


def _marked(body):
    """(message index, block type) of each cache breakpoint in the messages."""
    return [
        (i, b.get("type"))
        for i, m in enumerate(body["messages"])
        if isinstance(m["content"], list)
        for b in m["content"]
        if "cache_control" in b
    ]


@pytest.fixture
def compacting(shell):
    shell.run("%config ClaudeMagic.compact_at = 50_000")
    return shell


def test_a_long_chat_is_compacted_and_keeps_answering(compacting, emulator, tmp_path):
    shell = compacting
    _ok(shell.ask("-m sonnet-4.6", "Part 0: otters. " + BIG))
    assert "context_management" not in last_body(emulator)
    _ok(shell.ask("-m sonnet-4.6", "Part 1: beavers. " + BIG))
    second = last_body(emulator)
    assert _edits(second) == ["compact_20260112"] and COMPACT_BETA in second["anthropic_beta"]
    run = _ok(shell.ask("-m sonnet-4.6", "Part 2: herons. " + BIG))
    assert "Bedrock compacted the earlier turns" in run.stdout and "tokens summarised" in run.stdout
    chat = shell.magic.session.chats.get()
    assert [t.compacted for t in chat.turns] == [True, True, False]
    summary = chat.turns[-1].compaction["content"]
    assert "Part 0: otters" in summary and "Part 1: beavers" in summary

    run = _ok(shell.ask("-m sonnet-4.6", "Which animal came first?"))
    body = last_body(emulator)
    assert body["messages"][0]["content"][0]["text"] == STAND_IN
    assert body["messages"][1]["content"][0]["type"] == "compaction"
    assert "Part 0: otters" not in json.dumps(body["messages"][2:])  # compacted turns are not sent
    assert COMPACT_BETA in body["anthropic_beta"]
    assert all(index >= 1 for index, _ in _marked(body))  # no breakpoint before the summary
    used = chat.turns[-1].usage
    read = used.input_tokens + used.cache_read_input_tokens + used.cache_creation_input_tokens
    assert read < 2_000 and "compacted" not in run.stdout  # the summary is read, not 60,000 tokens

    history = _ok(shell.run("%claude history")).stdout
    assert history.count("[compacted: not sent]") == 2 and "── compacted here" in history
    path = tmp_path / "chats.json"
    chat_file = Chats()
    chat_file.load(shell.magic.session.chats.save(path))
    loaded = chat_file.get()
    assert [t.compacted for t in loaded.turns] == [True, True, False, False]
    assert loaded.messages()[1]["content"][0]["type"] == "compaction"


def test_the_summary_is_sent_as_text_where_compaction_isnt_taken(compacting, emulator):
    shell = compacting
    for part in range(3):
        _ok(shell.ask("-m sonnet-4.6", f"Part {part}. " + BIG))
    shell.run("%config ClaudeMagic.api = 'converse'")
    _ok(shell.ask("-m sonnet-4.6", "And now?"))
    request = emulator.requests()[-1]["body"]
    texts = [c.get("text", "") for m in request["messages"] for c in m["content"]]
    assert any(t.startswith("[Summary of the earlier conversation]") for t in texts)
    assert (
        "additionalModelRequestFields" not in request
        or "anthropic_beta" not in request["additionalModelRequestFields"]
    )


def test_claude_compact_summarises_on_demand(shell, emulator):
    _ok(shell.ask("-m sonnet-4.6", "Small talk."))
    out = _ok(shell.run("%claude compact")).stdout
    assert "nothing to compact yet" in out and len(shell.magic.session.chats.get().turns) == 1
    shell.run("%config ClaudeMagic.model = 'sonnet-4.6'")
    _ok(shell.ask("", "Part A. " + BIG * 2))
    _ok(shell.ask("", "Part B. " + BIG))
    out = _ok(shell.run("%claude compact")).stdout
    assert "Chat 'default' compacted" in out and "no longer sent" in out
    body = last_body(emulator)
    (edit,) = body["context_management"]["edits"]
    assert edit == {
        "type": "compact_20260112",
        "trigger": {"type": "input_tokens", "value": 50_000},
        "pause_after_compaction": True,
    }
    chat = shell.magic.session.chats.get()
    assert [t.compacted for t in chat.turns] == [True, True, True, False]
    _ok(shell.ask("", "What did we cover?"))
    assert last_body(emulator)["messages"][1]["content"][0]["type"] == "compaction"
    assert "── compacted here" in _ok(shell.run("%claude history")).stdout


def test_claude_compact_where_compaction_isnt_available(shell, emulator):
    _ok(shell.ask("-m haiku-4.5", "Hello."))
    shell.run("%config ClaudeMagic.api = 'converse'")
    run = shell.run("%claude compact --chat default")
    assert not run.success and "Converse doesn't take compaction" in str(run.error)
    shell.run("%config ClaudeMagic.api = 'invoke'")
    shell.run("%config ClaudeMagic.model = 'haiku-4.5'")
    run = shell.run("%claude compact")
    assert not run.success and "Claude Haiku 4.5 doesn't take compaction" in str(run.error)
    run = shell.run("%claude compact --chat nope")
    assert not run.success and "No chat named 'nope'" in str(run.error)


@pytest.mark.parametrize(
    ("api", "reason"),
    [
        ("invoke", "Claude Haiku 4.5 doesn't take compaction on Bedrock"),
        ("converse", "Converse doesn't take compaction"),
    ],
)
def test_trimming_as_before_says_why_not_compaction(shell, emulator, api, reason):
    shell.run("%config ClaudeMagic.cache = False")
    shell.run(f"%config ClaudeMagic.api = '{api}'")
    big = "word " * 70_000
    for n in range(2):
        _ok(shell.ask("-m haiku-4.5", f"Part {n}: " + big))
    run = _ok(shell.ask("-m haiku-4.5", "Part 2: " + big))
    assert "leaves out the oldest 1 turn(s)" in run.stdout and reason in run.stdout


def test_a_bedrock_refusal_is_explained_and_the_chat_trimmed_instead(compacting, emulator):
    emulator.add_model(
        {
            "id": "anthropic.claude-opus-9",
            "profiles": ["us", "global"],
            "context_window": 1_000_000,
            "max_output_tokens": 64_000,
            "input_price": 5,
            "output_price": 25,
            "compaction": False,
            "context_editing": False,
            "launched": "2026-01-01",
        }
    )
    shell = compacting
    run = _ok(shell.ask("-m us.anthropic.claude-opus-9", "Part 0. " + BIG * 3))
    assert "Bedrock refused context editing and compaction for" in run.stdout
    assert "context_management" not in last_body(emulator)
    run = _ok(shell.ask("-m us.anthropic.claude-opus-9", "Part 1. " + BIG * 3))
    assert "refused" not in run.stdout and "context_management" not in last_body(
        emulator
    )  # remembered


def get_log(name: str) -> str:
    """Returns the log of a run (long)."""
    return f"log of {name}: " + "line " * 3000


def test_a_tool_heavy_chat_clears_old_results_and_the_footer_says_so(shell, emulator):
    shell.ip.user_ns["get_log"] = get_log
    shell.run("%config ClaudeMagic.context_clear_at = 20_000")
    shell.run("%config ClaudeMagic.auto_approve_tools = True")
    for n in range(11):
        _ok(shell.ask("-m sonnet-4.6 --tools get_log", f"Use get_log for run {n}."))
    assert all(
        CONTEXT_BETA not in (r["body"].get("anthropic_beta") or []) for r in _invokes(emulator)[:-1]
    )
    body = last_body(emulator)
    assert _edits(body) == ["clear_tool_uses_20250919"] and CONTEXT_BETA in body["anthropic_beta"]
    assert body["context_management"]["edits"][0]["keep"] == {"type": "tool_uses", "value": 3}
    run = _ok(shell.ask("-m sonnet-4.6 --tools get_log", "Use get_log for run 11."))
    assert "Bedrock cleared 8 old tool results" in run.stdout and "tokens saved" in run.stdout
    for request in _invokes(emulator)[-2:]:
        cleared = clearable_ids(request["body"]["messages"])
        assert cleared
        for message in request["body"]["messages"]:
            for block in message["content"] if isinstance(message["content"], list) else []:
                if "cache_control" in block and block.get("type") == "tool_result":
                    assert block["tool_use_id"] not in cleared


def test_context_clearing_can_be_turned_off(shell, emulator):
    shell.ip.user_ns["get_log"] = get_log
    shell.run("%config ClaudeMagic.context_clear_at = None")
    shell.run("%config ClaudeMagic.auto_approve_tools = True")
    for n in range(12):
        _ok(shell.ask("-m sonnet-4.6 --tools get_log", f"Use get_log for run {n}."))
    assert all("context_management" not in r["body"] for r in _invokes(emulator))


# -- the pure parts ------------------------------------------------------------------------


def _compacted_chat():
    from claude_magic.core.conversation import Conversation
    from claude_magic.core.messages import Message, text_block

    chat = Conversation()
    for n in range(3):
        turn = chat.new_turn([text_block(f"Question {n}")])
        content = [text_block(f"Answer {n}")]
        if n == 1:
            content = [{"type": "compaction", "content": "Questions 0 and 1 were asked."}, *content]
        turn.complete([Message(content=content)])
        chat.add(turn)
    return chat


def test_undo_and_rewind_keep_the_compacted_marks_right():
    chat = _compacted_chat()
    assert [t.compacted for t in chat.turns] == [True, False, False]
    assert chat.messages()[0]["content"][0]["text"] == STAND_IN
    chat.undo()
    chat.undo()
    assert [t.compacted for t in chat.turns] == [False]
    assert chat.messages()[0]["content"][0]["text"] == "Question 0"


def test_trimming_keeps_the_summary_and_compacts_what_is_left():
    from claude_magic.bedrock.window import fit_window
    from claude_magic.models import catalog

    model = catalog.resolve("sonnet-4.6").model
    big = "word " * 300_000
    messages = [
        {"role": "user", "content": [{"type": "text", "text": STAND_IN}]},
        {
            "role": "assistant",
            "content": [
                {"type": "compaction", "content": "Summary."},
                {"type": "text", "text": "Ok."},
            ],
        },
    ]
    for n in range(4):
        messages += [
            {"role": "user", "content": [{"type": "text", "text": f"Part {n} {big}"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Noted."}]},
        ]
    messages.append({"role": "user", "content": [{"type": "text", "text": "And?"}]})
    fitted = fit_window({"max_tokens": 1000, "messages": messages}, model, compaction=True)
    kept = fitted.body["messages"]
    assert kept[:2] == messages[:2] and len(kept) < len(messages)
    assert "asks Bedrock to compact the rest" in fitted.notice
    (edit,) = fitted.body["context_management"]["edits"]
    assert edit["type"] == "compact_20260112" and edit["trigger"]["value"] <= fitted.tokens
    plain = fit_window({"max_tokens": 1000, "messages": messages}, model, why_not="(Because.)")
    assert "context_management" not in plain.body and plain.notice.endswith("(Because.)")


def test_breakpoints_follow_the_summary_and_avoid_clearable_results():
    from claude_magic.bedrock.shaping import place_breakpoints
    from claude_magic.models import catalog

    model = catalog.resolve("sonnet-4.6").model
    long = "word " * 2_000
    messages = [
        {"role": "user", "content": [{"type": "text", "text": STAND_IN}]},
        {"role": "assistant", "content": [{"type": "compaction", "content": long}]},
        {"role": "user", "content": [{"type": "text", "text": long}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "a", "name": "f", "input": {}},
                {"type": "tool_use", "id": "b", "name": "f", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "a", "content": long},
                {"type": "tool_result", "tool_use_id": "b", "content": long},
            ],
        },
    ]
    body = {"messages": messages}
    assert place_breakpoints(body, model, avoid={"b"}) == 3
    marks = _marked(body)
    assert marks == [(1, "compaction"), (2, "text"), (4, "tool_result")]
    assert (
        "cache_control" in body["messages"][4]["content"][0]
        and "cache_control" not in body["messages"][4]["content"][1]
    )


def test_the_messages_api_route_compacts_too(compacting, emulator):
    shell = compacting
    shell.run("%config ClaudeMagic.api = 'mantle'")
    for part in range(3):
        run = _ok(shell.ask("-m sonnet-4.6", f"Part {part}. " + BIG))
    assert "Bedrock compacted the earlier turns" in run.stdout
    request = emulator.requests()[-1]
    assert COMPACT_BETA in request["headers"].get("anthropic-beta", "")
    _ok(shell.ask("-m sonnet-4.6", "And now?"))
    assert last_body(emulator)["messages"][1]["content"][0]["type"] == "compaction"
