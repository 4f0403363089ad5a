"""One answer from Python: `Reply` (text, structured data, usage, cost, error) and
`Replies`, a list of them aligned with the rows a `map` was given.

Pure: the HTML form goes through `render.markdown_to_html` (sanitised), pandas is
imported only when a table is asked for.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .messages import Message, Usage


@dataclass
class Reply:
    """The outcome of one request: the answer, or the one-line error that stopped it."""

    text: str = ""
    data: Any = None  # the parsed JSON of a structured-output answer
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None  # estimated USD, when the model is in the catalogue
    stop_reason: str | None = None
    error: str | None = None
    model: str = ""  # the id the request went to
    message: Message | None = None
    cached: bool = False  # read from the local cache instead of sent

    @classmethod
    def from_message(
        cls,
        message: Message,
        *,
        model: str,
        cost: float | None,
        structured: bool = False,
        cached: bool = False,
    ) -> Reply:
        text = message.text
        data = None
        if structured:
            try:
                data = json.loads(text)
            except ValueError:
                data = None
        return cls(
            text=text,
            data=data,
            usage=message.usage,
            cost=cost,
            stop_reason=message.stop_reason,
            model=model,
            message=message,
            cached=cached,
        )

    @classmethod
    def failed(cls, error: str, *, model: str = "") -> Reply:
        return cls(error=error, model=model)

    @property
    def ok(self) -> bool:
        return self.error is None

    def __str__(self) -> str:
        return self.text if self.error is None else f"[error] {self.error}"

    def __repr__(self) -> str:
        if self.error is not None:
            return f"Reply(error={self.error!r})"
        text = self.text if len(self.text) <= 60 else self.text[:59] + "…"
        return f"Reply({text!r}, stop_reason={self.stop_reason!r}, tokens={self.usage.input_tokens}+{self.usage.output_tokens})"

    def _repr_markdown_(self) -> str:
        # Escaped, so a renderer that allows raw HTML in Markdown still shows it as text.
        if self.error is not None:
            return f"**error:** {html.escape(self.error)}"
        return html.escape(self.text, quote=False)

    def _repr_html_(self) -> str:
        if self.error is not None:
            return f'<div class="claude-magic-error"><b>error:</b> {html.escape(self.error)}</div>'
        from .render import markdown_to_html

        return markdown_to_html(self.text)


def total_cost(replies: list[Reply]) -> float | None:
    costs = [r.cost for r in replies if r.cost is not None]
    return sum(costs) if costs else None


class Replies(list):
    """Replies aligned with the items of a `map` (a plain list of `Reply`)."""

    @property
    def texts(self) -> list[str]:
        return [r.text if r is not None else "" for r in self]

    @property
    def failed(self) -> int:
        return sum(1 for r in self if r is None or r.error is not None)

    @property
    def usage(self) -> Usage:
        return Usage.total(r.usage for r in self if r is not None)

    @property
    def cost(self) -> float | None:
        return total_cost([r for r in self if r is not None])

    def summary(self) -> str:
        return summary_line(list(self))

    def to_frame(self, index: Any = None) -> Any:
        """A pandas DataFrame with text, data, input/output tokens, cost, stop_reason, error."""
        return replies_frame(list(self), index)


def summary_line(replies: list[Reply | None]) -> str:
    """ "120 rows, 3 failed, 4,210 tokens, $0.0123": what a map did."""
    done = [r for r in replies if r is not None]
    failed = sum(1 for r in replies if r is None or r.error is not None)
    usage = Usage.total(r.usage for r in done)
    cost = total_cost(done)
    line = (
        f"{len(replies)} rows, {failed} failed, {usage.input_tokens + usage.output_tokens:,} tokens"
    )
    cached = sum(1 for r in done if r.cached)
    if cached:
        line += f" ({cached} from the cache)"
    return line + (f", ${cost:.4f}" if cost is not None else "")


def replies_frame(replies: list[Reply | None], index: Any = None) -> Any:
    import pandas as pd

    rows = []
    for r in replies:
        r = r or Reply.failed("not run")
        rows.append(
            {
                "text": r.text,
                "data": r.data,
                "input_tokens": r.usage.input_tokens,
                "output_tokens": r.usage.output_tokens,
                "cost": r.cost,
                "stop_reason": r.stop_reason,
                "error": r.error,
            }
        )
    return pd.DataFrame(rows, index=index)


def reply_series(replies: Sequence[Reply | None], index: Any, name: str | None = None) -> Any:
    """A pandas Series of replies with the input's index; its `.to_frame()` gives the
    text/tokens/cost/error table."""
    return _series_class()(list(replies), index=index, name=name, dtype=object)


@functools.cache
def _series_class() -> type:
    import pandas as pd

    class ReplySeries(pd.Series):
        """Replies with the input's index."""

        @property
        def _constructor(self) -> Any:
            return ReplySeries

        @property
        def texts(self) -> Any:
            return pd.Series(
                [r.text if r is not None else "" for r in self], index=self.index, name=self.name
            )

        def summary(self) -> str:
            return summary_line(list(self))

        def to_frame(self, name: Any = None) -> Any:
            return replies_frame(list(self), self.index)

    return ReplySeries
