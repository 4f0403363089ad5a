"""The static bundle reuses blocks a live view rendered: cutting an answer into
independent pieces must never change its HTML."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from claude_magic.core.messages import Message
from claude_magic.core.render import (
    BlockSplitter,
    answer_html,
    independent_pieces,
    markdown_to_html,
    static_bundle,
)

PLAIN_LINES = [
    "Paragraph text with *emphasis* and `code`",
    "more words",
    "2024 was a year",
    "a | b",
    "- item",
    "* item",
    "+ item",
    "1. one",
    "2) two",
    "10. ten",
    "-",
    "---",
    "***",
    "- - -",
    "1.",
    "```",
    "```python",
    "``` a`b",
    "~~~",
    "~~~ x`y",
    "````",
    "```  ",
    "``",
    "`` `",
    "> quote",
    ">",
    "> - quoted item",
    "> ```",
    ">> deeper",
    "| a | b |",
    "|---|---|",
    "| 1 | 2 |",
    "--- | ---",
    "|:-|-:|",
    "# Heading",
    "Title",
    "===",
    "## H2 ##",
    "[link][ref]",
    "[a]",
    "<div>",
    "</div>",
    "<!-- c -->",
    "<script>x</script>",
    "trailing  ",
    "\u00a0",
    "text\\",
    "**bold",
    "bold**",
    "~~strike~~",
    "_under_",
    "<http://a.b>",
    "- [ ] task",
    "***bold italic***",
    "\\- escaped",
    "&amp; &copy;",
    "",
    "",
    "",
    " ",
    "\t",
    "  \t ",
]
TRICKY_LINES = [
    "  indented continuation",
    "    code",
    "\tcode",
    "   three spaces",
    " one space",
    "  ```",
    "   ~~~",
    "\t```",
    "    ```",
    "[ref]: http://x",
    "[b]: /u 'title'",
    "a\rb",
    "x\0y",
]

plain_docs = st.lists(st.sampled_from(PLAIN_LINES), min_size=1, max_size=30).map("\n".join)
any_docs = st.lists(st.sampled_from(PLAIN_LINES + TRICKY_LINES), min_size=1, max_size=30).map(
    "\n".join
)


def rendered_in_pieces(text: str) -> str | None:
    pieces = independent_pieces(text)
    return None if pieces is None else "".join(markdown_to_html(p) for p in pieces)


@settings(max_examples=1500, deadline=None)
@given(plain_docs)
def test_pieces_render_exactly_like_the_whole(text):
    pieces = independent_pieces(text)
    assert pieces is not None  # no indented line, reference or CR: always cut
    assert "".join(markdown_to_html(p) for p in pieces) == markdown_to_html(text)


@settings(max_examples=1500, deadline=None)
@given(any_docs)
def test_texts_outside_the_plain_shape_are_not_cut_wrongly(text):
    in_pieces = rendered_in_pieces(text)
    assert in_pieces is None or in_pieces == markdown_to_html(text)
    pieces = independent_pieces(text) or [text]
    assert answer_html(text, {p: markdown_to_html(p) for p in pieces}) == markdown_to_html(text)


def test_what_continues_past_a_blank_line_stays_in_one_piece():
    assert independent_pieces("- a\n\n- b\n\nAfter") == ["- a\n\n- b\n", "After"]
    assert independent_pieces("Intro\n\n- a\n- b") == ["Intro\n", "- a\n- b"]
    assert independent_pieces("```\ncode\n\nmore\n```\n\nText") == [
        "```\ncode\n\nmore\n```\n",
        "Text",
    ]
    assert independent_pieces("``` a`b\n\nText") == ["``` a`b\n", "Text"]  # not a fence
    assert independent_pieces("- a\n\n  continued") is None
    assert independent_pieces("[x]\n\n[x]: http://example.com") is None


def test_a_streamed_answer_is_reused_block_for_block():
    sections = []
    for i in range(40):
        sections.append(f"Paragraph {i} explains **step {i}** with `code_{i}` and more words.")
        if i % 3 == 1:
            sections.append("\n".join(f"- point {i}.{j}" for j in range(4)))
        if i % 5 == 2:
            sections.append(
                "```python\n" + "\n".join(f"v_{i}_{j} = f({j})" for j in range(12)) + "\n```"
            )
        if i % 7 == 3:
            sections.append(
                "| k | n |\n|---|--:|\n" + "\n".join(f"| k{j} | {j} |" for j in range(5))
            )
    text = "\n\n".join(sections) + "\n\nThe end."
    splitter = BlockSplitter()
    live = []
    for end in range(0, len(text) + 1, 7):  # a live view rendering as the text grows
        live += splitter.feed(text[:end])
    live += splitter.close()
    pieces = independent_pieces(text)
    assert pieces is not None and len(pieces) > 60
    assert (
        sum(p in live for p in pieces) >= len(pieces) - 2
    )  # the bundle renders next to nothing anew
    shown = {chunk: markdown_to_html(chunk) for chunk in live}
    assert answer_html(text, shown) == markdown_to_html(text)
    reply = Message(content=[{"type": "text", "text": text}])
    assert static_bundle([reply], rendered=shown) == static_bundle([reply])


def test_reused_html_is_what_the_bundle_shows():
    text = "First block.\n\nSecond block."
    stale = {"First block.\n": "<p>shown live</p>", "Second block.": "<p>also live</p>"}
    assert answer_html(text, stale) == "<p>shown live</p><p>also live</p>"
    assert answer_html(text, {}) == answer_html(text) == markdown_to_html(text)


def test_text_the_fast_parser_would_panic_on_is_rendered_without_it(capfd):
    """markdown-it-pyrs panics on half a link with a code span ("[`a"); Rust prints the
    panic to the process's stderr, which a kernel shows in the cell. Such text never
    reaches it."""
    from claude_magic.core.render import markdown_to_html
    from claude_magic.core.safe_markdown import may_panic

    for text in ["[`a", "`a` [b `c", "[``a`", "![`a", "see [`name", "[`a` and `b"]:
        assert may_panic(text), text
        assert markdown_to_html(text)
    for text in ["[`a`](http://x)", "[x] `b", "[a `b` c", "x `[` y", "plain"]:
        assert not may_panic(text), text
    assert "panicked" not in capfd.readouterr().err
