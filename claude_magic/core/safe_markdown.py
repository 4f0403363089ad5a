"""Untrusted Markdown as Markdown that no renderer turns into HTML or script.

The text is parsed as the live view parses it (CommonMark with tables and strikethrough,
raw HTML off), with markdown-it-pyrs, which maps each node to its source, and written
back from that source, changing only what another renderer could take for markup where
the parser saw none: outside code, `<` becomes `&lt;`, brackets become character
references and `$` is escaped; links and images keep only http, https and mailto
destinations (images become links, as in the live view); code becomes backtick fences
and spans long enough to hold it, or an HTML `<code>` element of character references
where its text would be markup out of a code span (renderers that take spans apart for
math or bare URLs then expose nothing). The result is parsed again and checked; if
anything is off (or the parser is missing or fails), every punctuation mark is escaped
instead.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

SAFE_HREF = re.compile(r"^\s*(https?://|mailto:)", re.IGNORECASE)
# CommonMark without raw HTML (its text is escaped), plus tables and strikethrough
MARKDOWN_RULES: list[Any] = [  # the parser's rule names (a Literal type there)
    "blockquote",
    "code",
    "fence",
    "heading",
    "hr",
    "lheading",
    "list",
    "paragraph",
    "reference",
    "autolink",
    "backticks",
    "emphasis",
    "entity",
    "escape",
    "image",
    "link",
    "newline",
    "table",
    "strikethrough",
]
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_BACKTICKS = re.compile(r"`+")
_INFO = re.compile(r"[\w+#.-]{1,40}")
_CODE_BLOCKS = ("fence", "code_block")
# outside code: no HTML; brackets as character references (some renderers close a link
# at an escaped `\\]`), so that no renderer finds a link the parser did not; and no `$`
# (Jupyter's renderers take math first, and math can swallow the start of a fence)
_ESCAPES = {"<": "&lt;", "[": "&#91;", "]": "&#93;", "$": "\\$", "`": "&#96;"}


def safe_markdown(text: str) -> str:
    """`text` with everything that could become HTML, script or a link elsewhere made inert."""
    tree = _parse(text)
    if tree is None:
        return escape_markdown(text)
    try:
        written = _Writer(text.encode("utf-8")).document(tree)
    except _Unmapped:  # a node's place in the source is off: escape everything instead
        return escape_markdown(text)
    return written if _inert(written) else escape_markdown(text)


def escape_markdown(text: str) -> str:
    """Text every Markdown renderer shows as it is: punctuation escaped; `<` and brackets as
    character references (mistune, which nbconvert uses, still closes a link at `\\]`)."""
    return "".join(_ENTITIES.get(c) or ("\\" + c if c in _PUNCTUATION else c) for c in text)


_ENTITIES = {"<": "&lt;", "[": "&#91;", "]": "&#93;"}


def code_span(
    content: str, *, in_table: bool = False, in_link: bool = False, ticks: int = 1
) -> str:
    """`content` as one inline code span, whatever backticks it holds. Code that would be
    markup out of a code span (`<`, a link's `](` or `]:`; in link text, any bracket) is
    written as an HTML `<code>` element with every punctuation mark a character
    reference: renderers that take code spans apart (for math, bare URLs, links) find
    no markup in it."""
    content = content.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    if (
        "<" in content
        or "](" in content
        or "]:" in content
        or (in_link and ("[" in content or "]" in content))
    ):
        return (
            "<code>"
            + "".join(f"&#{ord(c)};" if c in _PUNCTUATION else c for c in content)
            + "</code>"
        )
    if in_table:
        content = content.replace("|", "\\|")
    if not content:
        return "` `"
    marker = "`" * max(ticks, _longest_run(content) + 1)
    pad = (
        " "
        if "`" in (content[0], content[-1])
        or (content[0] == content[-1] == " " and content.strip())
        else ""
    )
    return f"{marker}{pad}{content}{pad}{marker}"


def code_fence(content: str, info: str = "", prefix: str = "", closed: bool = True) -> str:
    """`content` as a backtick fence longer than any backtick run in it; `prefix` starts
    each line after the first (the containers' markers), `info` is kept if it is a plain
    language name."""
    fence = "`" * max(3, _longest_run(content) + 1)
    words = info.split()
    language = words[0] if words and _INFO.fullmatch(words[0]) else ""
    lines = content.split("\n")
    if lines[-1] == "":
        lines.pop()
    body = "".join(f"\n{prefix}{line}" for line in lines)
    return fence + language + body + (f"\n{prefix}{fence}" if closed else "")


def _longest_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


@lru_cache(maxsize=1)
def _parser() -> Any:
    try:
        from markdown_it_pyrs import MarkdownIt
    except ImportError:
        return None
    return MarkdownIt("zero").enable_many(MARKDOWN_RULES)


_BACKTICKS = re.compile(r"`+")


def may_panic(text: str) -> bool:
    """Whether markdown-it-pyrs may panic on `text`: a backtick run that no later run of
    the same length closes, after a `[` that no `]` closes, outside code spans ("[`a",
    half a streamed link). A panic is caught, but Rust prints it to the process's stderr
    first, which a kernel shows in the cell: such text goes to the Python parser instead."""
    if "[" not in text or "`" not in text:
        return False
    outside: list[str] = []  # the text outside closed code spans, up to the open run
    position, opening = 0, None
    for run in _BACKTICKS.finditer(text):
        if opening is None:
            opening = run
        elif len(run.group()) == len(opening.group()):
            outside.append(text[position : opening.start()])
            position, opening = run.end(), None
    if opening is None:
        return False
    before = "".join(outside) + text[position : opening.start()]
    return "[" in before[before.rfind("]") + 1 :]


def parser_panicked(exc: BaseException) -> bool:
    """Whether `exc` is markdown-it-pyrs failing inside (a Rust panic, e.g. on "[`a")."""
    return type(exc).__name__ == "PanicException"


def _parse(text: str) -> Any:
    parser = _parser()
    if parser is None or may_panic(text):
        return None
    try:
        tree = parser.tree(text)
    except BaseException as exc:
        if not parser_panicked(exc):
            raise
        return None
    return tree if all(node.srcmap is not None for node in tree.walk()) else None


def _inert(markdown: str) -> bool:
    """Whether `markdown`, parsed again, has `<` only in code (or `code_span`'s own tags)
    and links only to safe places."""
    tree = _parse(markdown)
    if tree is None:
        return False
    source = markdown.encode("utf-8")
    code: list[tuple[int, int]] = []
    for node in tree.walk():
        if node.name in ("code_inline", *_CODE_BLOCKS):
            code.append(node.srcmap)
        elif node.name in ("link", "image", "autolink") and not SAFE_HREF.match(
            node.meta.get("url", "")
        ):
            return False
    position = source.find(b"<")
    while position >= 0:
        if not (
            any(start <= position < end for start, end in code)
            or source.startswith((b"<code>", b"</code>"), position)
        ):
            return False
        position = source.find(b"<", position + 1)
    return True


class _Unmapped(Exception):
    """A node's source map doesn't fit the source."""


def _escape(text: str) -> str:
    """Text, or the markup between nodes (which holds none of these), with `_ESCAPES`."""
    return "".join(_ESCAPES.get(char, char) for char in text)


def _continuation(line: str) -> str:
    """The start of the next lines inside the containers that `line` opened: their `>`
    markers, each with the one space it may take, and the rest as spaces."""
    expanded = ""
    for char in line:
        expanded += " " * (4 - len(expanded) % 4) if char == "\t" else char
    out = ""
    for index, char in enumerate(expanded):
        out += ">" if char == ">" else " "
        if char == ">" and expanded[index + 1 : index + 2] != " ":
            out += " "
    return out


def _url(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


class _Writer:
    """Writes a parsed text back from its source (UTF-8 byte offsets)."""

    def __init__(self, source: bytes) -> None:
        self.source = source
        self.out: list[str] = []
        self.in_table = False
        self.in_link = False

    def document(self, root: Any) -> str:
        self._children(root, 0, len(self.source))
        return "".join(self.out)

    def _slice(self, start: int, end: int) -> str:
        return self.source[start:end].decode("utf-8", "replace")

    def _node(self, node: Any, start: int, end: int) -> None:
        kind = node.name
        if kind in _CODE_BLOCKS:
            self._code_block(node, start, end)
        elif kind == "code_inline":
            content = "".join(child.meta.get("content", "") for child in node.children)
            self.out.append(
                code_span(
                    content,
                    in_table=self.in_table,
                    in_link=self.in_link,
                    ticks=int(node.meta.get("marker_len", 1)),
                )
            )
        elif kind in ("link", "image", "autolink"):
            self._link(node, start, end)
        elif kind == "definition":
            pass  # the links that use it are written with their destination
        elif kind == "text":
            self.out.append(_escape(node.meta.get("content", "")))
        elif kind == "text_special" and node.meta.get("info") == "escape":
            escaped = node.meta.get("content", "")
            self.out.append(_ESCAPES.get(escaped) or self._slice(start, end))
        elif node.children:
            table, self.in_table = self.in_table, self.in_table or kind == "table"
            self._children(node, start, end)
            self.in_table = table
        else:  # breaks, rules, entities
            self.out.append(_escape(self._slice(start, end)))

    def _children(self, node: Any, start: int, end: int, between_only: bool = False) -> None:
        """The node's children, with the source between them (its markup) as it is, but
        for `_escape`; `between_only`: not the markup before the first and after the
        last (a link's, which is written anew)."""
        position = start
        for index, child in enumerate(node.children):
            child_start, child_end = self._span(child, position)
            if not child_end <= end:
                raise _Unmapped(child.name)
            if index or not between_only:
                self.out.append(_escape(self._slice(position, child_start)))
            self._node(child, child_start, child_end)
            position = child_end
        if not between_only:
            self.out.append(_escape(self._slice(position, end)))

    def _span(self, node: Any, position: int) -> tuple[int, int]:
        """Where a node is in the source, from `position` on. The maps are trusted only
        as far as they fit: a node that seems to start before its predecessor ended
        starts where it ended, and a text node ends where its text does (its map may
        reach over the spaces before a line break)."""
        start, end = node.srcmap
        start = max(start, position)
        if node.name == "text":
            content = str(node.meta.get("content", "")).encode("utf-8")
            if not self.source.startswith(content, start):
                raise _Unmapped("text")
            end = start + len(content)
        if end < start:
            raise _Unmapped(node.name)
        return start, end

    def _link(self, node: Any, start: int, end: int) -> None:
        url = str(node.meta.get("url", ""))
        safe = SAFE_HREF.match(url) is not None and not self.in_link
        if node.name == "autolink":
            text = _escape("".join(child.meta.get("content", "") for child in node.children))
            self.out.append(f"[{text}]({_url(url)})" if safe else text)
            return
        image = node.name == "image"
        if image:
            self.out.append("🖼 " if node.children else "🖼")
        if safe:
            self.out.append("[")
        link, self.in_link = self.in_link, True
        self._children(node, start, end, between_only=True)
        self.in_link = link
        if safe:
            self.out.append(f"]({_url(url)})")

    def _code_block(self, node: Any, start: int, end: int) -> None:
        line = self._current_line()
        if node.name == "code_block":  # indented: the indentation becomes the fence
            line = self._drop_indent(line)
        prefix = _continuation(line)
        original = self._slice(start, end)
        closed = node.name == "code_block" or self._closes(original, node)
        self.out.append(
            code_fence(node.meta.get("content", ""), str(node.meta.get("info", "")), prefix, closed)
        )

    def _current_line(self) -> str:
        """What was written on the current line so far (the containers' markers)."""
        parts: list[str] = []
        for piece in reversed(self.out):
            cut = piece.rfind("\n")
            parts.append(piece[cut + 1 :])
            if cut >= 0:
                break
        return "".join(reversed(parts))

    def _drop_indent(self, line: str) -> str:
        """Take the four columns of an indented code block off the current line."""
        cut = 4 if line.endswith("    ") else 1 if line.endswith("\t") else 0
        self._trim_output(cut)
        return line[: len(line) - cut]

    def _trim_output(self, count: int) -> None:
        while count and self.out:
            last = self.out.pop()
            if len(last) > count:
                self.out.append(last[:-count])
                return
            count -= len(last)

    @staticmethod
    def _closes(original: str, node: Any) -> bool:
        """Whether a fence's source ends with its closing fence (a cut-off answer's may not)."""
        lines = original.split("\n")
        last = lines[-1].lstrip("> \t").strip()
        marker = str(node.meta.get("marker", "`"))
        return (
            len(lines) > 1
            and len(last) >= int(node.meta.get("marker_len", 3))
            and set(last) == {marker}
        )
