"""The one model catalogue: Claude models on Bedrock, their aliases, inference
profiles, capabilities and prices. Used by the client and by the emulator.

Pure data and lookups: no I/O, no third-party imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ANTHROPIC_VERSION = "bedrock-2023-05-31"
PROFILE_GEOGRAPHIES = ("us", "eu", "apac", "global")
DEFAULT_MODEL_ALIAS = "sonnet"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class ComputerUse:
    """One version of the computer-use beta: the beta flag and the tool types it unlocks."""

    beta: str
    computer: str
    bash: str
    text_editor: str
    text_editor_name: str = "str_replace_editor"

    @property
    def tool_types(self) -> frozenset[str]:
        return frozenset({self.computer, self.bash, self.text_editor})


COMPUTER_USE_2024_10_22 = ComputerUse(
    "computer-use-2024-10-22", "computer_20241022", "bash_20241022", "text_editor_20241022"
)
COMPUTER_USE_2025_01_24 = ComputerUse(
    "computer-use-2025-01-24", "computer_20250124", "bash_20250124", "text_editor_20250124"
)
COMPUTER_USE_CLAUDE_4 = ComputerUse(
    "computer-use-2025-01-24",
    "computer_20250124",
    "bash_20250124",
    "text_editor_20250429",
    "str_replace_based_edit_tool",
)


@dataclass(frozen=True)
class Model:
    """A Claude model on Bedrock."""

    id: str  # the base model id, e.g. anthropic.claude-3-haiku-20240307-v1:0
    name: str  # human name, e.g. "Claude 3 Haiku"
    api_model: str  # the `model` field Bedrock puts in responses
    aliases: tuple[str, ...]
    input_price: float  # USD per million input tokens
    output_price: float  # USD per million output tokens
    max_output_tokens: int
    context_window: int
    on_demand: bool = True  # callable by its base id without an inference profile
    profiles: tuple[str, ...] = ()  # geographies with a cross-region inference profile
    images: bool = True
    tools: bool = True
    documents: bool = False
    system: bool = True
    computer_use: tuple[ComputerUse, ...] = field(default=())
    legacy: bool = False

    def profile_id(self, geography: str) -> str:
        return f"{geography}.{self.id}"

    @property
    def profile_ids(self) -> tuple[str, ...]:
        return tuple(self.profile_id(g) for g in self.profiles)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """Estimated cost in USD."""
        return (input_tokens * self.input_price + output_tokens * self.output_price) / 1e6

    def computer_use_for(self, beta: str) -> ComputerUse | None:
        return next((c for c in self.computer_use if c.beta == beta), None)


MODELS: tuple[Model, ...] = (
    Model(
        "anthropic.claude-instant-v1", "Claude Instant 1.2", "claude-instant-1.2",
        ("instant", "instant-1.2", "claude-instant"), 0.8, 2.4, 4096, 100_000,
        images=False, tools=False, system=False, legacy=True,
    ),
    Model(
        "anthropic.claude-v2", "Claude 2", "claude-2.0", ("claude-2", "2", "2.0"),
        8.0, 24.0, 4096, 100_000, images=False, tools=False, system=False, legacy=True,
    ),
    Model(
        "anthropic.claude-v2:1", "Claude 2.1", "claude-2.1", ("claude-2.1", "2.1"),
        8.0, 24.0, 4096, 200_000, images=False, tools=False, legacy=True,
    ),
    Model(
        "anthropic.claude-3-sonnet-20240229-v1:0", "Claude 3 Sonnet", "claude-3-sonnet-20240229",
        ("sonnet-3", "3-sonnet"), 3.0, 15.0, 4096, 200_000,
        profiles=("us", "eu", "apac"), legacy=True,
    ),
    Model(
        "anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku", "claude-3-haiku-20240307",
        ("haiku-3", "3-haiku"), 0.25, 1.25, 4096, 200_000, profiles=("us", "eu", "apac"),
    ),
    Model(
        "anthropic.claude-3-opus-20240229-v1:0", "Claude 3 Opus", "claude-3-opus-20240229",
        ("opus-3", "3-opus"), 15.0, 75.0, 4096, 200_000, profiles=("us",), legacy=True,
    ),
    Model(
        "anthropic.claude-3-5-sonnet-20240620-v1:0", "Claude 3.5 Sonnet",
        "claude-3-5-sonnet-20240620", ("sonnet-3.5", "3.5-sonnet", "sonnet-3.5-v1"),
        3.0, 15.0, 8192, 200_000, profiles=("us", "eu", "apac"),
    ),
    Model(
        "anthropic.claude-3-5-sonnet-20241022-v2:0", "Claude 3.5 Sonnet v2",
        "claude-3-5-sonnet-20241022", ("sonnet-3.5-v2", "3.5-sonnet-v2"),
        3.0, 15.0, 8192, 200_000, profiles=("us", "apac"), documents=True,
        computer_use=(COMPUTER_USE_2024_10_22,),
    ),
    Model(
        "anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku",
        "claude-3-5-haiku-20241022", ("haiku-3.5", "3.5-haiku"), 0.8, 4.0, 8192, 200_000,
        profiles=("us",), images=False,
    ),
    Model(
        "anthropic.claude-3-7-sonnet-20250219-v1:0", "Claude 3.7 Sonnet",
        "claude-3-7-sonnet-20250219", ("sonnet-3.7", "3.7-sonnet"), 3.0, 15.0, 64_000, 200_000,
        on_demand=False, profiles=("us", "eu", "apac"), documents=True,
        computer_use=(COMPUTER_USE_2025_01_24, COMPUTER_USE_2024_10_22),
    ),
    Model(
        "anthropic.claude-sonnet-4-20250514-v1:0", "Claude Sonnet 4", "claude-sonnet-4-20250514",
        ("sonnet-4", "4-sonnet"), 3.0, 15.0, 64_000, 200_000, on_demand=False,
        profiles=("us", "eu", "apac", "global"), documents=True,
        computer_use=(COMPUTER_USE_CLAUDE_4,),
    ),
    Model(
        "anthropic.claude-opus-4-20250514-v1:0", "Claude Opus 4", "claude-opus-4-20250514",
        ("opus-4", "4-opus"), 15.0, 75.0, 32_000, 200_000, on_demand=False, profiles=("us",),
        documents=True, computer_use=(COMPUTER_USE_CLAUDE_4,),
    ),
    Model(
        "anthropic.claude-opus-4-1-20250805-v1:0", "Claude Opus 4.1", "claude-opus-4-1-20250805",
        ("opus-4.1", "4.1-opus"), 15.0, 75.0, 32_000, 200_000, on_demand=False,
        profiles=("us",), documents=True, computer_use=(COMPUTER_USE_CLAUDE_4,),
    ),
    Model(
        "anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5",
        "claude-sonnet-4-5-20250929", ("sonnet", "sonnet-4.5", "4.5-sonnet"), 3.0, 15.0,
        64_000, 200_000, on_demand=False, profiles=("us", "eu", "apac", "global"),
        documents=True, computer_use=(COMPUTER_USE_CLAUDE_4,),
    ),
    Model(
        "anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5",
        "claude-haiku-4-5-20251001", ("haiku", "haiku-4.5", "4.5-haiku"), 1.0, 5.0,
        64_000, 200_000, on_demand=False, profiles=("us", "eu", "apac", "global"),
        documents=True, computer_use=(COMPUTER_USE_CLAUDE_4,),
    ),
    Model(
        "anthropic.claude-opus-4-5-20251101-v1:0", "Claude Opus 4.5", "claude-opus-4-5-20251101",
        ("opus", "opus-4.5", "4.5-opus"), 5.0, 25.0, 64_000, 200_000, on_demand=False,
        profiles=("us", "eu", "global"), documents=True,
        computer_use=(COMPUTER_USE_CLAUDE_4,),
    ),
)

_BY_ID: dict[str, Model] = {m.id: m for m in MODELS}
_BY_PROFILE: dict[str, Model] = {p: m for m in MODELS for p in m.profile_ids}
_BY_ALIAS: dict[str, Model] = {a: m for m in MODELS for a in m.aliases}
_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:([\w-]*):(\d*):([\w-]+)/(.+)$")


class UnknownModel(LookupError):
    """A model name that is neither an alias, a model id, a profile id nor an ARN."""


@dataclass(frozen=True)
class Resolved:
    """What a user's model name means: the id to send, and the model if known."""

    invoke_id: str  # what goes in the request path
    model: Model | None  # None for application inference profiles we can't see into
    via_profile: bool = False


