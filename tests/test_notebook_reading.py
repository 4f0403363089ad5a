"""An agent cell's reading tools on a real IPython shell: the cells run so far by execution
count (as --above sends them), the namespace's variables in one line each (modules,
functions, classes and IPython's own left out), one variable described as --var does."""

from __future__ import annotations

import pytest

from claude_magic.notebook.notebook_reading import inspect_variable, list_variables, read_cells
from claude_magic.notebook.session import session_of

pd = pytest.importorskip("pandas")


@pytest.fixture
def session(shell):
    return session_of(shell.ip)


def _run(shell, source: str) -> int:
    """Run a cell; its execution count."""
    before = shell.ip.execution_count
    shell.run(source)
    return before


def test_list_variables_summarises_data_and_leaves_code_out(shell):
    _run(
        shell,
        "import numpy as np, pandas as pd, os\n"
        "from collections import OrderedDict\n"
        "df = pd.DataFrame({'city': ['a', 'b', 'c'], 'people': [1, 2, 3]})\n"
        "series = df['people']\n"
        "grid = np.zeros((3, 4), dtype='float32')\n"
        "names = ['x', 'y', 'z']\n"
        "count = 42\n"
        "title = 'Population ' * 20\n"
        "def helper(): pass\n"
        "class Model: pass\n"
        "_private = 1\n"
        "ratio = np.float64(0.5)\n"
        "nothing = None\n",
    )
    text = list_variables(shell.ip)
    lines = dict(line.split(": ", 1) for line in text.splitlines())
    assert lines["df"] == "DataFrame — shape (3, 2), columns: city, people"
    assert lines["series"] == "Series — length 3, dtype int64"
    assert lines["grid"] == "ndarray — shape (3, 4), dtype float32"
    assert lines["names"] == "list — len 3: ['x', 'y', 'z']"
    assert lines["count"] == "int — 42"
    assert lines["title"].startswith("str — 'Population Population") and len(lines["title"]) < 100
    assert lines["ratio"].startswith("float64 — ") and lines["ratio"].endswith("0.5)") != lines[
        "ratio"
    ].endswith(" 0.5")
    assert lines["nothing"] == "NoneType — None"
    for left_out in (
        "np",
        "pd",
        "os",
        "OrderedDict",
        "helper",
        "Model",
        "_private",
        "In",
        "Out",
        "exit",
        "quit",
        "get_ipython",
        "_i1",
        "_ih",
    ):
        assert left_out not in lines, left_out
    assert list(lines)[:3] == ["df", "series", "grid"]  # the order they were defined in


def test_list_variables_when_there_are_none_and_when_there_are_many(shell):
    assert list_variables(shell.ip) == "No variables are defined in the notebook yet."
    shell.ip.user_ns.update({f"v{i}": i for i in range(12)})
    text = list_variables(shell.ip, limit=10)
    assert text.splitlines()[-1] == "[... 2 more variables not listed]"
    assert len(text.splitlines()) == 11


def test_list_variables_survives_values_that_cannot_describe_themselves(shell):
    _run(
        shell,
        "class Broken:\n    def __len__(self): raise RuntimeError('no')\n"
        "    def __repr__(self): raise RuntimeError('no')\nbroken = Broken()\n",
    )
    assert "broken: Broken — (no summary: RuntimeError)" in list_variables(shell.ip)


def test_inspect_variable_describes_as_var_does(shell):
    _run(
        shell,
        "import pandas as pd\ndf = pd.DataFrame({'a': range(100), 'b': ['x'] * 100})\n"
        "class Box: pass\nbox = Box()\nbox.inner = [1, 2, 3]\n",
    )
    text = inspect_variable(shell.ip, "df")
    assert text.startswith("Variable `df` (pandas.") and text.split("\n")[0].endswith("DataFrame):")
    assert "shape: (100, 2)" in text and "head(5)" in text and "describe()" in text
    assert "99" in text and text.count("\n") < 60  # described, not dumped
    assert inspect_variable(shell.ip, "box.inner").startswith("Variable `box.inner` (list):\nlen 3")
    assert inspect_variable(shell.ip, "missing") == (
        "No variable named 'missing' in the notebook (list_variables shows what there is)."
    )
    assert inspect_variable(shell.ip, "box.nope") == "box has no attribute path 'nope'."
    assert inspect_variable(shell.ip, "df['a']").startswith("\"df['a']\" is not a variable name")
    assert len(inspect_variable(shell.ip, "df", max_chars=300)) < 600


def test_read_cells_by_execution_count_as_above_builds_them(shell, session):
    first = _run(shell, "a = 1\nprint('one')")
    _run(shell, "%claude models")  # the magic's own command: left out
    second = _run(shell, "b = a + 1\nb")
    third = _run(shell, "raise ValueError('bad value')")
    text = read_cells(session)
    assert f"Cell [{first}]:\n```python\na = 1\nprint('one')\n```" in text
    assert f"Output of cell [{first}]:\n```\none\n```" in text
    assert f"Out[{second}]: 2" in text and "ValueError: bad value" in text
    assert "%claude models" not in text
    assert (
        text.index(f"Cell [{first}]")
        < text.index(f"Cell [{second}]")
        < text.index(f"Cell [{third}]")
    )

    only = read_cells(session, second, second)
    assert (
        f"Cell [{second}]" in only
        and f"Cell [{first}]" not in only
        and f"Cell [{third}]" not in only
    )
    assert f"Cell [{first}]" not in read_cells(session, start=second)
    assert f"Cell [{third}]" not in read_cells(session, end=second)
    assert f"Cell [{third}]" not in read_cells(session, current=third)
    assert read_cells(session, third + 5) == (
        f"No cells from [{third + 5}] on recorded. Only cells run since claude_magic was loaded are "
        "kept; cells with %%claude are not cells of code."
    )
    assert read_cells(session, 5, 2) == "start (5) is after end (2): give start <= end."


def test_read_cells_leaves_out_what_does_not_fit_and_says_how_to_read_it(shell, session):
    numbers = [_run(shell, f"print('{i}' * 3000)") for i in range(12)]
    newest = read_cells(session, max_chars=4000)
    assert len(newest) < 26_000
    assert (
        newest.startswith("[") and "older cell(s) not shown: read them with start and end" in newest
    )
    assert f"Cell [{numbers[-1]}]" in newest and f"Cell [{numbers[0]}]\n" not in newest
    oldest = read_cells(session, start=numbers[0], max_chars=4000)
    assert f"Cell [{numbers[0]}]" in oldest and f"Cell [{numbers[-1]}]" not in oldest
    assert "later cell(s) not shown: read them with start=" in oldest


def test_read_cells_mentions_images_it_does_not_include(shell, session):
    number = _run(
        shell,
        "from IPython.display import Image, display\n"
        "from helpers import png\ndisplay(Image(png()))",
    )
    assert f"(cell [{number}] also showed 1 image, not included here)" in read_cells(
        session, number, number
    )
