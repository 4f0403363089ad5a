"""Context editing and compaction through real boto3 against the emulator: old tool
results cleared with Bedrock's report, compaction blocks with an honest summary and their
own usage, what comes before a compaction block not read, and the betas refused on
Converse and on models that don't take them, with Bedrock's messages."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from claude_magic.core.context_edits import (
    COMPACT_BETA,
    CONTEXT_BETA,
    clear_tool_uses_edit,
    clearable_ids,
    compact_edit,
    context_note,
    from_compaction,
)
from claude_magic.core.messages import Message
from claude_magic.core.stream import fold_event
from claude_magic.emulator.context import CLEARED_RESULT

SONNET_46 = "us.anthropic.claude-sonnet-4-6"
HAIKU_45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
TOOL = {
    "name": "run",
    "description": "Runs a step.",
    "input_schema": {"type": "object", "properties": {}},
}
BIG = "word " * 12_000  # about 12,000 tokens


def tool_chat(steps: int, result: str = BIG) -> list[dict]:
    messages = [{"role": "user", "content": "Run the steps."}]
    for i in range(steps):
        messages.append(
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": f"toolu_{i}", "name": "run", "input": {}}],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"toolu_{i}",
                        "content": f"step {i}: {result}",
                    }
                ],
            }
        )
    return messages


def body(messages, *, betas=(CONTEXT_BETA,), edits=(), tools=True, **extra):
    out = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 400,
        "messages": messages,
        **extra,
    }
    if betas:
        out["anthropic_beta"] = list(betas)
    if edits:
        out["context_management"] = {"edits": list(edits)}
    if tools:
        out["tools"] = [TOOL]
    return out


def invoke(client, request, model=SONNET_46):
    return json.loads(client.invoke_model(modelId=model, body=json.dumps(request))["body"].read())


def stream(client, request, model=SONNET_46):
    response = client.invoke_model_with_response_stream(modelId=model, body=json.dumps(request))
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


def error(client, request, model=SONNET_46):
    with pytest.raises(ClientError) as caught:
        invoke(client, request, model)
    return caught.value.response["Error"]["Message"]


def clear_edit(trigger=30_000, keep=2):
    return {
        "type": "clear_tool_uses_20250919",
        "trigger": {"type": "input_tokens", "value": trigger},
        "keep": {"type": "tool_uses", "value": keep},
    }


def test_old_tool_results_are_cleared_and_reported(bedrock_client, emulator):
    reply = invoke(bedrock_client, body(tool_chat(5), edits=[clear_edit()]))
    (applied,) = reply["context_management"]["applied_edits"]
    assert applied["type"] == "clear_tool_uses_20250919" and applied["cleared_tool_uses"] == 3
    assert applied["cleared_input_tokens"] > 30_000
    assert reply["usage"]["input_tokens"] < 30_000  # the model read the cleared request
    first = invoke(bedrock_client, body(tool_chat(5)))
    assert first["usage"]["input_tokens"] > 55_000 and "context_management" not in first


def test_nothing_is_cleared_below_the_trigger(bedrock_client, emulator):
    reply = invoke(bedrock_client, body(tool_chat(5, "short"), edits=[clear_edit()]))
    assert reply["context_management"] == {"applied_edits": []}


def test_the_stream_reports_the_edits_in_message_delta(bedrock_client, emulator):
    events = stream(bedrock_client, body(tool_chat(5), edits=[clear_edit()]))
    delta = next(e for e in events if e["type"] == "message_delta")
    assert delta["context_management"]["applied_edits"][0]["cleared_tool_uses"] == 3
    message = Message()
    for event in events:
        fold_event(message, event)
    assert "Bedrock cleared 3 old tool results" in context_note([message])


def test_the_clients_edit_clears_in_steps_and_keeps_the_newest():
    messages = tool_chat(12, "x")
    edit = clear_tool_uses_edit(messages, 50_000)
    assert edit["keep"] == {"type": "tool_uses", "value": 4}  # 12 uses: 8 cleared, 4 kept
    assert clearable_ids(messages) == {f"toolu_{i}" for i in range(8)}
    assert clear_tool_uses_edit(tool_chat(10, "x"), 50_000) is None  # fewer than a step to clear
    assert clear_tool_uses_edit(tool_chat(11, "x"), 50_000)["keep"]["value"] == 3


def test_compaction_summarises_the_earlier_turns_with_its_own_usage(bedrock_client, emulator):
    messages = [
        {"role": "user", "content": "Tell me about otters. " + BIG * 3},
        {"role": "assistant", "content": "Otters are playful."},
        {"role": "user", "content": "And beavers? " + BIG * 3},
        {"role": "assistant", "content": "Beavers build dams."},
        {"role": "user", "content": "Compare them."},
    ]
    request = body(messages, betas=[COMPACT_BETA], edits=[compact_edit(50_000)], tools=False)
    reply = invoke(bedrock_client, request)
    compaction, *rest = reply["content"]
    assert compaction["type"] == "compaction" and rest[0]["type"] == "text"
    summary = compaction["content"]
    assert (
        "not by Claude" in summary
        and "Tell me about otters" in summary
        and "Beavers build dams" in summary
    )
    iterations = reply["usage"]["iterations"]
    assert [i["type"] for i in iterations] == ["compaction", "message"]
    assert iterations[0]["input_tokens"] > 70_000 > 2_000 > reply["usage"]["input_tokens"]
    assert (
        Message.from_dict(reply).billed_usage.input_tokens
        == iterations[0]["input_tokens"] + reply["usage"]["input_tokens"]
    )

    # sent back: what comes before the compaction block is not read
    later, dropped = from_compaction(
        [
            *messages,
            {"role": "assistant", "content": reply["content"]},
            {"role": "user", "content": "Which is faster?"},
        ]
    )
    assert dropped == 4 and later[1]["content"][0]["type"] == "compaction"
    again = invoke(
        bedrock_client, body(later, betas=[COMPACT_BETA], edits=[compact_edit(50_000)], tools=False)
    )
    assert again["usage"]["input_tokens"] < 2_000 and again["content"][0]["type"] == "text"
    whole = invoke(
        bedrock_client,
        body(
            [
                *messages,
                {"role": "assistant", "content": reply["content"]},
                {"role": "user", "content": "Which is faster?"},
            ],
            betas=[COMPACT_BETA],
            tools=False,
        ),
    )
    assert whole["usage"]["input_tokens"] == again["usage"]["input_tokens"]


def test_compaction_streams_as_a_block_of_its_own(bedrock_client, emulator):
    messages = [
        {"role": "user", "content": "Summarise me. " + BIG * 5},
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "Next."},
    ]
    events = stream(
        bedrock_client,
        body(messages, betas=[COMPACT_BETA], edits=[compact_edit(50_000, pause=True)], tools=False),
    )
    start = next(e for e in events if e["type"] == "content_block_start")
    assert start["content_block"] == {"type": "compaction", "content": None}
    message = Message()
    for event in events:
        fold_event(message, event)
    assert message.stop_reason == "compaction" and len(message.content) == 1
    assert "Summarise me" in message.content[0]["content"]
    assert message.iterations and message.iterations[0]["type"] == "compaction"


def test_compaction_blocks_need_the_beta(bedrock_client, emulator):
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "compaction", "content": "Earlier: hello."}]},
        {"role": "user", "content": "Go on."},
    ]
    assert "compaction blocks require" in error(
        bedrock_client, body(messages, betas=(), tools=False)
    )
    assert invoke(bedrock_client, body(messages, betas=[COMPACT_BETA], tools=False))["content"]


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        (
            body([{"role": "user", "content": "Hi"}], betas=(), edits=[clear_edit()]),
            "extraneous key [context_management] is not permitted",
        ),
        (
            body(
                [{"role": "user", "content": "Hi"}],
                betas=[CONTEXT_BETA],
                edits=[compact_edit(60_000)],
            ),
            'compact_20260112 requires "anthropic_beta": ["compact-2026-01-12"]',
        ),
        (
            body(
                [{"role": "user", "content": "Hi"}],
                betas=[COMPACT_BETA],
                edits=[
                    {"type": "compact_20260112", "trigger": {"type": "input_tokens", "value": 1000}}
                ],
            ),
            "trigger.value: Input should be greater than or equal to 50000",
        ),
        (
            body(
                [{"role": "user", "content": "Hi"}],
                edits=[clear_edit(), {"type": "clear_thinking_20251015"}],
            ),
            "clear_thinking_20251015 must be the first edit",
        ),
        (
            body([{"role": "user", "content": "Hi"}], edits=[{"type": "clear_everything"}]),
            "Input tag 'clear_everything' found using 'type' does not match",
        ),
    ],
)
def test_malformed_context_management_is_refused(bedrock_client, emulator, request_body, message):
    assert message in error(bedrock_client, request_body)


def test_models_that_dont_take_the_betas_refuse_them(bedrock_client, emulator):
    hello = [{"role": "user", "content": "Hi"}]
    text = error(bedrock_client, body(hello, betas=[COMPACT_BETA], tools=False), model=HAIKU_45)
    assert text == "claude-haiku-4-5-20251001 does not support the beta flag compact-2026-01-12."
    assert invoke(bedrock_client, body(hello, edits=[clear_edit()]), model=HAIKU_45)["content"]


def test_converse_refuses_the_betas(bedrock_client, emulator):
    with pytest.raises(ClientError) as caught:
        bedrock_client.converse(
            modelId=SONNET_46,
            messages=[{"role": "user", "content": [{"text": "Hi"}]}],
            additionalModelRequestFields={
                "anthropic_beta": [CONTEXT_BETA],
                "context_management": {"edits": [clear_edit()]},
            },
        )
    assert caught.value.response["Error"]["Message"].endswith("invalid beta flag")


def test_cleared_results_are_replaced_as_the_model_reads_them(bedrock_client, emulator):
    invoke(bedrock_client, body(tool_chat(5), edits=[clear_edit()]))
    request = emulator.requests()[-1][
        "body"
    ]  # the log keeps what was sent; the reply shows what was read
    assert request["messages"][2]["content"][0]["content"].startswith("step 0")
    from claude_magic.emulator.context import manage

    managed = manage(request)
    results = [
        m["content"][0]
        for m in managed.body["messages"]
        if m["role"] == "user" and m is not managed.body["messages"][0]
    ]
    assert [r["content"] == [{"type": "text", "text": CLEARED_RESULT}] for r in results] == [
        True
    ] * 3 + [False] * 2
