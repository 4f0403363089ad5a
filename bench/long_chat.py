"""A long tool-heavy chat: the input tokens and input cost of a scripted 200-turn chat
(each turn a prompt with notebook context, one tool call whose result is a whole cell's
output, an answer) with Bedrock's context editing and compaction, against the same chat
trimmed to the window as before (oldest turns left out), prompt caching on in both
(target ≤ 0.5× the cost).

Both arms go through claude-magic's own request path (conversation, RequestSpec, the
window guard, caching breakpoints, the client) against the emulator. The model is Claude
Sonnet 4.6 as the catalogue describes it (rules, prices, compaction) with a 200,000-token
window, as the 4.5 generation has, so that the chat crosses the window twice in a couple
of minutes; the proportions are what matter.

Run: python bench/long_chat.py [--turns 200] [--result-tokens 2000]
Prints figures, then one JSON line with the results.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

WINDOW = 200_000
BENCH_MODEL_ID = "anthropic.claude-sonnet-4-6-bench-200k"
TOOL = {
    "name": "run_step",
    "description": "Runs one analysis step of the notebook and returns its output.",
    "input_schema": {"type": "object", "properties": {"step": {"type": "integer"}}},
}


def _words(tokens: int, seed: int) -> str:
    """About `tokens` tokens of text (as the emulator counts: two per word here)."""
    words = ("alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta")
    return " ".join(f"{words[(i + seed) % len(words)]}{seed % 97}" for i in range(tokens // 2))


class _QuietView:
    """The answer view's interface, drawing nothing; keeps the notices."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    def update(self, message: Any) -> None:
        pass

    def due(self) -> bool:
        return False

    def notice(self, text: str) -> None:
        self.notices.append(text)


def bench_model() -> Any:
    from claude_magic.models import catalog

    base = catalog.resolve("sonnet-4.6").model
    return dataclasses.replace(
        base,
        id=BENCH_MODEL_ID,
        name="Claude Sonnet 4.6 (200k window)",
        api_model="claude-sonnet-4-6-bench-200k",
        context_window=WINDOW,
        on_demand=True,
        profiles=(),
        aliases=(),
        known=False,
    )


def run_chat(
    url: str, model: Any, turns: int, result_tokens: int, managed: bool, prompt_tokens: int = 800
) -> dict[str, Any]:
    """One arm: the chat's input tokens and cost, requests, what Bedrock did."""
    from claude_magic.bedrock.client import BedrockClient
    from claude_magic.bedrock.exchange import Exchange
    from claude_magic.bedrock.settings import ClientSettings
    from claude_magic.core.context_edits import ContextPolicy, applied_edits, compaction_of
    from claude_magic.core.conversation import Conversation
    from claude_magic.core.costs import usage_cost
    from claude_magic.core.messages import Message, Usage, text_block, tool_result_block
    from claude_magic.core.request import RequestSpec
    from claude_magic.models.catalog import Resolved

    settings = ClientSettings(endpoint_url=url, region="us-east-1", max_attempts=1)
    client = BedrockClient(settings)
    policy = ContextPolicy(clear_at=100_000, compaction=True) if managed else ContextPolicy()
    spec = RequestSpec(
        resolved=Resolved(model.id, model),
        max_tokens=1024,
        region="us-east-1",
        tools=[TOOL],
        stream=False,
        cache_ttl="5m",
        context=policy,
    )
    conversation = Conversation()
    view = _QuietView()
    used, cost, requests, compactions, cleared = Usage(), 0.0, 0, 0, 0
    for n in range(turns):
        turn = conversation.new_turn(
            [
                text_block(
                    f"Step {n}, with the cells above as context: {_words(prompt_tokens, n)}. "
                    f"Use run_step for step {n}."
                )
            ],
            model_id=model.id,
        )
        exchange = Exchange(
            client, spec, view, fit=lambda wire, turn=turn: conversation.fit_request(wire, turn)[0]
        )
        messages = conversation.messages(pending=turn)
        replies, steps = [], []
        while True:
            reply = exchange.send(messages, None)
            replies.append(reply)
            steps.append(reply)
            requests += 1
            if not reply.tool_uses:
                break
            results = [
                tool_result_block(use["id"], f"Output of step {n}:\n{_words(result_tokens, n + 7)}")
                for use in reply.tool_uses
            ]
            steps.append(Message(role="user", content=results))
            messages = [
                *messages,
                {"role": "assistant", "content": reply.content},
                {"role": "user", "content": results},
            ]
        turn.complete(steps)
        conversation.add(turn)
        for reply in replies:
            billed = reply.billed_usage
            used = used + billed
            cost += usage_cost(model, model.id, billed, cache_ttl="5m") or 0.0
            compactions += compaction_of(reply) is not None
            cleared += sum(1 for e in applied_edits([reply]) if e.get("cleared_tool_uses"))
    client.close()
    read = used.input_tokens + used.cache_read_input_tokens + used.cache_creation_input_tokens
    input_cost = cost - model.cost(0, used.output_tokens)
    return {
        "input_tokens": read,
        "uncached_input_tokens": used.input_tokens,
        "cache_read_tokens": used.cache_read_input_tokens,
        "cache_write_tokens": used.cache_creation_input_tokens,
        "input_usd": round(input_cost, 4),
        "requests": requests,
        "compactions": compactions,
        "requests_with_cleared_results": cleared,
        "trimming_notices": sum("leaves out" in notice for notice in view.notices),
        "chat_tokens": chat_tokens(conversation),
    }


def chat_tokens(conversation: Any) -> int:
    """The whole chat's size in tokens (prompts, tool calls and results, answers), as the emulator counts."""
    from claude_magic.emulator.tokens import estimate_input_tokens

    return estimate_input_tokens({"messages": [m for t in conversation.turns for m in t.wire()]})


def measure(turns: int = 200, result_tokens: int = 2000) -> dict[str, Any]:
    from claude_magic.emulator import Emulator

    model = bench_model()
    with Emulator(pace=None) as emulator:
        emulator.add_model(model)
        trimmed = run_chat(emulator.url, model, turns, result_tokens, managed=False)
        emulator.reset()
        emulator.add_model(model)
        managed = run_chat(emulator.url, model, turns, result_tokens, managed=True)
    return {
        "bench": "long_chat",
        "model": model.name,
        "turns": turns,
        "result_tokens": result_tokens,
        "window": WINDOW,
        "trimmed": trimmed,
        "managed": managed,
        "input_cost_ratio": round(managed["input_usd"] / trimmed["input_usd"], 4),
        "input_token_ratio": round(managed["input_tokens"] / trimmed["input_tokens"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--result-tokens", type=int, default=2000)
    args = parser.parse_args()
    r = measure(args.turns, args.result_tokens)
    for arm in ("trimmed", "managed"):
        a = r[arm]
        print(
            f"{arm:8}: {a['input_tokens']:>12,} input tokens ({a['cache_read_tokens']:,} read from cache, "
            f"{a['cache_write_tokens']:,} written), ${a['input_usd']:.2f} input, {a['requests']} requests, "
            f"{a['compactions']} compactions, {a['requests_with_cleared_results']} requests with cleared results, "
            f"{a['trimming_notices']} trimmed"
        )
    print(
        f"{r['model']}, {r['turns']} turns, {r['result_tokens']}-token tool results: context editing + "
        f"compaction ÷ trimming: input cost {r['input_cost_ratio']:.3f}x (target <= 0.5x), "
        f"input tokens {r['input_token_ratio']:.3f}x"
    )
    print(json.dumps(r))


if __name__ == "__main__":
    main()
