"""What a model name means here, for cells and the Python API alike: the catalogue's
answer, or one line that says what to type instead."""

from __future__ import annotations

from typing import Any

from ..models import catalog
from .errors import ClaudeMagicError


def resolve_model(
    name: str, region: str | None, geography: str = "auto", offer: Any = None
) -> catalog.Resolved:
    """What `name` means here; a retired or unknown model stops before any request. A model
    the catalogue lacks but the account offers (`offer`, a `bedrock.discovery.Offer` from
    `%claude models --refresh`) gets the profiles Bedrock listed for it."""
    try:
        resolved = catalog.resolve(name, region, geography=geography)
    except catalog.RetiredModel as exc:
        raise ClaudeMagicError(retired_message(exc.model, exc.replacement)) from None
    except catalog.UnknownModel:
        hints = catalog.suggest(name)
        hint = f" Did you mean {', '.join(hints)}?" if hints else ""
        raise ClaudeMagicError(
            f"Unknown model {name!r}.{hint} %claude models lists them; model ids, "
            "inference-profile ids and ARNs work too."
        ) from None
    model = resolved.model
    if offer is None or model is None or model.known:
        return resolved
    listed = next((m for m in offer.unknown_models() if m.id == model.id), None)
    if listed is None:
        return resolved
    if resolved.via_profile or listed.on_demand or not listed.profiles:
        return catalog.Resolved(resolved.invoke_id, listed, resolved.via_profile)
    profile = catalog.preferred_profile(listed, region, geography)
    return catalog.Resolved(profile, listed, via_profile=True)


def retired_message(model: catalog.Model, replacement: catalog.Model | None) -> str:
    """The one line for a retired model: when, and which alias to use instead."""
    text = f"{model.name} was retired on Bedrock on {model.end_of_life}"
    if replacement is None:
        return text + ": %claude models lists the current models."
    return text + f"; use -m {catalog.alias_for(replacement)} ({replacement.name}) instead."


def describe_model(
    name: str, region: str | None, geography: str = "auto", api: str = "invoke"
) -> str:
    """ "us.anthropic.claude-… (Claude Sonnet 5.5)": what `name` calls on route `api`, for
    `%claude config`."""
    from ..models.routes import route

    try:
        resolved = route(api).resolved(catalog.resolve(name, region, geography=geography))
    except catalog.RetiredModel as exc:
        return retired_message(exc.model, exc.replacement)
    except catalog.UnknownModel:
        return f"{name} (not in the catalogue)"
    label = resolved.model.name if resolved.model else "unknown model"
    return f"{resolved.invoke_id} ({label})"
