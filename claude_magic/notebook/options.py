"""A `%%claude` cell's options, typed and frozen: made once from the parsed line and
read by every stage of the cell."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields, replace
from typing import Any

from ..core.errors import ClaudeMagicError


@dataclass(frozen=True)
class CellOptions:
    """The option line of one `%%claude` cell (see `%%claude?` for each option).

    `context` holds context prepared before the cell runs (`%claude fix`): text
    blocks that go before the prompt, with the notice that names them."""

    model: str | None = None
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    prefill: str | None = None
    effort: str | None = None
    think: int | None = None
    no_think: bool = False
    no_cache: bool = False
    chat: str | None = None
    new: bool = False
    no_history: bool = False
    no_stream: bool = False
    out: str | None = None
    json: str | None = None
    code: bool = False
    beta: tuple[str, ...] = ()
    image: tuple[str, ...] = ()
    cell: tuple[int, ...] = ()
    above: int | None = None
    var: tuple[str, ...] = ()
    doc: tuple[str, ...] = ()
    cite: bool = False
    tools: str | None = None
    mcp: str | None = None  # --mcp: MCP servers whose tools are offered
    tool_choice: str | None = None
    max_steps: int | None = None
    computer_use: bool = False
    agent: str | None = None  # --agent: "" for the configured mode, else ask, plan or auto
    background: bool = False
    map: str | None = None
    concurrency: int | None = None
    context: Any = None  # a prepared notebook context (notebook.context.Context)

    @classmethod
    def from_namespace(cls, namespace: argparse.Namespace) -> CellOptions:
        """The options argparse read from the line (lists become tuples)."""
        values = vars(namespace)
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:  # a new @argument needs a field here
            raise TypeError(f"CellOptions has no field for option {unknown[0]!r}")
        converted: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
        }
        return cls(**converted)

    def with_changes(self, **changes: Any) -> CellOptions:
        return replace(self, **changes)

    def check_ranges(self) -> None:
        """Numbers out of range stop the cell before anything is sent."""
        checks = (
            ("--temperature", self.temperature, 0, 1),
            ("--top-p", self.top_p, 0, 1),
            ("--top-k", self.top_k, 0, 500),
            ("--max-tokens", self.max_tokens, 1, 1_000_000),
            ("--max-steps", self.max_steps, 1, 1000),
        )
        for flag, value, low, high in checks:
            if value is not None and not low <= value <= high:
                raise ClaudeMagicError(f"{flag} must be between {low} and {high}, not {value}.")

    @property
    def wants_context(self) -> bool:
        """Whether the turn carries notebook context (--above, --var, or a fix)."""
        return self.above is not None or bool(self.var) or self.context is not None
