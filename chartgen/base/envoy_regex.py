"""Regular expressions as Envoy runs them: RE2 (google-re2), never Python's ``re``, which
accepts what RE2 rejects (look-behind, back-references) and matches differently."""

from __future__ import annotations

from functools import lru_cache

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every rejected pattern on stderr


@lru_cache(maxsize=1024)
def _compile(pattern: str):
    return re2.compile(pattern, _OPTIONS)


# Istio's sidecar bootstrap sets Envoy's runtime re2.max_program_size.error_level to 32768:
# a regex whose compiled program is larger is rejected by every proxy
MAX_PROGRAM_SIZE = 32768


def re2_problem(pattern: str) -> str | None:
    """None when RE2 compiles ``pattern`` within Envoy's program size limit, else the reason."""
    try:
        compiled = _compile(pattern)
    except re2.error as exc:
        why = exc.args[0] if exc.args else "invalid"
        return why.decode("utf-8", "replace") if isinstance(why, bytes) else str(why)
    if compiled.programsize > MAX_PROGRAM_SIZE:
        return f"its RE2 program size {compiled.programsize} is above Envoy's limit {MAX_PROGRAM_SIZE}"
    return None


def full_match(pattern: str, text: str) -> bool:
    """Envoy's safe_regex semantics: the whole ``text`` must match."""
    return _compile(pattern).fullmatch(text) is not None
