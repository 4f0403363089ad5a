"""Request shaping per model: the thinking form for `--effort` / `--think` / `--no-think`,
a `max_tokens` default that leaves room for thinking, the betas a request needs, and
prompt-caching breakpoints.

The catalogue says what each model takes; what the user asked for is sent in the form
the model accepts, and nothing the user did not ask for (caching, on by default, is
asked for through the `cache` setting).

Effort on models that take only a thinking budget (the 4.5 generation and older):

    level    budget_tokens
    low       2,048
    medium    8,192
    high     16,384
    xhigh    32,768
    max      the model's max_output_tokens - 8,192

Thinking tokens count against `max_tokens`. Without `--max-tokens`, a request that
thinks gets `max_tokens` = budget + 8,192 (room for the answer) on budget models and,
on adaptive models, the effort's ceiling (`EFFORT_MAX_TOKENS`; that of `high` for the
models that always think, which get no thinking field unless an effort is asked for), never above the model's max_output_tokens nor below the
configured default. With `--max-tokens`, a budget is lowered to leave 8,192 tokens for
the answer (half of max_tokens when that is too little), and at least 1,024.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..core.context_edits import compaction_index, is_compaction
from ..core.errors import ClaudeMagicError
from ..core.messages import as_blocks, estimate_text_tokens
from ..core.thinking import omits_thinking_text
from ..models.catalog import Model

EFFORTS = ("low", "medium", "high", "xhigh", "max")
EFFORT_BUDGETS = {"low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768}
EFFORT_MAX_TOKENS = {"low": 8192, "medium": 16384, "high": 32000, "xhigh": 64000, "max": 128000}
DEFAULT_ADAPTIVE_EFFORT = "high"  # the ceiling used for models that think without being asked
ANSWER_ROOM = 8192
MIN_BUDGET = 1024
MAX_BREAKPOINTS = 4
CACHE_TTLS = ("5m", "1h")
IMAGE_TOKENS = 1600  # a full-size image, for the caching estimate (no decoding here)


@dataclass(frozen=True)
class ThinkingChoice:
    """What the user asked for: an effort level, a manual budget, or thinking off."""

    effort: str | None = None
    budget: int | None = None
    off: bool = False


@dataclass
class Shaped:
    """The thinking part of a request: top-level fields and the max_tokens to send."""

    max_tokens: int
    fields: dict[str, Any] = field(default_factory=dict)  # thinking, output_config
    thinking: bool = False  # the reply will think (asked for, or always on)
    manual: bool = False  # thinking in the budget form


def _name(model: Model | None) -> str:
    return model.name if model is not None else "this model"


def effort_levels(model: Model | None) -> tuple[str, ...]:
    """The --effort levels a model offers: its output_config.effort values on adaptive
    models, every level (as budgets) on budget models, none on models that don't think."""
    if model is None:
        return EFFORTS
    if model.thinking in ("adaptive", "always"):
        return model.effort_levels or EFFORTS
    return EFFORTS if model.thinking == "manual" else ()


def level_budget(model: Model | None, level: str) -> int:
    """The thinking budget that stands for an effort level on a budget model."""
    if level == "max":
        ceiling = model.max_output_tokens if model is not None else EFFORT_MAX_TOKENS["max"]
        return max(MIN_BUDGET, ceiling - ANSWER_ROOM)
    return EFFORT_BUDGETS[level]


def shape_thinking(
    model: Model | None, choice: ThinkingChoice, max_tokens: int | None, default_max_tokens: int
) -> Shaped:
    """The thinking fields and max_tokens for `choice` on `model` (`max_tokens`: the
    user's --max-tokens, else None). Raises ClaudeMagicError for what the model can't do."""
    name = _name(model)
    mode = model.thinking if model is not None else "adaptive"
    if sum((choice.effort is not None, choice.budget is not None, choice.off)) > 1:
        raise ClaudeMagicError("Use one of --effort, --think and --no-think.")
    if choice.off:
        if mode == "always":
            raise ClaudeMagicError(
                f"{name} always thinks: --no-think can't turn it off; "
                "--effort low keeps thinking short."
            )
        fields = {"thinking": {"type": "disabled"}} if mode != "none" else {}
        return Shaped(max_tokens or default_max_tokens, fields)
    if choice.budget is not None:
        return _manual(model, choice.budget, max_tokens, default_max_tokens)
    if choice.effort is not None:
        levels = effort_levels(model)
        if choice.effort not in levels:
            if not levels:
                raise ClaudeMagicError(
                    f"{name} doesn't think: --effort needs a model that does, e.g. -m sonnet."
                )
            raise ClaudeMagicError(
                f"{name} takes --effort " + _or(levels) + f", not {choice.effort!r}."
            )
        if mode == "manual":
            cap = max_tokens or (model.max_output_tokens if model else EFFORT_MAX_TOKENS["max"])
            budget = min(level_budget(model, choice.effort), _room_for_budget(cap))
            if budget < MIN_BUDGET:
                raise ClaudeMagicError(
                    f"--effort on {name} needs --max-tokens above "
                    f"{2 * MIN_BUDGET:,} (thinking takes at least {MIN_BUDGET:,})."
                )
            return _manual(model, budget, max_tokens, default_max_tokens)
        return _adaptive(model, choice.effort, max_tokens, default_max_tokens)
    if mode == "always":  # it thinks unasked: room for that, but no thinking field sent
        return Shaped(
            _adaptive(model, None, max_tokens, default_max_tokens).max_tokens, thinking=True
        )
    return Shaped(max_tokens or default_max_tokens)


