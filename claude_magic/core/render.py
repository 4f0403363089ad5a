"""Model Markdown to sanitised HTML, and the static bundle a finished answer leaves.

Model output is untrusted: Markdown is converted with raw HTML disabled, images
become links (nothing is loaded from the network), and the result is cleaned by
nh3 so only plain formatting tags and http/https/mailto links survive. Everything
else this module writes into HTML is escaped. CSS classes start with `claude-magic-`.

`BlockSplitter` cuts a growing Markdown text into blocks that render on their own,
so a live view renders each finished block once.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from .citations import Citations
from .messages import Block, Message, Usage
from .safe_markdown import (
    MARKDOWN_RULES,
    SAFE_HREF,
    code_fence,
    code_span,
    escape_markdown,
    may_panic,
    parser_panicked,
    safe_markdown,
)
from .thinking import thinking_html

ImageThumb = tuple[bytes, str, int]  # PNG bytes, label, estimated tokens
MAX_SHOWN_CHARS = 10_000  # tool inputs and results beyond this are cut in the display
MAX_EMBEDDED_IMAGE_BYTES = 300_000  # larger tool-result images are named, not embedded

_SAFE_IMG_SRC = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]*$")
_LANGUAGE_CLASS = re.compile(r"^language-[\w+#.-]{1,40}$")
_CHROME_CLASS = re.compile(r"^claude-magic(-[\w-]{1,40})?$")
_DIM = "opacity:0.7;font-size:0.85em"
_MODEL_TAGS = {
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_CHROME_TAGS = _MODEL_TAGS | {"details", "div", "img", "span", "summary"}
_CHROME_STYLES = {
    "border-left",
    "color",
    "font-size",
    "margin",
    "max-height",
    "max-width",
    "opacity",
    "padding-left",
    "text-align",
    "vertical-align",
    "white-space",
}


@dataclass
class ToolOutcome:
    """What running one tool call gave, as shown to the user."""

    tool_use_id: str
    summary: str
    is_error: bool = False
    image_png: bytes | None = None  # keep it small: it is embedded in the notebook
    traceback_text: str | None = None  # a failed tool's full traceback, shown collapsed
    headline: str | None = None  # the line shown for it (else the summary's start)

    @classmethod
    def from_block(cls, block: Block) -> ToolOutcome:
        """From a Messages API tool_result block: its text, and its first PNG image
        if that is small enough to embed."""
        content = block.get("content")
        items: list[dict[str, Any]] = (
            [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
        )
        texts, image = [], None
        for item in items:
            if item.get("type") == "text":
                texts.append(item.get("text", ""))
            elif item.get("type") == "image":
                source = item.get("source") or {}
                data = source.get("data") or ""
                size = len(data) * 3 // 4 - data[-2:].count("=")
                if (
                    image is None
                    and source.get("media_type") == "image/png"
                    and size <= MAX_EMBEDDED_IMAGE_BYTES
                ):
                    image = base64.b64decode(data)
                else:
                    texts.append(f"[{source.get('media_type', 'image')}, {size:,} bytes]")
        return cls(
            str(block.get("tool_use_id", "")),
            "\n".join(texts),
            bool(block.get("is_error")),
            image,
            getattr(block, "traceback", None),
            getattr(block, "headline", None),
        )


@dataclass
class Notice:
    """A one-line note shown between answers, e.g. "history rewound"."""

    text: str


Entry = Message | ToolOutcome | Notice


# ---------------------------------------------------------------- Markdown → HTML


def _render_image(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """Images from model output are never loaded: show the alt text, linked if http(s)."""
    token = tokens[idx]
    alt = html.escape(self.renderInlineAsText(token.children or [], options, env) or "image")
    src = token.attrGet("src") or ""
    if SAFE_HREF.match(src):
        return f'<a href="{html.escape(src)}">🖼 {alt}</a>'
    return f"🖼 {alt}"


@lru_cache(maxsize=1)
def _markdown() -> Any:
    """markdown-it-py with the policy: the reference renderer, and the fallback."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _render_image)
    return md


