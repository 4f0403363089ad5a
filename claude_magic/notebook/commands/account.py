"""Commands on what is called and what it costs: models, config, usage, offline."""

from __future__ import annotations

import argparse
import textwrap
from typing import TYPE_CHECKING, Any

from ..config import Config
from .registry import command, option
from .tables import table

if TYPE_CHECKING:
    from ...models import catalog
    from ..session import KernelSession


@command(
    "models",
    "per model: alias, id, inference profiles (`*`: the one an alias picks here), "
    "context window, max output, thinking mode, prices (input/output; cache write and read "
    "as multiples) and status (active, legacy, retired), in about 110 columns; `--refresh` "
    "asks Bedrock's control plane what this account offers in this region (a line names the "
    "models it lacks; models the built-in catalogue lacks join the table, usable by id); "
    "`--all` adds the retired models",
    option("--refresh", action="store_true"),
    option("--all", action="store_true"),
)
def models(session: KernelSession, args: argparse.Namespace) -> None:
    config = session.config()
    settings = session.client_settings(config)
    if args.refresh:
        from ...bedrock.discovery import discover

        session.offer = discover(settings)
    from ...bedrock.settings import effective_region

    print(
        models_table(
            region=settings.region or effective_region(settings),
            geography=config.geography,
            offer=session.offer,
            show_retired=args.all,
            api=config.api,
        )
    )


ID_PREFIX = "anthropic.claude-"  # every catalogue id starts so: the column's title says it once
SHORT_GEOGRAPHIES = {"global": "gl", "apac": "ap"}
NOTE_WIDTH = 100  # the table (at most ~110 columns) and its notes fit a notebook's output area


def models_table(
    *,
    region: str,
    geography: str = "auto",
    offer: Any = None,
    show_retired: bool = False,
    api: str = "invoke",
) -> str:
    """The catalogue as a table: per model its alias, profiles, window, output, thinking,
    prices and status; with `offer` (from --refresh), what this account offers here; a
    note on the route `api` when it is not InvokeModel."""
    from ...models import catalog
    from ...models.routes import INVOKE, describe_route

    today = catalog.current_date()
    by_model: dict[str, str] = {}
    for alias, model in catalog.aliases(
        today
    ).items():  # the bare family alias wins, then the versioned one
        if alias in catalog.FAMILIES or model.id not in by_model:
            by_model[model.id] = alias
    header = ["alias", ID_PREFIX + "…", "profiles", "ctx", "out", "thinking", "$ in/out", "status"]
    rows = [tuple(header)]
    models = sorted(
        catalog.MODELS,
        key=lambda m: (m.status(today) == "retired", m.family, -(m.launched or today).toordinal()),
    )
    extra = list(offer.unknown_models()) if offer is not None else []
    retired, shown, not_here = 0, [], []
    for model in [*models, *extra]:
        status = model.status(today) if model.known else "not in catalogue"
        if status == "retired":
            retired += 1
            if not show_retired:
                continue
            status = f"retired {model.end_of_life}"
        elif status == "legacy":
            status = f"retires {model.end_of_life}" if model.end_of_life else "legacy"
        if status == "active" and offer is not None and offer.lifecycle.get(model.id) == "LEGACY":
            status = "legacy (Bedrock)"
        shown.append(model)
        if offer is not None and model.known and not offer.available(model):
            not_here.append(by_model.get(model.id, model.id.removeprefix(ID_PREFIX)))
        row = [
            by_model.get(model.id, "-") if model.known else "-",
            model.id.removeprefix(ID_PREFIX),
            _profiles(model, region, geography),
            _tokens(model.context_window) + ("+" if model.long_context else ""),
            _tokens(model.max_output_tokens),
            model.thinking,
            f"{model.input_price:g}/{model.output_price:g}",
            status,
        ]
        rows.append(tuple(row))
    notes = [_price_basis(shown, by_model), _column_notes(shown)]
    if api != INVOKE:
        notes.append(describe_route(api))
    if offer is not None:
        lacking = f"all of these but {', '.join(not_here)}." if not_here else "all of these."
        notes.append(f"Bedrock offers this account in {offer.region}: {lacking}")
    if retired and not show_retired:
        notes.append(f"{retired} retired models are not shown: %claude models --all lists them.")
    if offer is None:
        notes.append("%claude models --refresh asks Bedrock what this account offers here.")
    return "\n".join([table(rows), *(textwrap.fill(n, NOTE_WIDTH) for n in notes)])


def _profiles(model: catalog.Model, region: str, geography: str) -> str:
    """The model's profile geographies, the one an alias picks here marked with *."""
    from ...models import catalog

    if not model.profiles:
        return "on-demand"
    chosen = catalog.preferred_profile(model, region, geography).split(".", 1)[0]
    names = [SHORT_GEOGRAPHIES.get(g, g) + ("*" if g == chosen else "") for g in model.profiles]
    return " ".join(names) + (" +od" if model.on_demand else "")


def _tokens(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}K" if n >= 1000 else str(n)


