"""The JSON Schema of the mesh chart's values, as chartgen reads it at run time.

The schema is generated from the values model (``chartgen.chart.values_model``) by
``chartgen.chart.values_contract`` into ``chartgen/data/values.schema.json``; reading that file keeps
pydantic's model building out of every run. Its descriptions become the ``values.yaml``
comments and the chart README's values table, through ``describe``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

VALUES_SCHEMA: dict[str, Any] = json.loads(
    (resources.files("chartgen") / "data" / "values.schema.json").read_text(encoding="utf-8"))


def describe(schema: dict = VALUES_SCHEMA, prefix: str = "") -> list[tuple[str, str, str]]:
    """(path, type, description) for every documented key, in schema order."""
    rows = []
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        rows.append((path, sub.get("type", "object"), sub.get("description", "")))
        rows += describe(sub, path)
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("properties"):
            placeholder = "<name>"
            rows += describe(extra, f"{path}.{placeholder}")
    return rows
