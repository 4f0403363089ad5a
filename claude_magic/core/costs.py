"""What a conversation's turns cost, with cache prices and as if nothing were cached."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..models import catalog
from .messages import Usage


@dataclass
class CostSummary:
    """Tokens and estimated USD for some turns (only turns whose model is priced count)."""

    usage: Usage
    cost: float = 0.0  # with cache write and read prices
    uncached_cost: float = 0.0  # the same input all at the plain input price


def usage_cost(
    model: catalog.Model | None,
    invoke_id: str,
    usage: Usage,
    *,
    cache_ttl: str = "5m",
    batch: bool = False,
) -> float | None:
    """The estimated USD of `usage` on `model` called as `invoke_id` (its profile's
    geography sets the price), with cache or batch prices; None without a model."""
    if model is None:
        return None
    return model.cost(
        usage.input_tokens,
        usage.output_tokens,
        batch=batch,
        cache_write_tokens=usage.cache_creation_input_tokens,
        cache_read_tokens=usage.cache_read_input_tokens,
        cache_ttl=cache_ttl,
        geography=catalog.split_profile(invoke_id)[0],
    )


def summarise(turns: Iterable[Any], cache_ttl: str = "5m") -> CostSummary:
    """Usage and cost of `turns` (anything with `usage` and `model_id`)."""
    usage, cost, uncached = Usage(), 0.0, 0.0
    for turn in turns:
        used = turn.usage
        usage = usage + used
        model = catalog.lookup(turn.model_id) if turn.model_id else None
        if model is None:
            continue
        cost += usage_cost(model, turn.model_id, used, cache_ttl=cache_ttl) or 0.0
        whole_input = (
            used.input_tokens + used.cache_creation_input_tokens + used.cache_read_input_tokens
        )
        uncached += usage_cost(model, turn.model_id, Usage(whole_input, used.output_tokens)) or 0.0
    return CostSummary(usage, cost, uncached)
