"""Files only their owner may read (0600), written whole or not at all: prompts, answers
and images stay private on a shared host, whatever the umask."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def write_private(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` as a 0600 file: a temporary file in the same folder, flushed
    to disk, then renamed over `path`, so no reader ever sees half of it."""
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as file:  # mkstemp makes it 0600
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path
