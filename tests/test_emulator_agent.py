"""Agent runs on the emulator through real boto3: the honest unscripted run it plays when
offered the notebook agent's tools (InvokeModel, streamed or not, and Converse; plan mode; a
failed step; `tool_choice`; `max_tokens`), and whole runs scripted step by step."""

from __future__ import annotations

import contextlib
import io
import json
import traceback
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from helpers import HAIKU

from claude_magic.core.messages import Message
from claude_magic.core.stream import fold_event
from claude_magic.emulator.responder.agent import INTRO, NAMESPACE_CODE

RUN_CODE = {
    "name": "run_code",
    "description": "Run Python code in the notebook's kernel.",
    "input_schema": {
        "type": "object",
        "required": ["code"],
        "properties": {"code": {"type": "string"}},
    },
}
READ_CELLS = {
    "name": "read_cells",
    "description": "Read notebook cells.",
    "input_schema": {
        "type": "object",
        "properties": {"start": {"type": "integer"}, "end": {"type": "integer"}},
    },
}
LIST_VARIABLES = {
    "name": "list_variables",
    "description": "The kernel's variables.",
    "input_schema": {"type": "object", "properties": {}},
}
INSPECT = {
    "name": "inspect_variable",
    "description": "Describe one variable.",
    "input_schema": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}},
    },
}
AGENT_TOOLS = [RUN_CODE, READ_CELLS, LIST_VARIABLES, INSPECT]
PLAN_TOOLS = [READ_CELLS, LIST_VARIABLES, INSPECT]
PROMPT = "Tidy up the sales data frame and plot revenue by month."
Send = Callable[[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]], Message]


# -- the notebook the runs work in: a real namespace, real execution ---------------------------


class Workspace:
    """A namespace the run's tools act on, as the agent's kernel would."""

    def __init__(self, **variables: Any) -> None:
        self.namespace: dict[str, Any] = dict(variables)
        self.ran: list[str] = []

    def call(self, name: str, given: dict[str, Any]) -> tuple[str, bool]:
        """(the tool result's text, whether it is an error)."""
        if name == "list_variables":
            shown = sorted(k for k in self.namespace if not k.startswith("_"))
            return "\n".join(f"{k}: {type(self.namespace[k]).__name__}" for k in shown), False
        if name == "run_code":
            self.ran.append(given["code"])
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile(given["code"], "<cell>", "exec"), self.namespace)
            except Exception as exc:
                return out.getvalue() + "".join(
                    traceback.format_exception_only(type(exc), exc)
                ), True
            return out.getvalue(), False
        return f"{name} is not played in this test", True


def play(
    send: Send,
    tools: list[dict],
    workspace: Workspace,
    answer: Callable | None = None,
    limit: int = 6,
    **fields: Any,
) -> list[Message]:
    """Drive a tool loop as the agent does: each reply's calls answered, until it ends."""
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": PROMPT}]}
    ]
    replies = []
    for _ in range(limit):
        reply = send(messages, tools, fields)
        replies.append(reply)
        if reply.stop_reason != "tool_use":
            return replies
        messages.append({"role": "assistant", "content": reply.content})
        results = []
        for call in reply.tool_uses:
            text, failed = (answer or workspace.call)(call["name"], call["input"])
            result = {
                "type": "tool_result",
                "tool_use_id": call["id"],
                "content": [{"type": "text", "text": text or "(no output)"}],
            }
            if failed:
                result["is_error"] = True
            results.append(result)
        messages.append({"role": "user", "content": results})
    raise AssertionError(f"the run did not end within {limit} replies")


# -- three ways to send a request through boto3 --------------------------------------------


def _invoke_body(messages, tools, fields) -> str:
    return json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 2000,
            "messages": messages,
            "tools": tools,
            **fields,
        }
    )


def invoke(client) -> Send:
    def send(messages, tools, fields):
        response = client.invoke_model(modelId=HAIKU, body=_invoke_body(messages, tools, fields))
        return Message.from_dict(json.loads(response["body"].read()))

    return send


