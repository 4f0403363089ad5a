"""How to reach Bedrock: client settings, the environment variables, cached boto3 sessions
and the region requests go to. boto3 is imported lazily."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..models import catalog

ENDPOINT_ENV = "CLAUDE_MAGIC_ENDPOINT_URL"
OFFLINE_ENV = "CLAUDE_MAGIC_OFFLINE"
OFFLINE_CREDENTIALS = {"aws_access_key_id": "offline", "aws_secret_access_key": "offline"}
RETRY_MODES = ("legacy", "standard", "adaptive")
_FALSY = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class ClientSettings:
    """How to reach Bedrock. `None` means "let boto3's own configuration decide"."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    retry_mode: str = "standard"  # legacy | standard | adaptive
    max_attempts: int = 4  # total attempts, the first one included
    read_timeout: float = 300.0  # botocore's 60 s is too short for long replies
    connect_timeout: float = 10.0
    max_pool_connections: int = 10  # botocore's default; raise it for many requests at once
    offline: bool = False  # sign with dummy credentials and talk to `endpoint_url`


def settings_from_env(
    base: ClientSettings, environ: Mapping[str, str] | None = None
) -> ClientSettings:
    """`base` with the project's environment variables applied on top.

    `CLAUDE_MAGIC_ENDPOINT_URL` overrides `endpoint_url` and `CLAUDE_MAGIC_OFFLINE`
    overrides `offline` (1/true/yes/on, or 0/false/no/off), so a CI job or a Binder
    image can point every notebook somewhere else whatever the notebook configures.
    boto3's own endpoint variables (see `boto_endpoint`) apply when neither sets one.
    AWS_PROFILE / AWS_REGION / AWS_DEFAULT_REGION stay boto3's business.
    """
    env = os.environ if environ is None else environ
    changes: dict[str, Any] = {}
    if env.get(ENDPOINT_ENV):
        changes["endpoint_url"] = env[ENDPOINT_ENV].strip()
    elif base.endpoint_url is None and boto_endpoint(env):
        changes["endpoint_url"] = boto_endpoint(env)
    if OFFLINE_ENV in env:
        changes["offline"] = env[OFFLINE_ENV].strip().lower() not in _FALSY
    return replace(base, **changes) if changes else base


# ---------------------------------------------------------------- boto3's own variables

BEARER_ENV = "AWS_BEARER_TOKEN_BEDROCK"  # a Bedrock API key (botocore >= 1.39)
BOTO_ENDPOINT_ENVS = ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL")


def boto_endpoint(environ: Mapping[str, str] | None = None) -> str | None:
    """The bedrock-runtime endpoint boto3 takes from the environment when none is given in
    code: AWS_ENDPOINT_URL_BEDROCK_RUNTIME, else AWS_ENDPOINT_URL (both ignored when
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true)."""
    env = os.environ if environ is None else environ
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").strip().lower() == "true":
        return None
    for name in BOTO_ENDPOINT_ENVS:
        if env.get(name, "").strip():
            return env[name].strip()
    return None


def bearer_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The Bedrock API key boto3 sends as `Authorization: Bearer`, if one is set. botocore
    prefers it to access keys unless signing is chosen in code (as offline mode does)."""
    env = os.environ if environ is None else environ
    return env.get(BEARER_ENV) or None


def _last4(secret: str) -> str:
    return f"…{secret[-4:]}" if len(secret) >= 8 else "…"  # a short secret shows nothing


def describe_auth(settings: ClientSettings) -> str:
    """How requests made with `settings` are authenticated, secrets masked."""
    if settings.offline:
        return "dummy access key (offline emulator)"
    token = bearer_token()
    problem: str | None = None
    try:
        credentials = boto_session(settings).get_credentials()
    except Exception as exc:  # a missing profile, a broken credential_process...
        credentials, problem = None, f"{type(exc).__name__}"
    if token:
        also = "; access keys are set too, boto3 uses the API key" if credentials else ""
        return f"bearer token ({_last4(token)}) from {BEARER_ENV}{also}"
    if credentials is not None:
        return f"access key id ({_last4(credentials.access_key)}) from {credentials.method}"
    if problem:
        return f"none: loading AWS credentials failed ({problem})"
    if settings.endpoint_url:
        return "none: dummy access key for the custom endpoint"
    return "none found"


# What botocore reads to find the region and credentials: a cached session is reused
# only while all of it is unchanged.
_AWS_ENV = (
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    BEARER_ENV,
    *BOTO_ENDPOINT_ENVS,
)
_SESSIONS: dict[tuple[Any, ...], Any] = {}
_MAX_SESSIONS = 8


def _aws_configuration() -> tuple[Any, ...]:
    env = tuple(os.environ.get(name) for name in _AWS_ENV)
    files: list[tuple[int, int, int] | None] = []
    for name, default in (
        ("AWS_CONFIG_FILE", "~/.aws/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
    ):
        try:
            stat = os.stat(os.path.expanduser(os.environ.get(name) or default))
            files.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
        except OSError:
            files.append(None)
    return env + tuple(files)


def boto_session(settings: ClientSettings) -> Any:
    """A boto3 session; offline, one that ignores AWS_PROFILE (a broken AWS setup
    must not stop the emulator). Made once per settings and AWS configuration
    (environment and config files): creating one takes ~15 ms."""
    key = (settings, _aws_configuration())
    session = _SESSIONS.get(key)
    if session is None:
        if len(_SESSIONS) >= _MAX_SESSIONS:
            _SESSIONS.clear()
        session = _SESSIONS[key] = _new_session(settings)
    return session


def _new_session(settings: ClientSettings) -> Any:
    import boto3

    if not settings.offline:
        return boto3.Session(profile_name=settings.profile)
    import botocore.session

    return boto3.Session(
        botocore_session=botocore.session.Session(
            session_vars={"profile": (None, None, None, None)}
        )
    )


def effective_region(settings: ClientSettings) -> str:
    """The region requests will go to: the settings', else boto3's configuration
    (AWS_REGION, AWS_DEFAULT_REGION, the profile), else us-east-1."""
    if settings.region:
        return settings.region
    try:
        region = boto_session(settings).region_name
    except Exception:  # a missing profile is reported when the client is made
        region = None
    return region or catalog.DEFAULT_REGION
