"""Request bodies read as JSON, strictly: UTF-8, no NaN or Infinity, no lone UTF-16
surrogate escapes (text that cannot be encoded again), and nesting bounded, so a body
never reaches a handler in a shape that fails later with a RecursionError or a
UnicodeEncodeError.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_NESTING = 100  # arrays and objects inside one another
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def load_json(body: bytes) -> Any:
    """The JSON value in `body`; ValueError, saying what is wrong, for anything else."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the request body is not UTF-8 encoded JSON") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError(f"the request body nests JSON deeper than {MAX_NESTING} levels") from None
    except ValueError as exc:
        raise ValueError(f"the request body is not valid JSON ({exc})") from None
    if nesting(value) > MAX_NESTING:
        raise ValueError(f"the request body nests JSON deeper than {MAX_NESTING} levels")
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise ValueError(
            "the request body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), "
            "which is not Unicode text"
        )
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    return value if isinstance(value, list) else []


def nesting(value: Any) -> int:
    """How deeply arrays and objects nest in `value` (iteratively: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            children = _children(item)
            stack.extend(
                (child, depth + 1) for child in children if isinstance(child, (dict, list))
            )
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        else:
            stack.extend(_children(item))
    return False
