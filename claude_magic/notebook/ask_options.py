"""The options of `claude_magic.ask` and `map` as a user typed them, checked and
resolved into a `RequestSpec`; what an option left out means is the configuration's."""

from __future__ import annotations

from typing import Any

from ..core.errors import ClaudeMagicError
from ..core.model_choice import resolve_model
from ..core.request import RequestSpec
from ..models.routes import ROUTES, route, sendable
from .config import Config

EFFORTS = ("low", "medium", "high", "xhigh", "max")
OPTIONS = (
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "betas",
    "thinking",
    "tools",
    "tool_choice",
    "prefill",
    "api",
)


def make_spec(
    config: Config,
    region: str | None,
    *,
    model: str | None = None,
    system: str | None = None,
    max_tokens: int | None = None,
    effort: str | None = None,
    json: Any = None,
    **options: Any,
) -> RequestSpec:
    """Options as a user typed them, checked and resolved (one-line errors). Only what
    was asked for is sent: `effort` asks for adaptive thinking at that effort, `json`
    for structured output. `api` (default: the configuration's) picks the route: the
    model id it takes and the betas it takes (one printed line for each left out)."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ClaudeMagicError(
            f"Unknown option {unknown[0]!r}: use one of model, system, max_tokens, "
            f"effort, images, json, chat, {', '.join(OPTIONS)}."
        )
    api = options.get("api") or config.api
    if api not in ROUTES:
        raise ClaudeMagicError(f"api must be one of {', '.join(ROUTES)}, not {api!r}.")
    here = route(api)
    resolved = here.resolved(resolve_model(model or config.model, region, config.geography))
    if effort is not None and effort not in EFFORTS:
        raise ClaudeMagicError(f"effort must be one of {', '.join(EFFORTS)}, not {effort!r}.")
    tokens = max_tokens if max_tokens is not None else config.max_tokens
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        raise ClaudeMagicError(f"max_tokens must be a positive integer, not {tokens!r}.")
    schema, schema_type = _schema(json)
    if schema is not None and here.refuses_field("output_config.format"):
        raise ClaudeMagicError(
            f"{here.title} doesn't take structured output (output_config.format): "
            "use api='invoke' for json=, or a %%claude --json cell (it falls back to a tool)."
        )
    stop = options.get("stop_sequences") or ()
    asked = tuple(options.get("betas") or ())
    betas, refused = sendable(api, list(asked), asked)
    for line in refused:
        print(f"claude-magic: {line}")
    return RequestSpec(
        resolved=resolved,
        region=region,
        max_tokens=tokens,
        system=system if system is not None else config.system,
        temperature=_first(options.get("temperature"), config.temperature),
        top_p=_first(options.get("top_p"), config.top_p),
        top_k=_first(options.get("top_k"), config.top_k),
        stop_sequences=(stop,) if isinstance(stop, str) else tuple(stop),
        betas=betas,
        tools=list(options.get("tools") or []),
        tool_choice=options.get("tool_choice"),
        prefill=options.get("prefill"),
        fields=_fields(options.get("thinking"), effort, schema),
        schema_type=schema_type,
        api=api,
    )


def _fields(thinking: Any, effort: str | None, schema: dict[str, Any] | None) -> dict[str, Any]:
    """thinking and output_config, as asked for."""
    fields: dict[str, Any] = {}
    if thinking is not None:
        fields["thinking"] = thinking
    output_config: dict[str, Any] = {}
    if effort is not None:
        fields.setdefault("thinking", {"type": "adaptive"})
        output_config["effort"] = effort
    if schema is not None:
        output_config["format"] = {"type": "json_schema", "schema": schema}
    if output_config:
        fields["output_config"] = output_config
    return fields


def _schema(value: Any) -> tuple[dict[str, Any] | None, Any]:
    """A JSON Schema dict as given, or a pydantic model class's schema (objects closed)."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        return value, None
    if isinstance(value, type) and hasattr(value, "model_json_schema"):
        return _closed(value.model_json_schema()), value
    raise ClaudeMagicError("json= takes a JSON Schema dict or a pydantic model class.")


def _closed(schema: Any) -> Any:
    """Every object schema with `additionalProperties: false`, as structured output needs."""
    if isinstance(schema, dict):
        schema = {k: _closed(v) for k, v in schema.items()}
        if schema.get("type") == "object":
            schema.setdefault("additionalProperties", False)
    elif isinstance(schema, list):
        schema = [_closed(v) for v in schema]
    return schema


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)
