"""Thinking and effort: the options' request bodies per model, the emulator's thinking
rules and signatures, and thinking blocks kept exactly through tool loops."""

from __future__ import annotations

import json
import re

import pytest
from helpers import SONNET as SONNET_45
from magic_helpers import last_body

from claude_magic.bedrock.shaping import ANSWER_ROOM, EFFORT_BUDGETS
from claude_magic.emulator.signatures import sign_thinking

LOOKUP = '''
def lookup(word: str) -> str:
    """Look a word up.

    Args:
        word: The word.
    """
    return f"{word}: a greeting"
'''


def _ok(run):
    assert run.success, run.stdout + run.stderr
    return run


# -- the options' bodies --------------------------------------------------------------------


def test_effort_on_an_adaptive_model(shell, emulator):
    _ok(shell.ask("-m opus-4.7 --effort xhigh", "Hi"))
    body = last_body(emulator)
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert body["output_config"] == {"effort": "xhigh"}
    assert body["max_tokens"] == 64000  # room for thinking and the answer


def test_effort_on_an_adaptive_model_that_shows_its_text(shell, emulator):
    _ok(shell.ask("-m opus-4.6 --effort low", "Hi"))
    body = last_body(emulator)
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "low"}


def test_effort_on_a_manual_model_is_a_budget(shell, emulator):
    _ok(shell.ask("-m sonnet-4.5 --effort medium", "Hi"))
    body = last_body(emulator)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": EFFORT_BUDGETS["medium"]}
    assert "output_config" not in body
    assert body["max_tokens"] == EFFORT_BUDGETS["medium"] + ANSWER_ROOM


def test_effort_with_max_tokens_keeps_the_budget_below_it(shell, emulator):
    _ok(shell.ask("-m sonnet-4.5 --effort high --max-tokens 10000", "Hi"))
    body = last_body(emulator)
    assert body["max_tokens"] == 10000
    assert 1024 <= body["thinking"]["budget_tokens"] < 10000


def test_effort_trait_is_the_default(shell, emulator):
    shell.run("%config ClaudeMagic.effort = 'low'")
    _ok(shell.ask("-m sonnet-5", "Hi"))
    assert last_body(emulator)["output_config"] == {"effort": "low"}
    _ok(shell.ask("-m sonnet-5 --no-think", "Hi again"))
    body = last_body(emulator)
    assert body["thinking"] == {"type": "disabled"} and "output_config" not in body


def test_levels_a_model_lacks_are_refused_with_the_ones_it_has(shell, emulator):
    run = shell.ask("-m opus-4.6 --effort xhigh", "Hi")
    assert not run.success
    assert "low, medium, high or max" in str(run.error)
    assert emulator.requests() == []


def test_think_budget_on_manual_and_adaptive_models(shell, emulator):
    _ok(shell.ask("-m sonnet-4.5 --think 2000", "Hi"))
    body = last_body(emulator)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["max_tokens"] == 2000 + ANSWER_ROOM
    _ok(shell.ask("-m opus-4.6 --think 3000", "Hi"))  # adaptive, still takes budgets
    assert last_body(emulator)["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    run = shell.ask("-m sonnet-5 --think 3000", "Hi")
    assert not run.success and "--effort" in str(run.error)
    assert len(emulator.requests()) == 2


def test_no_think(shell, emulator):
    _ok(shell.ask("-m sonnet-4.5 --no-think", "Hi"))
    assert last_body(emulator)["thinking"] == {"type": "disabled"}
    _ok(shell.ask("-m opus-4.7 --no-think", "Hi"))
    assert last_body(emulator)["thinking"] == {"type": "disabled"}
    run = shell.ask("-m sonnet-5.5 --no-think", "Hi")
    assert not run.success and "always thinks" in str(run.error)


def test_always_on_model_gets_room_but_no_thinking_field(shell, emulator):
    _ok(shell.ask("-m sonnet-5.5", "Hi"))
    body = last_body(emulator)
    assert "thinking" not in body and body["max_tokens"] == 32000


def test_no_thinking_options_send_nothing(shell, emulator):
    _ok(shell.ask("-m sonnet-4.5", "Hi"))
    body = last_body(emulator)
    assert "thinking" not in body and "output_config" not in body and body["max_tokens"] == 4096


def test_out_gets_the_answer_without_thinking(shell, emulator):
    _ok(shell.ask("-m sonnet-4.5 --think 2000 --out ans", "Hi"))
    answer = shell.ip.user_ns["ans"]
    assert "does not think" not in answer and answer.strip()
    turn = shell.magic.session.chats.get().turns[-1]
    assert turn.replies[0].content[0]["type"] == "thinking"


# -- the emulator's rules -------------------------------------------------------------------


def _invoke(client, body, model=SONNET_45):
    return client.invoke_model(modelId=model, body=json.dumps(body))


def _error(client, body, model=SONNET_45):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        _invoke(client, body, model)
    return info.value.response["Error"]["Message"]


def _body(**extra):
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 4000,
        "messages": [{"role": "user", "content": "Hi"}],
        **extra,
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"thinking": {"type": "enabled", "budget_tokens": 1000}},
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 4000}},
            "`max_tokens` must be greater than `thinking.budget_tokens`.",
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2000}, "temperature": 0.5},
            "`temperature` may only be set to 1 when thinking is enabled.",
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2000}, "top_k": 5},
            "`top_k` must be unset when thinking is enabled.",
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2000}, "top_p": 0.5},
            "`top_p` must be between 0.95 and 1",
        ),
        (
            {
                "thinking": {"type": "enabled", "budget_tokens": 2000},
                "tool_choice": {"type": "any"},
                "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            },
            "Thinking may not be enabled when tool_choice forces tool use.",
        ),
    ],
)
def test_thinking_rules_with_bedrock_messages(bedrock_client, extra, message):
    assert message in _error(bedrock_client, _body(**extra))


