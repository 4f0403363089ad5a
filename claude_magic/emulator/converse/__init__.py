"""Converse and ConverseStream: a request turned into the InvokeModel form (`request`,
`blocks`; checked by `validation.converse`), answered by the same validation, responder,
scripts and faults as InvokeModel, and the reply turned back into Converse's shapes
(`response`, `stream`)."""

from __future__ import annotations

from .request import ConverseRequest, converse_request, converse_to_invoke_body

__all__ = ["ConverseRequest", "converse_request", "converse_to_invoke_body"]
