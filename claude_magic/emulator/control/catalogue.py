"""The models the emulator serves, and the control-plane calls that list them:
ListFoundationModels, GetFoundationModel and ListInferenceProfiles in botocore's shapes
(`boto3.client("bedrock", endpoint_url=...)` works unmodified).

The list is the catalogue plus models a user adds (`--models FILE.json`,
`Emulator(models=[...])`, `POST /_emulator/models`), so code can be tried against a
model launched after this release. An added model needs only an `id`; every other field
(catalog.toml's names) defaults to the newest catalogue model of its family.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import typing
from collections.abc import Iterable
from datetime import date, datetime, time, timezone
from typing import Any
from urllib.parse import parse_qs

from ...models import catalog
from ...models.catalog import Model, current_date
from ..errors import BedrockError, validation
from ..validation.rules import check_lifecycle

LIST_MODELS, GET_MODEL, LIST_PROFILES, GET_PROFILE = (
    "ListFoundationModels",
    "GetFoundationModel",
    "ListInferenceProfiles",
    "GetInferenceProfile",
)
ACCOUNT = "123456789012"
PROFILE_NAMES = {"us": "US", "eu": "EU", "apac": "APAC", "jp": "JP", "au": "AU", "global": "Global"}
_TUPLES = {"aliases", "profiles", "effort_levels", "api_versions", "cache_ttls", "computer_use"}
_DATES = {"launched", "legacy", "end_of_life"}
_FIELD_TYPES: dict[str, Any] = typing.get_type_hints(Model)
_TYPE_NAMES = {
    bool: "true or false",
    str: "a string",
    int: "an integer >= 0",
    float: "a number >= 0",
}


def model_from_user(entry: Any) -> Model:
    """A Model from a user's JSON object: `id` required, the rest as in catalog.toml."""
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise ValueError('a model is a JSON object with at least {"id": "anthropic.claude-..."}')
    template = catalog.lookup(entry["id"]) or catalog.model_for_unknown(entry["id"])
    if template is None:
        raise ValueError(f"{entry['id']!r} is not an Anthropic model id (anthropic.claude-...)")
    fields = {f.name for f in dataclasses.fields(Model)} - {"prices", "known"}
    unknown = set(entry) - fields
    if unknown:
        raise ValueError(f"model {entry['id']!r}: unknown fields {sorted(unknown)}")
    values = {key: _user_value(entry["id"], key, value) for key, value in entry.items()}
    values.setdefault("name", entry["id"].removeprefix("anthropic."))
    values.setdefault("api_model", entry["id"].removeprefix("anthropic."))
    if "input_price" in values or "output_price" in values:
        values["prices"] = catalog.prices_for(
            values.get("input_price", template.input_price),
            values.get("output_price", template.output_price),
        )
    return dataclasses.replace(template, **values, known=True)


def _user_value(model_id: str, key: str, value: Any) -> Any:
    """One field of a user's model, checked against its type in Model and converted."""
    where = f"model {model_id!r}: {key}"
    if key in _DATES:
        if value is None or value == "":
            return None
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where} must be a date as YYYY-MM-DD or null") from None
    if key == "computer_use":
        tables = catalog.computer_use_tables()
        if not _strings(value) or not set(value) <= set(tables):
            raise ValueError(f"{where} must be a list of {', '.join(tables)}")
        return tuple(tables[name] for name in value)
    if key == "long_context":
        if value is None:
            return None
        if not (
            isinstance(value, list)
            and len(value) == 2
            and _count(value[0])
            and isinstance(value[1], str)
        ):
            raise ValueError(f"{where} must be [window, beta] or null")
        return (value[0], value[1])
    if key in _TUPLES:
        if not _strings(value):
            raise ValueError(f"{where} must be a list of strings")
        return tuple(value)
    if key == "thinking" and value not in catalog.THINKING_MODES:
        raise ValueError(f"{where} must be one of {', '.join(catalog.THINKING_MODES)}")
    kind = _FIELD_TYPES[key]
    if kind is bool and isinstance(value, bool) or kind is str and isinstance(value, str):
        return value
    if kind is int and _count(value):
        return value
    if kind is float and _count(value, float) and math.isfinite(value):
        return float(value)
    raise ValueError(f"{where} must be {_TYPE_NAMES[kind]}")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _count(value: Any, kind: type = int) -> bool:
    """Whether `value` is an int (or a `kind`, float: any number) >= 0, not a bool."""
    number = isinstance(value, (int, float)) if kind is float else isinstance(value, int)
    return number and not isinstance(value, bool) and value >= 0


