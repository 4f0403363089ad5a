"""Request authentication: an AWS Signature Version 4 `Authorization` header must be
present; with known credentials, its signature is verified (service `bedrock`, any
region) by botocore's own signer over the request as received, so the emulator and the
clients always agree on what is signed.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence

from ..errors import BedrockError
from . import bearer

SERVICE = "bedrock"
ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH_FIELDS = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]+)")
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


def parse_credentials(
    value: str | tuple[str, str] | Mapping[str, str] | None,
) -> dict[str, str] | None:
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


def _expected_signature(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    signed: list[str],
    key: str,
    secret: str,
    scope: list[str],
    amz_date: str,
) -> str:
    """The signature botocore's own SigV4 signer computes for the request as received:
    the same method, encoded path, query, signed headers and body."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest, HTTPHeaders
    from botocore.credentials import Credentials

    class AsSigned(SigV4Auth):
        def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
            """Exactly the headers the client signed (botocore itself never signs some,
            such as User-Agent; other clients may)."""
            chosen = HTTPHeaders()
            for name, value in request.headers.items():
                chosen[name.lower()] = value
            return chosen

    host = next((v for k, v in headers if k.lower() == "host"), "localhost")
    url = f"http://{host}{raw_path}" + (f"?{raw_query}" if raw_query else "")
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        if name.lower() in signed:
            request.headers[name] = value  # appends: repeated headers keep every value
    request.context["timestamp"] = amz_date
    signer = AsSigned(Credentials(key, secret), scope[2], scope[1])
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)


def check_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    credentials: Mapping[str, str] | None,
    bearer_tokens: frozenset[str] | None = None,
    service: str = SERVICE,
) -> None:
    """Raise a 403 BedrockError unless the request is signed (and, when `credentials`
    are given, signed correctly by one of them, for `service`) or carries an acceptable
    Bedrock API key (see `bearer.check_bearer`)."""
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
        raise invalid_signature(
            "Credential should be scoped to a valid date, region and service: "
            f"KEY/YYYYMMDD/REGION/{service}/aws4_request."
        )
    if scope[2] != service:
        raise invalid_signature(f"Credential should be scoped to correct service: '{service}'.")
    if key not in credentials:
        raise unrecognized_client()
    amz_date = next((v for k, v in headers if k.lower() == "x-amz-date"), "").strip()
    if not amz_date.startswith(scope[0]):
        raise invalid_signature(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope[0]}'"
        )
    signed = fields["SignedHeaders"].lower().split(";")
    expected = _expected_signature(
        method, raw_path, raw_query, headers, body, signed, key, credentials[key], scope, amz_date
    )
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise invalid_signature()
