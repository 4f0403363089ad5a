"""`{name}` substitution in a cell body: only bound identifiers, everything else as typed."""

from __future__ import annotations

import pytest
from magic_helpers import last_body

from claude_magic.core.prompt import MAX_VALUE_CHARS, substitute_names

NAMESPACE = {
    "topic": "sorting",
    "city": "Lisbon",
    "a": 1,
    "x": 2,
    "n": 3,
    "i": 4,
    "name": "Ann",
    "value": "V",
    "HOME": "/home/u",
    "title": "T",
    "item": "I",
    "año": "2024",
}

KEPT_AS_TYPED = [  # real snippets whose braces are syntax: nothing in them changes
    ("python dict", "d = {'a': {1: 2}}"),
    ("python nested dict", "cfg = {'x': {'y': {'z': [1, 2]}}}"),
    ("python set of names", "{a, x}"),
    ("f-string doubled braces", 'f"{{x}} is literal, {{{x}}} is not"'),
    ("f-string expression", 'f"{x!r:>10} {x + 1} {name.upper()}"'),
    ("str.format doubled", '"{{}} {0} {{name}}".format(1)'),
    ("json", '{"name": "Ann", "tags": {"a": 1}, "empty": {}}'),
    ("json one line end", '{"a": {"b": {"c": 1}}}'),
    ("latex frac", r"$\frac{a}{x}$ and $\sqrt[n]{x}$"),
    ("latex sub/superscript", r"$x_{i}^{n}$ and $\sum_{i=1}^{n} x_i$"),
    ("latex math spans", "$${a} + {x}$$ and \\({n}\\) and \\[ {i} \\] and ${x}$"),
    ("latex environment", "\\begin{equation}\n  E = mc^2\n\\end{equation}"),
    ("latex command arg", r"\textbf{name} \section*{title} \mathbf{x}"),
    ("jinja", "Hello {{ name }}! {{name}} {% for item in items %}{{ item }}{% endfor %}"),
    ("jinja dict", "{{ {'a': 1} | tojson }}"),
    ("c struct", "struct point { int x; int y; };\nint main(void) { return 0; }"),
    ("c one-liner", "if (a) {x++;} else {n--;}"),
    ("c initialiser", "int m[2][2] = {{1, 2}, {3, 4}};"),
    ("shell template", 'echo "${HOME}/${name}"'),
    ("js template", "const s = `${value}!`;"),
    ("format index", "'{0} {1}'.format(a, x)"),
    ("unknown name", "{unknown} {undefined_thing}"),
    ("attribute and call", "{city.upper()} {city[0]} {city!r}"),
    ("lone braces", "{ } {} { city } {{ }} }} {{"),
    ("inline code", "Use `{city}` or ``{topic} `x` `` literally."),
    ("fenced code", "```python\nprint(f'{city}')\nd = {topic}\n```"),
    ("tilde fence", "~~~\n{city}\n~~~"),
    ("unclosed fence", "```\n{city}\nstill code {topic}"),
]


@pytest.mark.parametrize("text", [t for _, t in KEPT_AS_TYPED], ids=[k for k, _ in KEPT_AS_TYPED])
def test_code_and_markup_are_kept_as_typed(text):
    assert substitute_names(text, NAMESPACE) == text


SUBSTITUTED = [
    ("prose", "Tell me about {topic}.", "Tell me about sorting."),
    ("several", "{city}, {topic}, {city}", "Lisbon, sorting, Lisbon"),
    ("unicode identifier", "Year {año}", "Year 2024"),
    (
        "the issue's cell",
        "Tell me about {topic}. Code: d = {'a': {1: 2}}",
        "Tell me about sorting. Code: d = {'a': {1: 2}}",
    ),
    ("prose around inline code", "In {city}, `{city}` stays.", "In Lisbon, `{city}` stays."),
    (
        "prose around a fence",
        "About {topic}:\n```\n{topic}\n```\nin {city}",
        "About sorting:\n```\n{topic}\n```\nin Lisbon",
    ),
    ("lone backtick is plain text", "a ` b {city}", "a ` b Lisbon"),
    ("non-string value", "{a} + {x}", "1 + 2"),
    ("file name template", "Load data_{n}.csv", "Load data_3.csv"),
    ("dollar amounts are no math", "It costs $5 for {item} or $6.", "It costs $5 for I or $6."),
    ("escaped dollars", r"\$5 for {item} \$", r"\$5 for I \$"),
    ("a bound name in unfenced code", "const o = {value};", "const o = V;"),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in SUBSTITUTED], ids=[k for k, _, _ in SUBSTITUTED]
)
def test_bound_identifiers_are_substituted(text, expected):
    assert substitute_names(text, NAMESPACE) == expected


def test_long_values_are_truncated():
    text = substitute_names("{big}", {"big": "z" * (MAX_VALUE_CHARS + 5)})
    assert text.startswith("z" * MAX_VALUE_CHARS)
    assert text.endswith(f"[big truncated at {MAX_VALUE_CHARS} characters]")


def test_a_claude_cell_sends_pasted_code_as_typed(shell, emulator):
    shell.run("topic = 'dict merging'\nx = 99")
    body = (
        "Tell me about {topic}. Code: d = {'a': {1: 2}}\n"
        'f"{{x}}" and `{x}` and $x_{i}$ and {"k": {"v": 1}}\n'
        "```c\nint m[2] = {x};\n```"
    )
    run = shell.ask("", body)
    assert run.success, run.stderr
    sent = last_body(emulator)["messages"][-1]["content"][-1]["text"]
    assert sent == body.replace("{topic}", "dict merging", 1)