class ModelList:
    """The models a running emulator serves: the catalogue, then the ones users added."""

    def __init__(self, added: Iterable[Model | dict[str, Any]] = ()) -> None:
        self._lock = threading.Lock()
        self._added: dict[str, Model] = {}
        for model in added:
            self.add(model)

    def add(self, model: Model | dict[str, Any]) -> Model:
        made = model if isinstance(model, Model) else model_from_user(model)
        with self._lock:
            self._added[made.id] = made
        return made

    def clear_added(self) -> int:
        with self._lock:
            count = len(self._added)
            self._added.clear()
            return count

    def added(self) -> list[Model]:
        with self._lock:
            return list(self._added.values())

    def all(self) -> list[Model]:
        added = self.added()
        ids = {m.id for m in added}
        return [m for m in catalog.MODELS if m.id not in ids] + added

    def base(self, model_id: str) -> Model | None:
        """The model whose base id is `model_id`."""
        with self._lock:
            if model_id in self._added:
                return self._added[model_id]
        return next((m for m in catalog.MODELS if m.id == model_id), None)

    def lookup(self, invoke_id: str) -> Model | None:
        """The model behind a base id or a profile id."""
        geo, base = catalog.split_profile(invoke_id)
        model = self.base(base)
        if model is None or (geo and geo not in model.profiles):
            return None
        return model

    # -- the control-plane calls

    def handle(
        self, operation: str, identifier: str | None, query: str, today: date | None = None
    ) -> dict[str, Any]:
        today = today or current_date()
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        if operation == LIST_MODELS:
            return {"modelSummaries": self.foundation_models(params, today)}
        if operation == GET_MODEL:
            return {"modelDetails": self._one_model(identifier or "", today)}
        if operation == LIST_PROFILES:
            return self.inference_profiles(params, today)
        return self._one_profile(identifier or "", today)

    def foundation_models(self, params: dict[str, str], today: date) -> list[dict[str, Any]]:
        provider = params.get("byProvider", "").lower()
        if provider and provider != "anthropic":
            return []
        inference = params.get("byInferenceType")
        summaries = [foundation_model(m, today) for m in self.all() if m.status(today) != "retired"]
        modality = params.get("byOutputModality")
        return [
            s
            for s in summaries
            if (not inference or inference in s["inferenceTypesSupported"])
            and (not modality or modality in s["outputModalities"])
        ]

    def _one_model(self, identifier: str, today: date) -> dict[str, Any]:
        model = self.base(_resource(identifier))
        if model is None:
            raise BedrockError(
                "ResourceNotFoundException", "The provided model identifier is invalid."
            )
        check_lifecycle(model, today)
        return foundation_model(model, today)

    def inference_profiles(self, params: dict[str, str], today: date) -> dict[str, Any]:
        kind = params.get("type")
        if kind not in (None, "SYSTEM_DEFINED", "APPLICATION"):
            raise validation(
                f"1 validation error detected: Value '{kind}' at 'typeEquals' failed "
                "to satisfy constraint: Member must satisfy enum value set: "
                "[SYSTEM_DEFINED, APPLICATION]"
            )
        profiles = (
            []
            if kind == "APPLICATION"
            else [
                inference_profile(m, geo)
                for m in self.all()
                if m.status(today) != "retired"
                for geo in m.profiles
            ]
        )
        try:
            start = int(params.get("nextToken") or 0)
            size = int(params.get("maxResults") or 1000)
        except ValueError:
            raise validation("Invalid pagination token or maxResults.") from None
        page = profiles[start : start + max(1, size)]
        result: dict[str, Any] = {"inferenceProfileSummaries": page}
        if start + len(page) < len(profiles):
            result["nextToken"] = str(start + len(page))
        return result

    def _one_profile(self, identifier: str, today: date) -> dict[str, Any]:
        profile_id = _resource(identifier)
        model = self.lookup(profile_id)
        geo = catalog.split_profile(profile_id)[0]
        if model is None or not geo or model.status(today) == "retired":
            raise BedrockError("ResourceNotFoundException", "Inference profile not found.")
        return inference_profile(model, geo)


def _resource(identifier: str) -> str:
    """A model or profile id, from itself or from its ARN."""
    return identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier


def _time(day: date | None) -> str | None:
    if day is None:
        return None
    return datetime.combine(day, time(), timezone.utc).isoformat().replace("+00:00", "Z")


def foundation_model(
    model: Model, today: date, region: str = catalog.DEFAULT_REGION
) -> dict[str, Any]:
    """A FoundationModelSummary (also a FoundationModelDetails) for `model`."""
    lifecycle: dict[str, Any] = {
        "status": "LEGACY" if model.status(today) == "legacy" else "ACTIVE"
    }
    for key, day in (
        ("startOfLifeTime", model.launched),
        ("legacyTime", model.legacy),
        ("endOfLifeTime", model.end_of_life),
    ):
        if day is not None:
            lifecycle[key] = _time(day)
    return {
        "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model.id}",
        "modelId": model.id,
        "modelName": model.name.removeprefix("Claude ") if model.known else model.name,
        "providerName": "Anthropic",
        "inputModalities": ["TEXT", "IMAGE"] if model.images else ["TEXT"],
        "outputModalities": ["TEXT"],
        "responseStreamingSupported": True,
        "customizationsSupported": [],
        "inferenceTypesSupported": ["ON_DEMAND"] if model.on_demand else ["INFERENCE_PROFILE"],
        "modelLifecycle": lifecycle,
    }


def inference_profile(
    model: Model, geography: str, region: str = catalog.DEFAULT_REGION
) -> dict[str, Any]:
    """An InferenceProfileSummary for `model`'s profile in `geography`."""
    profile_id = model.profile_id(geography)
    label = PROFILE_NAMES.get(geography, geography.upper())
    stamp = _time(model.launched or date(2024, 1, 1))
    return {
        "inferenceProfileName": f"{label} {model.name}",
        "description": f"Routes requests to {model.name} in {label} regions.",
        "createdAt": stamp,
        "updatedAt": stamp,
        "inferenceProfileArn": f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{profile_id}",
        "models": [{"modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model.id}"}],
        "inferenceProfileId": profile_id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }


def models_from_file(path: str) -> list[Model]:
    """The models in a JSON file: one object or a list of them."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    return [model_from_user(entry) for entry in (data if isinstance(data, list) else [data])]
