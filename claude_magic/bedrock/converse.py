"""Our InvokeModel request body in Converse's shapes, for `converse` / `converse_stream`.

The body the rest of the package builds stays the one description of a request; this
module only re-spells it: content blocks as Converse ContentBlocks (bytes, not base64),
`cache_control` as a following `cachePoint`, sampling in `inferenceConfig`, tools in
`toolConfig`, `output_config.effort` / `.format` in `outputConfig`, and what Converse has
no field for (thinking, top_k, betas, ...) in `additionalModelRequestFields`. What
Converse cannot express for Claude raises ClaudeError with one line saying what to do.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from ..core.messages import as_blocks
from .errors import ClaudeError

IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
USE_INVOKE = "or use %config ClaudeMagic.api = 'invoke'."
_NAME_JUNK = re.compile(r"[^A-Za-z0-9\s\-()\[\]]+")
_SPACES = re.compile(r"\s+")
_INFERENCE = {
    "max_tokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "stop_sequences": "stopSequences",
}


def _refuse(what: str, instead: str) -> ClaudeError:
    return ClaudeError(f"Converse has no {what} for Claude: {instead}, {USE_INVOKE}", "converse")


def _cache_point(control: dict[str, Any]) -> dict[str, Any]:
    point: dict[str, Any] = {"type": "default"}
    if control.get("ttl"):
        point["ttl"] = control["ttl"]
    return {"cachePoint": point}


def document_name(block: dict[str, Any], taken: set[str]) -> str:
    """A document name Converse accepts (letters, digits, single spaces, - ( ) [ ]), unique
    within the request."""
    raw = str(block.get("name") or block.get("title") or "document")
    name = _SPACES.sub(" ", _NAME_JUNK.sub("-", raw)).strip()[:190] or "document"
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name} ({n})", n + 1
    taken.add(unique)
    return unique


def _document(block: dict[str, Any], taken: set[str]) -> dict[str, Any]:
    source = block.get("source") or {}
    if source.get("type") == "text":
        fmt, data = "txt", str(source.get("data", "")).encode("utf-8")
    else:
        fmt = "pdf" if source.get("media_type") == "application/pdf" else "txt"
        data = base64.b64decode(source.get("data", ""))
    document: dict[str, Any] = {
        "format": fmt,
        "name": document_name(block, taken),
        "source": {"bytes": data},
    }
    if block.get("context"):
        document["context"] = block["context"]
    if isinstance(block.get("citations"), dict):
        document["citations"] = {"enabled": bool(block["citations"].get("enabled"))}
    return {"document": document}


def _image(block: dict[str, Any]) -> dict[str, Any]:
    source = block["source"]
    return {
        "image": {
            "format": IMAGE_FORMATS.get(source.get("media_type"), "png"),
            "source": {"bytes": base64.b64decode(source["data"])},
        }
    }


def _tool_result(block: dict[str, Any], taken: set[str]) -> dict[str, Any]:
    content = block.get("content")
    items = [] if content is None else as_blocks(content)
    converted = []
    for item in items:
        if item.get("type") == "text":
            if item.get("text", "").strip():
                converted.append({"text": item["text"]})
        elif item.get("type") == "image":
            converted.append(_image(item))
        elif item.get("type") == "document":
            converted.append(_document(item, taken))
    result: dict[str, Any] = {"toolUseId": block["tool_use_id"], "content": converted}
    if block.get("is_error"):
        result["status"] = "error"
        if not converted:
            result["content"] = [{"text": "error"}]
    return {"toolResult": result}


def converse_block(block: dict[str, Any], taken: set[str]) -> dict[str, Any]:
    """One Anthropic content block as a Converse ContentBlock."""
    kind = block.get("type")
    if kind == "text":
        return {"text": block["text"]}
    if kind == "image":
        return _image(block)
    if kind == "document":
        return _document(block, taken)
    if kind == "tool_use":
        return {
            "toolUse": {
                "toolUseId": block["id"],
                "name": block["name"],
                "input": block.get("input") or {},
            }
        }
    if kind == "tool_result":
        return _tool_result(block, taken)
    if kind == "thinking":
        text = {"text": block.get("thinking", "")}
        if block.get("signature"):
            text["signature"] = block["signature"]
        return {"reasoningContent": {"reasoningText": text}}
    if kind == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": str(block.get("data", "")).encode("utf-8")}}
    raise ClaudeError(f"Converse can't carry a {kind} block: {USE_INVOKE}", "converse")


def converse_content(content: Any, taken: set[str]) -> list[dict[str, Any]]:
    """A content value as Converse blocks, `cache_control` as a following cachePoint."""
    out: list[dict[str, Any]] = []
    for block in as_blocks(content):
        out.append(converse_block(block, taken))
        if isinstance(block.get("cache_control"), dict):
            out.append(_cache_point(block["cache_control"]))
    return out


def _tool_config(tools: list[dict[str, Any]], choice: dict[str, Any] | None) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for tool in tools:
        if tool.get("type", "custom") != "custom":
            raise _refuse(f"{tool.get('type')} tool", "drop --computer-use")
        spec: dict[str, Any] = {
            "name": tool["name"],
            "inputSchema": {"json": tool.get("input_schema") or {}},
        }
        if tool.get("description"):
            spec["description"] = tool["description"]
        entries.append({"toolSpec": spec})
        if isinstance(tool.get("cache_control"), dict):
            entries.append(_cache_point(tool["cache_control"]))
    config: dict[str, Any] = {"tools": entries}
    if choice:
        kind = choice.get("type")
        if kind == "none":
            raise _refuse("tool_choice none", "drop --tool-choice none")
        config["toolChoice"] = {"tool": {"name": choice["name"]}} if kind == "tool" else {kind: {}}
    return config


def _output_config(config: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rest = dict(config)
    if "effort" in rest:
        out["effort"] = rest.pop("effort")
    fmt = rest.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and "schema" in fmt:
        rest.pop("format")
        out["textFormat"] = {
            "type": "json_schema",
            "structure": {
                "jsonSchema": {
                    "schema": json.dumps(fmt["schema"]),
                    "name": fmt.get("name", "output"),
                }
            },
        }
    if rest:
        extra["output_config"] = rest
    return out


def converse_request(invoke_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The `converse` / `converse_stream` keyword arguments for an InvokeModel body."""
    messages = body.get("messages") or []
    if messages and messages[-1].get("role") == "assistant":
        raise _refuse("prefill", "drop --prefill")
    taken: set[str] = set()
    request: dict[str, Any] = {
        "modelId": invoke_id,
        "messages": [
            {"role": m["role"], "content": converse_content(m["content"], taken)} for m in messages
        ],
    }
    extra: dict[str, Any] = {}
    inference: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("anthropic_version", "messages", "tool_choice"):
            continue
        if key in _INFERENCE:
            inference[_INFERENCE[key]] = value
        elif key == "system":
            request["system"] = converse_content(value, taken)
        elif key == "tools":
            request["toolConfig"] = _tool_config(value, body.get("tool_choice"))
        elif key == "output_config" and isinstance(value, dict):
            output = _output_config(value, extra)
            if output:
                request["outputConfig"] = output
        else:
            extra[key] = value
    if inference:
        request["inferenceConfig"] = inference
    if extra:
        request["additionalModelRequestFields"] = extra
    if body.get("stop_sequences"):
        request["additionalModelResponseFieldPaths"] = ["/stop_sequence"]
    return request


def guardrail_config(guardrail: tuple[str, str] | None) -> dict[str, Any]:
    """The `guardrailConfig` argument for a guardrail (identifier, version), if any."""
    if guardrail is None:
        return {}
    identifier, version = guardrail
    return {"guardrailConfig": {"guardrailIdentifier": identifier, "guardrailVersion": version}}
