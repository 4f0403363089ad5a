"""The one model catalogue: Claude models on Bedrock, their aliases, inference
profiles, capabilities, request rules, lifecycle and prices. Used by the client and by
the emulator.

The data lives in `catalog.toml` beside this module (a model launch is a data change);
this module reads it once and holds the lookups. No third-party imports.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import date
from importlib.resources import files
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CATALOGUE_FILE = "catalog.toml"
TODAY_ENV = "CLAUDE_MAGIC_TODAY"  # YYYY-MM-DD: judge lifecycles by this date, not the calendar
THINKING_MODES = ("none", "manual", "adaptive", "always")
FAMILIES = ("sonnet", "opus", "haiku", "fable")  # the families a bare alias names


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
class Prices:
    """USD per million tokens."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    batch_input: float
    batch_output: float
    geographic: float = 1.0  # multiple for geographic profiles (us., eu., ...) over global.


@dataclass(frozen=True)
class Model:
    """A Claude model on Bedrock (field meanings: the header of catalog.toml)."""

    id: str  # the base model id, e.g. anthropic.claude-haiku-4-5-20251001-v1:0
    name: str  # human name, e.g. "Claude Haiku 4.5"
    api_model: str  # the `model` field Bedrock puts in responses
    input_price: float  # USD per million input tokens
    output_price: float  # USD per million output tokens
    max_output_tokens: int
    context_window: int
    family: str = ""
    version: str = ""
    aliases: tuple[str, ...] = ()
    launched: date | None = None
    legacy: date | None = None
    end_of_life: date | None = None
    on_demand: bool = True  # callable by its base id without an inference profile
    profiles: tuple[str, ...] = ()  # geographies with a cross-region inference profile
    images: bool = True
    tools: bool = True
    documents: bool = False
    system: bool = True
    thinking: str = "none"
    manual_thinking: bool = False
    effort_levels: tuple[str, ...] = ()
    sampling: bool = True
    prefill: bool = True
    structured_output: bool = False
    forced_tool_choice: bool = True
    count_tokens: bool = True
    api_versions: tuple[str, ...] = ("bedrock-2023-05-31",)
    cache_min_tokens: int = 0
    cache_ttls: tuple[str, ...] = ()
    top_p_min: float = 1.0  # without sampling: the lowest top_p still accepted
    interleaved_thinking_beta: str = ""
    context_editing: bool = True  # takes context_management's clear_* edits
    compaction: bool = True  # takes the compact_20260112 edit
    long_context: tuple[int, str] | None = None  # (window, beta) where a beta unlocks more
    computer_use: tuple[ComputerUse, ...] = field(default=())
    prices: Prices | None = None
    note: str = ""
    known: bool = True  # False: made up for an id the built-in catalogue lacks

    def profile_id(self, geography: str) -> str:
        return f"{geography}.{self.id}"

    @property
    def profile_ids(self) -> tuple[str, ...]:
        return tuple(self.profile_id(g) for g in self.profiles)

    @property
    def versioned_aliases(self) -> tuple[str, ...]:
        """`sonnet-4.5` and `4.5-sonnet` style aliases, then the extra ones."""
        made = (f"{self.family}-{self.version}", f"{self.version}-{self.family}")
        names = made if self.family in FAMILIES else ()
        return tuple(dict.fromkeys((*names, *self.aliases)))

    @property
    def takes_manual_thinking(self) -> bool:
        return self.thinking == "manual" or self.manual_thinking

    @property
    def caches(self) -> bool:
        return self.cache_min_tokens > 0

    def status(self, today: date | None = None) -> str:
        """`active`, `legacy` or `retired` on `today` (default: the real date)."""
        today = today or current_date()
        if self.end_of_life is not None and today >= self.end_of_life:
            return "retired"
        if self.legacy is not None and today >= self.legacy:
            return "legacy"
        return "active"

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        *,
        cache_write_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_ttl: str = "5m",
        batch: bool = False,
        geography: str = "",
    ) -> float:
        """Estimated cost in USD. `input_tokens` counts only the uncached input;
        `geography` is the profile called (`us`, `global`, "" for the bare id)."""
        p = self.prices or _prices(self.input_price, self.output_price, {})
        scale = self.price_scale(geography)
        if batch:
            return scale * (input_tokens * p.batch_input + output_tokens * p.batch_output) / 1e6
        write = p.cache_write_1h if cache_ttl == "1h" else p.cache_write_5m
        return (
            scale
            * (
                input_tokens * p.input
                + output_tokens * p.output
                + cache_write_tokens * write
                + cache_read_tokens * p.cache_read
            )
            / 1e6
        )

    def price_scale(self, geography: str = "") -> float:
        """Catalogue prices are for `global.` (or the bare id); geographic profiles of a
        model that also has a global one cost more."""
        if geography and geography != "global" and "global" in self.profiles and self.prices:
            return self.prices.geographic
        return 1.0

    def computer_use_for(self, beta: str) -> ComputerUse | None:
        return next((c for c in self.computer_use if c.beta == beta), None)


