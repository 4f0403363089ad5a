"""Parts installed as extras (`pip install 'claude-magic[NAME]'`): the one line a user
sees when the package such a part needs is missing."""

from __future__ import annotations

import importlib.util


def missing_extra(module: str, extra: str, purpose: str) -> str | None:
    """None when `module` can be imported here, else the line saying which extra
    installs it for `purpose`."""
    if importlib.util.find_spec(module) is not None:
        return None
    return (
        f"{purpose}: the {module} package is not installed here; "
        f"pip install 'claude-magic[{extra}]' and restart the kernel."
    )
