"""Commands on what is called and what it costs: models, config, usage, offline."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..config import Config
from .registry import command, option
from .tables import table

if TYPE_CHECKING:
    from ...models import catalog
    from ..session import KernelSession


@command("models", "per model: alias, id, inference profiles (`*`: the one an alias picks here), "
         "context window, max output, thinking mode, prices (input/output, cache write/read) and "
         "status (active, legacy, retired); `--refresh` asks Bedrock's control plane what this "
         "account offers in this region (a column *yes/no*, and models the built-in catalogue "
         "lacks, usable by id); `--all` adds the retired models",
         option("--refresh", action="store_true"), option("--all", action="store_true"))
def models(session: KernelSession, args: argparse.Namespace) -> None:
    config = session.config()
    settings = session.client_settings(config)
    if args.refresh:
        from ...bedrock.discovery import discover

        session.offer = discover(settings)
    from ...bedrock.settings import effective_region

    print(models_table(region=settings.region or effective_region(settings),
                       geography=config.geography, offer=session.offer, show_retired=args.all))


def models_table(*, region: str, geography: str = "auto", offer: Any = None,
                 show_retired: bool = False) -> str:
    """The catalogue as a table: per model its alias, profiles, window, output, thinking,
    prices and status; with `offer` (from --refresh), what this account offers here."""
    from ...models import catalog

    today = catalog.current_date()
    by_model: dict[str, str] = {}
    for alias, model in catalog.aliases(today).items():  # the bare family alias wins, then the versioned one
        if alias in catalog.FAMILIES or model.id not in by_model:
            by_model[model.id] = alias
    header = ["alias", "model id", "profiles", "window", "output", "thinking", "$ in/out",
              "cache w/r", "status"]
    if offer is not None:
        header.append(f"in {offer.region}")
    rows = [tuple(header)]
    models = sorted(catalog.MODELS, key=lambda m: (m.status(today) == "retired", m.family,
                                                  -(m.launched or today).toordinal()))
    extra = list(offer.unknown_models()) if offer is not None else []
    retired = 0
    for model in [*models, *extra]:
        status = model.status(today) if model.known else "not in the built-in catalogue"
        if status == "retired":
            retired += 1
            if not show_retired:
                continue
            status = f"retired {model.end_of_life}"
        elif status == "legacy":
            status = f"legacy, retires {model.end_of_life}" if model.end_of_life else "legacy"
        if status == "active" and offer is not None and offer.lifecycle.get(model.id) == "LEGACY":
            status = "legacy (Bedrock says so)"
        p = model.prices
        row = [
            by_model.get(model.id, "-") if model.known else "-",
            model.id,
            _profiles(model, region, geography),
            _tokens(model.context_window) + (f" ({_tokens(model.long_context[0])} beta)"
                                             if model.long_context else ""),
            _tokens(model.max_output_tokens),
            model.thinking,
            f"{model.input_price:g}/{model.output_price:g}",
            f"{p.cache_write_5m:g}/{p.cache_read:g}" if p and model.caches else "-",
            status,
        ]
        if offer is not None:
            row.append("yes" if model.known and offer.available(model) or not model.known else "no")
        rows.append(tuple(row))
    lines = [table(rows), _price_basis()]
    if retired and not show_retired:
        lines.append(f"{retired} retired models are not shown: %claude models --all lists them.")
    if offer is None:
        lines.append("%claude models --refresh asks Bedrock what this account offers here.")
    return "\n".join(lines)


def _profiles(model: catalog.Model, region: str, geography: str) -> str:
    """The model's profile geographies, the one an alias picks here marked with *."""
    from ...models import catalog

    if not model.profiles:
        return "on-demand"
    chosen = catalog.preferred_profile(model, region, geography).split(".", 1)[0]
    names = [g + ("*" if g == chosen else "") for g in model.profiles]
    return ",".join(names) + (" +on-demand" if model.on_demand else "")


def _tokens(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}K" if n >= 1000 else str(n)


def _price_basis() -> str:
    from ...models import catalog

    geographic = catalog.prices_for(1.0, 1.0).geographic
    return (f"Prices: USD per million tokens, catalogue of {catalog.PRICES_AS_OF}, for global. or "
            f"the bare id; geographic profiles (us., eu., ...) cost {geographic - 1:.0%} more. Cache write "
            "shown for 5 minutes (1 hour: 2x input); batch: half. * marks the profile an alias "
            "uses here.")


@command("config", "effective settings (never secrets), the endpoint in use and how requests are "
         "authenticated (masked)")
def config(session: KernelSession, args: argparse.Namespace) -> None:
    from ...bedrock.settings import describe_auth
    from ...core.model_choice import describe_model

    values = session.config()
    settings = session.client_settings(values)
    for name in sorted(Config.names()):
        value = getattr(values, name)
        if name == "tools":
            value = [getattr(t, "__name__", t) for t in value]
        print(f"ClaudeMagic.{name} = {value!r}")
    print(f"# endpoint in use: {settings.endpoint_url or 'AWS (boto3 default)'}"
          + ("  [offline emulator]" if settings.offline else ""))
    print(f"# model in use: {describe_model(values.model, settings.region, values.geography)}")
    print(f"# authentication: {describe_auth(settings)}")


@command("usage", "per chat: uncached input tokens, cache written and read, output, estimated cost "
         "with cache prices (by the model and profile each turn called, at the catalogue's dated "
         "prices), and what the same turns would have cost uncached")
def usage(session: KernelSession, args: argparse.Namespace) -> None:
    from ...core.costs import summarise
    from ...models import catalog

    cache_ttl = session.config().cache_ttl
    rows = [("chat", "turns", "input tokens", "cache written", "cache read", "output tokens",
             "est. cost $", "uncached $")]
    for name in session.chats.names():
        conversation = session.chats.get(name)
        summary = summarise(conversation.turns, cache_ttl)
        used = summary.usage
        rows.append((name, str(len(conversation.turns)), str(used.input_tokens),
                     str(used.cache_creation_input_tokens), str(used.cache_read_input_tokens),
                     str(used.output_tokens), f"{summary.cost:.4f}", f"{summary.uncached_cost:.4f}"))
    print(table(rows))
    print("# input tokens: uncached input; uncached $: the same turns without prompt caching")
    print(f"# estimated per turn by the model and profile called, at the catalogue's prices of "
          f"{catalog.PRICES_AS_OF} (USD); Bedrock's bill decides")


@command("offline", "start the built-in emulator in this kernel and use it (or stop using it)",
         option("--pace", type=float, default=None, metavar="N"), option("--off", action="store_true"))
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
    print(f"Offline mode: using the built-in Bedrock emulator at {url}. "
          "Its answers say they come from the emulator; no model is called.")
