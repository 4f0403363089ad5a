"""The routes a request can take (InvokeModel, Converse, the Messages API on
bedrock-mantle) and what each takes, from the catalogue's `[routes]` and `[route_betas]`:
model ids, betas, fields, tools and token counting."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .catalog import ROUTE_BETAS, ROUTE_TABLES, Model, Resolved, split_profile

INVOKE, CONVERSE, MANTLE = "invoke", "converse", "mantle"


@dataclass(frozen=True)
class Route:
    """One route (a `ClaudeMagic.api` value) as the catalogue describes it."""

    name: str
    title: str
    endpoint: str
    model_ids: str = "profile"  # or "base": the bare model id, no geography prefix
    count_tokens: str = "catalogue"  # or "all"
    refuses_fields: tuple[str, ...] = ()
    refuses_tools: tuple[str, ...] = ()

    def takes_beta(self, beta: str) -> bool:
        """False only for a beta the catalogue lists for other routes."""
        routes = ROUTE_BETAS.get(beta)
        return routes is None or self.name in routes

    def counts_tokens(self, model: Model | None) -> bool:
        """Whether this route's token counting works for `model`."""
        if self.count_tokens == "all":
            return True
        return model is not None and model.count_tokens

    def refuses_field(self, path: str) -> bool:
        return path in self.refuses_fields

    def model_view(self, model: Model | None) -> Model | None:
        """`model` as this route serves it (structured output off where the route refuses
        `output_config.format`), for composing requests."""
        if (
            model is not None
            and model.structured_output
            and self.refuses_field("output_config.format")
        ):
            return dataclasses.replace(model, structured_output=False)
        return model

    def resolved(self, resolved: Resolved) -> Resolved:
        """What to send as the model id on this route: for "base" routes the model's bare
        id (an alias or profile id loses its geography prefix); ARNs and unknown ids as typed."""
        if self.model_ids != "base" or resolved.invoke_id.startswith("arn:"):
            return resolved
        model = resolved.model
        if model is not None and model.known:
            return Resolved(model.id, model)
        geography, base = split_profile(resolved.invoke_id)
        return Resolved(base, model) if geography else resolved


ROUTES: dict[str, Route] = {
    name: Route(
        name=name,
        title=str(table.get("title", name)),
        endpoint=str(table.get("endpoint", "")),
        model_ids=str(table.get("model_ids", "profile")),
        count_tokens=str(table.get("count_tokens", "catalogue")),
        refuses_fields=tuple(table.get("refuses_fields", ())),
        refuses_tools=tuple(table.get("refuses_tools", ())),
    )
    for name, table in ROUTE_TABLES.items()
}


def route(name: str) -> Route:
    """The route called `name` (`invoke` for an unknown name)."""
    return ROUTES.get(name) or ROUTES[INVOKE]


def routes_taking(beta: str) -> list[Route]:
    """The routes that take `beta`."""
    return [r for r in ROUTES.values() if r.takes_beta(beta)]


def beta_refusal(beta: str, route_name: str, asked: bool = True) -> str:
    """One line: why `beta` is not sent on this route, and where it would be."""
    here = route(route_name)
    others = [r for r in routes_taking(beta) if r.name != here.name]
    where = " and ".join(r.title for r in others)
    switch = " or ".join(f'"{r.name}"' for r in others)
    told = f"--beta {beta}" if asked else f"The beta {beta}"
    text = f"{told} is not sent: {here.title} doesn't take it"
    if others:
        text += (
            f" ({where} {'do' if len(others) > 1 else 'does'}: %config ClaudeMagic.api = {switch})"
        )
    return text + "."


def sendable(
    route_name: str, betas: list[str], asked: tuple[str, ...] | list[str] = ()
) -> tuple[tuple[str, ...], list[str]]:
    """The betas a request on this route sends (each once), and one line for each left out
    (those in `asked` were the user's --beta)."""
    here = route(route_name)
    kept, refused = [], []
    for beta in dict.fromkeys(betas):
        if here.takes_beta(beta):
            kept.append(beta)
        else:
            refused.append(beta_refusal(beta, route_name, asked=beta in asked))
    return tuple(kept), refused


def describe_route(route_name: str) -> str:
    """What `%claude models` says about the configured route: ids, counting, refusals, betas."""
    here = route(route_name)
    ids = (
        "model ids without a geography prefix (the profiles column does not apply)"
        if here.model_ids == "base"
        else "inference-profile ids as the profiles column marks them"
    )
    counting = (
        "counts tokens for every model"
        if here.count_tokens == "all"
        else "counts tokens where the model allows it (else estimates)"
    )
    text = f"Route {here.title} (ClaudeMagic.api = {here.name!r}): {ids}; {counting}"
    if here.refuses_fields:
        text += f"; refuses {', '.join(here.refuses_fields)}"
    if here.refuses_tools:
        text += f"; can't carry the tools {', '.join(here.refuses_tools)}"
    refused = [beta for beta in ROUTE_BETAS if not here.takes_beta(beta)]
    if refused:
        text += f"; doesn't take the betas {', '.join(refused)}"
    return text + "."
