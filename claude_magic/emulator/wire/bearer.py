"""Bedrock API keys: `Authorization: Bearer <key>`, the way boto3 (>= 1.39) sends
`AWS_BEARER_TOKEN_BEDROCK`. With known keys only those are accepted; without any
authentication configured, any non-empty key is."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import BedrockError

PREFIX = "Bearer "
# Bedrock's answer to a wrong, revoked or expired API key.
_INVALID_KEY = "Authentication failed: Please make sure your API Key is valid."


def parse_bearer_tokens(value: str | Iterable[str] | None) -> frozenset[str] | None:
    """Known API keys, from one key or several; None when none are configured."""
    if value is None:
        return None
    tokens = [value] if isinstance(value, str) else list(value)
    if not tokens or any(not isinstance(t, str) or not t.strip() or t != t.strip() for t in tokens):
        raise ValueError("bearer tokens must be non-empty strings without surrounding spaces")
    return frozenset(tokens)


def is_bearer(authorization: str) -> bool:
    return authorization.startswith(PREFIX)


def invalid_key() -> BedrockError:
    return BedrockError("AccessDeniedException", _INVALID_KEY, 403)


def check_bearer(authorization: str, tokens: frozenset[str] | None, *, strict: bool) -> None:
    """Raise a 403 BedrockError unless the bearer key is acceptable: one of `tokens`
    when given; else any non-empty key, unless `strict` (other authentication is
    configured, so an unknown key is refused)."""
    token = authorization[len(PREFIX) :].strip()
    if not token:
        raise BedrockError(
            "MissingAuthenticationTokenException", "Missing Authentication Token", 403
        )
    if tokens is None:
        if strict:
            raise invalid_key()
        return
    if token not in tokens:
        raise invalid_key()