def test_thinking_allowed_values_pass(bedrock_client):
    reply = json.loads(
        _invoke(
            bedrock_client,
            _body(thinking={"type": "enabled", "budget_tokens": 2000}, temperature=1, top_p=0.97),
        )["body"].read()
    )
    thinking = reply["content"][0]
    assert thinking["type"] == "thinking" and thinking["thinking"]
    assert thinking["signature"] == sign_thinking(thinking["thinking"])
    assert reply["usage"]["output_tokens_details"]["thinking_tokens"] > 0


def test_signature_only_unless_summarized(bedrock_client):
    model = "us.anthropic.claude-opus-4-7"
    from claude_magic.models import catalog

    model = catalog.resolve("opus-4.7").invoke_id
    plain = json.loads(
        _invoke(bedrock_client, _body(thinking={"type": "adaptive"}), model)["body"].read()
    )
    assert plain["content"][0]["thinking"] == "" and plain["content"][0]["signature"]
    summarized = json.loads(
        _invoke(
            bedrock_client, _body(thinking={"type": "adaptive", "display": "summarized"}), model
        )["body"].read()
    )
    assert summarized["content"][0]["thinking"]


def test_stream_carries_thinking_deltas_and_one_signature(bedrock_client):
    response = bedrock_client.invoke_model_with_response_stream(
        modelId=SONNET_45,
        body=json.dumps(_body(thinking={"type": "enabled", "budget_tokens": 2000})),
    )
    events = [json.loads(item["chunk"]["bytes"]) for item in response["body"]]
    start = next(e for e in events if e["type"] == "content_block_start")
    assert start["content_block"]["type"] == "thinking"
    kinds = [
        e["delta"]["type"] for e in events if e["type"] == "content_block_delta" and e["index"] == 0
    ]
    assert kinds.count("signature_delta") == 1 and kinds[-1] == "signature_delta"
    assert kinds.count("thinking_delta") > 1


def _tool_loop_body(thinking_block):
    return _body(
        thinking={"type": "enabled", "budget_tokens": 2000},
        tools=[{"name": "f", "input_schema": {"type": "object"}}],
        messages=[
            {"role": "user", "content": "Use f"},
            {
                "role": "assistant",
                "content": [
                    thinking_block,
                    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}],
            },
        ],
    )


def test_modified_thinking_is_rejected(bedrock_client):
    good = {"type": "thinking", "thinking": "Plan.", "signature": sign_thinking("Plan.")}
    _invoke(bedrock_client, _tool_loop_body(good))
    changed_text = {**good, "thinking": "Plan!"}
    message = _error(bedrock_client, _tool_loop_body(changed_text))
    assert message.startswith(
        "messages.1.content.0: `thinking` or `redacted_thinking` blocks in "
        "the latest assistant message cannot be modified"
    )
    changed_signature = {**good, "signature": good["signature"][:-4] + "AAA="}
    assert "cannot be modified" in _error(bedrock_client, _tool_loop_body(changed_signature))


