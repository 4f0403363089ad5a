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


def summarise(turns: Iterable[Any], cache_ttl: str = "5m") -> CostSummary:
    """Usage and cost of `turns` (anything with `usage` and `model_id`)."""
    usage, cost, uncached = Usage(), 0.0, 0.0
    for turn in turns:
        used = turn.usage
        usage = usage + used
        model = catalog.lookup(turn.model_id) if turn.model_id else None
        if model is None:
            continue
        geography = catalog.split_profile(turn.model_id)[0]  # the profile called
        cost += model.cost(used.input_tokens, used.output_tokens,
                           cache_write_tokens=used.cache_creation_input_tokens,
                           cache_read_tokens=used.cache_read_input_tokens, cache_ttl=cache_ttl,
                           geography=geography)
        whole_input = (used.input_tokens + used.cache_creation_input_tokens
                       + used.cache_read_input_tokens)
        uncached += model.cost(whole_input, used.output_tokens, geography=geography)
    return CostSummary(usage, cost, uncached)
