"""The one model catalogue: Claude models on Bedrock, their aliases, inference
profiles, capabilities and prices. Used by the client and by the emulator.

The data lives in `catalog.toml` beside this module (a model launch is a data change);
this module reads it once and holds the lookups. No third-party imports.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CATALOGUE_FILE = "catalog.toml"

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


def _load(resource: str = CATALOGUE_FILE) -> dict[str, Any]:
    """The catalogue file, parsed (read once, at import)."""
    text = files(__package__).joinpath(resource).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _models(data: dict[str, Any]) -> tuple[Model, ...]:
    computer_use = {name: ComputerUse(**fields) for name, fields in data.get("computer_use", {}).items()}
    models = []
    for entry in data["models"]:
        entry = dict(entry)
        entry["aliases"] = tuple(entry.get("aliases", ()))
        entry["profiles"] = tuple(entry.get("profiles", ()))
        entry["computer_use"] = tuple(computer_use[name] for name in entry.get("computer_use", ()))
        models.append(Model(**entry))
    return tuple(models)


_DATA = _load()
ANTHROPIC_VERSION: str = _DATA["anthropic_version"]
PROFILE_GEOGRAPHIES: tuple[str, ...] = tuple(_DATA["profile_geographies"])
DEFAULT_MODEL_ALIAS: str = _DATA["default_alias"]
DEFAULT_REGION: str = _DATA["default_region"]
MODELS: tuple[Model, ...] = _models(_DATA)

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