# an image as markdown-it-pyrs writes it; with raw HTML off, no other `<img` can occur
_RENDERED_IMAGE = re.compile(r'<img src="([^"]*)" alt="([^"]*)"(?: title="[^"]*")? />')


def _image_as_link(match: re.Match[str]) -> str:
    src, alt = match.group(1), match.group(2) or "image"
    return f'<a href="{src}">🖼 {alt}</a>' if SAFE_HREF.match(src) else f"🖼 {alt}"


@lru_cache(maxsize=1)
def _renderer() -> Callable[[str], str]:
    """Markdown -> unsanitised HTML: markdown-it-pyrs (the same markdown-it rules,
    compiled: about 20x faster) where it is installed, else markdown-it-py (also for
    the texts markdown-it-pyrs fails on)."""
    try:
        from markdown_it_pyrs import MarkdownIt
    except ImportError:
        return _markdown().render
    render = MarkdownIt("zero").enable_many(MARKDOWN_RULES).render

    def render_fast(text: str) -> str:
        if may_panic(text):
            return _markdown().render(text)
        try:
            return _RENDERED_IMAGE.sub(_image_as_link, render(text))
        except BaseException as exc:
            if not parser_panicked(exc):
                raise
            return _markdown().render(text)

    return render_fast


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href":
        return value if SAFE_HREF.match(value) else None
    if attribute == "src":
        return value if tag == "img" and _SAFE_IMG_SRC.match(value) else None
    if attribute == "class":
        kept = [c for c in value.split() if _LANGUAGE_CLASS.match(c) or _CHROME_CLASS.match(c)]
        return " ".join(kept) or None
    return value


def sanitize(fragment: str, *, chrome: bool = False) -> str:
    """Clean an HTML fragment. The model policy keeps formatting and safe links;
    `chrome=True` also keeps this module's own divs, details, classes, light inline
    styles and embedded (data:) PNG/JPEG images."""
    return _cleaner(chrome)(fragment)


@lru_cache(maxsize=2)
def _cleaner(chrome: bool) -> Callable[[str], str]:
    """The nh3 cleaner of a policy, built once (a live view sanitizes many small pieces)."""
    import nh3

    attributes: dict[str, set[str]] = {
        "a": {"href", "title"},
        "ol": {"start"},
        "code": {"class"},
        "th": {"style"},
        "td": {"style"},
    }
    if chrome:
        attributes["*"] = {"class", "style", "title"}
        attributes["img"] = {"src", "alt", "title"}
    options: dict[str, Any] = {
        "tags": _CHROME_TAGS if chrome else _MODEL_TAGS,
        "clean_content_tags": {"script", "style"},
        "attributes": attributes,
        "attribute_filter": _keep_attribute,
        "url_schemes": {"http", "https", "mailto", "data"}
        if chrome
        else {"http", "https", "mailto"},
        "link_rel": "noopener noreferrer nofollow",
        "filter_style_properties": _CHROME_STYLES if chrome else {"text-align"},
    }
    if hasattr(nh3, "Cleaner"):  # nh3 >= 0.2.19: the policy is converted once
        return nh3.Cleaner(**options).clean
    return partial(nh3.clean, **options)


def markdown_to_html(text: str) -> str:
    """Untrusted Markdown as sanitised HTML (CommonMark + tables + strikethrough)."""
    return sanitize(_renderer()(text))


# ---------------------------------------------------------------- rendering an answer once

_LIST_LIKE = frozenset("-+*0123456789")


