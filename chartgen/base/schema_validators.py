"""JSON schemas compiled to Python by fastjsonschema, once per process.

Nothing of this is kept in the user's cache: a cached code object (or generated source) would
be code that anyone able to write the cache could make chartgen run. Compiling from the schema
costs each process a few tens of milliseconds (docs/benchmarks.md, docs/security.md)."""

from __future__ import annotations

import hashlib
import json
import threading

_COMPILED: dict[str, object] = {}
_LOCK = threading.Lock()


def compiled_validator(schema: dict, *, name: str):
    """The ``validate`` function fastjsonschema generates for ``schema`` (built from the schema
    in this process; one per distinct schema)."""
    import fastjsonschema  # start-up: about 40 ms; only compiling a schema needs it

    key = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
    with _LOCK:
        found = _COMPILED.get(key)
    if found is None:
        code = compile(fastjsonschema.compile_to_code(schema), f"<{name}>", "exec")
        namespace: dict = {}
        exec(code, namespace)  # noqa: S102 - generated here, from our own schema, never read from disk
        found = namespace["validate"]
        with _LOCK:
            _COMPILED.setdefault(key, found)
    return found
