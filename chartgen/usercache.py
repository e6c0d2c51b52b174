"""chartgen's entries in the user's cache directory (``$XDG_CACHE_HOME/chartgen``, else
``~/.cache/chartgen``): what is costly to work out again and safe to lose. A cache that
cannot be written is no error; the caller goes on with what it holds in memory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chartgen"


def store(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically (a reader sees the old entry or the new one, never
    a part); False when the cache cannot be written."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        return False