class UnknownModel(LookupError):
    """A model name that is neither an alias, a model id, a profile id nor an ARN."""


class RetiredModel(UnknownModel):
    """A model Bedrock no longer serves; the message names what to use instead."""

    def __init__(self, model: Model, replacement: Model | None) -> None:
        instead = (
            f"; use {replacement.family} ({replacement.name}) instead"
            if replacement is not None
            else ""
        )
        super().__init__(f"{model.name} was retired on Bedrock on {model.end_of_life}{instead}.")
        self.model = model
        self.replacement = replacement


@dataclass(frozen=True)
class Resolved:
    """What a user's model name means: the id to send, and the model if known."""

    invoke_id: str  # what goes in the request path
    model: Model | None  # None for application inference profiles we can't see into
    via_profile: bool = False


# ---------------------------------------------------------------- loading


def _load(resource: str = CATALOGUE_FILE) -> dict[str, Any]:
    """The catalogue file, parsed (read once, at import)."""
    text = files(__package__).joinpath(resource).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _prices(
    input_price: float,
    output_price: float,
    multiples: dict[str, float],
    given: dict[str, float] | None = None,
) -> Prices:
    m = {"cache_write_5m": 1.25, "cache_write_1h": 2.0, "cache_read": 0.1, "batch": 0.5} | multiples
    g = given or {}
    return Prices(
        input=input_price,
        output=output_price,
        cache_write_5m=g.get("cache_write_5m", input_price * m["cache_write_5m"]),
        cache_write_1h=g.get("cache_write_1h", input_price * m["cache_write_1h"]),
        cache_read=g.get("cache_read", input_price * m["cache_read"]),
        batch_input=g.get("batch_input", input_price * m["batch"]),
        batch_output=g.get("batch_output", output_price * m["batch"]),
        geographic=float(m.get("geographic", 1.0)),
    )


_TUPLES = ("aliases", "profiles", "effort_levels", "api_versions", "cache_ttls")
_FIELDS = {f.name for f in dataclasses.fields(Model)}


def model_from_entry(entry: dict[str, Any], data: dict[str, Any] | None = None) -> Model:
    """A Model from one `[[models]]` entry (defaults and computer-use tables from `data`)."""
    data = _DATA if data is None else data
    values = dict(data.get("defaults", {})) | dict(entry)
    unknown = set(values) - _FIELDS - {"price_overrides"}
    if unknown:
        raise ValueError(f"catalogue entry {entry.get('id')!r}: unknown fields {sorted(unknown)}")
    tables = data.get("computer_use", {})
    values["computer_use"] = tuple(
        ComputerUse(**tables[name]) for name in values.get("computer_use", ())
    )
    for name in _TUPLES:
        values[name] = tuple(values.get(name, ()))
    for name in ("launched", "legacy", "end_of_life"):
        values[name] = _date(values.get(name))
    if values.get("long_context"):
        window, beta = values["long_context"]
        values["long_context"] = (int(window), str(beta))
    if values.get("thinking", "none") not in THINKING_MODES:
        raise ValueError(
            f"catalogue entry {entry.get('id')!r}: thinking must be one of {THINKING_MODES}"
        )
    values["prices"] = _prices(
        values["input_price"],
        values["output_price"],
        data.get("pricing", {}),
        values.pop("price_overrides", None),
    )
    return Model(**values)


_DATA = _load()
ANTHROPIC_VERSION: str = _DATA["anthropic_version"]
PROFILE_GEOGRAPHIES: tuple[str, ...] = tuple(_DATA["profile_geographies"])
DEFAULT_FAMILY: str = _DATA["default_family"]
DEFAULT_MODEL_ALIAS: str = DEFAULT_FAMILY
DEFAULT_REGION: str = _DATA["default_region"]
PRICES_AS_OF: str = str(_DATA.get("prices_as_of", ""))
ROUTE_TABLES: dict[str, dict[str, Any]] = dict(_DATA.get("routes", {}))  # see models/routes.py
ROUTE_BETAS: dict[str, list[str]] = dict(_DATA.get("route_betas", {}))
MODELS: tuple[Model, ...] = tuple(model_from_entry(e, _DATA) for e in _DATA["models"])

