"""The emulator's own routes under `/_emulator` (loopback clients only, never signed):
health, the request log, scripted replies, faults, settings, added models, reset and the
prompt cache's clock. Each answers 200 with JSON; a ValueError, or any other exception
while reading the input, is a ValidationException.

Web pages may not use them: a request whose `Origin` is not a loopback page is refused
(403), and so is one whose `Host` does not name this machine by a loopback address or
`localhost` (a page behind a rebound DNS name sends its own name); a body, or a declared
Content-Type, must be `application/json` (415), which a cross-site form or a simple
`fetch` cannot send.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from email.message import Message
from typing import Any

from .control.batch import batch_step
from .control.catalogue import model_from_user
from .errors import BedrockError, checking_input, validation
from .exchange import Exchange, Handler, Request
from .faults import Fault
from .json_body import load_json
from .loopback import is_loopback_origin, loopback_url
from .state import EmulatorState, set_pace, set_today
from .steps import step_message
from .wire.events import check_script

_CONFIG_KEYS = {"pace", "batch_step", "s3_endpoint_url", "today"}
JSON_ONLY = "Admin routes take JSON: send the body with Content-Type: application/json."
FROM_A_PAGE = "Admin routes refuse requests from web pages (Origin {origin})."
BY_NAME = (
    "Admin routes answer requests to a loopback address or localhost only (Host {host}): "
    "use http://127.0.0.1:PORT/_emulator/..."
)


def refusal(headers: Message, body: bytes) -> BedrockError | None:
    """Why an admin request is refused, if it is: it comes from a web page that is not on
    loopback, it was sent to a name that is not loopback, or it carries something other
    than JSON."""
    origin = headers.get("Origin")
    if origin is not None and not is_loopback_origin(origin):
        return BedrockError("AccessDeniedException", FROM_A_PAGE.format(origin=origin[:100]), 403)
    host = headers.get("Host")
    if host is not None and not is_loopback_origin(f"http://{host.strip()}"):
        return BedrockError("AccessDeniedException", BY_NAME.format(host=host[:100]), 403)
    content_type = headers.get("Content-Type")
    declared = (content_type or "").split(";")[0].strip().lower()
    if (body or content_type is not None) and declared != "application/json":
        return BedrockError("UnsupportedMediaTypeException", JSON_ONLY, 415)
    return None


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        raise ValueError("the body must be JSON; it is empty")
    return load_json(body)


def _admin(answer: Callable[[EmulatorState, bytes], Any]) -> Handler:
    """A handler from a function of the state and the body to the JSON answer."""

    @functools.wraps(answer)
    def handle(exchange: Exchange, request: Request) -> None:
        with checking_input():
            try:
                result = answer(exchange.state, request.body)
            except ValueError as exc:
                raise validation(str(exc)) from None
        exchange.send_json(result)

    return handle


@_admin
def health(state: EmulatorState, body: bytes) -> dict[str, Any]:
    return state.health()


@_admin
def list_requests(state: EmulatorState, body: bytes) -> dict[str, Any]:
    return {"requests": state.requests()}


@_admin
def clear_requests(state: EmulatorState, body: bytes) -> dict[str, Any]:
    return {"cleared": state.clear_requests()}


@_admin
def list_scripts(state: EmulatorState, body: bytes) -> dict[str, Any]:
    return {"scripts": state.pending_scripts()}


@_admin
def queue_scripts(state: EmulatorState, body: bytes) -> dict[str, Any]:
    payload = _parse_json(body)
    messages = [step_message(m) for m in (payload if isinstance(payload, list) else [payload])]
    for message in messages:
        check_script(message)
    for message in messages:
        state.add_script(message)
    return {"queued": len(messages), "scripts": len(state.pending_scripts())}


@_admin
def clear_scripts(state: EmulatorState, body: bytes) -> dict[str, Any]:
    return {"cleared": state.clear_scripts()}


@_admin
def list_faults(state: EmulatorState, body: bytes) -> dict[str, Any]:
    return {"faults": state.faults.pending()}


@_admin
def queue_faults(state: EmulatorState, body: bytes) -> dict[str, Any]:
    payload = _parse_json(body)
    faults = [
        Fault.from_dict(item) for item in (payload if isinstance(payload, list) else [payload])
    ]
    for fault in faults:
        state.faults.add(fault)
    return {"queued": len(faults), "faults": state.faults.pending()}


@_admin
def clear_faults(state: EmulatorState, body: bytes) -> dict[str, Any]:
    return {"cleared": state.faults.clear()}


def _config(state: EmulatorState) -> dict[str, Any]:
    batch, today = state.batch, state.today
    return {
        "pace": state.pace,
        "batch_step": batch.step,
        "s3_endpoint_url": batch.s3_endpoint_url,
        "today": today.isoformat() if today else None,
    }


@_admin
def get_config(state: EmulatorState, body: bytes) -> dict[str, Any]:
    return _config(state)


@_admin
def set_config(state: EmulatorState, body: bytes) -> dict[str, Any]:
    payload = _parse_json(body)
    if not isinstance(payload, dict) or set(payload) - _CONFIG_KEYS:
        raise ValueError(
            'config accepts {"pace": tokens_per_second or null, "batch_step": '
            'seconds, "s3_endpoint_url": a loopback URL, "today": "YYYY-MM-DD" '
            "or null}"
        )
    if "pace" in payload:
        state.pace = set_pace(payload["pace"])
    if "batch_step" in payload:
        state.batch.step = batch_step(payload["batch_step"])
    if "s3_endpoint_url" in payload:
        state.batch.s3_endpoint_url = loopback_url(payload["s3_endpoint_url"])
    if "today" in payload:
        state.today = set_today(payload["today"])
    return _config(state)


@_admin
def list_models(state: EmulatorState, body: bytes) -> dict[str, Any]:
    return {"models": [m.id for m in state.models.added()]}


@_admin
def add_models(state: EmulatorState, body: bytes) -> dict[str, Any]:
    payload = _parse_json(body)
    entries = payload if isinstance(payload, list) else [payload]
    made = [model_from_user(entry) for entry in entries]  # all or none
    for model in made:
        state.models.add(model)
    return {"added": [m.id for m in made]}


@_admin
def clear_models(state: EmulatorState, body: bytes) -> dict[str, Any]:
    return {"cleared": state.models.clear_added()}


@_admin
def reset(state: EmulatorState, body: bytes) -> dict[str, Any]:
    state.reset()
    return {"status": "ok"}


@_admin
def get_clock(state: EmulatorState, body: bytes) -> dict[str, Any]:
    return {"offset": state.cache.offset}


@_admin
def advance_clock(state: EmulatorState, body: bytes) -> dict[str, Any]:
    payload = _parse_json(body)
    if not isinstance(payload, dict) or set(payload) != {"advance"}:
        raise ValueError('clock takes {"advance": SECONDS}')
    return {"offset": state.cache.advance(payload["advance"])}
