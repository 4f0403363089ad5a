"""The emulator's routes: one table of (service, method, path) → operation and handler.

The server dispatches from it, and what it answers for a path or a method the table does
not serve (404 UnknownOperationException, 405 MethodNotAllowedException) is derived from
it, per service: bedrock-runtime's model operations, the control plane's model listings
and batch jobs, the emulator's own admin routes, the Messages API of bedrock-mantle
(errors in Anthropic's shape), and anything else.

Paths are templates: `{label}` is one path segment, `{label+}` one or more (a model id
may be an ARN), both unquoted for the handler; a trailing `/?` or `/*` takes that many
slashes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

from . import admin
from .control.batch import CREATE, GET, LIST, STOP
from .control.catalogue import GET_MODEL, GET_PROFILE, LIST_MODELS, LIST_PROFILES
from .errors import BedrockError
from .exchange import Handler
from .messages_api import COUNT_MESSAGE_TOKENS, CREATE_MESSAGE, answer_messages
from .operations import (
    CONVERSE,
    CONVERSE_STREAM,
    COUNT_TOKENS,
    INVOKE,
    STREAM,
    answer_batch,
    answer_catalogue,
    answer_model,
)

_LABEL = re.compile(r"\{(\w+)(\+?)\}")
_SLASHES = ("/?", "/*")


@dataclass(frozen=True)
class Service:
    """A part of the URL space: the paths it claims, which of its requests the request log
    keeps, and how it answers a path or a method it does not serve."""

    name: str
    scope: str | None  # a regex the paths it claims start with; None: the paths of its routes
    unknown: str  # the 404 message; a format of {method}, {path}, {runtime} and {admin}
    logged: Literal["all", "served", "none"]  # in GET /_emulator/requests: all, served ones, none
    method_not_allowed: bool = False  # a path it serves, another method: 405 (else the 404)
    loopback_only: bool = False
    head_as_get: bool = False
    errors: Literal["bedrock", "anthropic"] = "bedrock"  # the shape of its error answers


RUNTIME = Service(
    "bedrock-runtime", "/model/", "Unknown operation {path}.", "all", method_not_allowed=True
)
CATALOGUE = Service(
    "bedrock models",
    "/foundation-models|/inference-profiles",
    "Unknown operation {method} {path}.",
    "served",
)
BATCH = Service("bedrock batch jobs", None, "Unknown operation {method} {path}.", "none")
ADMIN = Service(
    "emulator admin",
    "/_emulator(/|$)",
    "Unknown admin route {path}; try {admin}.",
    "none",
    method_not_allowed=True,
    loopback_only=True,
    head_as_get=True,
)
MANTLE = Service(
    "bedrock-mantle",
    "/anthropic/",
    "Unknown operation {method} {path}.",
    "all",
    method_not_allowed=True,
    errors="anthropic",
)
ELSEWHERE = Service(
    "anything else", "", "Unknown operation {method} {path}. This emulator serves {runtime}.", "all"
)
SERVICES = (
    RUNTIME,
    CATALOGUE,
    BATCH,
    ADMIN,
    MANTLE,
    ELSEWHERE,
)  # the first that claims a path has it


@dataclass(frozen=True)
class Route:
    """One operation: its method and path template, and the handler that answers it."""

    service: Service
    method: str
    path: str
    operation: str
    handler: Handler = field(repr=False)
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _pattern(self.path))

    @property
    def shown(self) -> str:
        """The path as the answers name it: `/model/{modelId}/invoke`."""
        path = self.path[:-2] if self.path.endswith(_SLASHES) else self.path
        return _LABEL.sub(r"{\1}", path)


def _pattern(path: str) -> re.Pattern[str]:
    tail = path[-2:] if path.endswith(_SLASHES) else ""
    path = path.removesuffix(tail)
    regex, start = "", 0
    for label in _LABEL.finditer(path):
        regex += re.escape(path[start : label.start()]) + ("(.+)" if label[2] else "([^/]+)")
        start = label.end()
    return re.compile(regex + re.escape(path[start:]) + tail, re.DOTALL)


ROUTES: tuple[Route, ...] = (
    Route(RUNTIME, "POST", "/model/{modelId+}/invoke", INVOKE, answer_model),
    Route(RUNTIME, "POST", "/model/{modelId+}/invoke-with-response-stream", STREAM, answer_model),
    Route(RUNTIME, "POST", "/model/{modelId+}/converse", CONVERSE, answer_model),
    Route(RUNTIME, "POST", "/model/{modelId+}/converse-stream", CONVERSE_STREAM, answer_model),
    Route(RUNTIME, "POST", "/model/{modelId+}/count-tokens", COUNT_TOKENS, answer_model),
    Route(MANTLE, "POST", "/anthropic/v1/messages", CREATE_MESSAGE, answer_messages),
    Route(
        MANTLE, "POST", "/anthropic/v1/messages/count_tokens", COUNT_MESSAGE_TOKENS, answer_messages
    ),
    Route(CATALOGUE, "GET", "/foundation-models/?", LIST_MODELS, answer_catalogue),
    Route(CATALOGUE, "GET", "/foundation-models/{modelIdentifier}", GET_MODEL, answer_catalogue),
    Route(CATALOGUE, "GET", "/inference-profiles/?", LIST_PROFILES, answer_catalogue),
    Route(CATALOGUE, "GET", "/inference-profiles/{profileId}", GET_PROFILE, answer_catalogue),
    Route(BATCH, "POST", "/model-invocation-job", CREATE, answer_batch),
    Route(BATCH, "GET", "/model-invocation-jobs", LIST, answer_batch),
    Route(BATCH, "GET", "/model-invocation-job/{jobIdentifier}", GET, answer_batch),
    Route(BATCH, "POST", "/model-invocation-job/{jobIdentifier}/stop", STOP, answer_batch),
    Route(ADMIN, "GET", "/_emulator/health/*", "Health", admin.health),
    Route(ADMIN, "GET", "/_emulator/requests/*", "ListRequests", admin.list_requests),
    Route(ADMIN, "DELETE", "/_emulator/requests/*", "ClearRequests", admin.clear_requests),
    Route(ADMIN, "GET", "/_emulator/script/*", "ListScripts", admin.list_scripts),
    Route(ADMIN, "POST", "/_emulator/script/*", "QueueScripts", admin.queue_scripts),
    Route(ADMIN, "DELETE", "/_emulator/script/*", "ClearScripts", admin.clear_scripts),
    Route(ADMIN, "GET", "/_emulator/faults/*", "ListFaults", admin.list_faults),
    Route(ADMIN, "POST", "/_emulator/faults/*", "QueueFaults", admin.queue_faults),
    Route(ADMIN, "DELETE", "/_emulator/faults/*", "ClearFaults", admin.clear_faults),
    Route(ADMIN, "GET", "/_emulator/config/*", "GetConfig", admin.get_config),
    Route(ADMIN, "POST", "/_emulator/config/*", "SetConfig", admin.set_config),
    Route(ADMIN, "GET", "/_emulator/models/*", "ListAddedModels", admin.list_models),
    Route(ADMIN, "POST", "/_emulator/models/*", "AddModels", admin.add_models),
    Route(ADMIN, "DELETE", "/_emulator/models/*", "ClearAddedModels", admin.clear_models),
    Route(ADMIN, "POST", "/_emulator/reset/*", "Reset", admin.reset),
    Route(ADMIN, "GET", "/_emulator/clock/*", "GetClock", admin.get_clock),
    Route(ADMIN, "POST", "/_emulator/clock/*", "AdvanceClock", admin.advance_clock),
)


def routes_of(service: Service) -> list[Route]:
    return [route for route in ROUTES if route.service is service]


def service_for(path: str) -> Service:
    """The service that claims `path`, served or not."""
    for service in SERVICES:
        if service.scope is None:
            if any(route.pattern.fullmatch(path) for route in routes_of(service)):
                return service
        elif re.match(service.scope, path):
            return service
    raise AssertionError("ELSEWHERE claims every path")


@functools.cache
def runtime_paths() -> str:
    """The runtime's routes by their common stem: `POST /model/{modelId}/invoke, /converse
    and /count-tokens`."""
    routes = routes_of(RUNTIME)
    stem = routes[0].shown.rpartition("/")[0]
    first, *rest = [route.shown.removeprefix(stem) for route in routes]
    items = [f"{routes[0].method} {stem}{first}", *rest]
    return ", ".join(items[:-1]) + " and " + items[-1]


@functools.cache
def admin_paths() -> str:
    """The admin routes' paths: `/_emulator/health, /_emulator/requests, ...`."""
    return ", ".join(dict.fromkeys(route.shown for route in routes_of(ADMIN)))


@dataclass(frozen=True)
class Resolution:
    """Where a request goes: its service, and the route that serves it (if one does)."""

    method: str
    path: str
    service: Service
    route: Route | None = None  # None: a path, or a method on it, the service doesn't serve
    identifier: str | None = None  # the path's label, unquoted
    allowed: tuple[str, ...] = ()  # when not empty, the path's methods: `method` is not one

    def logged_as(self) -> tuple[str, str | None] | None:
        """The operation and identifier the request log keeps this request as, if it does."""
        if self.route is None:
            if self.service.logged != "all":
                return None
            return f"{self.method} {self.path[:200]}", None
        return None if self.service.logged == "none" else (self.route.operation, self.identifier)

    def refusal(self) -> BedrockError | None:
        """The 404 or 405 for a request the table doesn't serve."""
        if self.route is None:
            message = self.service.unknown.format(
                method=self.method,
                path=self.path[:200],
                runtime=runtime_paths(),
                admin=admin_paths(),
            )
            return BedrockError("UnknownOperationException", message, 404)
        if self.allowed:
            return BedrockError(
                "MethodNotAllowedException",
                f"{self.method} is not allowed here; use {' or '.join(self.allowed)}.",
                405,
            )
        return None


def resolve(method: str, path: str) -> Resolution:
    """The service and route for `method` on `path` (a path without its query)."""
    service = service_for(path)
    wanted = "GET" if service.head_as_get and method == "HEAD" else method
    on_path: list[tuple[Route, str | None]] = []
    for route in routes_of(service):
        match = route.pattern.fullmatch(path)
        if match is not None:
            identifier = unquote(match[1]) if route.pattern.groups else None
            if route.method == wanted:
                return Resolution(method, path, service, route, identifier)
            on_path.append((route, identifier))
    if not on_path or not service.method_not_allowed:
        return Resolution(method, path, service)
    route, identifier = on_path[0]
    return Resolution(method, path, service, route, identifier, tuple(r.method for r, _ in on_path))
