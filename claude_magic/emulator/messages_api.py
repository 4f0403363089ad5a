"""The Messages API on Bedrock (bedrock-mantle): `POST /anthropic/v1/messages` (JSON, or
server-sent events with `"stream": true`) and `POST /anthropic/v1/messages/count_tokens`.

A request carries a Bedrock API key (`x-api-key` or `Authorization: Bearer`) or a SigV4
signature for `bedrock-mantle`. Its body is the InvokeModel body with `model` in it
(a model id without a geography prefix), the API version in the `anthropic-version`
header and betas in `anthropic-beta`; turned into that body, it meets the same catalogue
rules, validation, scripts, faults, caching and thinking as the runtime's routes, plus
what the catalogue says this route refuses. Errors take Anthropic's shape (wire/sse.py).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..models.routes import MANTLE, route
from .errors import BedrockError, checking_input, validation
from .exchange import Exchange, Request
from .faults import REQUEST_FAULTS
from .wire import bearer, sigv4
from .wire.sse import sse_frames

CREATE_MESSAGE = "CreateMessage"
COUNT_MESSAGE_TOKENS = "CountMessageTokens"
SERVICE = "bedrock-mantle"
# The Messages API's versions, as the InvokeModel body's anthropic_version they stand for.
API_VERSIONS = {"2023-06-01": "bedrock-2023-05-31", "2023-01-01": "bedrock-2023-05-31"}
BODY_FIELDS = ("model", "stream")  # in the Messages API's body, not in InvokeModel's
# Tolerated in the body as InvokeModel has them (clients that build InvokeModel bodies send them).
INVOKE_FIELDS = ("anthropic_version", "anthropic_beta")
STRUCTURED_REFUSED = "output_config.format: structured outputs are not supported on this endpoint."


def check_auth(exchange: Exchange, request: Request) -> None:
    """An API key in `x-api-key` (or `Authorization: Bearer`), else a SigV4 signature for
    bedrock-mantle; checked against the emulator's keys and credentials when it has them."""
    state = exchange.state
    api_key = (request.headers.get("x-api-key") or "").strip()
    if api_key:
        bearer.check_bearer(
            bearer.PREFIX + api_key, state.bearer_tokens, strict=state.credentials is not None
        )
        return
    sigv4.check_request(
        request.method,
        request.path,
        request.query,
        list(request.headers.items()),
        request.body,
        state.credentials,
        bearer_tokens=state.bearer_tokens,
        service=SERVICE,
    )


def _model(name: Any, exchange: Exchange) -> Any:
    from ..models.catalog import PROFILE_GEOGRAPHIES
    from .validation.rules import check_lifecycle

    if name is None:
        raise validation("model: Field required")
    if not isinstance(name, str):
        raise validation("model: Input should be a valid string")
    state = exchange.state
    geography = name.split(".", 1)[0]
    if geography in PROFILE_GEOGRAPHIES:
        raise BedrockError(
            "ResourceNotFoundException",
            f"model: {name} (this endpoint takes model ids without a geography "
            f"prefix, e.g. {name.split('.', 1)[1]})",
        )
    model = state.models.base(name)
    if model is None:
        raise BedrockError("ResourceNotFoundException", f"model: {name}")
    check_lifecycle(model, state.today)
    return model


def _betas(headers: Mapping[str, str], data: dict[str, Any]) -> list[str]:
    listed = [b.strip() for b in (headers.get("anthropic-beta") or "").split(",") if b.strip()]
    in_body = data.get("anthropic_beta")
    if isinstance(in_body, list):
        listed += [b for b in in_body if isinstance(b, str)]
    return list(dict.fromkeys(listed))


def invoke_form(
    data: dict[str, Any], headers: Mapping[str, str], exchange: Exchange, counting: bool = False
) -> tuple[Any, dict[str, Any]]:
    """The model and the InvokeModel body a Messages API request stands for, checked."""
    from .validation.request import TOP_LEVEL_TYPES, check_body

    this = route(MANTLE)
    for key in data:
        if key not in TOP_LEVEL_TYPES and key not in BODY_FIELDS:
            raise validation(f"{key}: Extra inputs are not permitted")
    if "stream" in data and not isinstance(data["stream"], bool):
        raise validation("stream: Input should be a valid boolean")
    model = _model(data.get("model"), exchange)
    output_config = data.get("output_config")
    if (
        this.refuses_field("output_config.format")
        and isinstance(output_config, dict)
        and "format" in output_config
    ):
        raise validation(STRUCTURED_REFUSED)
    version = data.get("anthropic_version") or (headers.get("anthropic-version") or "").strip()
    if not version:
        raise validation("anthropic-version: header is required")
    body = {k: v for k, v in data.items() if k not in BODY_FIELDS and k not in INVOKE_FIELDS}
    body["anthropic_version"] = API_VERSIONS.get(version, version)
    betas = _betas(headers, data)
    if betas:
        body["anthropic_beta"] = betas
    if counting:
        body.setdefault("max_tokens", model.max_output_tokens)
    check_body(model, body, MANTLE)
    return model, body


def answer_messages(exchange: Exchange, request: Request) -> None:
    """Messages (JSON or SSE) and their token counts: faults, validation, then the reply."""
    from .guardrail import invoke_body
    from .responder.respond import estimate_input_tokens
    from .validation.request import check_content_type, parse_body

    state = exchange.state
    check_auth(exchange, request)
    counting = request.operation == COUNT_MESSAGE_TOKENS
    with checking_input():
        check_content_type(request.headers)  # type: ignore[arg-type]
        data = parse_body(request.body)
    exchange.note("model_id", data.get("model"))
    stream = data.get("stream") is True and not counting
    fault = state.faults.take(request.operation + ("Stream" if stream else ""))
    if fault is not None and fault.type in REQUEST_FAULTS:
        raise fault.error()
    with checking_input():
        model, body = invoke_form(data, request.headers, exchange, counting)  # type: ignore[arg-type]
    if counting:
        from .context import manage  # counted as the model reads it: after context editing

        exchange.send_json({"input_tokens": estimate_input_tokens(manage(body).body)})
        return
    exchange.note("invoke_body", body)  # the InvokeModel form it was answered as
    if not stream and fault is not None and fault.type == "disconnect":
        exchange.abort()  # before any reply is made: a queued script stays queued
        return
    from .context import manage, settle
    from .operations import scripted_or_answered

    managed = manage(body)
    message = scripted_or_answered(state, model, managed)
    settle(state.cache, model, managed, message)
    if stream:
        exchange.send_sse(sse_frames(message, request.started), fault)
        return
    if state.pace:
        exchange.wait(message.usage.output_tokens / state.pace)
    if fault is not None and fault.type == "stall":
        exchange.wait(fault.seconds or 0)
    exchange.send_json(
        invoke_body(message),
        headers={
            "X-Amzn-Bedrock-Invocation-Latency": str(
                round((time.monotonic() - request.started) * 1000)
            )
        },
    )
