"""The configuration as one frozen snapshot: what `%config ClaudeMagic.<trait>` set,
read once per cell (and by `claude_magic.ask`/`map`), so nothing below the magic reads
traits. `DEFAULTS` is the one place the defaults are written: the traits take theirs
from it."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any, Protocol

from ..core.errors import ClaudeMagicError

PACE_ENV = "CLAUDE_MAGIC_OFFLINE_PACE"


@dataclass(frozen=True)
class Config:
    """Every configuration trait's value (see `ClaudeMagic` for each one's help)."""

    model: str = "sonnet"  # the catalogue's default family, without loading the catalogue
    region: str | None = None
    geography: str = "auto"
    profile: str | None = None
    endpoint_url: str | None = None
    max_tokens: int = 4096
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    system: str | None = None
    stream: bool = True
    api: str = "invoke"
    guardrail_id: str | None = None
    guardrail_version: str | None = None
    retry_mode: str = "standard"
    max_attempts: int = 4
    read_timeout: float = 300.0
    offline: bool = False
    offline_pace: float | None = None
    tools: tuple[Any, ...] = ()
    mcp_servers: Any = None  # MCP servers: a dict as .mcp.json holds, or the path of such a file
    auto_approve_tools: bool = False
    background: bool = False
    max_steps: int = 10
    agent_mode: str = "ask"
    agent_step_timeout: float = 120.0
    effort: str | None = None
    cache: bool = True
    cache_ttl: str = "5m"
    max_image_edge: int = 1568
    max_recorded_cells: int = 100
    max_recorded_image_mb: int = 256
    context_max_chars: int = 4000
    cache_dir: str | None = None
    context_clear_at: int | None = 100_000
    compact_at: int | None = None
    cite: bool = False

    @classmethod
    def of(cls, source: Any) -> Config:
        """A snapshot of `source`'s attributes of the same names (the magic's traits)."""
        values = {f.name: getattr(source, f.name) for f in fields(cls)}
        values["tools"] = tuple(values["tools"])
        return cls(**values)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def guardrail(self) -> tuple[str, str] | None:
        """The guardrail as (identifier, version), or None when none is set."""
        if not self.guardrail_id and not self.guardrail_version:
            return None
        if not (self.guardrail_id and self.guardrail_version):
            raise ClaudeMagicError(
                "Set both ClaudeMagic.guardrail_id and ClaudeMagic.guardrail_version "
                "(a version number or DRAFT) to use a Bedrock guardrail."
            )
        return self.guardrail_id, self.guardrail_version

    @property
    def cache_breakpoints_ttl(self) -> str | None:
        """The TTL of prompt-caching breakpoints, None when caching is off."""
        return self.cache_ttl if self.cache else None


DEFAULTS = Config()


class Configured(Protocol):
    """Where the configuration lives (the magic): a snapshot to read, changes to make."""

    def current_config(self) -> Config: ...

    def set_config(self, **changes: Any) -> None: ...


def env_pace() -> float | None:
    """`CLAUDE_MAGIC_OFFLINE_PACE` as tokens per second; unset, empty, not a number or
    below the emulator's minimum (0.01) means unlimited."""
    try:
        pace = float(os.environ.get(PACE_ENV, "").strip() or "nan")
    except ValueError:
        return None
    return pace if pace >= 0.01 else None