def invoke_streaming(client) -> Send:
    def send(messages, tools, fields):
        response = client.invoke_model_with_response_stream(
            modelId=HAIKU, body=_invoke_body(messages, tools, fields)
        )
        message = Message()
        for event in response["body"]:
            fold_event(message, json.loads(event["chunk"]["bytes"]))
        return message

    return send


def _to_converse(block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] == "text":
        return {"text": block["text"]}
    if block["type"] == "tool_use":
        return {
            "toolUse": {"toolUseId": block["id"], "name": block["name"], "input": block["input"]}
        }
    result = {
        "toolUseId": block["tool_use_id"],
        "content": [{"text": c["text"]} for c in block["content"]],
    }
    if block.get("is_error"):
        result["status"] = "error"
    return {"toolResult": result}


def _from_converse(block: dict[str, Any]) -> dict[str, Any]:
    if "text" in block:
        return {"type": "text", "text": block["text"]}
    use = block["toolUse"]
    return {"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": use["input"]}


def converse(client) -> Send:
    def send(messages, tools, fields):
        specs = [
            {
                "toolSpec": {
                    "name": t["name"],
                    "description": t["description"],
                    "inputSchema": {"json": t["input_schema"]},
                }
            }
            for t in tools
        ]
        config: dict[str, Any] = {"tools": specs}
        if "tool_choice" in fields:
            choice = fields["tool_choice"]
            config["toolChoice"] = (
                {"tool": {"name": choice["name"]}}
                if choice["type"] == "tool"
                else {choice["type"]: {}}
            )
        response = client.converse(
            modelId=HAIKU,
            toolConfig=config,
            inferenceConfig={"maxTokens": fields.get("max_tokens", 2000)},
            messages=[
                {"role": m["role"], "content": [_to_converse(b) for b in m["content"]]}
                for m in messages
            ],
        )
        content = [_from_converse(b) for b in response["output"]["message"]["content"]]
        return Message(content=content, stop_reason=response["stopReason"])

    return send


SENDERS = {"invoke": invoke, "stream": invoke_streaming, "converse": converse}


def queued(emulator) -> list[dict[str, Any]]:
    """The scripted replies still waiting (`GET /_emulator/script`)."""
    with urllib.request.urlopen(f"{emulator.url}/_emulator/script") as response:
        return json.loads(response.read())["scripts"]


# -- the unscripted run ------------------------------------------------------------------------


@pytest.mark.parametrize("how", SENDERS)
def test_unscripted_run_lists_variables_runs_a_look_and_reports(bedrock_client, emulator, how):
    workspace = Workspace(sales=[3, 4], region="north", months=12, ratio=0.5)
    first, second, last = play(SENDERS[how](bedrock_client), AGENT_TOOLS, workspace)

    assert first.stop_reason == "tool_use" and first.text == INTRO
    assert [(c["name"], c["input"]) for c in first.tool_uses] == [("list_variables", {})]
    assert second.stop_reason == "tool_use"
    assert [(c["name"], c["input"]) for c in second.tool_uses] == [
        ("run_code", {"code": NAMESPACE_CODE})
    ]
    assert last.stop_reason == "end_turn" and not last.tool_uses
    # the look ran for real, printed what the namespace holds and left nothing behind
    assert workspace.ran == [NAMESPACE_CODE]
    assert {k for k in workspace.namespace if k != "__builtins__"} == {
        "sales",
        "region",
        "months",
        "ratio",
    }
    assert "not Claude" in last.text and "emulator" in last.text
    assert "```text\n4 user variables" in last.text and "\nstr: 1 (region)" in last.text
    assert "\nmonths: int" in last.text  # what list_variables answered
    assert "script_steps" in last.text and "/_emulator/script" in last.text
    assert len(emulator.requests()) == 3


def test_the_same_request_gets_the_same_reply(bedrock_client, emulator):
    send = invoke(bedrock_client)
    messages = [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}]
    once, again = send(messages, AGENT_TOOLS, {}), send(messages, AGENT_TOOLS, {})
    assert once.content == again.content


