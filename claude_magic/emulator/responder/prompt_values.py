"""Values a prompt gives for the properties of a schema: what the responder puts in a tool
call's input (or a structured answer) instead of placeholders.

From the prompt's own words, deterministically: `name: value` (or `name=value`, `name is
value`), enum members the prompt names, ISO dates for date properties, numbers (next to the
property's name, else in order), quoted strings and proper names (`Paris`, `San Francisco,
CA`) for string properties, places first for place-like ones. A value is used only where it
fits the property's schema.

`given` holds the values the prompt gives for a property: they make an optional property
part of the input. `spare` holds the leftovers, in order, for optional properties that are
built anyway (an object that would otherwise be empty).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from .schema_instance import Property, fits, properties_of
from .words import STOPWORDS, stem, words

MAX_PROMPT_CHARS = 20_000
PLACE_WORDS = frozenset(
    {
        "city",
        "location",
        "place",
        "town",
        "country",
        "region",
        "destination",
        "origin",
        "address",
        "where",
        "area",
        "venue",
        "airport",
        "state",
        "from",
        "to",
    }
)
DATE_WORDS = frozenset({"date", "when", "day", "deadline"})
# Words that open a sentence without naming anything.
OPENERS = STOPWORDS | frozenset(
    {
        "add",
        "book",
        "calculate",
        "check",
        "classify",
        "compute",
        "convert",
        "create",
        "describe",
        "explain",
        "extract",
        "fetch",
        "find",
        "generate",
        "list",
        "look",
        "read",
        "search",
        "send",
        "summarise",
        "summarize",
        "translate",
        "write",
        "will",
        "is",
        "are",
        "can",
        "could",
        "do",
        "does",
        "please",
        "hey",
        "hi",
        "hello",
        "i",
        "im",
        "let",
        "lets",
        "so",
        "ok",
        "okay",
        "now",
    }
)
_DATE_TEXT = (
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_VALUE = (
    rf"(\"[^\"\n]*\"|'[^'\n]*'|{_DATE_TEXT}(?![\w-])|\d{{1,2}}:\d{{2}}(?::\d{{2}})?(?![\w:])"
    r"|-?\d+(?:\.\d+)?(?!\w|\.\d)"
    r"|(?-i:[A-Z][\w'-]*(?:/[A-Z][\w'-]*)*(?:[ \t]+[A-Z][\w'-]*)*)|[^\s,;!?\"']+)"
)
_QUOTED = re.compile(r"(?<!\w)\"([^\"\n]{1,200})\"|(?<![\w'])'([^'\n]{1,200})'(?!\w)")
_DATE = re.compile(rf"(?<![\w-]){_DATE_TEXT}(?![\w-])")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w|\.\d)")
_NAME_WORD = r"[A-Z][\w'’-]*(?:/[A-Z][\w'’-]*)*"  # Europe/Paris is one name
_PROPER = re.compile(
    rf"(?<![\w'’-]){_NAME_WORD}"
    rf"(?:[ \t]+(?:(?:of|de|del|da|la|le|van|von)[ \t]+)?{_NAME_WORD})*"
    r"(?:,[ \t]*[A-Z]{2,3}\b)?"
)
_SENTENCE_ENDS = ".!?:;\n(-–—"


@dataclass
class PromptValues:
    """Values for property names: `given` by the prompt, and `spare` ones to fall back on."""

    given: dict[str, Any] = field(default_factory=dict)
    spare: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Found:
    """A value found in the prompt, where it stands, and whether a property has taken it."""

    value: Any
    start: int
    end: int
    used: bool = False


def _number(text: str) -> int | float:
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def _overlaps(found: _Found, spans: list[tuple[int, int]]) -> bool:
    return any(found.start < end and start < found.end for start, end in spans)


def _name_stems(prop: Property) -> set[str]:
    return {stem(w) for w in words(prop.name)}


def _is_place(prop: Property) -> bool:
    return bool(set(words(prop.name)) & PLACE_WORDS)


def _is_date(prop: Property) -> bool:
    return prop.schema.get("format") in ("date", "date-time") or bool(
        set(words(prop.name)) & DATE_WORDS and "string" in prop.kinds
    )


def _free_text(prop: Property) -> bool:
    """A string property with no enum, format or date meaning: a name or a place fits."""
    return (
        "string" in prop.kinds
        and not prop.schema.get("enum")
        and not prop.schema.get("format")
        and not _is_date(prop)
    )


def _fitting(prop: Property, value: Any) -> Any:
    """`value` as the property's type, or None when it doesn't fit."""
    for kind in prop.kinds or ("string",):
        candidate = value
        if kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
            candidate = str(value)
        elif kind in ("integer", "number") and isinstance(value, str):
            try:
                candidate = _number(value)
            except ValueError:
                continue
        elif kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
            candidate = value.lower() == "true"
        if kind not in ("object", "array") and fits(prop.schema, candidate):
            return candidate
    return None


def _date_for(prop: Property, text: str) -> str:
    if prop.schema.get("format") == "date":
        return text[:10]
    if prop.schema.get("format") == "date-time" and len(text) == 10:
        return text + "T00:00:00Z"
    return text


class _Reader:
    """One pass over a prompt for one schema."""

    def __init__(self, schema: Any, text: str, ignore: set[str]) -> None:
        self.text = text
        self.ignore = ignore
        self.properties = properties_of(schema)
        self.values = PromptValues()
        self.spans: list[tuple[int, int]] = []

    def take(self, prop: Property, value: Any, spare: bool = False) -> bool:
        fitting = _fitting(prop, value)
        if fitting is None:
            return False
        (self.values.spare if spare else self.values.given)[prop.name] = fitting
        return True

    def open(self) -> list[Property]:
        return [p for p in self.properties if p.name not in self.values.given]

    def explicit(self) -> None:
        for prop in self.properties:
            pattern = rf"(?<![\w-]){re.escape(prop.name)}(?![\w-])\s*(?::|=|\bis\b)\s*{_VALUE}"
            found = re.search(pattern, self.text, re.IGNORECASE)
            if found:
                value = found.group(1)
                value = value[1:-1] if value[:1] in "\"'" else value.rstrip(".")
                if self.take(prop, _number(value) if _NUMBER.fullmatch(value) else value):
                    self.spans.append(found.span())

    def enums(self) -> None:
        for prop in self.open():
            members = [m for m in prop.schema.get("enum") or [] if isinstance(m, str) and m]
            positions = [(self._position(m), m) for m in members]
            named = sorted((p, m) for p, m in positions if p is not None)
            if named:
                self.take(prop, named[0][1])

    def _position(self, member: str) -> int | None:
        """Where the prompt names an enum member (`cats` names `cat`), or None."""
        if re.fullmatch(r"[A-Za-z]+", member):
            target = stem(member)
            return next(
                (
                    m.start()
                    for m in re.finditer(r"[A-Za-z]+", self.text)
                    if stem(m.group()) == target
                ),
                None,
            )
        found = re.search(rf"(?<!\w){re.escape(member)}(?!\w)", self.text, re.IGNORECASE)
        return found.start() if found else None

    def found(self, pattern: re.Pattern[str], convert: Any = str) -> list[_Found]:
        items = [
            _Found(convert(m.group()), m.start(), m.end()) for m in pattern.finditer(self.text)
        ]
        return [f for f in items if not _overlaps(f, self.spans)]

    def dates(self) -> list[_Found]:
        dates = self.found(_DATE)
        for prop in self.open():
            if _is_date(prop):
                for date in dates:
                    if not date.used and self.take(prop, _date_for(prop, date.value)):
                        date.used = True
                        break
        self.spans += [(d.start, d.end) for d in dates]
        return dates

    def numbers(self) -> list[_Found]:
        numbers = self.found(_NUMBER, _number)
        spots = [
            (m.start(), m.end(), stem(m.group())) for m in re.finditer(r"[A-Za-z]+", self.text)
        ]
        starts = [start for start, _, _ in spots]
        beside: list[set[str]] = []
        for number in numbers:  # the stems of the words right before and right after it
            index = bisect.bisect_left(starts, number.start)
            near = [spots[i] for i in (index - 1, index) if 0 <= i < len(spots)]
            gaps = [
                (word, self.text[min(end, number.end) : max(start, number.start)])
                for start, end, word in near
            ]
            beside.append({word for word, gap in gaps if re.fullmatch(r"[\s:=]{1,3}", gap)})
        for prop in self.open():
            if not {"integer", "number"} & set(prop.kinds):
                continue
            names = _name_stems(prop)
            for number, words_beside in zip(numbers, beside, strict=True):
                if not number.used and words_beside & names and self.take(prop, number.value):
                    number.used = True
                    break
        return numbers

    def names(self) -> list[_Found]:
        """Quoted strings and proper names, in the order they appear."""
        quoted = [
            _Found(m.group(1) or m.group(2), m.start(), m.end())
            for m in _QUOTED.finditer(self.text)
        ]
        quoted = [q for q in quoted if not _overlaps(q, self.spans)]
        proper = [
            p
            for m in _PROPER.finditer(self.text)
            if not _overlaps(
                p := _Found(m.group(), m.start(), m.end()),
                self.spans + [(q.start, q.end) for q in quoted],
            )
        ]
        named = [n for n in (self._trimmed(p) for p in proper) if n is not None]
        return sorted(quoted + named, key=lambda f: f.start)

    def _trimmed(self, found: _Found) -> _Found | None:
        """A proper name without the words that only open its sentence or name the tool."""
        parts = found.value.split()
        start = found.start
        before = self.text[max(0, start - 8) : start].rstrip()
        sentence_start = (not before and start < 8) or before[-1:] in tuple(_SENTENCE_ENDS)
        while parts:
            word = re.sub(r"['’].*$", "", parts[0]).lower()
            if not (
                word in STOPWORDS
                or stem(word) in self.ignore
                or (sentence_start and word in OPENERS)
            ):
                break
            start = self.text.index(parts[0], start) + len(parts[0])
            parts = parts[1:]
            sentence_start = False
        if not parts or parts[0].startswith(","):
            return None
        begin = self.text.index(parts[0], start)
        return _Found(self.text[begin : found.end], begin, found.end)

    def strings(self, names: list[_Found]) -> None:
        strings = [p for p in self.open() if _free_text(p)]
        for places in (True, False):
            for prop in strings:
                if _is_place(prop) == places and (places or prop.required):
                    self._first(prop, names)

    def _first(self, prop: Property, found: list[_Found], spare: bool = False) -> None:
        for item in found:
            if not item.used and self.take(prop, item.value, spare):
                item.used = True
                return

    def leftovers(self, numbers: list[_Found], names: list[_Found]) -> None:
        """Numbers and names no property took: required ones first, then spare values."""
        for spare in (False, True):
            for prop in self.open():
                if prop.required == spare or prop.name in self.values.spare:
                    continue
                if {"integer", "number"} & set(prop.kinds):
                    self._first(prop, numbers, spare)
                elif _free_text(prop):
                    self._first(prop, names, spare)

    def read(self) -> PromptValues:
        self.explicit()
        self.enums()
        self.dates()
        numbers = self.numbers()
        names = self.names()
        self.strings(names)
        self.leftovers(numbers, names)
        return self.values


def prompt_values(
    schema: Any, text: str, ignore: set[str] | frozenset[str] = frozenset()
) -> PromptValues:
    """The values `text` gives for the properties of `schema` (read from its first
    MAX_PROMPT_CHARS characters); `ignore` holds word stems that never start a proper name
    (the tool's own words: `Weather in Oslo` gives `Oslo`)."""
    return _Reader(schema, text[:MAX_PROMPT_CHARS], set(ignore)).read()
