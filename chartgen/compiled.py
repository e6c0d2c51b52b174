"""JSON schemas compiled to Python by fastjsonschema, with the compiled code object kept in the
user's cache directory. Compiling a large schema costs more than a whole no-op run of a small
catalog; the cache key covers the schema, fastjsonschema's version and Python's."""

from __future__ import annotations

import hashlib
import json
import marshal
import sys

from .usercache import cache_dir, store


def compiled_validator(schema: dict, *, where: str, name: str):
    """The ``validate`` function fastjsonschema generates for ``schema``. Its code object is
    cached as ``<cache>/chartgen/<where><key>.marshal`` (``where`` may name a subdirectory);
    a corrupt entry is rebuilt, and an unwritable cache only means compiling in memory."""
    import fastjsonschema  # start-up: about 40 ms; only compiling a schema (a cache miss) or its errors need it

    text = json.dumps(schema, sort_keys=True)
    key = hashlib.sha256("\0".join((text, fastjsonschema.VERSION, sys.version)).encode()).hexdigest()[:20]
    path = cache_dir() / f"{where}{key}.marshal"
    try:
        code = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        code = compile(fastjsonschema.compile_to_code(schema), f"<{name}>", "exec")
        store(path, marshal.dumps(code))  # no writable cache: fine, compiled in memory
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - fastjsonschema's own generated validator
    return namespace["validate"]
