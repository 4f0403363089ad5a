"""Bedrock's refusals for the rules that differ by model, explained from the catalogue.

The magic never guesses a rule in advance (it sends what the user asked for); when
Bedrock says no, `explain` turns its message into one line: Bedrock's reason, then what
to drop or use instead, e.g. "Claude Opus 5 sets its own sampling (Bedrock: `temperature`
is deprecated for this model): drop -t / ClaudeMagic.temperature; use --effort to trade
depth for speed."
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..models import catalog
from ..models.catalog import Model

SAMPLING_FLAGS = {"temperature": "-t", "top_p": "--top-p", "top_k": "--top-k"}
_SAMPLING = r"`(temperature|top_p|top_k)` is deprecated for this model"
_VERSION = r"Invalid API version: (\S+)"


def explain(code: str, text: str, model: Model | None, name: str) -> str | None:
    """One line for a refusal of a per-model rule, or None when `text` is not one."""
    reason = " ".join(text.split()).rstrip(".")
    for test, advice in _RULES:
        match = test(code, reason)
        if match is not None:
            return f"{name} {advice(match, model)} (Bedrock: {reason})."
    return None


def _effort(model: Model | None) -> str:
    levels = model.effort_levels if model is not None else ()
    return f"--effort {'|'.join(levels)}" if levels else "--effort"


def _sampling(match: re.Match[str], model: Model | None) -> str:
    parameter = match.group(1)
    text = f"sets its own sampling: drop {SAMPLING_FLAGS[parameter]} / ClaudeMagic.{parameter}"
    if model is not None and model.top_p_min < 1:
        text += f" (it takes only temperature 1 and top_p >= {model.top_p_min:g})"
    if model is None or model.effort_levels:
        text += "; use --effort to trade depth for speed"
    return text


def _prefill(match: re.Match[str], model: Model | None) -> str:
    return (
        "does not take a prefill (the start of its answer): drop --prefill; say in the "
        "prompt how the answer should begin"
    )


def _manual_thinking(match: re.Match[str], model: Model | None) -> str:
    return f"sets its own thinking budget: drop --think; use {_effort(model)} instead"


def _always_on(match: re.Match[str], model: Model | None) -> str:
    return "always thinks: drop --no-think; use --effort low for short, fast answers"


def _adaptive(match: re.Match[str], model: Model | None) -> str:
    return "takes a thinking budget, not an effort level: drop --effort; use --think N (N >= 1024)"


def _forced_with_thinking(match: re.Match[str], model: Model | None) -> str:
    always = model is not None and model.thinking == "always"
    return "can't be made to call a tool while it thinks: use --tool-choice auto" + (
        "" if always else ", or turn thinking off (--no-think)"
    )


def _forced(match: re.Match[str], model: Model | None) -> str:
    return "can't be made to call a tool: use --tool-choice auto (or none) instead"


def _retired(match: re.Match[str], model: Model | None) -> str:
    replacement = (
        catalog.replacement_for(model)
        if model is not None
        else catalog.newest(catalog.DEFAULT_FAMILY)
    )
    if replacement is None or replacement is model:
        return "is no longer served: %claude models --refresh lists what this account offers"
    return (
        f"has reached its end of life on Bedrock: use -m {catalog.alias_for(replacement)} "
        f"({replacement.name}) instead"
    )


def _version(match: re.Match[str], model: Model | None) -> str:
    takes = ", ".join(model.api_versions) if model is not None else catalog.ANTHROPIC_VERSION
    return f"does not accept anthropic_version {match.group(1)}: it takes {takes}"


def _effort_levels(match: re.Match[str], model: Model | None) -> str:
    if model is not None and not model.effort_levels:
        return "takes no effort level: drop --effort (--think N sets a thinking budget)"
    return f"takes {_effort(model)}: pick one of those"


def _structured(match: re.Match[str], model: Model | None) -> str:
    return "does not take output_config.format: ask for JSON through a tool it must call instead"


def _found(
    pattern: str, code: str = "ValidationException"
) -> Callable[[str, str], re.Match[str] | None]:
    compiled = re.compile(pattern)
    return lambda got, text: compiled.search(text) if got == code else None


_RULES: tuple[
    tuple[Callable[[str, str], re.Match[str] | None], Callable[[re.Match[str], Model | None], str]],
    ...,
] = (
    (_found(_SAMPLING), _sampling),
    (_found(r"does not support assistant message prefill"), _prefill),
    (_found(r'"thinking\.type\.enabled" is not supported'), _manual_thinking),
    (_found(r'"thinking\.type\.disabled" is not supported'), _always_on),
    (_found(r'"thinking\.type\.adaptive" is not supported'), _adaptive),
    (
        _found(r"Thinking may not be enabled when tool_choice forces tool use"),
        _forced_with_thinking,
    ),
    (_found(r'tool_choice: type "tool" and "any" are not supported'), _forced),
    (_found(r"reached the end of its life", "ResourceNotFoundException"), _retired),
    (_found(_VERSION), _version),
    (_found(r"^output_config\.effort"), _effort_levels),
    (_found(r"^output_config\.format: structured outputs are not supported"), _structured),
)
