"""Build a small JSON value that satisfies a JSON schema: what the offline responder
puts in a `tool_use` block's `input`.

Handles the schema keywords tools use in practice: type (and lists of types), const,
enum, default, examples, $ref into the same document, allOf/anyOf/oneOf, object
properties/required/minProperties, array items/prefixItems/minItems/maxItems/
uniqueItems, string formats/patterns/lengths, number bounds and multipleOf.

Which properties an object gets: the required ones, the optional ones `hints` gives a
fitting value for (directly or deeper down), and, when that would leave the object empty,
all of them (an empty object says nothing). `hints` maps property names to preferred
values, used when they fit; `spare` holds values to use only for properties built anyway.
"""

from __future__ import annotations

import importlib
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 12
FILL_DEPTH = 4  # below this depth an object with nothing required or given stays empty
STRING_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uri-reference": "https://example.com",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_TYPE_OF = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def instance_for(
    schema: Any, hints: Mapping[str, Any] | None = None, spare: Mapping[str, Any] | None = None
) -> Any:
    """A value valid against `schema` (best effort for exotic keywords)."""
    return _Builder(schema, dict(hints or {}), dict(spare or {})).build(schema, None, 0, 0)


@dataclass(frozen=True)
class Property:
    """A property of a schema or of an object nested in it."""

    name: str
    schema: dict[str, Any]  # $ref and allOf resolved, anyOf/oneOf narrowed to the first non-null
    required: bool  # by the object that holds it
    kinds: tuple[str, ...]


def properties_of(schema: Any) -> list[Property]:
    """Every property of `schema` and of the objects and arrays in it, in document order
    (the first one of each name)."""
    builder = _Builder(schema, {}, {})
    found: dict[str, Property] = {}

    def visit(node: Any, depth: int) -> None:
        node = builder.narrow(node)
        if depth > FILL_DEPTH or not isinstance(node, dict):
            return
        properties = node.get("properties")
        listed = node.get("required")
        required: list[Any] = listed if isinstance(listed, list) else []
        for name, sub in properties.items() if isinstance(properties, dict) else ():
            sub = builder.narrow(sub)
            if isinstance(sub, dict) and name not in found:
                found[name] = Property(name, sub, name in required, tuple(_types(sub)))
            visit(sub, depth + 1)
        visit(node.get("items"), depth + 1)

    visit(schema, 0)
    return list(found.values())


def _json_type(value: Any) -> str:
    return _TYPE_OF.get(type(value), "object")


