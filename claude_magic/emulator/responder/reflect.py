"""The offline responder's Markdown: an honest description of the request it got
(the user's words, system prompt, turns, parameters, attachments, tools, tool results).

Everything is computed from the request itself: image formats and sizes come from the
bytes (Pillow), PDF pages from the file. Nothing here pretends to be Claude.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...core.messages import as_blocks, estimate_image_tokens, text_of
from ...models.catalog import Model
from ..media import decode_base64, human_size, inspect_base64_image, is_pdf, pdf_page_count

HEADER = "**Offline emulator** — this is not Claude; no model was called."
QUOTE_CHARS = 600
RESULT_CHARS = 300
CODE_LINES = 20
PARAMETERS = ("temperature", "top_p", "top_k")
_FENCE = re.compile(r"```([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_CODE_LINE = re.compile(
    r"^\s*(def |class |import |from \S+ import |for .+:\s*$|while .+:\s*$|if .+:\s*$|return\b|"
    r"print\(|[A-Za-z_][\w.]*\s*=\s*\S|@\w+)"
)


def truncate(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters at a word boundary, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + " …"


def quote(text: str) -> str:
    """Markdown block quote of `text`, line by line."""
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines() or [""])


def code_snippet(text: str) -> tuple[str, str] | None:
    """(language, code) of the first fenced block, or of Python-looking text."""
    fenced = _FENCE.search(text)
    if fenced:
        return fenced.group(1) or "python", fenced.group(2).rstrip("\n")
    lines = text.splitlines()
    if sum(1 for line in lines if _CODE_LINE.match(line)) >= 2:
        return "python", "\n".join(lines).strip("\n")
    return None


def _clip_lines(code: str) -> str:
    lines = code.splitlines()
    if len(lines) <= CODE_LINES:
        return code
    return "\n".join([*lines[:CODE_LINES], f"# … {len(lines) - CODE_LINES} more lines"])


def describe_image(source: Any) -> str:
    """`PNG, 640 × 480 px, 12.3 KB, ≈ 410 input tokens` from the image bytes."""
    try:
        info = inspect_base64_image(source["data"])
    except (ValueError, KeyError, TypeError):
        return "unreadable image"
    tokens = estimate_image_tokens(info.width, info.height)
    return (
        f"{info.format}, {info.width} × {info.height} px, {human_size(info.size)}, "
        f"≈ {tokens} input tokens"
    )


def describe_document(block: dict[str, Any]) -> str:
    """`PDF, 3 pages, 45.6 KB` or `plain text, 120 words, 1.2 KB`."""
    source = block.get("source") or {}
    title = block.get("title") or block.get("name")
    label = f" ({title})" if title else ""
    data = source.get("data", "")
    if source.get("type") == "text":
        raw = data.encode("utf-8")
    else:
        try:
            raw = decode_base64(data)
        except ValueError:
            return f"unreadable document{label}"
    if is_pdf(raw):
        pages = pdf_page_count(raw)
        return f"PDF{label}, {pages} page{'s' * (pages != 1)}, {human_size(len(raw))}"
    words = len(raw.decode("utf-8", errors="replace").split())
    return f"plain text{label}, {words} words, {human_size(len(raw))}"


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(b.get("text", "") for b in system if isinstance(b, dict))
    return ""


def _parameter_rows(model: Model, body: dict[str, Any], input_tokens: int) -> list[str]:
    messages = body.get("messages") or []
    users = sum(1 for m in messages if m.get("role") == "user")
    rows = [
        f"| Model | {model.name} (`{model.api_model}`) |",
        f"| Turns | {users} user, {len(messages) - users} assistant |",
        f"| max_tokens | {body.get('max_tokens')} |",
    ]
    rows += [f"| {p} | {body[p]} |" for p in PARAMETERS if p in body]
    if body.get("stop_sequences"):
        rows.append(f"| stop_sequences | {len(body['stop_sequences'])} |")
    thinking: dict[str, Any] = body["thinking"] if isinstance(body.get("thinking"), dict) else {}
    if thinking.get("type") == "enabled":
        rows.append(f"| thinking | budget {thinking.get('budget_tokens')} tokens |")
    elif thinking.get("type") in ("adaptive", "disabled"):
        rows.append(f"| thinking | {thinking['type']} |")
    config: dict[str, Any] = (
        body["output_config"] if isinstance(body.get("output_config"), dict) else {}
    )
    if "effort" in config:
        rows.append(f"| effort | {config['effort']} |")
    if isinstance(config.get("format"), dict):
        rows.append(f"| output format | {config['format'].get('type', '?')} |")
    breakpoints = _cache_breakpoints(body)
    if breakpoints:
        rows.append(f"| cache breakpoints | {', '.join(breakpoints)} |")
    if body.get("anthropic_version") not in (None, "bedrock-2023-05-31"):
        rows.append(f"| anthropic_version | {body['anthropic_version']} |")
    rows.append(f"| Input tokens (estimated) | {input_tokens} |")
    return ["| Request | Value |", "|---|---|", *rows]


def _cache_breakpoints(body: dict[str, Any]) -> list[str]:
    """Where the request asks for caching (`cache_control`), in Bedrock's order, with TTLs."""
    found = []
    for where, blocks in (
        ("tools", body.get("tools")),
        ("system", body.get("system")),
        *(
            (f"message {i + 1}", m.get("content"))
            for i, m in enumerate(body.get("messages") or [])
            if isinstance(m, dict)
        ),
    ):
        for block in blocks if isinstance(blocks, list) else []:
            control = block.get("cache_control") if isinstance(block, dict) else None
            if isinstance(control, dict):
                found.append(f"{where} ({control.get('ttl', '5m')})")
    return found


