"""HTTP routing: which emulated operation a request path names."""

from __future__ import annotations

from urllib.parse import unquote

from .errors import BedrockError

INVOKE = "InvokeModel"
STREAM = "InvokeModelWithResponseStream"
COUNT_TOKENS = "CountTokens"
CONVERSE = "Converse"
CONVERSE_STREAM = "ConverseStream"
OPERATIONS = {"invoke": INVOKE, "invoke-with-response-stream": STREAM, "count-tokens": COUNT_TOKENS,
              "converse": CONVERSE, "converse-stream": CONVERSE_STREAM}
MODEL_PREFIX = "/model/"
ADMIN_PREFIX = "/_emulator"


def is_model_path(path: str) -> bool:
    return path.startswith(MODEL_PREFIX)


def is_admin_path(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def model_route(path: str) -> tuple[str, str]:
    """The operation and the (unquoted) model id of a `/model/{id}/{operation}` path."""
    raw_model_id, _, operation_path = path[len(MODEL_PREFIX) :].rpartition("/")
    operation = OPERATIONS.get(operation_path)
    if operation is None or not raw_model_id:
        raise BedrockError("UnknownOperationException", f"Unknown operation {path[:200]}.", 404)
    return operation, unquote(raw_model_id)


def unknown_route(method: str, path: str) -> BedrockError:
    return BedrockError(
        "UnknownOperationException",
        f"Unknown operation {method} {path[:200]}. This emulator serves "
        "POST /model/{modelId}/invoke, /invoke-with-response-stream, /converse, "
        "/converse-stream and /count-tokens.",
        404,
    )
