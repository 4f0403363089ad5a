"""The one exception users see: a short message, shown without a traceback."""

from __future__ import annotations


class ClaudeMagicError(Exception):
    """A user-facing error. IPython shows only its one-line message (no traceback),
    and the cell counts as failed, so "Run all" stops there."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31mclaude-magic:\x1b[0m {self}"]


class Interrupted(ClaudeMagicError):
    """The user interrupted the kernel while an answer was streaming."""
