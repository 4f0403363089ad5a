"""Fault injection: a queue of failures the next model requests will meet.

Request faults answer a model request with a modelled error instead of a reply.
Stream faults let a response stream start and then fail after `after_events`
events. `stall` and `disconnect` also act on InvokeModel, before its reply.
Converse counts as InvokeModel here, ConverseStream as the response stream; so do the
Messages API's requests (bedrock-mantle) without and with `"stream": true`, where a
stream exception is an SSE `error` event and `overloaded` answers 529.
A `guardrail` fault makes the next request that names a guardrail meet an intervention
(`message` is the guardrail's blocked-output text).
With `rate`, a fault meets each request with that probability (until used `times`).
`batch_record_error` acts on the next `times` batch jobs: each record fails with
probability `rate`.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

from .errors import BedrockError

REQUEST_FAULTS: dict[str, tuple[str, str]] = {
    "access_denied": (
        "AccessDeniedException",
        "You don't have access to the model with the specified model ID.",
    ),
    "throttle": ("ThrottlingException", "Too many requests, please wait before trying again."),
    "unavailable": ("ServiceUnavailableException", "Bedrock is unable to process your request."),
    "internal": (
        "InternalServerException",
        "The server encountered an error processing your request. Try your request again.",
    ),
    "model_timeout": (
        "ModelTimeoutException",
        "Model has timed out in processing the request. Try your request again.",
    ),
    "overloaded": ("ServiceUnavailableException", "Overloaded"),  # the Messages API: 529
}
STREAM_FAULTS = ("stream_exception", "disconnect", "stall", "bad_crc")
GUARDRAIL = "guardrail"
GUARDRAIL_MESSAGE = "Sorry, the model cannot answer this question."
BATCH_FAULTS = ("batch_record_error",)
FAULT_TYPES = (*REQUEST_FAULTS, *STREAM_FAULTS, GUARDRAIL, *BATCH_FAULTS)

STREAM_EXCEPTIONS: dict[str, str] = {
    "modelStreamErrorException": "The model stream failed. Try your request again.",
    "internalServerException": "The server encountered an error processing your request.",
    "validationException": "The request failed validation.",
    "throttlingException": "Too many requests, please wait before trying again.",
    "modelTimeoutException": "Model has timed out in processing the request.",
    "serviceUnavailableException": "Bedrock is unable to process your request.",
}
STREAMING = "InvokeModelWithResponseStream"
INVOKE = "InvokeModel"
# Converse, and the Messages API's requests without and with "stream": true.
_AS = {
    "Converse": INVOKE,
    "ConverseStream": STREAMING,
    "CreateMessage": INVOKE,
    "CreateMessageStream": STREAMING,
}
BATCH = "BatchJob"
DEFAULT_STALL_SECONDS = 1.0
MAX_STALL_SECONDS = 3600.0


@dataclass
class Fault:
    """One kind of failure, for the next `times` model requests it applies to."""

    type: str
    times: int = 1
    after_events: int = 0
    exception: str | None = None
    seconds: float | None = None
    message: str | None = None
    rate: float | None = None

    def __post_init__(self) -> None:
        if self.type not in FAULT_TYPES:
            raise ValueError(
                f"unknown fault type {self.type!r}; use one of {', '.join(FAULT_TYPES)}"
            )
        if isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 1:
            raise ValueError("times must be a positive integer")
        if (
            isinstance(self.after_events, bool)
            or not isinstance(self.after_events, int)
            or self.after_events < 0
        ):
            raise ValueError("after_events must be an integer >= 0")
        if self.type == "stream_exception":
            self.exception = self.exception or "modelStreamErrorException"
            if not isinstance(self.exception, str) or self.exception not in STREAM_EXCEPTIONS:
                raise ValueError(
                    f"unknown stream exception {self.exception!r}; use one of {', '.join(STREAM_EXCEPTIONS)}"
                )
        elif self.exception is not None:
            raise ValueError("exception applies to stream_exception faults only")
        if self.type == "stall":
            seconds = DEFAULT_STALL_SECONDS if self.seconds is None else self.seconds
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise ValueError("seconds must be a number")
            if not 0 <= seconds <= MAX_STALL_SECONDS:
                raise ValueError(f"seconds must be between 0 and {MAX_STALL_SECONDS:g}")
            self.seconds = float(seconds)
        elif self.seconds is not None:
            raise ValueError("seconds applies to stall faults only")
        if self.message is not None and not isinstance(self.message, str):
            raise ValueError("message must be a string")
        if self.rate is not None:
            if (
                isinstance(self.rate, bool)
                or not isinstance(self.rate, (int, float))
                or not 0 < self.rate <= 1
            ):
                raise ValueError("rate must be a number above 0 and at most 1")
            self.rate = float(self.rate)
        elif self.type in BATCH_FAULTS:
            raise ValueError("batch_record_error needs a rate, e.g. 0.1")

    @classmethod
    def from_dict(cls, data: Any) -> Fault:
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object with a 'type'")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        if "type" not in data:
            raise ValueError("a fault needs a 'type'")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def applies_to(self, operation: str) -> bool:
        if self.type in BATCH_FAULTS or operation == BATCH:
            return self.type in BATCH_FAULTS and operation == BATCH
        operation = _AS.get(operation, operation)
        if self.type == GUARDRAIL:
            return operation == GUARDRAIL
        if self.type in REQUEST_FAULTS:
            return True
        if self.type in ("stall", "disconnect"):
            return operation in (INVOKE, STREAMING)
        return operation == STREAMING

    def error(self) -> BedrockError:
        """The modelled error a request fault answers with."""
        code, message = REQUEST_FAULTS[self.type]
        return BedrockError(code, self.message or message)

    def guardrail_message(self) -> str:
        return self.message or GUARDRAIL_MESSAGE

    def stream_message(self) -> str:
        return self.message or STREAM_EXCEPTIONS[self.exception or "modelStreamErrorException"]


class FaultQueue:
    """Pending faults, oldest first; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._random = random.Random(0)  # the same run of `rate` faults every time

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> int:
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def take(self, operation: str) -> Fault | None:
        """The oldest fault that applies to `operation`, used once."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.applies_to(operation):
                    if (
                        fault.rate is not None
                        and operation != BATCH
                        and self._random.random() >= fault.rate
                    ):
                        return None
                    fault.times -= 1
                    if fault.times == 0:
                        del self._faults[index]
                    return Fault(**{**asdict(fault), "times": 1})
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)