def answer_html(text: str, rendered: Mapping[str, str] | None = None) -> str:
    """Exactly `markdown_to_html(text)`. When the text cuts into independent pieces
    (see `independent_pieces`) and `rendered` (Markdown piece -> its HTML, e.g. the
    blocks a live view showed) holds most of them, the HTML is put together from
    those and only the rest is rendered."""
    pieces = independent_pieces(text) if rendered else None
    if not rendered or pieces is None or sum(p in rendered for p in pieces) * 2 < len(pieces):
        return markdown_to_html(text)
    return "".join(rendered.get(p) or markdown_to_html(p) for p in pieces)


def independent_pieces(text: str) -> list[str] | None:
    """`text` cut at blank lines that no Markdown construct continues past, so that
    the pieces rendered one by one give the same HTML as the whole text; None
    unless the text has the plain shape where that holds for certain.

    The shape: no link reference definitions (they act across the text), no CR or
    NUL, and no indented line outside top-level code fences. Then after a blank
    line only a list can go on (a paragraph, quote, table or heading has ended,
    and a fence is tracked as CommonMark does), so a piece ends there unless the
    next line may be a list item and the piece may hold a list.
    """
    if "]:" in text or "\r" in text or "\0" in text:
        return None
    pieces: list[str] = []
    start = 0  # where the current piece starts
    blank_at = -1  # where the blank lines after the current piece start
    has_list = False  # the current piece may hold a list
    fence = ""  # the open code fence's opening marker run
    at = end = 0
    for line in text.split("\n"):
        at, end = end, end + len(line) + 1
        if fence:
            if _closes_code_fence(line, fence):
                fence = ""
            continue
        if not line.strip(" \t"):
            if blank_at < 0:
                blank_at = at
            continue
        first = line[0]
        if first in " \t":
            return None
        if blank_at >= 0:
            if first not in _LIST_LIKE or not has_list:
                if blank_at > start:
                    pieces.append(text[start:blank_at])
                start, has_list = at, False
            blank_at = -1
        if first in _LIST_LIKE:
            has_list = True
        elif first in "`~":
            run = len(line) - len(line.lstrip(first))
            if run >= 3 and not (first == "`" and "`" in line[run:]):
                fence = line[:run]
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _closes_code_fence(line: str, fence: str) -> bool:
    """CommonMark: up to 3 columns of indentation, at least as many of the fence's
    characters, then only spaces and tabs."""
    column = i = 0
    while i < len(line) and line[i] in " \t":
        column += 4 - column % 4 if line[i] == "\t" else 1
        i += 1
    run = i
    while run < len(line) and line[run] == fence[0]:
        run += 1
    return column < 4 and run - i >= len(fence) and not line[run:].strip(" \t")


