"""The one exception users see: a short message, shown without a traceback."""

from __future__ import annotations

# What a cell's error shows once the answer's view has shown the message: front ends
# print "ename: evalue" for an empty traceback, but a lone colour reset renders as nothing.
NOTHING_MORE = "\x1b[0m"


class ClaudeMagicError(Exception):
    """A user-facing error. IPython shows only its one-line message (no traceback),
    and the cell counts as failed, so "Run all" stops there. Once an answer's view has
    shown it (`shown`), the cell still fails with it but prints nothing more."""

    shown = False

    def _render_traceback_(self) -> list[str]:
        if self.shown:
            return [NOTHING_MORE]
        return [f"\x1b[0;31mclaude-magic:\x1b[0m {self}"]


class Interrupted(ClaudeMagicError):
    """The user interrupted the kernel while an answer was streaming."""
