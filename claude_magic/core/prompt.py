"""Prompt text helpers: `{name}` substitution in a cell body, and code blocks in a reply.

Pure: no IPython imports.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)$")
_BACKTICKS = re.compile(r"`+")
# A placeholder is `{identifier}` with no brace doubled around it. What belongs to other syntax
# is matched first and kept: TeX math (`$...$`, `$$...$$`, `\(...\)`, `\[...\]`), LaTeX
# commands with their arguments (`\frac{a}{b}`) and `${name}` templates (shell, JavaScript).
_TOKEN = re.compile(
    r"\$\{[^{}\n]*\}"
    r"|\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)"
    r"|(?<!\\)\$(?=[^\s$])[^$\n]*?(?<=[^\s\\])\$(?!\d)"
    r"|\\[A-Za-z]+\*?(?:\[[^\]\n]*\])?(?:\{[^{}\n]*\})+"
    r"|(?<!\{)\{(?P<name>\w+)\}(?!\})",
    re.S,
)
MAX_VALUE_CHARS = 100_000


def _prose_and_code(text: str) -> Iterator[tuple[str, bool]]:
    """`text` in order as (piece, is_code): fenced code blocks and inline code spans are code."""
    prose: list[str] = []
    lines = iter(text.splitlines(keepends=True))
    for line in lines:
        opening = _FENCE.match(line.rstrip("\r\n"))
        if not opening or (opening.group("fence")[0] == "`" and "`" in opening.group("info")):
            prose.append(line)
            continue
        yield from _inline_code("".join(prose))
        prose = []
        fence, block = opening.group("fence"), [line]
        for inner in lines:  # an unclosed fence runs to the end of the text
            block.append(inner)
            closing = inner.strip()
            if (
                len(inner) - len(inner.lstrip(" ")) <= 3
                and closing.startswith(fence)
                and set(closing) == {fence[0]}
            ):
                break
        yield "".join(block), True
    yield from _inline_code("".join(prose))


def _inline_code(text: str) -> Iterator[tuple[str, bool]]:
    """Prose split at inline code spans: a run of n backticks up to the next run of exactly n."""
    start = pos = 0
    while True:
        opening = _BACKTICKS.search(text, pos)
        if opening is None:
            break
        width = len(opening.group())
        closing = next(
            (m for m in _BACKTICKS.finditer(text, opening.end()) if len(m.group()) == width), None
        )
        if closing is None:  # no matching run: these backticks are plain text
            pos = opening.end()
            continue
        if opening.start() > start:
            yield text[start : opening.start()], False
        yield text[opening.start() : closing.end()], True
        start = pos = closing.end()
    if start < len(text):
        yield text[start:], False


def substitute_names(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace `{name}` by `str(namespace[name])` where `name` is a bound identifier.

    Nothing is evaluated and every other character stays as typed: unknown names,
    expressions, doubled braces (`{{name}}`, `{{`, `}}`), TeX math and LaTeX commands'
    arguments, `${name}` templates, and anything inside fenced or inline code. A literal `{name}`
    for a bound name can be written as inline code.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name is None or not name.isidentifier() or name not in namespace:
            return match.group(0)
        value = str(namespace[name])
        if len(value) > MAX_VALUE_CHARS:
            value = (
                value[:MAX_VALUE_CHARS] + f"\n… [{name} truncated at {MAX_VALUE_CHARS} characters]"
            )
        return value

    return "".join(
        piece if code else _TOKEN.sub(replace, piece) for piece, code in _prose_and_code(text)
    )


def code_blocks(
    markdown: str, languages: tuple[str, ...] = ("", "python", "py", "python3", "ipython")
) -> list[str]:
    """The fenced code blocks of a Markdown text whose language is Python (or unnamed)."""
    blocks: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence = opening.group("fence")
        language = opening.group("info").strip().split(" ")[0].lower()
        body: list[str] = []
        i += 1
        while i < len(lines):
            closing = lines[i].strip()
            if closing.startswith(fence[0] * len(fence)) and set(closing) <= {fence[0]}:
                break
            body.append(lines[i])
            i += 1
        i += 1
        if language in languages:
            blocks.append("\n".join(body))
    return blocks