def test_plan_mode_lists_variables_then_answers_with_a_plan_and_its_code(bedrock_client, emulator):
    workspace = Workspace(frame={"a": 1})
    first, last = play(invoke(bedrock_client), PLAN_TOOLS, workspace)
    assert [c["name"] for c in first.tool_uses] == ["list_variables"]
    assert last.stop_reason == "end_turn" and workspace.ran == []
    assert "**Plan**" in last.text and "\nframe: dict" in last.text
    assert f"```python\n{NAMESPACE_CODE}```" in last.text


def test_a_failed_step_is_reported_with_its_error_line(bedrock_client, emulator):
    def failing(name, given):
        if name == "run_code":
            return (
                'Traceback (most recent call last):\n  File "<cell>", line 3\n'
                "\x1b[31mZeroDivisionError\x1b[0m: division by zero\n"
            ), True
        return "x: int", False

    *_, last = play(converse(bedrock_client), AGENT_TOOLS, Workspace(), answer=failing)
    assert "The `run_code` step failed:" in last.text
    assert "> ZeroDivisionError: division by zero" in last.text
    assert "Traceback" not in last.text


def test_a_failed_variable_listing_ends_the_run(bedrock_client, emulator):
    replies = play(
        invoke(bedrock_client),
        AGENT_TOOLS,
        Workspace(),
        answer=lambda name, given: ("NameError: name 'x' is not defined", True),
    )
    assert len(replies) == 2
    assert "The `list_variables` step failed:" in replies[-1].text
    assert "> NameError: name 'x' is not defined" in replies[-1].text


def test_a_new_prompt_starts_a_new_run(bedrock_client, emulator):
    send = invoke(bedrock_client)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": PROMPT}]}
    ]
    first = send(messages, AGENT_TOOLS, {})
    messages += [
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": first.tool_uses[0]["id"],
                    "content": "x: int",
                }
            ],
        },
    ]
    assert [c["name"] for c in send(messages, AGENT_TOOLS, {}).tool_uses] == ["run_code"]
    messages += [
        {"role": "assistant", "content": [{"type": "text", "text": "Anything else?"}]},
        {"role": "user", "content": [{"type": "text", "text": "Now plot it."}]},
    ]
    again = send(messages, AGENT_TOOLS, {})
    assert [c["name"] for c in again.tool_uses] == ["list_variables"] and again.text == INTRO


def test_tool_choice_is_obeyed(bedrock_client, emulator):
    send = invoke(bedrock_client)
    messages = [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}]
    forced = send(messages, AGENT_TOOLS, {"tool_choice": {"type": "any"}})
    assert forced.text == "" and [c["name"] for c in forced.tool_uses] == ["list_variables"]
    named = send(messages, AGENT_TOOLS, {"tool_choice": {"type": "tool", "name": "list_variables"}})
    assert named.text == "" and [c["name"] for c in named.tool_uses] == ["list_variables"]
    other = send(
        messages, AGENT_TOOLS, {"tool_choice": {"type": "tool", "name": "inspect_variable"}}
    )
    assert [c["name"] for c in other.tool_uses] == [
        "inspect_variable"
    ]  # the general responder's call
    off = send(messages, AGENT_TOOLS, {"tool_choice": {"type": "none"}})
    assert off.stop_reason == "end_turn" and not off.tool_uses and "`none`" in off.text


def test_max_tokens_cuts_the_run(bedrock_client, emulator):
    send = invoke_streaming(bedrock_client)
    messages = [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}]
    cut = send(messages, AGENT_TOOLS, {"max_tokens": 5})
    assert cut.stop_reason == "max_tokens" and not cut.tool_uses
    assert INTRO.startswith(cut.text) and cut.text


def test_other_tool_sets_keep_the_general_responder(bedrock_client, emulator):
    send = invoke(bedrock_client)
    messages = [{"role": "user", "content": [{"type": "text", "text": "Use run_code to print 1."}]}]
    reply = send(messages, [RUN_CODE, INSPECT], {})
    assert INTRO not in reply.text
    assert [c["name"] for c in reply.tool_uses] == ["run_code"]