_BY_ID: dict[str, Model] = {m.id: m for m in MODELS}
_BY_PROFILE: dict[str, Model] = {p: m for m in MODELS for p in m.profile_ids}
_BY_ALIAS: dict[str, Model] = {a: m for m in MODELS for a in m.versioned_aliases}
_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:([\w-]*):(\d*):([\w-]+)/(.+)$")
_CLAUDE_ID = re.compile(r"^(?:(?P<geo>[a-z]{2,6})\.)?(?P<base>anthropic\.claude-[\w.:-]+)$")


# ---------------------------------------------------------------- lookups


def current_date() -> date:
    """The date lifecycles are judged by: `$CLAUDE_MAGIC_TODAY` if set, else the calendar."""
    pinned = os.environ.get(TODAY_ENV, "").strip()
    if pinned:
        try:
            return date.fromisoformat(pinned)
        except ValueError:
            pass
    return date.today()


def split_profile(invoke_id: str) -> tuple[str, str]:
    """`("us", "anthropic.claude-...")` for a profile id, `("", id)` for a base id."""
    match = _CLAUDE_ID.match(invoke_id)
    if match and match.group("geo"):
        return match.group("geo"), match.group("base")
    return "", invoke_id


def cost_of(
    invoke_id: str,
    input_tokens: int,
    output_tokens: int,
    *,
    cache_write_tokens: int = 0,
    cache_read_tokens: int = 0,
    cache_ttl: str = "5m",
    batch: bool = False,
) -> float | None:
    """The estimated cost of a call to `invoke_id` (the id or profile actually called),
    priced by its model and profile; None when the catalogue can't price it."""
    model = lookup(invoke_id)
    if model is None:
        return None
    return model.cost(
        input_tokens,
        output_tokens,
        cache_write_tokens=cache_write_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_ttl=cache_ttl,
        batch=batch,
        geography=split_profile(invoke_id)[0],
    )


def newest(family: str, today: date | None = None) -> Model | None:
    """The newest model of a family launched by `today` and still active (else legacy)."""
    day = today or current_date()
    members = [
        m for m in MODELS if m.family == family and m.launched is not None and m.launched <= day
    ]
    for wanted in ("active", "legacy"):
        alive = [m for m in members if m.status(today) == wanted]
        if alive:
            return max(alive, key=lambda m: m.launched or date.min)
    return None


def aliases(today: date | None = None) -> dict[str, Model]:
    """Every alias on `today`: the bare family names and the versioned ones."""
    table = dict(_BY_ALIAS)
    for family in FAMILIES:
        model = newest(family, today)
        if model is not None:
            table[family] = model
    return table


def geographies_for_region(region: str | None) -> tuple[str, ...]:
    """The inference-profile geographies that serve a region, most specific first
    (ap-northeast-1 -> jp, apac; ap-southeast-2 -> au, apac; eu-west-1 -> eu)."""
    region = (region or DEFAULT_REGION).lower()
    if region.startswith("eu-"):
        return ("eu",)
    if region in ("ap-northeast-1", "ap-northeast-3"):
        return ("jp", "apac")
    if region in ("ap-southeast-2", "ap-southeast-4"):
        return ("au", "apac")
    if region.startswith(("ap-", "me-")):
        return ("apac",)
    return ("us",)


def geography_for_region(region: str | None) -> str:
    """The inference-profile prefix for an AWS region (us-east-1 -> us, ap-northeast-1 -> jp)."""
    return geographies_for_region(region)[0]


def _normalise_alias(name: str, table: dict[str, Model]) -> str:
    """`Claude Sonnet 4.5`, `claude-sonnet-4-5`, `sonnet_4.5` -> `sonnet-4.5`."""
    alias = name.strip().lower().replace(" ", "-").replace("_", "-")
    for candidate in (alias, re.sub(r"(?<=\d)-(?=\d)", ".", alias)):
        for form in (candidate, candidate.removeprefix("claude-")):
            if form in table:
                return form
    return alias


def lookup(invoke_id: str) -> Model | None:
    """The model behind a base model id, an inference-profile id or an ARN, else None."""
    arn = _ARN.match(invoke_id)
    if arn:
        invoke_id = arn.group(4)
    return _BY_ID.get(invoke_id) or _BY_PROFILE.get(invoke_id)