def _types(schema: dict[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list) and declared:
        return [t for t in declared if t != "null"] + (["null"] if "null" in declared else [])
    for keys, inferred in (
        (("properties", "required", "minProperties", "additionalProperties"), "object"),
        (("items", "prefixItems", "minItems", "maxItems", "uniqueItems"), "array"),
        (("minLength", "maxLength", "pattern", "format"), "string"),
        (("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"), "number"),
    ):
        if any(k in schema for k in keys):
            return [inferred]
    return []


def _coerce(kind: str, value: Any) -> Any:
    """A hint converted to a schema type where that is unambiguous, else unchanged."""
    if kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if kind in ("integer", "number") and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and kind == "integer" else number
    if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def fits(schema: Any, value: Any) -> bool:
    """A light check that a scalar value satisfies a schema's own constraints."""
    if not isinstance(schema, dict):
        return schema is not False
    if "const" in schema:
        return value == schema["const"]
    if "enum" in schema and value not in schema["enum"]:
        return False
    kinds = _types(schema)
    actual = _json_type(value)
    if kinds and actual not in kinds and not (actual == "integer" and "number" in kinds):
        return False
    if actual == "string":
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get(
            "maxLength", math.inf
        ):
            return False
        pattern = schema.get("pattern")
        return not (isinstance(pattern, str) and not _search(pattern, value))
    if actual in ("integer", "number"):
        if kinds == ["integer"] and isinstance(value, float) and not value.is_integer():
            return False
        return _in_bounds(schema, value)
    return True


def _search(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return True


def _bounds(schema: dict[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    low, high = schema.get("minimum"), schema.get("maximum")
    low_open = high_open = False
    exclusive_min, exclusive_max = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(exclusive_min, bool):
        low_open = exclusive_min and low is not None
    elif isinstance(exclusive_min, (int, float)) and (low is None or exclusive_min >= low):
        low, low_open = exclusive_min, True
    if isinstance(exclusive_max, bool):
        high_open = exclusive_max and high is not None
    elif isinstance(exclusive_max, (int, float)) and (high is None or exclusive_max <= high):
        high, high_open = exclusive_max, True
    return low, low_open, high, high_open


def _in_bounds(schema: dict[str, Any], value: float) -> bool:
    low, low_open, high, high_open = _bounds(schema)
    if low is not None and (value < low or (low_open and value == low)):
        return False
    if high is not None and (value > high or (high_open and value == high)):
        return False
    step = schema.get("multipleOf")
    return not (isinstance(step, (int, float)) and step > 0 and not _is_multiple(value, step))


def _is_multiple(value: float, step: float) -> bool:
    quotient = value / step
    return abs(quotient - round(quotient)) < 1e-9


def _number(schema: dict[str, Any], integer: bool, variant: int) -> int | float:
    low, low_open, high, high_open = _bounds(schema)
    step = schema.get("multipleOf") if isinstance(schema.get("multipleOf"), (int, float)) else None
    unit = 1 if integer else (step or 1)
    candidates: list[float] = [1 + variant, 0]
    if low is not None:
        candidates.append(low + (unit if low_open else 0) + variant * unit)
        candidates.append(math.floor(low) + 1 if integer else low + unit)
    if high is not None:
        candidates.append(high - (unit if high_open else 0) - variant * unit)
    if low is not None and high is not None:
        candidates.append((low + high) / 2)
    for candidate in candidates:
        if step:
            candidate = math.ceil(candidate / step - 1e-9) * step
        if integer:
            candidate = math.ceil(candidate - 1e-9)
        value = int(candidate) if integer or float(candidate).is_integer() else candidate
        if _in_bounds(schema, value):
            return value
    return int(low) if integer and low is not None else (low if low is not None else 0)


def _pattern_string(pattern: str, min_length: int, max_length: float) -> str | None:
    """A short string matching `pattern` (and the length limits), or None."""
    # the standard library's regular-expression parser (re._parser since 3.11)
    sre_parse: Any = importlib.import_module(
        "re._parser" if sys.version_info >= (3, 11) else "sre_parse"
    )
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    for extra in (0, 1, 3, min_length):
        try:
            text = _generate(parsed, extra)
        except (ValueError, TypeError, IndexError):
            return None
        if min_length <= len(text) <= max_length and _search(pattern, text):
            return text
    return None


def _char_in(items: list[tuple[Any, Any]]) -> str:
    negate = any(str(op) == "NEGATE" for op, _ in items)
    for op, value in items:
        name = str(op)
        if name == "LITERAL" and not negate:
            return chr(value)
        if name == "RANGE" and not negate:
            return chr(value[0])
        if name == "CATEGORY" and not negate:
            return {
                "CATEGORY_DIGIT": "0",
                "CATEGORY_SPACE": " ",
                "CATEGORY_NOT_DIGIT": "a",
                "CATEGORY_NOT_SPACE": "a",
                "CATEGORY_NOT_WORD": "-",
            }.get(str(value), "a")
    if negate:
        excluded = re.compile("[" + "".join(_class_source(op, v) for op, v in items) + "]")
        return next(c for c in "aA0_-x " if not excluded.match(c))
    raise ValueError("empty character class")


def _class_source(op: Any, value: Any) -> str:
    name = str(op)
    if name == "LITERAL":
        return re.escape(chr(value))
    if name == "RANGE":
        return f"{re.escape(chr(value[0]))}-{re.escape(chr(value[1]))}"
    if name == "CATEGORY":
        return {
            "CATEGORY_DIGIT": r"\d",
            "CATEGORY_NOT_DIGIT": r"\D",
            "CATEGORY_SPACE": r"\s",
            "CATEGORY_NOT_SPACE": r"\S",
            "CATEGORY_WORD": r"\w",
            "CATEGORY_NOT_WORD": r"\W",
        }[str(value)]
    return ""


def _generate(parsed: Any, extra: int) -> str:
    out = []
    for op, value in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(value))
        elif name == "NOT_LITERAL":
            out.append("a" if value != ord("a") else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_char_in(value))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = value
            count = max(low, min(high, extra))
            out.append(_generate(sub, extra) * count)
        elif name == "SUBPATTERN":
            out.append(_generate(value[-1], extra))
        elif name == "BRANCH":
            out.append(_generate(value[1][0], extra))
        elif name == "ATOMIC_GROUP":
            out.append(_generate(value, extra))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            raise ValueError(f"unsupported pattern element {name}")
    return "".join(out)


def _string(schema: dict[str, Any], name: str | None, variant: int) -> str:
    min_length = int(schema.get("minLength", 0))
    max_length = schema.get("maxLength", math.inf)
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        text = _pattern_string(pattern, min_length, max_length)
        if text is not None:
            return text
    text = STRING_FORMATS.get(schema.get("format", ""), name or "example")
    if variant:
        text = f"{text}-{variant + 1}"
    if len(text) < min_length:
        text += "x" * (min_length - len(text))
    return text[: int(max_length)] if max_length != math.inf else text


class _Builder:
    def __init__(self, root: Any, hints: dict[str, Any], spare: dict[str, Any]) -> None:
        self.root = root
        self.hints = hints
        self.spare = spare

    def resolve(self, schema: Any) -> Any:
        seen = 0
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 32:
            target: Any = self.root
            ref = schema["$ref"]
            if not ref.startswith("#"):
                return {k: v for k, v in schema.items() if k != "$ref"}
            for part in filter(None, ref[1:].split("/")):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            seen += 1
        if isinstance(schema, dict) and isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self.resolve(part)
                if not isinstance(part, dict):
                    continue
                for key, value in part.items():
                    if key == "properties":
                        merged["properties"] = {**merged.get("properties", {}), **value}
                    elif key == "required":
                        merged["required"] = list(
                            dict.fromkeys([*merged.get("required", []), *value])
                        )
                    else:
                        merged.setdefault(key, value)
            schema = merged
        return schema

    def narrow(self, schema: Any) -> Any:
        """`schema` resolved, its anyOf/oneOf narrowed to the first option that isn't null."""
        schema = self.resolve(schema)
        for key in ("anyOf", "oneOf"):
            options = schema.get(key) if isinstance(schema, dict) else None
            if isinstance(options, list) and options:
                rest = {k: v for k, v in schema.items() if k != key}
                real = [o for o in options if _types(self.resolve(o)) != ["null"]]
                return self.narrow({**rest, **self.resolve((real or options)[0])})
        return schema

    def hinted(self, schema: Any, name: str | None, values: dict[str, Any]) -> tuple[bool, Any]:
        """(True, value) when `values` holds a value for `name` that fits `schema`."""
        if name is None or name not in values or not isinstance(schema, dict):
            return False, None
        hint = values[name]
        narrowed = self.narrow(schema)
        for kind in _types(narrowed) or [_json_type(hint)]:
            value = _coerce(kind, hint)
            if kind not in ("object", "array") and fits(narrowed, value) and fits(schema, value):
                return True, value
        return False, None

    def given(self, schema: Any, name: str, depth: int) -> bool:
        """Whether the hints give a value for this property or for one nested in it."""
        if self.hinted(schema, name, self.hints)[0]:
            return True
        schema = self.narrow(schema)
        if depth > FILL_DEPTH or not isinstance(schema, dict):
            return False
        if isinstance(schema.get("items"), dict):
            return self.given(schema["items"], "", depth + 1)
        found = schema.get("properties")
        properties: dict[str, Any] = found if isinstance(found, dict) else {}
        return any(self.given(sub, key, depth + 1) for key, sub in properties.items())

    def build(self, schema: Any, name: str | None, variant: int, depth: int) -> Any:
        schema = self.resolve(schema)
        if schema is True or not isinstance(schema, dict):
            return name or "example"
        if "const" in schema:
            return schema["const"]
        kinds = _types(schema)
        for values in (self.hints, self.spare):
            found, value = self.hinted(schema, name, values)
            if found:
                return value
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][variant % len(schema["enum"])]
        if variant == 0:
            for candidate in (schema.get("default"), *(schema.get("examples") or [])[:1]):
                if candidate is not None and (
                    isinstance(candidate, (dict, list)) or fits(schema, candidate)
                ):
                    return candidate
        if isinstance(schema.get("anyOf"), list) or isinstance(schema.get("oneOf"), list):
            return self.build(self.narrow(schema), name, variant, depth)
        kind = kinds[0] if kinds else "string"
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, name, depth)
        if kind in ("integer", "number"):
            return _number(schema, kind == "integer", variant)
        if kind == "boolean":
            return variant % 2 == 0
        if kind == "null":
            return None
        return _string(schema, name, variant)

    def object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        found = schema.get("properties")
        properties: dict[str, Any] = found if isinstance(found, dict) else {}
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        given = [
            p
            for p, sub in properties.items()
            if p not in required and self.given(sub, p, depth + 1)
        ]
        wanted = list(dict.fromkeys([*required, *given]))
        if depth >= MAX_DEPTH:
            wanted = required
        elif not wanted and depth < FILL_DEPTH:
            wanted = list(properties)
        for optional in properties:
            if len(wanted) >= schema.get("minProperties", 0):
                break
            if optional not in wanted:
                wanted.append(optional)
        return {key: self.build(properties.get(key, {}), key, 0, depth + 1) for key in wanted}

    def array(self, schema: dict[str, Any], name: str | None, depth: int) -> list[Any]:
        found = schema.get("prefixItems")
        prefix: list[Any] = found if isinstance(found, list) else []
        items = schema.get("items", {})
        if isinstance(items, list):  # draft 4-7 tuple form
            prefix, items = items, schema.get("additionalItems", {})
        maximum = schema.get("maxItems", math.inf)
        count = max(int(schema.get("minItems", 0)), len(prefix), 1 if depth < MAX_DEPTH else 0)
        count = int(min(count, maximum))
        item_name = name[:-1] if name and name.endswith("s") else name
        values: list[Any] = []
        for index in range(count):
            sub = prefix[index] if index < len(prefix) else items
            values.append(
                self.build(sub, item_name, index if schema.get("uniqueItems") else 0, depth + 1)
            )
        return values