# -- scripted runs -------------------------------------------------------------------------


STEPS = [
    {"tool": "run_code", "input": {"code": "total = sum(sales)"}, "text": "First, the total."},
    {"tool": "run_code", "input": {"code": "print(total * 2)"}},
    "Twice the total is 14.",
]


@pytest.mark.parametrize("how", SENDERS)
def test_a_scripted_run_plays_step_by_step(bedrock_client, emulator, how):
    emulator.script_steps(STEPS)
    workspace = Workspace(sales=[3, 4])
    first, second, last = play(SENDERS[how](bedrock_client), AGENT_TOOLS, workspace)
    assert first.text == "First, the total." and first.stop_reason == "tool_use"
    assert second.text == "" and second.tool_uses[0]["input"] == {"code": "print(total * 2)"}
    assert last.text == "Twice the total is 14." and last.stop_reason == "end_turn"
    assert (
        workspace.ran == ["total = sum(sales)", "print(total * 2)"]
        and workspace.namespace["total"] == 7
    )
    # the tool results went back to the model between the steps
    sent = [entry.get("invoke_body") or entry["body"] for entry in emulator.requests()]
    results = [b for b in sent[2]["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert results[0]["content"][0]["text"] == "14\n"
    assert queued(emulator) == []


def test_scripted_steps_through_the_admin_route_and_full_messages(bedrock_client, emulator):
    message = {
        "content": [
            {"type": "text", "text": "Both at once."},
            {"type": "tool_use", "name": "list_variables", "input": {}},
            {"type": "tool_use", "name": "run_code", "input": {"code": "print('hi')"}},
        ]
    }
    payload = json.dumps([message, "All done."]).encode()
    request = urllib.request.Request(
        f"{emulator.url}/_emulator/script",
        data=payload,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert json.loads(response.read())["queued"] == 2
    workspace = Workspace(n=1)
    first, last = play(invoke_streaming(bedrock_client), AGENT_TOOLS, workspace)
    assert [c["name"] for c in first.tool_uses] == ["list_variables", "run_code"]
    assert first.stop_reason == "tool_use" and last.text == "All done."
    assert workspace.ran == ["print('hi')"]


def test_a_scripted_run_may_end_and_the_emulator_takes_over_honestly(bedrock_client, emulator):
    emulator.script_steps(
        [{"tool": "run_code", "input": {"code": "print(6 * 7)"}, "id": "toolu_mine"}]
    )
    first, last = play(invoke(bedrock_client), AGENT_TOOLS, Workspace())
    assert first.tool_uses[0]["id"] == "toolu_mine"
    assert "`run_code` answered:" in last.text and "```text\n42\n```" in last.text


@pytest.mark.parametrize(
    "step, message",
    [
        ({"tool": 5}, '"tool" must be a tool name'),
        ({"tool": "run_code", "input": "print(1)"}, '"input" must be an object'),
        ({"tool": "run_code", "text": 3}, '"text" must be a string'),
        ({"tool": "run_code", "colour": "red"}, "unknown keys: colour"),
        ({"text": "no tool"}, "needs 'content'"),
        (7, "a JSON object"),
    ],
)
def test_malformed_steps_are_refused_and_nothing_is_queued(emulator, step, message):
    with pytest.raises(ValueError, match=message):
        emulator.script_steps(["fine", step])
    assert queued(emulator) == []


def test_the_look_runs_in_a_real_ipython_shell_and_leaves_no_names():
    from magic_helpers import Shell

    shell = Shell(load=False)
    try:
        shell.run("import math\nsales = [3, 4]\ndef total(xs):\n    return sum(xs)\nsales")
        before = set(shell.ip.user_ns)
        run = shell.run(NAMESPACE_CODE)
        assert run.success, run.error
        assert run.stdout.splitlines() == [
            "2 user variables",
            "function: 1 (total)",
            "list: 1 (sales)",
        ]
        assert {k for k in set(shell.ip.user_ns) - before if not k.startswith("_i")} == set()
    finally:
        shell.close()