# ---------------------------------------------------------------- live block splitting

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TABLE_DELIMITER = re.compile(r"^ {0,3}\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_TABLE_ROW = re.compile(r"^ {0,3}\|", re.MULTILINE)  # a line that may be a table's row


class BlockSplitter:
    """Cuts a growing Markdown text into blocks that can be rendered one by one.

    Blocks end at blank lines outside code fences (unless the next line is indented,
    as in a list item) and at closing fences. Blocks longer than `max_chars` are cut
    at line boundaries; a long fence or table repeats its opening line or header on
    each piece, so every piece renders alike. Work is linear in the text length.
    A live view shows the unfinished block only up to `live_end`: a table's rows wait
    until the table's block is finished (half a table is raw Markdown).
    """

    def __init__(self, max_chars: int = 1200):
        self.max_chars = max_chars
        self._text = ""
        self._start = 0  # where the unfinished block starts
        self._scanned = 0  # complete lines before this index have been looked at
        self._break = -1  # end of the block, if the blank line seen there ends it
        self._fence = ""  # the fence marker while inside a fenced code block
        self._opener = ""  # that fence's opening line
        self._prefix = ""  # repeated before a continuation piece (fence opener, table head)

    def feed(self, text: str) -> list[str]:
        """Take the whole text so far (it only grows); return newly finished blocks."""
        self._text = text
        done: list[str] = []
        while (newline := text.find("\n", self._scanned)) >= 0:
            start = max(self._scanned, self._start)
            self._scanned = newline + 1
            self._line(start, newline + 1, done)
        if self._break >= 0 and text[self._scanned : self._scanned + 1] not in ("", " ", "\t"):
            self._emit(self._break, done)  # the next block has begun, unindented
            self._start, self._prefix, self._break = self._scanned, "", -1
        if len(text) - self._start > 2 * self.max_chars:
            self._cut_long_line(done)
        return done

    @property
    def start(self) -> int:
        """Where, in the text, the unfinished last block starts."""
        return self._start

    @property
    def pending(self) -> str:
        """The unfinished last block, as Markdown that renders on its own."""
        rest = self._text[self._start :]
        return self._prefix + rest if rest.strip() else ""

    @property
    def live_end(self) -> int:
        """Where the unfinished block's live text ends: before its first line that may be
        a table row (or at its start, in a long table's later pieces); inside a code
        fence, at the end of the text."""
        if self._fence:
            return len(self._text)
        row = _TABLE_ROW.search(self._text, self._start)
        return row.start() if row else len(self._text)

    @property
    def live(self) -> str:
        """`pending` up to `live_end`: what a live view renders of the unfinished block."""
        end = self.live_end
        if end == len(self._text):
            return self.pending
        rest = self._text[self._start : end]
        return self._prefix + rest if rest.strip() else ""

    def close(self) -> list[str]:
        """The text has ended: return what remains as the last block."""
        rest = self.pending
        self._start = self._scanned = len(self._text)
        self._prefix = self._fence = ""
        self._break = -1
        return [rest] if rest else []

    def _emit(self, end: int, done: list[str], closing: str = "") -> None:
        piece = self._prefix + self._text[self._start : end] + closing
        if piece.strip():
            done.append(piece)
        self._start = end

    def _line(self, a: int, b: int, done: list[str]) -> None:
        line = self._text[a:b]
        if self._fence:
            if _closes_fence(line, self._fence):
                self._emit(b, done)
                self._fence = self._prefix = ""
            elif b - self._start > self.max_chars and a > self._start:
                self._emit(a, done, closing=self._fence + "\n")
                self._prefix = self._opener
            return
        if not line.strip():
            if a == self._start:
                self._start = b
            elif self._break < 0:
                self._break = a
            return
        if self._break >= 0:
            if line[0] not in " \t":
                self._emit(self._break, done)
                self._start, self._prefix = a, ""
            self._break = -1
        fence = _FENCE.match(line)
        if fence:
            if a > self._start:
                self._emit(a, done)
            self._fence, self._opener, self._prefix = fence.group(1), line, ""
        elif b - self._start > self.max_chars and a > self._start:
            head = self._prefix or self._table_head()
            self._emit(a, done)
            self._prefix = head

    def _table_head(self) -> str:
        lines = self._text[self._start :].split("\n", 2)
        if len(lines) == 3 and "|" in lines[0] and _TABLE_DELIMITER.match(lines[1]):
            return lines[0] + "\n" + lines[1] + "\n"
        return ""

    def _cut_long_line(self, done: list[str]) -> None:
        text = self._text
        cut = text.rfind(" ", self._start + self.max_chars // 2, len(text) - 1)
        if cut < 0:
            cut = self._start + self.max_chars
        self._break = -1
        if self._fence:
            self._emit(cut, done, closing="\n" + self._fence + "\n")
            self._prefix = self._opener
        else:
            self._emit(cut, done)
            self._prefix = ""


def _closes_fence(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (
        len(line) - len(line.lstrip(" ")) <= 3
        and len(stripped) >= len(fence)
        and stripped == fence[0] * len(stripped)
    )


# ---------------------------------------------------------------- pieces of the display


def header_html(model: str, chat: str, images: Sequence[ImageThumb] = ()) -> str:
    """The header line: model, chat, and thumbnails of the images sent."""
    title = " · ".join(p for p in (html.escape(model), chat and f"chat {html.escape(chat)}") if p)
    thumbs = "".join(
        f'<span class="claude-magic-thumb" title="{html.escape(label)} (~{tokens} tokens)">'
        f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" '
        f'alt="{html.escape(label)}" style="max-height:48px;max-width:96px;margin:0 4px 0 0;'
        f'vertical-align:middle"></span>'
        for png, label, tokens in images
    )
    if not title and not thumbs:
        return ""
    return f'<div class="claude-magic-header" style="{_DIM}">{title} {thumbs}</div>'


def footer_html(text: str) -> str:
    return f'<div class="claude-magic-footer" style="{_DIM}">{html.escape(text)}</div>'


def status_html(text: str) -> str:
    return f'<div class="claude-magic-status" style="{_DIM}">{html.escape(text)}</div>'


def notice_html(text: str) -> str:
    return f'<div class="claude-magic-notice" style="{_DIM}">ℹ {html.escape(text)}</div>'


def error_html(text: str) -> str:
    return f'<div class="claude-magic-error" style="color:#c62828">⚠ {html.escape(text)}</div>'


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _capped(text: str) -> str:
    extra = len(text) - MAX_SHOWN_CHARS
    return text if extra <= 0 else f"{text[:MAX_SHOWN_CHARS]}\n… ({extra:,} more characters)"


def tool_input_text(tool_input: Any) -> str:
    """A tool's input as shown: code as code (run_code), anything else as JSON."""
    if (
        isinstance(tool_input, dict)
        and list(tool_input) == ["code"]
        and isinstance(tool_input["code"], str)
    ):
        return tool_input["code"]
    return json.dumps(tool_input, ensure_ascii=False, indent=2, default=str)


def tool_call_html(block: Block) -> str:
    """A collapsed section showing one tool call and its input."""
    name = html.escape(str(block.get("name", "?")))
    args = html.escape(_shorten(json.dumps(block.get("input") or {}, ensure_ascii=False), 80))
    body = html.escape(_capped(tool_input_text(block.get("input") or {})))
    return (
        f'<details class="claude-magic-tool"><summary>🔧 <code>{name}</code> '
        f'<span style="{_DIM}">{args}</span></summary><pre>{body}</pre></details>'
    )


def tool_result_html(outcome: ToolOutcome) -> str:
    """A collapsed section showing what a tool call returned."""
    mark, kind = (
        ("✗", "claude-magic-tool-error") if outcome.is_error else ("↳", "claude-magic-tool-result")
    )
    line = html.escape(_shorten(outcome.headline or outcome.summary, 100) or "(no output)")
    image = ""
    if outcome.image_png:
        data = base64.b64encode(outcome.image_png).decode()
        image = f'<div><img src="data:image/png;base64,{data}" alt="tool image" style="max-width:100%"></div>'
    full = ""
    if outcome.traceback_text:
        full = (
            f'<details class="claude-magic-traceback"><summary style="{_DIM}">full traceback</summary>'
            f"<pre>{html.escape(_capped(outcome.traceback_text))}</pre></details>"
        )
    return (
        f'<details class="{kind}"><summary>{mark} {line}</summary>'
        f"<pre>{html.escape(_capped(outcome.summary))}</pre>{full}{image}</details>"
    )


def compaction_html(block: Block) -> str:
    """A collapsed section: Bedrock compacted the earlier turns, with its summary."""
    summary = str(block.get("content") or "(Bedrock's compaction gave no summary.)")
    return (
        f'<details class="claude-magic-compaction"><summary style="{_DIM}">🗜 Bedrock compacted the '
        f"earlier turns into a summary (they stay in the chat, no longer sent)</summary>"
        f"<pre>{html.escape(_capped(summary))}</pre></details>"
    )


def compaction_text(block: Block) -> str:
    return "[compacted] Bedrock summarised the earlier turns: " + _shorten(
        str(block.get("content") or ""), 300
    )


def tool_preview_html(name: str, partial: dict[str, Any] | None, limit: int = 600) -> str:
    """A tool call whose input is still streaming (the end of it, bounded)."""
    shown = tool_input_text(partial) if partial is not None else "…"
    if len(shown) > limit:
        shown = "…" + shown[-limit:]
    return (
        f'<div class="claude-magic-tool-live">🔧 <code>{html.escape(name)}</code>'
        f'<pre style="{_DIM}">{html.escape(shown)}</pre></div>'
    )


def footer_text(
    stop_reason: str | None,
    usage: Usage | None,
    latency_s: float | None = None,
    cost_usd: float | None = None,
    *,
    stop_details: dict[str, Any] | None = None,
    prices_as_of: str = "",
    thinking_note: str = "",
    context_note: str = "",
) -> str:
    """One line: why the reply stopped, tokens (all the input, and the part of it read
    from or written to the prompt cache), time, cost (and the prices' date).
    `thinking_note` says why no thinking section shows (see thinking.hidden_thinking_note);
    `context_note` what Bedrock's context editing and compaction did (context_edits.context_note)."""
    parts: list[str] = []
    if stop_reason:
        parts.append(stop_text(stop_reason, stop_details))
    if usage is not None:
        read, written = usage.cache_read_input_tokens, usage.cache_creation_input_tokens
        cached = ", ".join(
            p
            for p in (read and f"{read:,} cached", written and f"{written:,} written to cache")
            if p
        )
        total = f"{usage.input_tokens + read + written:,} in" + (f" ({cached})" if cached else "")
        parts.append(f"{total} / {usage.output_tokens:,} out tokens")
        if usage.thinking_tokens or thinking_note:
            tokens = usage.thinking_tokens
            thinking = f"{tokens:,} thinking tokens" if tokens else "thinking"
            parts.append(thinking + (f" ({thinking_note})" if thinking_note else ""))
    if context_note:
        parts.append(context_note)
    if latency_s is not None:
        parts.append(f"{latency_s:.1f} s")
    if cost_usd is not None:
        money = f"${cost_usd:.4f}" if cost_usd < 1 else f"${cost_usd:.2f}"
        parts.append(f"≈{money} at {prices_as_of} prices" if prices_as_of else money)
    return " · ".join(parts)


def stop_text(stop_reason: str, stop_details: dict[str, Any] | None = None) -> str:
    """Why a reply ended, in words; the stop reasons that cut an answer short say so."""
    if stop_reason == "max_tokens":
        return "cut off at max_tokens"
    if stop_reason == "model_context_window_exceeded":
        return (
            "cut off: the context window is full (start afresh with %claude reset, "
            "or drop turns with %claude undo)"
        )
    if stop_reason == "compaction":
        return "compacted (Bedrock summarised the earlier turns)"
    if stop_reason == "refusal":
        details = stop_details or {}
        category = details.get("category")
        explanation = " ".join(str(details.get("explanation") or "").split())
        text = "the model declined to answer" + (f" ({category})" if category else "")
        return text + (f": {explanation}" if explanation else "")
    return stop_reason


# ---------------------------------------------------------------- the static bundle


def static_bundle(
    transcript: Sequence[Entry],
    *,
    model: str = "",
    chat: str = "",
    footer: str = "",
    images: Sequence[ImageThumb] = (),
    error: str | None = None,
    rendered: Mapping[str, str] | None = None,
    earlier: Sequence[Entry] = (),
) -> dict[str, str]:
    """The final display of an answer: `text/html` (sanitised), `text/markdown`
    and `text/plain`. The transcript holds, in order, assistant Messages (text,
    tool_use and thinking blocks), ToolOutcomes and Notices. `rendered` maps
    Markdown blocks already converted (by a live view) to their HTML, to reuse.
    `earlier` is the part of the answer shown in an output above (its tool calls
    name the results here)."""
    names: dict[str, str] = {
        block.get("id", ""): block.get("name", "?")
        for entry in earlier
        if isinstance(entry, Message)
        for block in entry.content
        if block.get("type") == "tool_use"
    }
    html_parts = [header_html(model, chat, images)]
    md_parts: list[str] = []
    text_parts = [" · ".join(p for p in (model, chat and f"chat {chat}") if p)]
    citations = Citations()
    for entry in transcript:
        if isinstance(entry, Notice):
            html_parts.append(notice_html(entry.text))
            md_parts.append(f"*{escape_markdown(entry.text)}*")
            text_parts.append(f"[note] {entry.text}")
        elif isinstance(entry, ToolOutcome):
            html_parts.append(tool_result_html(entry))
            label = "error" if entry.is_error else "result"
            headline = f" ({escape_markdown(entry.headline)})" if entry.headline else ""
            name = code_span(names.get(entry.tool_use_id, "tool"))
            md_parts.append(f"{label} of {name}{headline}:\n\n" + code_fence(entry.summary, "text"))
            text_parts.append(
                f"[{label}{' · ' + entry.headline if entry.headline else ''}] {entry.summary}"
            )
        else:
            for block in _cited_runs(entry.content, citations):
                kind = block.get("type")
                if kind == "text" and block.get("text"):
                    html_parts.append(
                        f'<div class="claude-magic-answer">{answer_html(block["text"], rendered)}</div>'
                    )
                    md_parts.append(safe_markdown(block["text"]))
                    text_parts.append(block["text"])
                elif kind == "compaction":
                    html_parts.append(compaction_html(block))
                    md_parts.append(f"*{escape_markdown(compaction_text(block))}*")
                    text_parts.append(compaction_text(block))
                elif kind == "tool_use":
                    names[block.get("id", "")] = block.get("name", "?")
                    html_parts.append(tool_call_html(block))
                    args = tool_input_text(block.get("input") or {})
                    name = code_span(str(block.get("name", "?")))
                    md_parts.append(f"🔧 {name}\n\n" + code_fence(args, "text"))
                    text_parts.append(f"[tool] {block.get('name', '?')} {args}")
                elif kind in ("thinking", "redacted_thinking"):
                    html_parts.append(thinking_html([block], entry.usage.thinking_tokens))
    if len(citations):
        html_parts.append(citations.html())
        md_parts.append(
            "**Sources**\n\n"
            + "\n".join(
                f"{n}. {escape_markdown(line)}" for n, line in enumerate(citations.lines(), 1)
            )
        )
        text_parts.append("Sources:\n" + citations.text())
    if error:
        html_parts.append(error_html(error))
        md_parts.append(f"**Error:** {escape_markdown(error)}")
        text_parts.append(f"Error: {error}")
    if footer:
        html_parts.append(footer_html(footer))
        text_parts.append(footer)
    body = "".join(html_parts)
    return {
        "text/html": sanitize(f'<div class="claude-magic">{body}</div>', chrome=True),
        "text/markdown": "\n\n".join(md_parts),
        "text/plain": "\n\n".join(p for p in text_parts if p),
    }


def _cited_runs(blocks: Sequence[Block], citations: Citations) -> list[Block]:
    """`blocks` with each run of text blocks holding citations joined into one text block
    whose cited parts carry numbered markers (`citations` numbers them)."""
    if not any(b.get("type") == "text" and b.get("citations") for b in blocks):
        return list(blocks)
    out: list[Block] = []
    run: list[Block] = []
    for block in [*blocks, {"type": "end"}]:
        if block.get("type") == "text":
            run.append(block)
            continue
        if run:
            out.append({"type": "text", "text": "".join(citations.marked(b) for b in run)})
            run = []
        if block.get("type") != "end":
            out.append(block)
    return out
