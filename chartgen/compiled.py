"""JSON schemas compiled to Python by fastjsonschema, with the compiled code object kept in the
user's cache directory. Compiling a large schema costs more than a whole no-op run of a small
catalog; the cache key covers the schema, fastjsonschema's version and Python's."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import sys
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chartgen"


def compiled_validator(schema: dict, *, where: str, name: str):
    """The ``validate`` function fastjsonschema generates for ``schema``. Its code object is
    cached as ``<cache>/chartgen/<where><key>.marshal`` (``where`` may name a subdirectory);
    a corrupt entry is rebuilt, and an unwritable cache only means compiling in memory."""
    import fastjsonschema

    text = json.dumps(schema, sort_keys=True)
    key = hashlib.sha256("\0".join((text, fastjsonschema.VERSION, sys.version)).encode()).hexdigest()[:20]
    path = cache_dir() / f"{where}{key}.marshal"
    try:
        code = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        code = compile(fastjsonschema.compile_to_code(schema), f"<{name}>", "exec")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(marshal.dumps(code))
            os.replace(tmp, path)
        except OSError:  # no writable cache: fine, compiled in memory
            pass
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - fastjsonschema's own generated validator
    return namespace["validate"]
