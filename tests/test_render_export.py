"""Model output that tries to become HTML or script, through `%claude export` and the
answer's `text/markdown`, rendered by real nbconvert: nothing active survives."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_notebook, new_output

from claude_magic.core.conversation import Conversation, Turn
from claude_magic.core.messages import Message, text_block, tool_result_block, tool_use_block
from claude_magic.core.render import ToolOutcome, markdown_to_html, static_bundle
from claude_magic.core.safe_markdown import escape_markdown, safe_markdown
from claude_magic.notebook.export import export_notebook

VECTORS = {
    "info-string backtick": "```py`x\n<script>alert('fence')</script>\n```",
    "code span over a blank line": "`a\n\n<script>alert('span')</script>\n\nb`",
    "javascript link": "[click](javascript:alert('link'))",
    "javascript image": "![pic](javascript:alert('image'))",
    "raw script": "<script>alert('raw')</script>",
    "img onerror": "<img src=x onerror=alert('img')>",
    "iframe": '<iframe src="https://evil.example/frame"></iframe>',
    "data link": "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgnZGF0YScpPC9zY3JpcHQ+)",
    "entity link": "[ent](jav&#x61;script:alert('entity'))",
    "autolink": "<javascript:alert('auto')> <https://ok.example/a\"onmouseover=\"alert('q')>",
    "reference link": "[ref][r]\n\n[r]: javascript:alert('reference')",
    "indented in a list": "- item\n\n      <script>alert('indented')</script>",
    "quoted fence": "> ```\n> <script>alert('quoted')</script>\n> ```",
}
TOOL_NAME = "look` <img src=x onerror=alert('name')> `up"
RAW = ("<script", "<img src=x", "<iframe", "<javascript")  # the model's own tags, unescaped
ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "del",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "img",
    "li",
    "main",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}


class _Tags(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def assert_inert(html: str) -> None:
    """The rendered cells hold no script, handler, frame or unsafe link."""
    cells = html[html.index("<main>") : html.index("</main>")]
    for raw in RAW:
        assert raw not in cells.lower(), cells[max(0, cells.lower().index(raw) - 300) :][:600]
    for tag, attrs in _Tags(cells).tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            target = "".join(value.split()).lower()
            assert not target.startswith(("javascript:", "vbscript:", "data:text")), (
                tag,
                name,
                value,
            )
            if name in ("href", "src"):
                assert target.startswith(("https:", "http:", "mailto:", "data:image/", "#")), (
                    tag,
                    value,
                )


def nbconvert_html(path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", "--stdout", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def hostile_conversation() -> Conversation:
    conversation = Conversation("hostile", system="Be safe. " + VECTORS["img onerror"])
    for number, vector in enumerate(VECTORS.values()):
        tool_id = f"toolu_{number}"
        turn = Turn([text_block(f"Show me {vector}")], model_id=f"model {VECTORS['raw script']}")
        turn.complete(
            [
                Message(
                    content=[
                        {
                            "type": "thinking",
                            "thinking": f"Thinking: {vector}",
                            "signature": "c2ln",
                        },
                        text_block(vector),
                        tool_use_block(tool_id, TOOL_NAME, {"q": vector}),
                    ]
                ),
                Message(role="user", content=[tool_result_block(tool_id, [text_block(vector)])]),
                Message(content=[text_block(f"Result: {vector}")]),
            ]
        )
        turn.error = f"It broke: {vector}"
        conversation.add(turn)
    return conversation


def test_exported_notebook_renders_inert_with_nbconvert(tmp_path):
    path = export_notebook(hostile_conversation(), tmp_path / "hostile.ipynb")
    html = nbconvert_html(path)
    assert_inert(html)
    assert html.count("Thinking:") == len(VECTORS) and html.count("Result:") == len(VECTORS)
    assert "<p>&lt;script&gt;alert('raw')&lt;/script&gt;</p>" in html  # shown as text
    assert "alert('link')" in html and "look` <img" not in html


def _bundle_notebook(tmp_path, bundle: dict[str, str]):
    cell = new_code_cell("%%claude\nanything")
    cell.outputs = [new_output("display_data", data={"text/markdown": bundle["text/markdown"]})]
    path = tmp_path / "answer.ipynb"
    nbformat.write(new_notebook(cells=[cell]), str(path))
    return path


@pytest.mark.parametrize("name", list(VECTORS))
def test_answer_markdown_renders_inert_with_nbconvert(tmp_path, name):
    vector = VECTORS[name]
    call = Message(
        content=[text_block(vector), tool_use_block("toolu_1", TOOL_NAME, {"q": vector})]
    )
    outcome = ToolOutcome("toolu_1", vector, is_error=True)
    bundle = static_bundle([call, outcome, Message(content=[text_block(vector)])], error=vector)
    html = nbconvert_html(_bundle_notebook(tmp_path, bundle))
    assert_inert(html)


PIECES = [
    *VECTORS.values(),
    "`",
    "``",
    "```",
    "~~~",
    "~~",
    "$",
    "$$\n",
    "\n",
    "\n\n",
    "    ",
    "\t",
    "- ",
    "1. ",
    "> ",
    "[",
    "]",
    "(",
    ")",
    "](",
    "]: ",
    "<",
    "&lt;",
    "\\",
    "*",
    "_",
    "|",
    "|---|\n",
    "text",
    "https://x.example",
    "[ok](https://ok.example)",
    "[`c`](https://ok.example)",
    "é",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=14))
def test_safe_markdown_is_inert_for_nbconvert_and_commonmark(pieces):
    from markdown_it import MarkdownIt
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    safe = safe_markdown("".join(pieces))
    for html in (
        markdown2html_mistune(safe),
        MarkdownIt("commonmark", {"html": True}).render(safe),
    ):
        assert_inert(f"<main>{html}</main>")


def test_safe_markdown_renders_as_the_original():
    answer = (
        "# Result\n\nThe **mean** is `df['x'].mean()`, see [the docs](https://pandas.pydata.org)."
        "\n\n"
        "- one\n- two\n  ```python\n  x = [1, 2]\n  ```\n\n| a | b |\n|---|:-:|\n| `1` | *2* |\n\n"
        "> quoted `code`\n\n    indented\n"
    )
    assert markdown_to_html(safe_markdown(answer)) == markdown_to_html(answer)
    assert safe_markdown("Hello *there*.\n\n```\ncode\n```") == "Hello *there*.\n\n```\ncode\n```"


def test_texts_the_fast_parser_fails_on_still_render():
    text = "See [`numpy.me\n\nnext"  # markdown-it-pyrs panics on a bracket before an open backtick
    assert markdown_to_html(text) == "<p>See [`numpy.me</p>\n<p>next</p>\n"
    assert safe_markdown(text) == escape_markdown(text)
