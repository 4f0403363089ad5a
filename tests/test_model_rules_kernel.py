"""Bedrock's per-model rules in a real kernel: each refusal is one line with Bedrock's
reason and what to do instead, no traceback, and the request was sent once (a retired
model: not at all)."""

from __future__ import annotations

import pytest
from kernel_helpers import run_in_kernel

TOOL = "def add(a: int, b: int) -> int:\n    'Add two numbers.'\n    return a + b\n"
CASES = [
    # options, the line the user sees (parts), requests sent
    (
        "-m opus-5 -t 0.5",
        [
            "Claude Opus 5 sets its own sampling: drop -t / ClaudeMagic.temperature; "
            "use --effort to trade depth for speed",
            "`temperature` is deprecated for this model",
        ],
        1,
    ),
    (
        "-m fable-5 --top-p 0.5",
        [
            "Claude Fable 5 sets its own sampling: drop --top-p",
            "top_p >= 0.99",
            "`top_p` is deprecated",
        ],
        1,
    ),
    (
        "-m sonnet-5 --prefill Sure",
        [
            "Claude Sonnet 5 does not take a prefill",
            "drop --prefill",
            "This model does not support assistant message prefill",
        ],
        1,
    ),
    (
        "-m opus-5.5 --tools add --tool-choice any",
        [
            "Claude Opus 5.5 can't be made to call a tool: use --tool-choice auto",
            'tool_choice: type "tool" and "any" are not supported for this model',
        ],
        1,
    ),
    (
        "-m sonnet-4",
        [
            "Claude Sonnet 4 was retired on Bedrock on 2026-10-14; use -m sonnet "
            "(Claude Sonnet 5.5) instead."
        ],
        0,
    ),
    (
        "-m anthropic.claude-3-haiku-20240307-v1:0",
        ["Claude 3 Haiku was retired on Bedrock on 2026-09-10; use -m haiku"],
        0,
    ),
]


@pytest.fixture
def kernel(magic_env, new_kernel):
    """A kernel that talks to the emulator (it inherits the endpoint and dummy keys)."""
    with new_kernel() as client:
        yield client


def _text(messages: list[dict]) -> str:
    parts = []
    for m in messages:
        content = m["content"]
        if m["msg_type"] == "stream":
            parts.append(content["text"])
        elif m["msg_type"] == "error":
            parts.append("\n".join(content["traceback"]) + content["evalue"])
        elif m["msg_type"] in ("display_data", "execute_result", "update_display_data"):
            parts.append(content["data"].get("text/plain", ""))
    return "\n".join(parts)


def test_each_refusal_is_one_line_with_what_to_do(magic_env, kernel):
    run_in_kernel(kernel, "%load_ext claude_magic\n" + TOOL)
    run_in_kernel(kernel, "%%claude\nA first question that works")
    for options, needles, sent in CASES:
        magic_env.clear_requests()
        reply, messages = run_in_kernel(kernel, f"%%claude {options}\nTry this", check=False)
        text = _text(messages)
        assert reply["status"] == "error", options
        for needle in needles:
            assert needle in text, (options, text)
        assert "Traceback" not in text and "File " not in text, text
        requests = magic_env.requests()
        assert len(requests) == sent, (options, requests)
        assert all(r["status"] in (400, 404) for r in requests)
    run_in_kernel(kernel, "%%claude\nStill there?")  # the conversation survived every refusal
    body = magic_env.requests()[-1]["body"]
    assert [m["content"][-1]["text"] for m in body["messages"][::2]] == [
        "A first question that works",
        "Still there?",
    ]


def test_end_of_life_from_bedrock_names_the_replacement(magic_env, kernel):
    """The catalogue says Opus 4.1 is served until 2027-01-08; Bedrock (the emulator, a
    day later) says it has reached its end of life: the user is told what to use."""
    run_in_kernel(kernel, "%load_ext claude_magic")
    magic_env.today = "2027-01-09"
    try:
        magic_env.clear_requests()
        reply, messages = run_in_kernel(kernel, "%%claude -m opus-4.1\nHello", check=False)
    finally:
        magic_env.today = None
    text = _text(messages)
    assert reply["status"] == "error"
    assert (
        "Claude Opus 4.1 has reached its end of life on Bedrock: use -m opus (Claude Opus 5.5) "
        "instead (Bedrock: This model version has reached the end of its life."
    ) in text
    assert "Traceback" not in text
    assert [r["status"] for r in magic_env.requests()] == [404]