def alias_for(model: Model) -> str:
    """The shortest name to pick `model` with `-m`: its family alias, else its id."""
    return model.family if model.family in FAMILIES else model.id


def replacement_for(model: Model, today: date | None = None) -> Model | None:
    """What to use instead of a retired model: the newest active model of its family."""
    return newest(model.family, today) or newest(DEFAULT_FAMILY, today)


def model_for_unknown(invoke_id: str, today: date | None = None) -> Model | None:
    """For an `anthropic.claude-*` id the catalogue lacks: the rules of the newest model of
    its family (marked `known=False`), so it can be used by id and explained."""
    match = _CLAUDE_ID.match(invoke_id)
    if not match:
        return None
    base = match.group("base")
    family = next((f for f in FAMILIES if f"-{f}" in base), DEFAULT_FAMILY)
    template = newest(family, today)
    if template is None:
        return None
    return dataclasses.replace(
        template,
        id=base,
        name=f"{base} (not in the built-in catalogue)",
        api_model=base.removeprefix("anthropic."),
        aliases=(),
        known=False,
        profiles=(match.group("geo"),) if match.group("geo") else template.profiles,
    )


def resolve(
    name: str, region: str | None = None, *, geography: str = "auto", today: date | None = None
) -> Resolved:
    """Turn an alias, model id, inference-profile id or ARN into what to invoke.

    Aliases of models that need an inference profile resolve to the profile of the
    region's geography (or `geography` when not "auto") if that model has one, else
    `global.`, else what the model offers. A retired model raises RetiredModel; an
    unknown `anthropic.claude-*` id is passed through as typed (Bedrock decides).
    """
    name = name.strip()
    if not name:
        raise UnknownModel("empty model name")
    resolved = _resolve(name, region, geography, today)
    model = resolved.model
    if model is not None and model.known and model.status(today) == "retired":
        raise RetiredModel(model, replacement_for(model, today))
    return resolved


def _resolve(name: str, region: str | None, geography: str, today: date | None) -> Resolved:
    if name in _BY_ID:
        return Resolved(name, _BY_ID[name])
    if name in _BY_PROFILE:
        return Resolved(name, _BY_PROFILE[name], via_profile=True)
    arn = _ARN.match(name)
    if arn:
        resource_id = arn.group(4)
        return Resolved(name, lookup(resource_id), via_profile=arn.group(3) != "foundation-model")
    table = aliases(today)
    alias = _normalise_alias(name, table)
    if alias in table:
        model = table[alias]
        if model.on_demand:
            return Resolved(model.id, model)
        return Resolved(preferred_profile(model, region, geography), model, via_profile=True)
    unknown = model_for_unknown(name, today)
    if unknown is not None:
        return Resolved(name, unknown, via_profile=name != unknown.id)
    raise UnknownModel(f"unknown model {name!r}")


def preferred_profile(model: Model, region: str | None, geography: str = "auto") -> str:
    """The inference-profile id that suits `region` (or the chosen geography) best."""
    geos = geographies_for_region(region) if geography in ("", "auto") else (geography,)
    for candidate in (*geos, "global"):
        if candidate in model.profiles:
            return model.profile_id(candidate)
    return model.profile_id(model.profiles[0]) if model.profiles else model.id


def computer_use_tables() -> dict[str, ComputerUse]:
    """The computer-use versions by their catalogue names (`2025-11-24`, `claude-4`, ...)."""
    return {name: ComputerUse(**table) for name, table in _DATA.get("computer_use", {}).items()}


def prices_for(input_price: float, output_price: float) -> Prices:
    """Prices with cache, batch and geographic multiples from the catalogue's [pricing]."""
    return _prices(input_price, output_price, _DATA.get("pricing", {}))


def suggest(name: str, limit: int = 3, today: date | None = None) -> list[str]:
    """Close alias names for an unknown one, for error messages: only aliases of models
    launched and not retired on `today` (default: `current_date()`)."""
    import difflib

    day = today or current_date()
    callable_now = sorted(
        alias
        for alias, model in aliases(day).items()
        if model.status(day) != "retired" and (model.launched or day) <= day
    )
    typed = name.strip().lower().replace(" ", "-").replace("_", "-").removeprefix("claude-")
    return difflib.get_close_matches(typed, callable_now, n=limit, cutoff=0.5)


def all_invoke_ids() -> list[str]:
    """Every base model id and inference-profile id the catalogue knows."""
    return [m.id for m in MODELS] + [p for m in MODELS for p in m.profile_ids]
