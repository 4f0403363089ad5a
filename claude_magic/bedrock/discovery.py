"""Discovery: what this account and region offer, from the Bedrock control plane
(`ListFoundationModels`, `ListInferenceProfiles`), set against the catalogue.

A model Bedrock lists that the catalogue lacks becomes usable by its id or profile,
with the rules of the newest model of its family (`catalog.model_for_unknown`).
boto3 is imported lazily, by the boto3 session.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..models import catalog
from .errors import NO_CREDENTIALS, ClaudeError, friendly_error
from .settings import OFFLINE_CREDENTIALS, ClientSettings, boto_session


@dataclass(frozen=True)
class Offer:
    """The Anthropic models and inference profiles one region of one account offers."""

    region: str
    model_ids: frozenset[str] = field(default_factory=frozenset)  # base ids listed ACTIVE
    profile_ids: frozenset[str] = field(default_factory=frozenset)
    lifecycle: dict[str, str] = field(default_factory=dict)  # base id -> ACTIVE | LEGACY
    on_demand: frozenset[str] = field(default_factory=frozenset)  # callable by the bare id

    def available(self, model: catalog.Model) -> bool:
        """Whether this account can call `model` here (by its id or one of its profiles)."""
        return model.id in self.model_ids or any(p in self.profile_ids for p in model.profile_ids)

    def profiles_of(self, base_id: str) -> tuple[str, ...]:
        """The geographies of the listed profiles for `base_id` (`us`, `global`, ...)."""
        geos = [
            catalog.split_profile(p)[0]
            for p in sorted(self.profile_ids)
            if catalog.split_profile(p)[1] == base_id
        ]
        return tuple(g for g in geos if g)

    def unknown_models(self) -> list[catalog.Model]:
        """Listed models the built-in catalogue lacks, with their family's newest rules."""
        bases = {catalog.split_profile(p)[1] for p in self.profile_ids} | set(self.model_ids)
        found = []
        for base in sorted(bases):
            if catalog.lookup(base) is not None:
                continue
            model = catalog.model_for_unknown(base)
            if model is None:
                continue
            profiles = self.profiles_of(base)
            found.append(
                dataclasses.replace(
                    model, profiles=profiles, on_demand=base in self.on_demand or not profiles
                )
            )
        return found


def discover(settings: ClientSettings) -> Offer:
    """Ask the control plane of the settings' region; raises ClaudeError on failure."""
    client = control_client(settings)
    try:
        summaries = client.list_foundation_models(byProvider="Anthropic").get("modelSummaries", [])
        profiles: list[dict[str, Any]] = []
        pages = client.get_paginator("list_inference_profiles").paginate(
            typeEquals="SYSTEM_DEFINED"
        )
        for page in pages:
            profiles += page.get("inferenceProfileSummaries", [])
    except Exception as exc:
        error = friendly_error(
            exc, region=client.meta.region_name, endpoint_url=settings.endpoint_url
        )
        if error.kind == "access_denied":
            error = ClaudeError(
                f"Listing the models of {client.meta.region_name} was denied: grant "
                "bedrock:ListFoundationModels and bedrock:ListInferenceProfiles, or use "
                "%claude models without --refresh.",
                "access_denied",
            )
        raise error from exc
    return offer_from(client.meta.region_name, summaries, profiles)


def offer_from(
    region: str, summaries: list[dict[str, Any]], profiles: list[dict[str, Any]]
) -> Offer:
    """An Offer from ListFoundationModels summaries and ListInferenceProfiles summaries."""
    lifecycle = {
        s["modelId"]: (s.get("modelLifecycle") or {}).get("status", "ACTIVE")
        for s in summaries
        if str(s.get("modelId", "")).startswith("anthropic.")
    }
    ids = frozenset(i for i, status in lifecycle.items() if status != "END_OF_LIFE")
    profile_ids = frozenset(
        p["inferenceProfileId"]
        for p in profiles
        if ".anthropic." in str(p.get("inferenceProfileId", ""))
        and p.get("status", "ACTIVE") == "ACTIVE"
    )
    on_demand = frozenset(
        s["modelId"]
        for s in summaries
        if s.get("modelId") in ids
        and "ON_DEMAND" in (s.get("inferenceTypesSupported") or ["ON_DEMAND"])
    )
    return Offer(
        region=region,
        model_ids=ids,
        profile_ids=profile_ids,
        lifecycle=lifecycle,
        on_demand=on_demand,
    )


def control_client(settings: ClientSettings) -> Any:
    """A boto3 `bedrock` (control plane) client for the same account, region and endpoint
    as the runtime client."""
    from botocore.config import Config

    try:
        session = boto_session(settings)
        credentials: dict[str, str] = {}
        found = None if settings.offline else session.get_credentials()  # the chain may read files
        if settings.offline or (found is None and settings.endpoint_url):
            credentials = dict(OFFLINE_CREDENTIALS)
        elif found is None:
            raise ClaudeError(NO_CREDENTIALS, "no_credentials")
        region = settings.region or session.region_name or catalog.DEFAULT_REGION
        config = Config(
            retries={"mode": settings.retry_mode, "total_max_attempts": 2},
            connect_timeout=settings.connect_timeout,
            user_agent_extra="claude-magic",
        )
        return session.client(
            "bedrock",
            region_name=region,
            endpoint_url=settings.endpoint_url,
            config=config,
            **credentials,
        )
    except ClaudeError:
        raise
    except Exception as exc:
        raise friendly_error(exc, region=settings.region) from exc
