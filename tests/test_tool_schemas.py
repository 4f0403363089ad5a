"""Tool schemas from Python functions: type hints, docstrings, names, and calling a
function back with a tool_use input."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Optional, TypedDict, Union

import pytest
from pydantic import BaseModel, Field

from claude_magic.tools import (
    Tool,
    ToolDefinitionError,
    ToolError,
    ToolSet,
    call_with_input,
    is_tool,
    tool,
    tool_choice_for,
    tool_schema,
)
from claude_magic.tools.docstrings import parse_docstring

# --------------------------------------------------------------------------- types used below


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Point:
    """A point on the plane.

    Attributes:
        x: Horizontal position.
        y: Vertical position.
    """

    x: float
    y: float = 0.0


@dataclasses.dataclass
class Tree:
    value: int
    children: list[Tree] = dataclasses.field(default_factory=list)


class Movie(TypedDict):
    title: str
    year: int


class PartialMovie(TypedDict, total=False):
    title: str


class Pair(NamedTuple):
    left: int
    right: str = "r"


class Address(BaseModel):
    street: str
    city: str = Field(description="City name")


class Person(BaseModel):
    """Someone."""

    name: str
    address: Address


def props(func, **kw) -> dict[str, Any]:
    return tool_schema(func, **kw)["input_schema"]["properties"]


def required(func) -> list[str]:
    return tool_schema(func)["input_schema"].get("required", [])


# --------------------------------------------------------------------------- the type table


def f_int(a: int): ...
def f_float(a: float): ...
def f_str(a: str): ...
def f_bool(a: bool): ...
def f_any(a: Any): ...
def f_untyped(a): ...
def f_bytes(a: bytes): ...
def f_list_int(a: list[int]): ...
def f_list_bare(a: list): ...
def f_sequence(a: Sequence[str]): ...
def f_set(a: set[int]): ...
def f_tuple_fixed(a: tuple[int, str]): ...
def f_tuple_var(a: tuple[float, ...]): ...
def f_dict_str_int(a: dict[str, int]): ...
def f_dict_bare(a: dict): ...
def f_mapping(a: Mapping[str, list[bool]]): ...
def f_literal(a: Literal["x", "y"]): ...
def f_literal_int(a: Literal[1, 2, 3]): ...
def f_enum(a: Color): ...
def f_int_enum(a: Level): ...
def f_union(a: int | str): ...
def f_union_typing(a: Union[int, str]): ...  # noqa: UP007
def f_nested(a: dict[str, list[tuple[int, int]]]): ...
def f_list_optional(a: list[int | None]): ...
def f_annotated(a: Annotated[int, "How many."]): ...
def f_annotated_schema(a: Annotated[int, {"minimum": 0, "maximum": 9}]): ...
def f_annotated_field(a: Annotated[str, Field(description="From pydantic.")]): ...
def f_date(a: date): ...
def f_path(a: Path): ...


TYPE_TABLE = [
    (f_int, {"type": "integer"}),
    (f_float, {"type": "number"}),
    (f_str, {"type": "string"}),
    (f_bool, {"type": "boolean"}),
    (f_any, {}),
    (f_untyped, {}),
    (f_bytes, {"type": "string", "format": "binary"}),
    (f_list_int, {"type": "array", "items": {"type": "integer"}}),
    (f_list_bare, {"type": "array"}),
    (f_sequence, {"type": "array", "items": {"type": "string"}}),
    (f_set, {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
    (
        f_tuple_fixed,
        {
            "type": "array",
            "prefixItems": [{"type": "integer"}, {"type": "string"}],
            "minItems": 2,
            "maxItems": 2,
        },
    ),
    (f_tuple_var, {"type": "array", "items": {"type": "number"}}),
    (f_dict_str_int, {"type": "object", "additionalProperties": {"type": "integer"}}),
    (f_dict_bare, {"type": "object"}),
    (
        f_mapping,
        {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "boolean"}}},
    ),
    (f_literal, {"type": "string", "enum": ["x", "y"]}),
    (f_literal_int, {"type": "integer", "enum": [1, 2, 3]}),
    (f_enum, {"type": "string", "enum": ["red", "green"]}),
    (f_int_enum, {"type": "integer", "enum": [1, 2]}),
    (f_union, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    (f_union_typing, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    (
        f_nested,
        {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "array",
                    "prefixItems": [{"type": "integer"}, {"type": "integer"}],
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
        },
    ),
    (
        f_list_optional,
        {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
    ),
    (f_annotated, {"type": "integer", "description": "How many."}),
    (f_annotated_schema, {"type": "integer", "minimum": 0, "maximum": 9}),
    (f_annotated_field, {"type": "string", "description": "From pydantic."}),
    (f_date, {"type": "string", "format": "date"}),
    (f_path, {"type": "string", "format": "path"}),
]


@pytest.mark.parametrize(("func", "expected"), TYPE_TABLE, ids=[f.__name__ for f, _ in TYPE_TABLE])
def test_type_hint_becomes_schema(func, expected):
    assert props(func) == {"a": expected}
    assert required(func) == ["a"]


def test_whole_definition_shape():
    def area(width: float, height: float = 1.0) -> float:
        """Area of a rectangle."""
        return width * height

    assert tool_schema(area) == {
        "name": "area",
        "description": "Area of a rectangle.",
        "input_schema": {
            "type": "object",
            "properties": {
                "width": {"type": "number"},
                "height": {"type": "number", "default": 1.0},
            },
            "required": ["width"],
        },
    }
    json.dumps(tool_schema(area))  # JSON all the way down


def test_optional_and_defaults_are_not_required():
    def f(
        a: int,
        b: int | None,
        c: Optional[str] = None,  # noqa: UP045 - the old spelling is what this checks
        d: int = 3,
        e: int | None = 5,
        f: Color = Color.GREEN,
        g: tuple[int, int] = (1, 2),
        h: object = object(),
    ): ...

    schema = tool_schema(f)["input_schema"]
    assert schema["required"] == ["a"]
    p = schema["properties"]
    assert p["b"] == {"type": "integer"}
    assert p["c"] == {"type": "string"}  # None default: not reported
    assert p["d"] == {"type": "integer", "default": 3}
    assert p["e"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": 5}
    assert p["f"]["default"] == "green"
    assert p["g"]["default"] == [1, 2]
    assert "default" not in p["h"]  # not JSON: left out


def test_args_and_kwargs_are_left_out():
    def f(a: int, *args: int, b: str = "x", **kwargs: Any): ...

    assert list(props(f)) == ["a", "b"]


def test_dataclass_schema_with_field_docs():
    def f(p: Point, points: list[Point] = ()): ...

    point = {
        "type": "object",
        "properties": {
            "x": {"type": "number", "description": "Horizontal position."},
            "y": {"type": "number", "description": "Vertical position.", "default": 0.0},
        },
        "required": ["x"],
        "description": "A point on the plane.",
    }
    assert props(f) == {"p": point, "points": {"type": "array", "items": point, "default": []}}


def test_recursive_dataclass_goes_to_defs():
    def f(tree: Tree): ...

    schema = tool_schema(f)["input_schema"]
    assert schema["properties"]["tree"] == {"$ref": "#/$defs/Tree"}
    assert schema["$defs"]["Tree"] == {
        "type": "object",
        "properties": {
            "value": {"type": "integer"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}},
        },
        "required": ["value"],
    }


def test_typeddict_and_namedtuple():
    def f(movie: Movie, partial: PartialMovie, pair: Pair): ...

    p = props(f)
    assert p["movie"] == {
        "type": "object",
        "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
        "required": ["title", "year"],
    }
    assert p["partial"] == {"type": "object", "properties": {"title": {"type": "string"}}}
    assert p["pair"] == {
        "type": "object",
        "properties": {"left": {"type": "integer"}, "right": {"type": "string", "default": "r"}},
        "required": ["left"],
    }


def test_pydantic_models_use_their_own_schema():
    def f(person: Person, extra: list[Address] | None = None): ...

    schema = tool_schema(f)["input_schema"]
    person = schema["properties"]["person"]
    assert person["description"] == "Someone."
    assert person["properties"]["address"] == {"$ref": "#/$defs/Address"}
    assert schema["$defs"]["Address"]["properties"]["city"]["description"] == "City name"
    assert schema["properties"]["extra"]["type"] == "array"
    assert schema["required"] == ["person"]


# --------------------------------------------------------------------------- docstrings


def google(city: str, days: int = 3) -> str:
    """Weather forecast for a city.

    Looks the city up first; this second paragraph is not the summary.

    Args:
        city (str): The city's name,
            as written locally.
        days: How many days ahead.

    Returns:
        The forecast.
    """


def numpy_style(city: str, days: int = 3) -> str:
    """Weather forecast for a city.

    Parameters
    ----------
    city : str
        The city's name,
        as written locally.
    days : int, optional
        How many days ahead.

    Returns
    -------
    str
    """


def rest_style(city: str, days: int = 3) -> str:
    """Weather forecast
    for a city.

    :param str city: The city's name,
        as written locally.
    :param days: How many days ahead.
    :returns: the forecast
    """


@pytest.mark.parametrize("func", [google, numpy_style, rest_style])
def test_docstring_styles(func):
    definition = tool_schema(func)
    assert definition["description"] in ("Weather forecast for a city.",)
    p = definition["input_schema"]["properties"]
    assert p["city"] == {"type": "string", "description": "The city's name, as written locally."}
    assert p["days"] == {"type": "integer", "description": "How many days ahead.", "default": 3}


def test_docstring_summary_stops_at_sections_and_blank_lines():
    assert parse_docstring("Short.\n:param x: y").summary == "Short."
    only_args = """
        Args:
            x: y
        """
    assert parse_docstring(only_args).summary == ""
    assert parse_docstring(only_args).params == {"x": "y"}
    assert parse_docstring(None).summary == ""
    assert parse_docstring("One\ntwo.\n\nThree.").summary == "One two."


def test_annotated_description_wins_over_docstring():
    def f(a: Annotated[int, "From Annotated."]):
        """F.

        Args:
            a: From the docstring.
        """

    assert props(f)["a"]["description"] == "From Annotated."


def test_no_docstring_means_no_description_key():
    def f(a: int): ...

    assert "description" not in tool_schema(f)
    assert tool_schema(f, description="Given.")["description"] == "Given."


# --------------------------------------------------------------------------- names and @tool


@pytest.mark.parametrize("bad", ["", "has space", "dot.ted", "x" * 65, "ünï", "<lambda>"])
def test_bad_names_are_refused_clearly(bad):
    def f(): ...

    with pytest.raises(ToolDefinitionError, match="is not allowed: use 1-64 letters"):
        tool_schema(f, name=bad)


def test_lambda_needs_a_name():
    with pytest.raises(ToolDefinitionError, match="'<lambda>' is not allowed"):
        tool_schema(lambda x: x)
    assert tool_schema(lambda x: x, name="ident")["name"] == "ident"


def test_good_names():
    def f(): ...

    for name in ("a", "get-weather_2", "X" * 64):
        assert tool_schema(f, name=name)["name"] == name


def test_tool_decorator_bare_and_with_options():
    @tool
    def plain(x: int) -> int:
        """Double."""
        return 2 * x

    @tool(confirm=True, name="wipe-disk", description="Dangerous.")
    def wipe(path: str) -> str:
        return f"wiped {path}"

    assert plain(4) == 8 and wipe("/x") == "wiped /x"  # behaviour unchanged
    assert is_tool(plain) and is_tool(wipe) and not is_tool(props)
    assert Tool.from_function(plain).confirm is False
    made = Tool.from_function(wipe)
    assert (made.name, made.confirm, made.definition["description"]) == (
        "wipe-disk",
        True,
        "Dangerous.",
    )
    with pytest.raises(ToolDefinitionError):
        tool(name="bad name")


def test_toolset_from_names_callables_and_decorated():
    @tool
    def marked(a: int) -> int:
        return a

    def plain(b: str) -> str:
        return b

    namespace = {"marked": marked, "plain": plain, "number": 3, "_hidden": marked}
    assert ToolSet.resolve("plain, marked", namespace).names == ["plain", "marked"]
    assert ToolSet.resolve(["plain", marked], namespace).names == ["plain", "marked"]
    assert ToolSet.decorated_in(namespace).names == ["marked"]
    merged = ToolSet.resolve("marked", namespace) | ToolSet.decorated_in(namespace)
    assert merged.names == ["marked"]  # the same function once
    assert [d["name"] for d in merged.definitions()] == ["marked"]
    with pytest.raises(ToolDefinitionError, match="No function named 'missing'"):
        ToolSet.resolve("missing", namespace)
    with pytest.raises(ToolDefinitionError, match="not a function"):
        ToolSet.resolve("number", namespace)

    def other(c: int): ...

    other.__name__ = "plain"
    with pytest.raises(ToolDefinitionError, match="Two tools are named 'plain'"):
        ToolSet([plain, other])


def test_render_text_and_table_show_each_schema():
    @tool(confirm=True)
    def fetch(url: Annotated[str, "Where <from>."], retries: int = 2) -> str:
        """Fetch a page."""
        return url

    toolset = ToolSet([fetch])
    text = toolset.render_text()
    assert "fetch  (asks before running)" in text
    assert "url: string, required — Where <from>." in text
    assert "retries: integer, default 2" in text
    table = toolset.render_table()
    assert "Where &lt;from&gt;." in table and "<from>" not in table
    assert "No tools" in ToolSet().render_text()


# --------------------------------------------------------------------------- calling back


def test_call_with_input_coerces_to_the_hinted_types():
    seen = {}

    def f(
        p: Point,
        color: Color,
        pair: tuple[int, str],
        tags: set[str],
        when: date,
        movie: Movie,
        person: Person,
        ratio: float,
        note: str | None,
        level: Level = Level.LOW,
    ):
        seen.update(locals())
        return "ok"

    result = call_with_input(
        f,
        {
            "p": {"x": 1, "y": 2.5},
            "color": "green",
            "pair": [1, "a"],
            "tags": ["a", "a", "b"],
            "when": "2024-05-06",
            "movie": {"title": "M", "year": 1999},
            "ratio": 2,
            "person": {"name": "Ann", "address": {"street": "S", "city": "Rome"}},
            "level": 2,
        },
    )
    assert result == "ok"
    assert seen["p"] == Point(1, 2.5)
    assert seen["color"] is Color.GREEN and seen["level"] is Level.HIGH
    assert seen["pair"] == (1, "a") and seen["tags"] == {"a", "b"}
    assert seen["when"] == date(2024, 5, 6)
    assert seen["person"].address.city == "Rome"
    assert seen["ratio"] == 2.0 and isinstance(seen["ratio"], float)
    assert seen["note"] is None  # Optional without a default: omitted means None


def test_call_with_input_reports_bad_input():
    def f(a: int, b: str = "x"):
        return a

    with pytest.raises(ToolError, match="^Invalid input for f \\(not run\\):\na: Field required$"):
        call_with_input(f, {})
    with pytest.raises(ToolError, match="\nzzz: Extra inputs are not permitted \\(got 2\\)$"):
        call_with_input(f, {"a": 1, "zzz": 2})
    with pytest.raises(
        ToolError,
        match="\na: Input should be a valid integer, unable to parse string "
        'as an integer \\(got "seven"\\)$',
    ):
        call_with_input(f, {"a": "seven"})
    assert call_with_input(f, {"a": 3.0}) == 3

    def g(a: int, **extra):
        return extra

    assert call_with_input(g, {"a": 1, "zzz": 2}) == {"zzz": 2}

    def h(a, /, b):
        return (a, b)

    assert call_with_input(h, {"a": 1, "b": 2}) == (1, 2)


def test_tool_choice_option():
    toolset = ToolSet([f_int])
    assert tool_choice_for(None, toolset) is None
    assert tool_choice_for("auto", toolset) == {"type": "auto"}
    assert tool_choice_for("any", toolset) == {"type": "any"}
    assert tool_choice_for("none", toolset) == {"type": "none"}
    assert tool_choice_for("f_int", toolset) == {"type": "tool", "name": "f_int"}
    with pytest.raises(
        ToolDefinitionError, match="--tool-choice nope: no tool of that name; tools: f_int."
    ):
        tool_choice_for("nope", toolset)