def geography_for_region(region: str | None) -> str:
    """The inference-profile prefix for an AWS region (us-east-1 -> us)."""
    region = (region or DEFAULT_REGION).lower()
    if region.startswith("eu-"):
        return "eu"
    if region.startswith(("ap-", "me-")):
        return "apac"
    return "us"


def _normalise_alias(name: str) -> str:
    alias = name.strip().lower().replace(" ", "-").replace("_", "-")
    return alias.removeprefix("claude-") if alias.removeprefix("claude-") in _BY_ALIAS else alias


def lookup(invoke_id: str) -> Model | None:
    """The model behind a base model id or an inference-profile id, else None."""
    return _BY_ID.get(invoke_id) or _BY_PROFILE.get(invoke_id)


def resolve(name: str, region: str | None = None) -> Resolved:
    """Turn an alias, model id, inference-profile id or ARN into what to invoke.

    Aliases of models that need an inference profile resolve to the profile of
    the region's geography (falling back to `global.` then `us.`).
    """
    name = name.strip()
    if not name:
        raise UnknownModel("empty model name")
    if name in _BY_ID:
        return Resolved(name, _BY_ID[name])
    if name in _BY_PROFILE:
        return Resolved(name, _BY_PROFILE[name], via_profile=True)
    arn = _ARN.match(name)
    if arn:
        resource_id = arn.group(4)
        return Resolved(name, lookup(resource_id), via_profile=arn.group(3) != "foundation-model")
    alias = _normalise_alias(name)
    if alias in _BY_ALIAS:
        model = _BY_ALIAS[alias]
        if model.on_demand:
            return Resolved(model.id, model)
        return Resolved(preferred_profile(model, region), model, via_profile=True)
    raise UnknownModel(f"unknown model {name!r}")


def preferred_profile(model: Model, region: str | None) -> str:
    """The inference-profile id that suits `region` best."""
    geo = geography_for_region(region)
    for candidate in (geo, "global", "us"):
        if candidate in model.profiles:
            return model.profile_id(candidate)
    return model.profile_id(model.profiles[0]) if model.profiles else model.id


def suggest(name: str, limit: int = 3) -> list[str]:
    """Close alias names for an unknown one, for error messages."""
    import difflib

    return difflib.get_close_matches(name.lower(), sorted(_BY_ALIAS), n=limit, cutoff=0.5)


def all_invoke_ids() -> list[str]:
    """Every base model id and inference-profile id the catalogue knows."""
    return [m.id for m in MODELS] + [p for m in MODELS for p in m.profile_ids]