def _price_basis(shown: list[catalog.Model], aliases: dict[str, str]) -> str:
    """The prices' date and basis, the cache multiples, and the models they don't fit."""
    from ...models import catalog

    basis = catalog.prices_for(1.0, 1.0)
    text = (
        f"Prices: USD per million tokens, catalogue of {catalog.PRICES_AS_OF}, for global. or "
        f"the bare id; geographic profiles (us., eu., ...) cost {basis.geographic - 1:.0%} more; "
        f"batch: half. Prompt cache: write {basis.cache_write_5m:g}x input for 5 minutes "
        f"({basis.cache_write_1h:g}x for 1 hour), read {basis.cache_read:g}x."
    )
    uncached, other = [], []
    for model in shown:
        name = aliases.get(model.id, model.id.removeprefix(ID_PREFIX)) if model.known else model.id
        prices = model.prices
        if not model.caches or prices is None:
            uncached.append(name)
        elif (prices.cache_write_5m, prices.cache_read) != (
            model.input_price * basis.cache_write_5m,
            model.input_price * basis.cache_read,
        ):
            other.append(f"{name} {prices.cache_write_5m:g}/{prices.cache_read:g}")
    if other:
        text += f" Cache write/read prices of their own: {', '.join(other)}."
    if uncached:
        text += f" No prompt caching: {', '.join(uncached)}."
    return text


def _column_notes(shown: list[catalog.Model]) -> str:
    """What the table's short forms mean."""
    notes = ["Profiles: * the one an alias uses here, ap apac, gl global"]
    if any(m.profiles and m.on_demand for m in shown):
        notes.append("+od also on demand (by the bare id)")
    betas = sorted({m.long_context for m in shown if m.long_context})
    if betas:
        notes.append("ctx +: " + ", ".join(f"{_tokens(w)} with the beta {b}" for w, b in betas))
    return "; ".join(notes) + "."


@command(
    "config",
    "effective settings (never secrets), the endpoint in use and how requests are "
    "authenticated (masked)",
)
def config(session: KernelSession, args: argparse.Namespace) -> None:
    from ...bedrock.settings import describe_auth
    from ...core.model_choice import describe_model

    values = session.config()
    settings = session.client_settings(values)
    for name in sorted(Config.names()):
        value = getattr(values, name)
        if name == "tools":
            value = [getattr(t, "__name__", t) for t in value]
        elif name == "mcp_servers":
            from ...tools.mcp.config import masked_setting

            value = masked_setting(value)
        print(f"ClaudeMagic.{name} = {value!r}")
    from ...models.routes import MANTLE, route

    if values.api == MANTLE:
        from ...bedrock.mantle import describe

        endpoint, auth = describe(settings)
    else:
        endpoint, auth = settings.endpoint_url or "AWS (boto3 default)", describe_auth(settings)
    print(f"# route: {route(values.api).title} (ClaudeMagic.api = {values.api!r})")
    print(f"# endpoint in use: {endpoint}" + ("  [offline emulator]" if settings.offline else ""))
    print(
        f"# model in use: {describe_model(values.model, settings.region, values.geography, values.api)}"
    )
    sent = _max_tokens_sent(session, values)
    if sent:
        print(sent)
    print(f"# authentication: {auth}")


def _max_tokens_sent(session: KernelSession, values: Config) -> str:
    """The comment on what a cell without options sends as max_tokens, and why ("" when
    the model can't be told)."""
    from ...core.errors import ClaudeMagicError
    from ...core.model_choice import resolve_model
    from ..options import CellOptions
    from ..prepare import shape_for

    settings = session.client_settings(values)
    try:
        resolved = resolve_model(
            values.model, settings.region, values.geography, offer=session.offer
        )
        model = resolved.model
        sent = shape_for(values, CellOptions(), model).max_tokens
    except ClaudeMagicError:
        return ""
    name = model.name if model is not None else values.model
    if sent == values.max_tokens:
        return (
            f"# max_tokens sent to {name}: {sent:,} (ClaudeMagic.max_tokens; --max-tokens per cell)"
        )
    return (
        f"# max_tokens sent to {name}: {sent:,} (room for thinking)\n"
        "#   --max-tokens sets it per cell; ClaudeMagic.max_tokens only when larger"
    )


@command(
    "usage",
    "per chat: uncached input tokens, cache written and read, output, estimated cost "
    "with cache prices (by the model and profile each turn called, at the catalogue's dated "
    "prices), and what the same turns would have cost uncached",
)
def usage(session: KernelSession, args: argparse.Namespace) -> None:
    from ...core.costs import summarise
    from ...models import catalog

    cache_ttl = session.config().cache_ttl
    rows = [
        (
            "chat",
            "turns",
            "input tokens",
            "cache written",
            "cache read",
            "output tokens",
            "est. cost $",
            "uncached $",
        )
    ]
    for name in session.chats.names():
        conversation = session.chats.get(name)
        summary = summarise(conversation.turns, cache_ttl)
        used = summary.usage
        rows.append(
            (
                name,
                str(len(conversation.turns)),
                str(used.input_tokens),
                str(used.cache_creation_input_tokens),
                str(used.cache_read_input_tokens),
                str(used.output_tokens),
                f"{summary.cost:.4f}",
                f"{summary.uncached_cost:.4f}",
            )
        )
    print(table(rows))
    print("# input tokens: uncached input; uncached $: the same turns without prompt caching")
    print(
        f"# estimated per turn by the model and profile called, at the catalogue's prices of "
        f"{catalog.PRICES_AS_OF} (USD); Bedrock's bill decides"
    )


@command(
    "offline",
    "start the built-in emulator in this kernel and use it (or stop using it)",
    option("--pace", type=float, default=None, metavar="N"),
    option("--off", action="store_true"),
)
def offline(session: KernelSession, args: argparse.Namespace) -> None:
    if args.off:
        session.configure(offline=False)
        print("Offline mode off: requests go to Amazon Bedrock.")
        return
    if args.pace is not None:
        session.configure(offline=True, offline_pace=args.pace)
    else:
        session.configure(offline=True)
    url = session.start_emulator(session.config().offline_pace).url
    print(
        f"Offline mode: using the built-in Bedrock emulator at {url}. "
        "Its answers say they come from the emulator; no model is called."
    )
