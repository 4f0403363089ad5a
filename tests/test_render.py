"""Markdown rendering, sanitising, block splitting and the static bundle."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import pytest

from claude_magic.core.messages import Message, Usage, split_tokens, text_block, tool_use_block
from claude_magic.core.render import (
    BlockSplitter,
    Notice,
    ToolOutcome,
    footer_text,
    markdown_to_html,
    static_bundle,
)


class TagCollector(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def named(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == name]


def assert_inert(html: str) -> None:
    tags = TagCollector(html)
    names = {tag for tag, _ in tags.tags}
    assert not names & {"script", "iframe", "object", "embed", "style", "form", "input"}
    for tag, attrs in tags.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("href", "src"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("javascript:", "vbscript:", "data:text")), (tag, attrs)
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/"), attrs  # nothing remote


def test_markdown_features_become_html():
    text = (
        "# Title\n\nSome **bold**, *em* and ~~gone~~ text.\n\n"
        "- one\n- two\n\n1. first\n2. second\n\n"
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "```python\nprint('<b>hi</b>')\n```\n"
    )
    html = markdown_to_html(text)
    tags = TagCollector(html)
    for name in ("h1", "strong", "em", "s", "ul", "ol", "li", "table", "th", "td", "pre", "code"):
        assert tags.named(name), name
    assert tags.named("code")[0]["class"] == "language-python"
    assert tags.named("th")[1]["style"] == "text-align:right"
    assert (
        "print(&#x27;&lt;b&gt;hi&lt;/b&gt;&#x27;)" in html
        or "print('&lt;b&gt;hi&lt;/b&gt;')" in html
    )


@pytest.mark.parametrize(
    ("source", "visible"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("[x](javascript:alert(1))", "javascript:alert(1)"),
        ('<iframe src="https://evil.example"></iframe>', "&lt;iframe"),
        ('<a href="javascript:alert(2)">z</a>', "&lt;a href="),
        ("[y](JaVaScRiPt:alert(3))", "alert(3)"),
        ("[d](data:text/html,<script>alert(4)</script>)", "alert(4)"),
        ("<svg onload=alert(5)>", "&lt;svg onload=alert(5)&gt;"),
        ('```js" onmouseover="alert(6)\nx\n```', "x"),
    ],
)
def test_hostile_markdown_stays_inert_text(source, visible):
    html = markdown_to_html(source)
    assert "<script" not in html
    assert_inert(html)
    assert visible in html  # shown as text, not dropped silently


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    '<a href="javascript:alert(2)">z</a>',
    "<svg onload=alert(5)>",
    '<div onclick="x">d</div>\n\nafter',
    '```js" onmouseover="alert(6)\nx\n```',
    '![a *cat*](https://img.example/c.png "t") ![x](javascript:alert(1))',
    '![q"uote](https://img.example/a"b.png) ![](https://img.example/e.png) ![r](/rel.png)',
    "<b>bold?</b> &lt;i&gt; &#x3C;script&#x3E; `<i>` <http://a.example> <javascript:alert(7)>",
]


@pytest.mark.parametrize(
    "source",
    [
        *HOSTILE,
        "1. a\n2. b\n\n5) c\n\n> quote\n\nline  \nbreak\\\nx\n\n***\n\nSetext\n===\n",
        "| a | b |\n|---|:-:|\n| <i>x</i> | ~~y~~ |\n\n[ref]\n\n[ref]: https://example.com 'T'\n",
        "```python\nprint('<b>')\n```\n\n    indented <code>\n\n# H1 {#id}\n",
    ],
)
def test_fast_renderer_writes_what_the_reference_renderer_writes(source):
    from claude_magic.core.render import _markdown, _renderer, sanitize

    assert _renderer() is not _markdown().render, (
        "markdown-it-pyrs is a dependency: it should be used"
    )
    fast = markdown_to_html(source)
    assert fast == sanitize(_markdown().render(source))
    assert_inert(fast)


def test_fast_renderer_matches_on_long_answers():
    from test_view import REPLY_SOURCE

    from claude_magic.core.render import _markdown, sanitize

    namespace: dict = {}
    exec(REPLY_SOURCE, namespace)
    # the reply ends inside a code fence; the one known difference is that
    # markdown-it-pyrs keeps a newline before `</code></pre>` when a fence is left open
    text = namespace["synthetic_reply"](5000) + "\n"
    assert markdown_to_html(text) == sanitize(_markdown().render(text))


def test_links_keep_only_web_and_mail_urls_and_images_are_not_loaded():
    html = markdown_to_html(
        "[ok](https://example.com/a?b=1) [mail](mailto:a@example.com) [rel](/files/secret) "
        "![a cat](https://img.example/cat.png) ![inline](data:image/png;base64,AAAA)"
    )
    links = TagCollector(html).named("a")
    hrefs = [a.get("href") for a in links]
    assert "https://example.com/a?b=1" in hrefs and "mailto:a@example.com" in hrefs
    assert "/files/secret" not in hrefs
    assert "https://img.example/cat.png" in hrefs  # the image became a plain link
    assert not TagCollector(html).named("img")
    assert "a cat" in html and "inline" in html
    assert all("noopener" in (a.get("rel") or "") for a in links)


def test_static_bundle_of_a_tool_loop_transcript():
    first = Message(
        content=[
            text_block("Let me look <script>x</script>."),
            tool_use_block("t1", "get_weather", {"city": "Paris"}),
        ]
    )
    outcome = ToolOutcome("t1", "18 °C <img src=x onerror=alert(1)>", image_png=b"\x89PNG\r\n")
    second = Message(content=[text_block("It is **18 °C** in Paris.")])
    footer = footer_text("end_turn", Usage(input_tokens=1200, output_tokens=56), 2.5, 0.0045)
    bundle = static_bundle(
        [Notice("history rewound"), first, outcome, second],
        model="Claude Sonnet 4.5",
        chat="default",
        footer=footer,
        images=[(b"\x89PNG thumb", "cell [3]", 1200)],
    )
    assert set(bundle) == {"text/html", "text/markdown", "text/plain"}
    html = bundle["text/html"]
    assert_inert(html)
    assert "<script" not in html
    tags = TagCollector(html)
    assert len(tags.named("details")) == 2  # the call and its result
    assert all(
        c.startswith("claude-magic")
        for _, a in tags.tags
        for c in (a.get("class") or "claude-magic").split()
        if not c.startswith("language-")
    )
    assert len(tags.named("img")) == 2  # the thumbnail and the tool image, both embedded
    positions = [
        html.index(s)
        for s in (
            "history rewound",
            "Let me look",
            "get_weather",
            "18 °C &lt;img",
            "<strong>18 °C</strong>",
            footer,
        )
    ]
    assert positions == sorted(positions)
    assert "Claude Sonnet 4.5" in html and "chat default" in html
    assert "It is **18 °C** in Paris." in bundle["text/markdown"]
    plain = bundle["text/plain"]
    assert plain.startswith("Claude Sonnet 4.5 · chat default")
    assert "[tool] get_weather" in plain and plain.rstrip().endswith(footer)


def test_static_bundle_markdown_is_the_answer_and_error_is_shown():
    answer = "Hello *there*.\n\n```\ncode\n```"
    bundle = static_bundle([Message(content=[text_block(answer)])], error="The stream broke <b>")
    assert bundle["text/markdown"].startswith(answer)
    assert "The stream broke &lt;b&gt;" in bundle["text/html"]


def test_tool_outcome_from_a_tool_result_block():
    png = base64.b64encode(b"\x89PNG small").decode()
    big = base64.b64encode(b"\0" * 400_000).decode()
    block = {
        "type": "tool_result",
        "tool_use_id": "t9",
        "is_error": True,
        "content": [
            {"type": "text", "text": "first"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": big}},
            {"type": "text", "text": "second"},
        ],
    }
    outcome = ToolOutcome.from_block(block)
    assert (outcome.tool_use_id, outcome.is_error, outcome.image_png) == (
        "t9",
        True,
        b"\x89PNG small",
    )
    assert outcome.summary == "first\n[image/png, 400,000 bytes]\nsecond"
    assert ToolOutcome.from_block({"tool_use_id": "t", "content": "plain"}).summary == "plain"


def test_footer_text():
    text = footer_text("max_tokens", Usage(1234, 56, 0, 1000), 3.21, 0.01234)
    assert (
        text == "cut off at max_tokens · 2,234 in (1,000 cached) / 56 out tokens · 3.2 s · $0.0123"
    )
    # the input is one figure: a caching prefix does not make it "0 in"
    text = footer_text("end_turn", Usage(0, 9, 345, 12_000))
    assert text == "end_turn · 12,345 in (12,000 cached, 345 written to cache) / 9 out tokens"
    assert footer_text(None, None) == ""


def sample_markdown(paragraphs: int) -> str:
    parts = []
    for i in range(paragraphs):
        parts.append(f"Paragraph {i} says something about item {i}, with `code` and **bold**.\n")
        if i % 3 == 0:
            parts.append("- a\n- b\n  continued\n\n    nested code\n")
        if i % 4 == 0:
            parts.append("```python\n" + "".join(f"x_{j} = {j}\n" for j in range(60)) + "```\n")
        if i % 5 == 0:
            parts.append(
                "| n | sq |\n|---|---|\n" + "".join(f"| {j} | {j * j} |\n" for j in range(80))
            )
    return "\n".join(parts)


def test_block_splitter_pieces_render_like_the_whole_and_stay_bounded():
    text = sample_markdown(12) + "\nLast words"
    splitter = BlockSplitter(max_chars=400)
    blocks, longest_pending = [], 0
    for token_end in range(0, len(text) + 1, 3):
        blocks += splitter.feed(text[:token_end])
        longest_pending = max(longest_pending, len(splitter.pending))
    blocks += splitter.feed(text)
    blocks += splitter.close()
    assert longest_pending < 2 * 400 + 100  # the live tail stays bounded
    pieces = "".join(markdown_to_html(b) for b in blocks)
    whole = markdown_to_html(text)
    # every code line and table row of the whole appears in the pieces, in order
    for marker in (
        "x_0 = 0",
        "x_59 = 59",
        "<td>79</td>",
        "Paragraph 11",
        "Last words",
        "nested code",
    ):
        assert marker in whole and marker in pieces
    assert pieces.count("<table>") > whole.count("<table>")  # long tables were cut...
    assert pieces.count("<th>sq</th>") == pieces.count("<table>")  # ...and keep their head
    assert "```" not in pieces  # every piece of a fence renders as code


def test_block_splitter_loses_nothing_for_token_streams():
    text = sample_markdown(6)
    splitter = BlockSplitter(max_chars=300)
    so_far, blocks = "", []
    for token in split_tokens(text):
        so_far += token
        blocks += splitter.feed(so_far)
    blocks += splitter.close()
    stripped = (
        "".join(blocks)
        .replace("```python\n", "")
        .replace("```\n", "")
        .replace("| n | sq |\n|---|---|\n", "")
    )
    assert (
        stripped.split()
        == text.replace("```python\n", "")
        .replace("```\n", "")
        .replace("| n | sq |\n|---|---|\n", "")
        .split()
    )