def test_redacted_thinking_via_the_script_route(bedrock_client, emulator):
    emulator.script({"content": [{"type": "redacted_thinking"}, {"type": "text", "text": "Hi."}]})
    reply = json.loads(_invoke(bedrock_client, _body())["body"].read())
    redacted = reply["content"][0]
    assert redacted["type"] == "redacted_thinking" and redacted["data"]
    _invoke(bedrock_client, _tool_loop_body(redacted))  # sent back as it came: accepted
    assert "cannot be modified" in _error(
        bedrock_client, _tool_loop_body({**redacted, "data": "QUJD"})
    )


# -- thinking kept exactly ------------------------------------------------------------------


def test_thinking_blocks_come_back_byte_identical_in_the_tool_loop(shell, emulator):
    shell.run(LOOKUP)
    _ok(shell.ask("-m sonnet-4.5 --think 2000 --tools lookup", "Use lookup for hello."))
    first, second = (r["body"] for r in emulator.requests())
    reply_thinking = second["messages"][1]["content"][0]
    assert reply_thinking["type"] == "thinking"
    assert reply_thinking["signature"] == sign_thinking(reply_thinking["thinking"])
    assert "interleaved-thinking-2025-05-14" in first["anthropic_beta"]
    assert second["anthropic_beta"] == first["anthropic_beta"]
    # the stored block is the same, and survives save and load
    stored = shell.magic.session.chats.get().turns[-1].replies[0].content[0]
    assert json.dumps(stored, sort_keys=True) == json.dumps(reply_thinking, sort_keys=True)
    _ok(shell.run("%claude save chats.json"))
    _ok(shell.run("%claude reset --all"))
    _ok(shell.run("%claude load chats.json"))
    loaded = shell.magic.session.chats.get().turns[-1].replies[0].content[0]
    assert loaded == stored


def test_follow_up_without_tools_keeps_thinking_and_writes_tool_blocks_as_text(shell, emulator):
    shell.run(LOOKUP)
    _ok(shell.ask("-m sonnet-4.5 --think 2000 --tools lookup", "Use lookup for hello."))
    replies = shell.magic.session.chats.get().turns[-1].replies
    shell.run("del lookup")
    _ok(shell.ask("-m sonnet-4.5 --think 2000", "Thanks"))
    body = last_body(emulator)
    assert "tools" not in body
    sent = [b for m in body["messages"] if m["role"] == "assistant" for b in m["content"]]
    assert {b["type"] for b in sent} == {"thinking", "text"}
    kept = [
        b for r in replies if r.role == "assistant" for b in r.content if b["type"] == "thinking"
    ]
    assert [b for b in sent if b["type"] == "thinking"] == kept  # unmodified, signatures intact
    _ok(shell.ask("-m sonnet-4.5 --think 2000", "And once more"))


def test_footer_counts_thinking_tokens(shell, emulator):
    run = _ok(shell.ask("-m sonnet-4.5 --think 2000", "Hi"))
    assert "thinking tokens" in run.stdout and "[Thinking" in run.stdout  # its text: a section


def test_thinking_without_text_is_only_counted_in_the_footer(shell, emulator):
    run = _ok(shell.ask("", "Hi"))  # Sonnet 5.5 thinks unasked and returns only a signature
    assert "Thinking" not in run.stdout and "signature" not in run.stdout
    assert re.search(r"out tokens · [\d,]+ thinking tokens ·", run.stdout)


def test_export_keeps_thinking_blocks_exactly(shell, emulator, tmp_path):
    import nbformat

    _ok(shell.ask("-m sonnet-4.5 --think 2000", "Hi"))
    stored = shell.magic.session.chats.get().turns[-1].replies[0].content[0]
    path = tmp_path / "chat.ipynb"
    _ok(shell.run(f"%claude export {path}"))
    notebook = nbformat.read(str(path), as_version=4)
    answer = notebook.cells[-1]
    assert answer.metadata["claude_magic"]["thinking"] == [stored]
    assert "*Thinking*" in answer.source and stored["thinking"][:20] in answer.source


def test_bedrocks_thinking_refusals_say_what_to_do(shell, emulator):
    run = shell.ask("-m sonnet-4.5 --think 2000 --max-tokens 1500", "Hi")
    assert not run.success
    assert "`max_tokens` must be greater than `thinking.budget_tokens`" in str(run.error)
    assert "raise --max-tokens above the budget" in str(run.error)
    run = shell.ask("-m sonnet-4.5 --think 2000 -t 0.3", "Hi")
    assert "drop --temperature while thinking" in str(run.error)
