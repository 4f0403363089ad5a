"""Converse and ConverseStream: one request turned into the InvokeModel form (`request`,
`blocks`), answered by the same validation, responder, scripts and faults as InvokeModel,
and the reply turned back into Converse's shapes (`response`, `stream`)."""

from __future__ import annotations

from .request import ConverseRequest, converse_to_invoke_body, validate_converse

__all__ = ["ConverseRequest", "converse_to_invoke_body", "validate_converse"]
