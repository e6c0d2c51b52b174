"""Validate SARIF logs against the OASIS SARIF 2.1.0 schema (tests/data/sarif/), formats
included: a relative helpUri is not a 'uri'."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).resolve().parent.parent / "data" / "sarif" / "sarif-schema-2.1.0.json"


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft4Validator:
    import rfc3986_validator  # noqa: F401 - jsonschema checks the 'uri' formats only with it installed

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def sarif_errors(text: str) -> list[str]:
    """Every schema violation of the SARIF log ``text`` ('' when valid)."""
    doc = json.loads(text)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(doc)]
