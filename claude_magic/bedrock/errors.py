"""Friendly errors: every failure of a Bedrock call as one line that says what to do."""

from __future__ import annotations

import re
from typing import Any

from ..core.errors import ClaudeMagicError
from ..core.eventstream import ChecksumError, FrameError
from ..core.stream import StreamError
from ..models import catalog

NO_CREDENTIALS = (
    "No AWS credentials found. Configure them (aws configure, AWS_PROFILE or aws sso login, or "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or set a Bedrock API key in AWS_BEARER_TOKEN_BEDROCK, "
    "or run %claude offline to use the built-in emulator."
)
BAD_API_KEY = (
    "Bedrock refused the API key in AWS_BEARER_TOKEN_BEDROCK: it is wrong or has expired "
    "(short-term keys last at most 12 hours). Generate a new one in the Bedrock console "
    "(API keys), or unset it to use your AWS credentials."
)
API_KEY_NEEDS_HTTPS = (
    "boto3 sends the Bedrock API key (AWS_BEARER_TOKEN_BEDROCK) only over HTTPS, and {endpoint} "
    "is plain HTTP: use an https:// endpoint, or unset the key to sign with AWS credentials."
)


class ClaudeError(ClaudeMagicError):
    """A user-facing error: `message` is one line that says what to do; `kind`
    names the case (no_credentials, unknown_model, throttled, stream_error, ...)."""

    def __init__(
        self, message: str, kind: str, *, attempts: int | None = None, mid_stream: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.attempts = attempts
        self.mid_stream = mid_stream  # raised after some events were yielded


def in_band_error(event: dict[str, Any], partial: bool) -> ClaudeError:
    error = event.get("error") or {}
    text = error.get("message") or error.get("type") or "unknown error"
    kind = "overloaded" if error.get("type") == "overloaded_error" else "stream_error"
    return ClaudeError(broke_off(text, partial), kind, mid_stream=True)


def broke_off(text: str, partial: bool) -> str:
    tail = " The partial answer is kept." if partial else " Run the cell again."
    return f"The stream broke off: {text.rstrip('.')}.{tail}"


def dropped_message(detail: str, partial: bool) -> str:
    tail = (
        " The partial answer is kept; run the cell again for a full one."
        if partial
        else " Run the cell again."
    )
    return f"The connection dropped mid-answer ({detail}).{tail}"


# ---------------------------------------------------------------- friendly errors

_ON_DEMAND = re.compile(r"Invocation of model ID (\S+) with on-demand throughput")
_THROTTLED = ("ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException")
_BAD_CREDENTIALS = {
    "UnrecognizedClientException": "AWS doesn't recognise these credentials (invalid security token): check AWS_PROFILE or aws configure, or log in again (aws sso login).",
    "InvalidSignatureException": "AWS rejected the request signature: check the secret access key (aws configure) or your system clock.",
    "ExpiredTokenException": "Your AWS session token has expired: refresh your credentials (aws sso login, or new temporary keys).",
    "IncompleteSignatureException": "AWS rejected the request signature: check your AWS credentials (aws configure).",
}
_STREAM_CODES = {  # event-stream exception types (camelCase) -> modelled error codes
    "internalServerException": "InternalServerException",
    "modelStreamErrorException": "ModelStreamErrorException",
    "validationException": "ValidationException",
    "throttlingException": "ThrottlingException",
    "modelTimeoutException": "ModelTimeoutException",
    "serviceUnavailableException": "ServiceUnavailableException",
}


def friendly_error(
    exc: BaseException,
    *,
    invoke_id: str | None = None,
    model: str | catalog.Model | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    read_timeout: float | None = None,
    mid_stream: bool = False,
    partial: bool = False,
) -> ClaudeError:
    """Map any exception from boto3/botocore/urllib3 (or the stream) to a ClaudeError.

    `model` is the name (or catalogue Model) to show, default `invoke_id`;
    `mid_stream` says some events were already received, `partial` that some
    answer content was.
    """
    if isinstance(exc, ClaudeError):
        return exc
    name = (model.name if isinstance(model, catalog.Model) else model) or invoke_id or "the model"
    where = region or catalog.DEFAULT_REGION
    import botocore.exceptions as bx
    from botocore.eventstream import ChecksumMismatch, ParserError
    from urllib3.exceptions import ProtocolError
    from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout

    if isinstance(exc, bx.ClientError):
        return _client_error(
            exc,
            name=name,
            invoke_id=invoke_id,
            region=where,
            mid_stream=mid_stream,
            partial=partial,
        )
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return ClaudeError(NO_CREDENTIALS, "no_credentials")
    if isinstance(exc, bx.ProfileNotFound):
        profile = getattr(exc, "kwargs", {}).get("profile", "?")
        return ClaudeError(
            f"AWS profile {profile!r} not found: check AWS_PROFILE or ~/.aws/config "
            "(aws configure list-profiles), or run %claude offline to use the built-in emulator.",
            "no_credentials",
        )
    if isinstance(exc, bx.NoRegionError):
        return ClaudeError(
            "No AWS region set: set AWS_REGION (e.g. us-east-1) or %config ClaudeMagic.region = 'us-east-1'.",
            "no_region",
        )
    if isinstance(exc, (bx.SSOError, bx.TokenRetrievalError)):
        return ClaudeError(
            "Your AWS SSO login has expired or is missing: run aws sso login, then retry.",
            "no_credentials",
        )
    if isinstance(exc, bx.CredentialRetrievalError):
        return ClaudeError(
            f"Could not load AWS credentials ({exc}): check your AWS profile.", "no_credentials"
        )
    if isinstance(exc, (bx.ReadTimeoutError, Urllib3ReadTimeout)):
        seconds = f"{read_timeout:g} s" if read_timeout else "the read timeout"
        if mid_stream:
            return ClaudeError(
                f"The stream stalled: no data from Bedrock for {seconds}. "
                + ("The partial answer is kept. " if partial else "")
                + "Run the cell again, or raise %config ClaudeMagic.read_timeout.",
                "timeout",
                mid_stream=True,
            )
        return ClaudeError(
            f"No reply from Bedrock within {seconds} (read timeout): raise it with "
            "%config ClaudeMagic.read_timeout = 600",
            "timeout",
        )
    if isinstance(exc, (bx.ConnectTimeoutError, bx.EndpointConnectionError)):
        target = (
            endpoint_url or getattr(exc, "kwargs", {}).get("endpoint_url") or f"Bedrock in {where}"
        )
        hint = (
            "is the emulator running? (%claude offline starts one)"
            if endpoint_url
            else "check your network connection and the region"
        )
        return ClaudeError(f"Could not connect to {target}: {hint}.", "connection")
    if isinstance(exc, (ChecksumMismatch, ChecksumError)):
        return ClaudeError(
            dropped_message("corrupted data: checksum mismatch", partial),
            "connection_dropped",
            mid_stream=mid_stream,
        )
    if isinstance(
        exc,
        (
            bx.ResponseStreamingError,
            ProtocolError,
            bx.ConnectionClosedError,
            ParserError,
            FrameError,
            ConnectionError,
        ),
    ):
        return ClaudeError(
            dropped_message("the connection was closed", partial)
            if mid_stream
            else "The connection to Bedrock dropped before the reply: run the cell again.",
            "connection_dropped",
            mid_stream=mid_stream,
        )
    if isinstance(exc, bx.InvalidEndpointConfigurationError) and "Bearer" in str(exc):
        return ClaudeError(
            API_KEY_NEEDS_HTTPS.format(endpoint=endpoint_url or "the endpoint"), "bad_credentials"
        )
    if isinstance(exc, bx.ParamValidationError):
        return ClaudeError(
            f"Bedrock rejected the request: {_one_line(str(exc))}", "invalid_request"
        )
    if isinstance(exc, StreamError):  # an in-band error event or an undecodable chunk
        kind = "overloaded" if exc.kind == "overloaded_error" else "stream_error"
        return ClaudeError(broke_off(_one_line(str(exc)), partial), kind, mid_stream=True)
    if isinstance(exc, bx.BotoCoreError):
        return ClaudeError(f"AWS client error: {_one_line(str(exc))}", "aws")
    return ClaudeError(
        f"Unexpected error talking to Bedrock: {type(exc).__name__}: {_one_line(str(exc))}",
        "unexpected",
    )


def _client_error(
    exc: Any, *, name: str, invoke_id: str | None, region: str, mid_stream: bool, partial: bool
) -> ClaudeError:
    error = exc.response.get("Error", {})
    code = _STREAM_CODES.get(error.get("Code", ""), error.get("Code", ""))
    text = _one_line(error.get("Message") or str(exc))
    attempts = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts") or 0) + 1
    stream_broken = mid_stream or type(exc).__name__ == "EventStreamError"
    return coded_error(
        code,
        text,
        attempts,
        name=name,
        invoke_id=invoke_id,
        region=region,
        stream_broken=stream_broken,
        partial=partial,
    )


def coded_error(
    code: str,
    text: str,
    attempts: int,
    *,
    name: str,
    invoke_id: str | None,
    region: str,
    stream_broken: bool = False,
    partial: bool = False,
) -> ClaudeError:
    """One line for Bedrock's modelled error `code` with message `text` (any route's)."""
    if stream_broken and code not in ("AccessDeniedException", "ResourceNotFoundException"):
        if code in _THROTTLED:
            text = f"Bedrock is throttling requests ({text.rstrip('.')})"
        return ClaudeError(broke_off(text, partial), "stream_error", mid_stream=True)
    if code in _THROTTLED:
        kind = "quota" if code == "ServiceQuotaExceededException" else "throttled"
        return ClaudeError(
            f"Bedrock is throttling requests (after {attempts} attempt{'s' * (attempts != 1)}): "
            "wait a moment and retry, or request a higher quota.",
            kind,
            attempts=attempts,
        )
    explained = _explain_rule(code, text, name, invoke_id)
    if explained is not None:
        return ClaudeError(explained, "model_rule")
    if code == "ValidationException":
        return _validation_error(text, name=name, invoke_id=invoke_id, region=region)
    if code == "AccessDeniedException" and "API Key" in text:
        return ClaudeError(BAD_API_KEY, "bad_credentials")
    if code == "AccessDeniedException":
        return ClaudeError(
            f"Access denied to {name} in {region}: enable model access in the Bedrock console "
            "(Model access) or check your IAM permissions (bedrock:InvokeModel, "
            "bedrock:InvokeModelWithResponseStream).",
            "access_denied",
        )
    if code in _BAD_CREDENTIALS:
        return ClaudeError(_BAD_CREDENTIALS[code], "bad_credentials")
    if code == "ResourceNotFoundException":
        return ClaudeError(
            f"{name} was not found in {region} ({text.rstrip('.')}): "
            "run %claude models to list the models.",
            "unknown_model",
        )
    if code == "ModelNotReadyException":
        return ClaudeError(
            f"{name} is not ready yet (after {attempts} attempts): wait a minute and retry.",
            "not_ready",
            attempts=attempts,
        )
    if code == "ModelTimeoutException":
        return ClaudeError(
            f"{name} took too long to answer (model timeout): retry, or ask for a shorter "
            "answer (lower max_tokens).",
            "model_timeout",
        )
    if code == "ServiceUnavailableException":
        return ClaudeError(
            f"Bedrock is unavailable in {region} right now (after {attempts} attempts): "
            "retry in a minute.",
            "unavailable",
            attempts=attempts,
        )
    if code == "InternalServerException":
        return ClaudeError(
            f"Bedrock had an internal error (after {attempts} attempts): retry in a moment.",
            "internal",
            attempts=attempts,
        )
    if code in ("ModelErrorException", "ModelStreamErrorException"):
        return ClaudeError(
            f"{name} failed to process the request ({text.rstrip('.')}): retry.", "model_error"
        )
    return ClaudeError(f"Bedrock error {code or 'unknown'}: {text}", "bedrock")


def _explain_rule(code: str, text: str, name: str, invoke_id: str | None) -> str | None:
    """Bedrock's refusal of a per-model rule, explained from the catalogue (bedrock/rules.py)."""
    from .rules import explain

    model = (
        (catalog.lookup(invoke_id) or catalog.model_for_unknown(invoke_id)) if invoke_id else None
    )
    label = model.name if model is not None and model.known and name == invoke_id else name
    return explain(code, text, model, label)


def _validation_error(text: str, *, name: str, invoke_id: str | None, region: str) -> ClaudeError:
    if "model identifier is invalid" in text:
        sent = f" (sent as {invoke_id})" if invoke_id and invoke_id != name else ""
        return ClaudeError(
            f"Unknown model {name}{sent} in {region}: run %claude models to list the models.",
            "unknown_model",
        )
    on_demand = _ON_DEMAND.search(text)
    if on_demand:
        model = catalog.lookup(on_demand.group(1)) or (
            catalog.lookup(invoke_id) if invoke_id else None
        )
        if model and model.profiles:
            return ClaudeError(
                f"{model.name} needs an inference profile here: use -m {catalog.preferred_profile(model, region)}",
                "needs_profile",
            )
        return ClaudeError(
            f"{name} needs an inference profile here: run %claude models to find its profile id.",
            "needs_profile",
        )
    if "Input is too long" in text or "prompt is too long" in text:
        return ClaudeError(
            "The conversation is too long for the model: start afresh with %claude reset, "
            "or drop turns with %claude undo.",
            "too_long",
        )
    from .shaping import thinking_hint

    hint = thinking_hint(text)
    if hint:
        return ClaudeError(
            f"Bedrock rejected the request: {text.rstrip('.')}: {hint}", "invalid_request"
        )
    return ClaudeError(f"Bedrock rejected the request: {text}", "invalid_request")


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
