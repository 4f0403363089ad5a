"""Request authentication: an AWS Signature Version 4 `Authorization` header must be
present; with known credentials, its signature is verified (service `bedrock`, any
region) the way AWS computes it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from ..errors import BedrockError
from . import bearer

SERVICE = "bedrock"
ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH_FIELDS = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]+)")
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


def parse_credentials(value: str | tuple[str, str] | Mapping[str, str] | None) -> dict[str, str] | None:
    """Known access keys and their secrets, from `KEY:SECRET`, a pair or a mapping."""
    if value is None:
        return None
    if isinstance(value, str):
        key, sep, secret = value.partition(":")
        if not sep or not key or not secret:
            raise ValueError("credentials must look like ACCESS_KEY_ID:SECRET_ACCESS_KEY")
        return {key: secret}
    if isinstance(value, Mapping):
        return dict(value)
    key, secret = value
    return {key: secret}


def missing_token() -> BedrockError:
    return BedrockError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)


def invalid_signature(message: str = _SIGNATURE_MISMATCH) -> BedrockError:
    return BedrockError("InvalidSignatureException", message, 403)


def unrecognized_client() -> BedrockError:
    return BedrockError(
        "UnrecognizedClientException", "The security token included in the request is invalid.", 403
    )


def _remove_dot_segments(path: str) -> str:
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(segments) > 1:
                segments.pop()
        elif segment != ".":
            segments.append(segment)
    result = "/".join(segments)
    if path.endswith(("/.", "/..")):
        result += "/"
    return result if result.startswith("/") else "/" + result


def canonical_uri(raw_path: str) -> str:
    """The path as AWS signs it for every service but S3: normalised, then
    percent-encoded again (so `%3A` on the wire is `%253A` here)."""
    return quote(_remove_dot_segments(raw_path), safe="/~")


def canonical_query(raw_query: str) -> str:
    if not raw_query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in raw_query.split("&"))
    return "&".join(f"{key}={value}" for key, value in pairs)


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    signed_headers: list[str],
    body: bytes,
) -> str:
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.split()))
    lines = [f"{name}:{','.join(values.get(name, []))}" for name in signed_headers]
    content_sha = values.get("x-amz-content-sha256", [None])[0] or hashlib.sha256(body).hexdigest()
    return "\n".join(
        [
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query),
            "\n".join(lines) + "\n",
            ";".join(signed_headers),
            content_sha,
        ]
    )


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signature(secret: str, amz_date: str, scope: list[str], canonical: str) -> str:
    date, region, service, terminal = scope
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, "/".join(scope), hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    key = _hmac(("AWS4" + secret).encode("utf-8"), date)
    for part in (region, service, terminal):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def check_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    credentials: Mapping[str, str] | None,
    bearer_tokens: frozenset[str] | None = None,
) -> None:
    """Raise a 403 BedrockError unless the request is signed (and, when `credentials`
    are given, signed correctly by one of them) or carries an acceptable Bedrock API
    key (see `bearer.check_bearer`)."""
    authorization = next((v for k, v in headers if k.lower() == "authorization"), "").strip()
    if bearer.is_bearer(authorization):
        strict = credentials is not None
        return bearer.check_bearer(authorization, bearer_tokens, strict=strict)
    if not authorization.startswith(ALGORITHM + " "):
        raise missing_token()
    fields = dict(_AUTH_FIELDS.findall(authorization))
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise BedrockError(
            "IncompleteSignatureException",
            f"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters: {ALGORITHM}",
            403,
        )
    if credentials is None:
        return
    key, *scope = fields["Credential"].split("/")
    if len(scope) != 4 or scope[3] != "aws4_request":
        raise invalid_signature("Credential should be scoped to a valid date, region and service: KEY/YYYYMMDD/REGION/bedrock/aws4_request.")
    if scope[2] != SERVICE:
        raise invalid_signature(f"Credential should be scoped to correct service: '{SERVICE}'.")
    if key not in credentials:
        raise unrecognized_client()
    amz_date = next((v for k, v in headers if k.lower() == "x-amz-date"), "").strip()
    if not amz_date.startswith(scope[0]):
        raise invalid_signature(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope[0]}'")
    signed = fields["SignedHeaders"].lower().split(";")
    canonical = canonical_request(method, raw_path, raw_query, headers, signed, body)
    expected = signature(credentials[key], amz_date, scope, canonical)
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise invalid_signature()
