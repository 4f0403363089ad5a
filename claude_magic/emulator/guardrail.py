"""A guardrail intervention as the emulator acts it out: the guardrail's blocked-output
text instead of the model's answer, stop reason `guardrail_intervened`, and on InvokeModel
the `amazon-bedrock-guardrailAction: INTERVENED` field Bedrock adds to the body.

Requests name a guardrail with the `X-Amzn-Bedrock-GuardrailIdentifier` header
(InvokeModel) or `guardrailConfig` (Converse); a queued `guardrail` fault intervenes.
"""

from __future__ import annotations

from typing import Any

from ..core.messages import Message
from .faults import Fault

INTERVENED = "guardrail_intervened"
ACTION_FIELD = "amazon-bedrock-guardrailAction"


def guardrail_reply(fault: Fault) -> dict[str, Any]:
    """The scripted reply an intervention stands for."""
    return {
        "content": [{"type": "text", "text": fault.guardrail_message()}],
        "stop_reason": INTERVENED,
    }


def invoke_body(message: Message) -> dict[str, Any]:
    """An InvokeModel response body, with the guardrail's action when it intervened."""
    body = message.to_dict()
    if message.stop_reason == INTERVENED:
        body[ACTION_FIELD] = "INTERVENED"
    return body
