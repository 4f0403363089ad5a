"""The Bedrock operations the emulator answers: bedrock-runtime's InvokeModel,
InvokeModelWithResponseStream, Converse, ConverseStream and CountTokens, and the control
plane's model listings and batch jobs. Each handler checks the signature, then answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..core.messages import Message
from .errors import checking_input
from .exchange import Exchange, Request
from .faults import GUARDRAIL, REQUEST_FAULTS, Fault
from .guardrail import guardrail_reply, invoke_body
from .wire import sigv4
from .wire.events import complete_message, stream_events
from .wire.eventstream import chunk_frame

if TYPE_CHECKING:
    from ..models.catalog import Model
    from .context import Managed
    from .converse import ConverseRequest
    from .state import EmulatorState

INVOKE = "InvokeModel"
STREAM = "InvokeModelWithResponseStream"
COUNT_TOKENS = "CountTokens"
CONVERSE = "Converse"
CONVERSE_STREAM = "ConverseStream"


def invoke_frames(message: Message, started: float) -> Iterator[tuple[bytes, bool, bytes]]:
    """(frame, is a content delta, event JSON) for each InvokeModel stream event."""
    for sequence, (event, is_delta) in enumerate(stream_events(message, started)):
        yield chunk_frame(event, sequence), is_delta, event


def _cache_headers(message: Message) -> dict[str, str]:
    usage = message.usage
    if not (usage.cache_read_input_tokens or usage.cache_creation_input_tokens):
        return {}
    return {
        "X-Amzn-Bedrock-Cache-Read-Input-Token-Count": str(usage.cache_read_input_tokens),
        "X-Amzn-Bedrock-Cache-Write-Input-Token-Count": str(usage.cache_creation_input_tokens),
    }


def _check_signature(exchange: Exchange, request: Request, api_keys: bool = False) -> None:
    state = exchange.state
    sigv4.check_request(
        request.method,
        request.path,
        request.query,
        list(request.headers.items()),
        request.body,
        state.credentials,
        bearer_tokens=state.bearer_tokens if api_keys else None,
    )


def answer_model(exchange: Exchange, request: Request) -> None:
    """A runtime operation on `/model/{modelId}/...`: faults, validation, then the reply."""
    from .responder.respond import estimate_input_tokens
    from .validation.converse import validate_converse
    from .validation.request import validate_count_tokens, validate_invoke

    state = exchange.state
    operation, model_id = request.operation, request.identifier or ""
    _check_signature(exchange, request, api_keys=True)
    fault = state.faults.take(operation)
    if fault is not None and fault.type in REQUEST_FAULTS:
        raise fault.error()
    if operation == COUNT_TOKENS:
        with checking_input():
            _, inner = validate_count_tokens(
                model_id, request.body, models=state.models, today=state.today
            )
        from .context import manage  # counted as the model reads it: after context editing

        exchange.send_json({"inputTokens": estimate_input_tokens(manage(inner).body)})
        return
    converse = None
    guardrail: object = None  # the request names a guardrail (Converse: its config)
    if operation in (CONVERSE, CONVERSE_STREAM):
        with checking_input():
            model, converse = validate_converse(
                model_id,
                request.body,
                request.headers,  # type: ignore[arg-type]
                models=state.models,
                today=state.today,
            )
        body, guardrail = converse.body, converse.guardrail
        exchange.note("invoke_body", body)  # the InvokeModel form it was answered as
    else:
        with checking_input():
            model, body = validate_invoke(
                model_id,
                request.body,
                request.headers,  # type: ignore[arg-type]
                models=state.models,
                today=state.today,
            )
        guardrail = request.headers.get("X-Amzn-Bedrock-GuardrailIdentifier")
    if operation in (INVOKE, CONVERSE) and fault is not None and fault.type == "disconnect":
        exchange.abort()  # before any reply is made: a queued script stays queued
        return
    from .context import manage, settle

    managed = manage(body)
    body = managed.body
    intervention = state.faults.take(GUARDRAIL) if guardrail else None
    if intervention is not None:
        message = complete_message(
            guardrail_reply(intervention), model, estimate_input_tokens(body)
        )
    else:
        message = scripted_or_answered(state, model, managed)
    settle(state.cache, model, managed, message)
    if operation == STREAM:
        exchange.send_event_stream(invoke_frames(message, request.started), fault)
    elif operation == CONVERSE_STREAM and converse is not None:
        from .converse.stream import converse_frames

        exchange.send_event_stream(converse_frames(message, converse, request.started), fault)
    else:
        _reply(exchange, message, fault, request.started, converse)


def _reply(
    exchange: Exchange,
    message: Message,
    fault: Fault | None,
    started: float,
    converse: ConverseRequest | None,
) -> None:
    """InvokeModel's or Converse's reply, after the pace's and a stall's wait."""
    pace = exchange.state.pace
    if pace:
        exchange.wait(message.usage.output_tokens / pace)
    if fault is not None and fault.type == "stall":
        exchange.wait(fault.seconds or 0)
    latency = round((time.monotonic() - started) * 1000)
    if converse is not None:
        from .converse.response import converse_response

        exchange.send_json(converse_response(message, converse, latency))
        return
    exchange.send_json(
        invoke_body(message),
        headers={
            "X-Amzn-Bedrock-Input-Token-Count": str(message.usage.input_tokens),
            "X-Amzn-Bedrock-Output-Token-Count": str(message.usage.output_tokens),
            "X-Amzn-Bedrock-Invocation-Latency": str(latency),
            **_cache_headers(message),
        },
    )


def scripted_or_answered(state: EmulatorState, model: Model, managed: Managed) -> Message:
    """The next scripted reply, else the responder's answer, as a complete message."""
    from .responder.respond import estimate_input_tokens, respond

    script = state.next_script()
    if script is not None:
        return complete_message(script, model, estimate_input_tokens(managed.body))
    reply = respond(model, managed.model_body)
    return complete_message(
        reply, model, reply.usage.input_tokens or estimate_input_tokens(managed.model_body)
    )


def answer_catalogue(exchange: Exchange, request: Request) -> None:
    """The control plane's model listings (ListFoundationModels, ...)."""
    _check_signature(exchange, request)
    state = exchange.state
    with checking_input():
        payload = state.models.handle(
            request.operation, request.identifier, request.query, state.today
        )
    exchange.send_json(payload)


def answer_batch(exchange: Exchange, request: Request) -> None:
    """The control plane's batch inference jobs (CreateModelInvocationJob, ...)."""
    _check_signature(exchange, request)
    exchange.send_json(
        exchange.state.batch.handle(
            request.operation, request.identifier, request.query, request.body
        )
    )
