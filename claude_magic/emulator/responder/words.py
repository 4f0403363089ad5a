"""The meaningful words of a text, reduced to comparable stems: what the responder uses to
tell which tool a prompt asks for and which enum member or property a prompt names."""

from __future__ import annotations

import re

# Words that say nothing about what a tool does or which value is meant.
STOPWORDS = frozenset(
    """
a about above after again all also am an and any are as at be because been before being below
between both but by can could did do does doing done during each few for from further had has
have having he her here hers him his how i if in into is it its itself just let lets like me
more most my no nor not now of off on once only or other our ours out over own please same she
should so some such than that the their them then there these they this those through to too
under until up us very was we were what when where which while who whom why will with would you
your yours yourself get gets set use uses using used call calls calling run make makes give tell
show want need tool tools function functions value values result results return returns input
output thing things hello hi hey thanks thank okay ok yes right now today
""".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def stem(word: str) -> str:
    """A crude, symmetric stem: `cats` and `cat`, `raining` and `rain`, `cities` and `city`."""
    word = word.lower()
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4:
        return word[:-2]
    return word


def words(text: str) -> list[str]:
    """The words of `text`, identifiers split (`get_weather`, `classifyQuery`), lower case."""
    return [token.lower() for token in _WORD.findall(_CAMEL.sub(" ", text.replace("_", " ")))]


def stems(text: str) -> set[str]:
    """The stems of the meaningful words of `text` (no stopwords, at least three letters)."""
    return {stem(w) for w in words(text) if len(w) >= 3 and w not in STOPWORDS}
