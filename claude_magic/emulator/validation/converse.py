"""Converse / ConverseStream requests checked by the same rules as InvokeModel: the
request is turned into its InvokeModel body (`converse.request`, with Converse's own
checks), then `validate_invoke` checks that body. What the model itself refuses comes
back as Converse reports it: `The model returned the following errors: ...` around the
Messages API text; malformed bodies and model identifiers keep their plain messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...models.catalog import Model
from ..converse.request import ConverseRequest, cache_ttls, converse_request
from ..errors import BedrockError
from .request import parse_body, resolve_model, validate_invoke

MODEL_ERRORS = "The model returned the following errors: "
# Errors that Bedrock reports as they are, not as the model's.
_PLAIN_PREFIXES = (
    "Malformed input request",
    "The provided model",
    "Invocation of model ID",
    "Input is too long",
)


def _as_model_error(error: BedrockError) -> BedrockError:
    if error.code != "ValidationException" or error.message.startswith(_PLAIN_PREFIXES):
        return error
    return BedrockError(error.code, MODEL_ERRORS + error.message, error.status)


def validate_converse(
    model_id: str, raw: bytes, headers: Mapping[str, str], *, models: Any = None, today: Any = None
) -> tuple[Model, ConverseRequest]:
    """Check a Converse / ConverseStream request; the model and the request in InvokeModel form."""
    model = resolve_model(model_id, models=models, today=today)
    request = converse_request(parse_body(raw), model)
    try:
        _, request.body = validate_invoke(
            model_id,
            json.dumps(request.body).encode(),
            headers,
            models=models,
            today=today,
            route="converse",
        )
    except BedrockError as error:
        raise _as_model_error(error) from None
    request.cache_ttls = cache_ttls(request.body)
    return model, request
