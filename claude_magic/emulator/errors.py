"""Bedrock's modelled errors, as the emulator returns them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

ERROR_STATUS = {
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ValidationException": 400,
    "ServiceQuotaExceededException": 400,
    "ModelTimeoutException": 408,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "ModelErrorException": 424,
    "ModelStreamErrorException": 424,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}


class BedrockError(Exception):
    """An error response: HTTP status, `x-amzn-ErrorType` code and `{"message"}` body."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else ERROR_STATUS[code]

    @property
    def error_type_header(self) -> str:
        return f"{self.code}:http://internal.amazon.com/coral/com.amazon.bedrock/"


def validation(message: str) -> BedrockError:
    return BedrockError("ValidationException", message)


def malformed(detail: str) -> BedrockError:
    """Bedrock's wording for a body that fails its JSON schema."""
    return validation(
        f"Malformed input request: {detail}, please reformat your input and try again."
    )


class UnforeseenInput(Exception):
    """A request's checks failed in a way their rules did not foresee (the cause says how):
    the request was malformed, and is answered as such."""


@contextmanager
def checking_input() -> Iterator[None]:
    """Around the checks of a request's input: any exception but a BedrockError becomes
    UnforeseenInput."""
    try:
        yield
    except BedrockError:
        raise
    except Exception as exc:
        raise UnforeseenInput(type(exc).__name__) from exc