def _room_for_budget(cap: int) -> int:
    return cap - ANSWER_ROOM if cap - ANSWER_ROOM >= MIN_BUDGET else cap // 2


def _manual(model: Model | None, budget: int, max_tokens: int | None, default: int) -> Shaped:
    if model is not None and not model.takes_manual_thinking:
        if model.thinking == "none":
            raise ClaudeMagicError(
                f"{model.name} doesn't think: --think needs a model that does, e.g. -m sonnet."
            )
        raise ClaudeMagicError(
            f"{model.name} takes no thinking budget: use --effort "
            + _or(effort_levels(model))
            + " instead of --think."
        )
    if max_tokens is None:
        ceiling = model.max_output_tokens if model is not None else budget + ANSWER_ROOM
        max_tokens = max(default, min(ceiling, budget + ANSWER_ROOM))
    return Shaped(
        max_tokens,
        {"thinking": {"type": "enabled", "budget_tokens": budget}},
        thinking=True,
        manual=True,
    )


def _adaptive(
    model: Model | None, effort: str | None, max_tokens: int | None, default: int
) -> Shaped:
    thinking: dict[str, Any] = {"type": "adaptive"}
    if omits_thinking_text(model):
        thinking["display"] = "summarized"
    fields: dict[str, Any] = {"thinking": thinking}
    if effort is not None:
        fields["output_config"] = {"effort": effort}
    if max_tokens is None:
        ceiling = EFFORT_MAX_TOKENS[effort or DEFAULT_ADAPTIVE_EFFORT]
        if model is not None:
            ceiling = min(ceiling, model.max_output_tokens)
        max_tokens = max(default, ceiling)
    return Shaped(max_tokens, fields, thinking=True)


def _or(levels: tuple[str, ...]) -> str:
    return levels[0] if len(levels) == 1 else ", ".join(levels[:-1]) + " or " + levels[-1]


def thinking_betas(model: Model | None, shaped: Shaped, has_tools: bool) -> list[str]:
    """The interleaved-thinking beta, for budget thinking in tool loops where the model
    needs it."""
    if model is not None and shaped.manual and has_tools and model.interleaved_thinking_beta:
        return [model.interleaved_thinking_beta]
    return []


# ---------------------------------------------------------------- prompt caching


# A conversation resends the same text objects with every request: their estimates are
# remembered (a str caches its hash, and a hit compares by identity first).
text_tokens = lru_cache(maxsize=8192)(estimate_text_tokens)


