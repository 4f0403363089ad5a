"""claude-magic: talk to Anthropic Claude on Amazon Bedrock from Jupyter cells.

%load_ext claude_magic

%%claude --image 3
What does the plot above show?
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the lazy names below, as type checkers and IDEs see them
    from .emulator import Emulator
    from .notebook.many import ask, batch_jobs, stop_batch
    from .notebook.many import map as map  # (not in __all__: see above)
    from .tools.schema import tool

__version__ = "0.1.0"
# `map` is left out of __all__ so that `from claude_magic import *` can't hide the builtin.
__all__ = [
    "load_ipython_extension",
    "unload_ipython_extension",
    "tool",
    "Emulator",
    "ask",
    "batch_jobs",
    "stop_batch",
]
_MANY = ("ask", "map", "batch_jobs", "stop_batch")

_loaded: dict[int, Any] = {}


def load_ipython_extension(shell: Any) -> None:
    """`%load_ext claude_magic`: register `%%claude` and `%claude`."""
    from .notebook.magics import load

    if id(shell) in _loaded:
        return
    _loaded[id(shell)] = load(shell)


def unload_ipython_extension(shell: Any) -> None:
    """`%unload_ext claude_magic`: remove the magics and every hook."""
    from .notebook.magics import unload

    magic = _loaded.pop(id(shell), None)
    if magic is not None:
        unload(shell, magic)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (`jupyter labextension develop` links it)."""
    return [{"src": "labextension", "dest": "claude-magic"}]


def __getattr__(name: str) -> Any:
    if name == "tool":
        from .tools.schema import tool

        return tool
    if name == "Emulator":
        from .emulator import Emulator

        return Emulator
    if name in _MANY:
        from .notebook import many

        return getattr(many, name)
    raise AttributeError(f"module 'claude_magic' has no attribute {name!r}")