def _attachment_lines(blocks: list[dict[str, Any]]) -> list[str]:
    lines, images, documents = [], 0, 0
    for block in blocks:
        if block.get("type") == "image":
            images += 1
            lines.append(f"- Image {images}: {describe_image(block.get('source'))}")
        elif block.get("type") == "document":
            documents += 1
            lines.append(f"- Document {documents}: {describe_document(block)}")
    return lines


def _tool_label(tool: dict[str, Any]) -> str:
    kind = tool.get("type", "custom")
    return f"`{tool.get('name')}`" + ("" if kind == "custom" else f" ({kind})")


def describe_request(model: Model, body: dict[str, Any], user_index: int, input_tokens: int) -> str:
    """The Markdown reply describing a request whose last user message is `user_index`."""
    messages = body["messages"]
    blocks = as_blocks(messages[user_index]["content"])
    user_text = text_of(blocks).strip()
    parts = [HEADER, ""]
    if user_text:
        parts += ["You wrote:", "", quote(truncate(user_text, QUOTE_CHARS)), ""]
    else:
        parts += ["Your message holds no text, only attachments.", ""]
    attachments = _attachment_lines(blocks)
    if attachments:
        parts += ["**Attachments**", "", *attachments, ""]
    earlier = sum(
        1
        for m in messages[:user_index]
        for b in as_blocks(m["content"])
        if isinstance(b, dict) and b.get("type") in ("image", "document")
    )
    if earlier:
        parts += [f"Earlier turns hold {earlier} more image or document attachment(s).", ""]
    system = _system_text(body.get("system")).strip()
    if system:
        parts += ["**System prompt**", "", quote(truncate(system, QUOTE_CHARS)), ""]
    parts += [*_parameter_rows(model, body, input_tokens), ""]
    tools = body.get("tools") or []
    if tools:
        choice = (body.get("tool_choice") or {}).get("type", "auto")
        parts += [f"**Tools offered** ({choice}): " + ", ".join(_tool_label(t) for t in tools), ""]
    snippet = code_snippet(user_text)
    if snippet:
        language, code = snippet
        parts += ["Your code, echoed back:", "", f"```{language}", _clip_lines(code), "```", ""]
    parts.append("_Run with AWS credentials (and offline mode off) to get Claude's answer._")
    return "\n".join(parts)


def describe_tool_results(results: list[dict[str, Any]], names: dict[str, str]) -> str:
    """The Markdown reply to a user message carrying tool results."""
    parts = [HEADER, "", f"Tool results received ({len(results)}):", ""]
    for result in results:
        tool_id = result.get("tool_use_id", "")
        label = f"`{names.get(tool_id, 'tool')}` (`{tool_id}`)"
        status = " reported an error" if result.get("is_error") else ""
        parts.append(f"- {label}{status}:")
        content = result.get("content")
        items = as_blocks(content) if content else []
        if not items:
            parts.append("  (no content)")
        for item in items:
            if item.get("type") == "image":
                parts.append(f"  - image: {describe_image(item.get('source'))}")
            elif item.get("type") == "text":
                parts += [
                    "",
                    *(
                        "  " + line
                        for line in quote(truncate(item.get("text", ""), RESULT_CHARS)).splitlines()
                    ),
                ]
            else:
                parts.append(f"  - {json.dumps(item)[:RESULT_CHARS]}")
        parts.append("")
    parts.append("That ends this turn: the offline emulator calls no further tools.")
    return "\n".join(parts)


def tool_use_note(names: list[str]) -> str:
    """The short text that precedes the emulator's tool calls."""
    listed = ", ".join(f"`{n}`" for n in names)
    return f"{HEADER} Calling {listed} with input built from the tool's schema and the prompt."


def prefill_continuation(prefill: str, reply: str, user_text: str) -> str:
    """What follows a prefilled assistant message: the continuation, never the prefill."""
    tail = prefill.rstrip()
    short = truncate(" ".join(user_text.split()), 200)
    if tail.endswith("{"):
        fields = {
            "emulator": "offline",
            "note": "this is not Claude; no model was called",
            "prompt": short,
        }
        inner = json.dumps(fields, indent=2, ensure_ascii=False)[1:]
        return inner
    if tail.endswith("["):
        return (
            ' "offline emulator", "this is not Claude", '
            + json.dumps(short, ensure_ascii=False)
            + "]"
        )
    tag = re.search(r"<([A-Za-z][\w-]*)>$", tail)
    if tag:
        return (
            f"(offline emulator — this is not Claude; no model was called) {short}</{tag.group(1)}>"
        )
    body = reply.split("\n", 1)[1] if "\n" in reply else ""
    return f" … _(continued by the offline emulator — this is not Claude; no model was called)_\n{body}"