def block_estimate(block: Any) -> int:
    """A quick token estimate for one content block (images and documents by size)."""
    if not isinstance(block, dict):
        return text_tokens(str(block))
    kind = block.get("type")
    if kind == "text":
        return text_tokens(block.get("text", ""))
    if kind in ("image", "document"):
        data = (block.get("source") or {}).get("data", "")
        return IMAGE_TOKENS if kind == "image" else max(1, len(data) // 6)
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            return 1 + text_tokens(content)
        return 1 + sum(block_estimate(b) for b in content or [])
    if kind == "thinking":
        return text_tokens(block.get("thinking", ""))
    return estimate_text_tokens(str(block.get("input", block)))


def _tools_estimate(tools: list[dict[str, Any]]) -> int:
    return sum(estimate_text_tokens(str(t)) for t in tools)


def place_breakpoints(
    body: dict[str, Any],
    model: Model | None,
    ttl: str = "5m",
    estimate: Callable[[Any], int] = block_estimate,
    avoid: Collection[str] = (),
) -> int:
    """Add `cache_control` to `body` (in place; the blocks it marks are copied, so the
    conversation's own blocks stay untouched) after the tools, the system prompt, the
    previous user turn and the newest one, where the prefix reaches the model's
    minimum; with room to spare, on a compaction block too. Never before a compaction
    block (Bedrock ignores what is there), nor on the results of the tool uses in
    `avoid` (context editing may clear them). At most four; returns how many were placed."""
    if model is None or not model.caches:
        return 0
    if ttl not in model.cache_ttls:
        ttl = "5m"
    marker = {"type": "ephemeral", "ttl": ttl} if ttl != "5m" else {"type": "ephemeral"}
    minimum = model.cache_min_tokens
    placed = 0
    total = 0
    tools = body.get("tools") or []
    if tools:
        total += _tools_estimate(tools)
        if total >= minimum:
            body["tools"] = [*tools[:-1], {**tools[-1], "cache_control": marker}]
            placed += 1
    system = body.get("system")
    if system:
        blocks = as_blocks(system)
        total += sum(estimate(b) for b in blocks)
        if total >= minimum and isinstance(blocks[-1], dict):
            body["system"] = [*blocks[:-1], {**blocks[-1], "cache_control": marker}]
            placed += 1
    messages = body.get("messages") or []
    head = compaction_index(messages) or 0
    users = [
        i
        for i, m in enumerate(messages)
        if m.get("role") == "user" and (i > head or not head) and _markable(m, avoid) is not None
    ]
    targets = users[-2:]
    if not targets:
        return placed
    reached: list[int] = []  # candidate messages whose prefix reaches the minimum
    for index, message in enumerate(messages[: targets[-1] + 1]):
        if total < minimum:
            total += sum(estimate(b) for b in as_blocks(message.get("content") or []))
        if (index in targets or (index == head and head)) and total >= minimum:
            reached.append(index)
    room = MAX_BREAKPOINTS - placed
    # the newest turn first, then the one before (what the last request cached), then the summary
    chosen = sorted([i for i in reversed(targets) if i in reached][:room])
    if head and head in reached and len(chosen) < room:
        chosen = sorted([head, *chosen])
    if chosen:
        body["messages"] = list(messages)
        for index in chosen:
            _mark_block(body["messages"], index, marker, avoid)
    return placed + len(chosen)


def _markable(message: dict[str, Any], avoid: Collection[str]) -> int | None:
    """The position of the block a breakpoint goes on in `message`: a compaction block,
    else the last block that is no thinking and no result context editing may clear."""
    blocks = as_blocks(message.get("content") or [])
    for position, block in enumerate(blocks):
        if is_compaction(block):
            return position
    for position in range(len(blocks) - 1, -1, -1):
        block = blocks[position]
        if not isinstance(block, dict) or block.get("type") in ("thinking", "redacted_thinking"):
            continue
        if block.get("type") == "tool_result" and block.get("tool_use_id") in avoid:
            continue
        return position
    return None


def _mark_block(
    messages: list[dict[str, Any]], index: int, marker: dict[str, str], avoid: Collection[str]
) -> None:
    message = messages[index]
    position = _markable(message, avoid)
    if position is None:
        return
    blocks = as_blocks(message.get("content") or [])
    blocks = [
        *blocks[:position],
        {**blocks[position], "cache_control": marker},
        *blocks[position + 1 :],
    ]
    messages[index] = {**message, "content": blocks}


# ---------------------------------------------------------------- Bedrock's refusals, explained

THINKING_HINTS = (
    (
        "must be greater than `thinking.budget_tokens`",
        "raise --max-tokens above the budget, or lower --think.",
    ),
    ("budget_tokens: Input should be greater than or equal to", "use --think 1024 or more."),
    (
        "`temperature` may only be set to 1 when thinking",
        "drop --temperature while thinking (or --no-think).",
    ),
    ("`top_k` must be unset when thinking", "drop --top-k while thinking (or --no-think)."),
    ("`top_p` must be", "use --top-p between 0.95 and 1, or none, while thinking."),
    (
        "Thinking may not be enabled when tool_choice forces",
        "use --tool-choice auto, or --no-think.",
    ),
    ('"thinking.type.enabled" is not supported', "use --effort instead of --think."),
)


def thinking_hint(text: str) -> str:
    """What to do about a thinking rule Bedrock's message names ("" if none)."""
    return next((hint for marker, hint in THINKING_HINTS if marker in text), "")
