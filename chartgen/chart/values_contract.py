"""Everything generated from the values model (``chartgen.chart.values_model``) and the invariants
table (``chartgen.chart.invariants``), as files committed in chartgen's tree (``GENERATED``):

- ``chartgen/data/values.schema.json``: the strict JSON Schema (draft-07) of the chart's
  values, with a description for every key; chartgen reads it at run time
  (``chartgen.chart.values_schema``), so that no run builds the model just to know the schema;
- ``chartgen/chart/static/templates/_contract.tpl``: the defaults the templates assume for
  an absent key of an entry of ``services`` / ``externalServices``, and ``chartgen.fail`` with
  the message of each check;
- ``docs/design/values-contract.md``: every key and every check.

``python -m chartgen.chart.values_contract`` rewrites them; tests/test_values_contract.py fails when
one is out of step with the model.
"""

from __future__ import annotations

import html
import json
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .invariants import INVARIANTS
from .values_model import NOTES, ChartValues, ExternalService, Service, ValuesModel
from ..base.writer import replace_file

_SCALARS = {str: "string", bool: "boolean", int: "integer", float: "number"}


def _constraints(metadata) -> dict[str, Any]:
    """pydantic's constraints (Field(ge=…, le=…, min_length=…, pattern=…)) by name."""
    out: dict[str, Any] = {}
    for m in metadata:
        for attr in ("ge", "le", "min_length", "pattern"):
            if getattr(m, attr, None) is not None:
                out[attr] = getattr(m, attr)
    return out


def _unwrap(tp, description: str | None, metadata: tuple) -> tuple[Any, str | None, tuple]:
    """The type under ``Annotated`` and ``X | None`` (an optional key is left out, never null),
    with the descriptions and constraints found on the way (the outer description wins)."""
    while True:
        if get_origin(tp) is Annotated:
            tp, *extra = get_args(tp)
            for info in extra:
                if isinstance(info, FieldInfo):
                    description = description or info.description
                    metadata = (*metadata, *info.metadata)
        elif get_origin(tp) in (typing.Union, types.UnionType) and type(None) in get_args(tp):
            rest = [a for a in get_args(tp) if a is not type(None)]
            tp = rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]
        else:
            return tp, description, metadata


def schema_of(tp, description: str | None = None, metadata: tuple = ()) -> dict[str, Any]:
    """The JSON Schema of one type of the values model."""
    tp, description, metadata = _unwrap(tp, description, metadata)
    c = _constraints(metadata)
    origin = get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _object(tp, description)
    if origin in (typing.Union, types.UnionType):
        return {"oneOf": [schema_of(a) for a in get_args(tp)]}
    if origin is list:
        out: dict[str, Any] = {"type": "array", "items": schema_of(get_args(tp)[0])}
        _put(out, "description", description)
        _put(out, "minItems", c.get("min_length"))
        return out
    if origin is dict:
        key, value = get_args(tp)
        out = {"type": "object", "additionalProperties": schema_of(value)}
        key_pattern = _constraints(_unwrap(key, None, ())[2]).get("pattern")
        _put(out, "propertyNames", {"pattern": key_pattern} if key_pattern else None)
        _put(out, "description", description)
        return out
    if origin is Literal:
        return _scalar("string", description, {"enum": list(get_args(tp))})
    return _scalar(_SCALARS[tp], description, c)


def _scalar(kind: str, description: str | None, c: dict) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind}
    bounds = {"minimum": c.get("ge"), "maximum": c.get("le")}
    if kind == "number":  # a number states its range first
        for k, v in bounds.items():
            _put(out, k, v)
        bounds = {}
    _put(out, "description", description)
    for k, v in bounds.items():
        _put(out, k, v)
    _put(out, "pattern", c.get("pattern"))
    _put(out, "enum", c.get("enum"))
    _put(out, "minLength", c.get("min_length"))
    return out


def _object(model: type[ValuesModel], description: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "additionalProperties": False}
    low, high = model.schema_counts
    _put(out, "minProperties", low)
    _put(out, "maxProperties", high)
    out["properties"] = {name: schema_of(f.annotation, f.description, tuple(f.metadata))
                         for name, f in model.model_fields.items()}
    required = model.schema_required
    if required == "all":
        out["required"] = sorted(model.model_fields)
    elif required != "none":
        out["required"] = list(required)
    _put(out, "description", description or model.__dict__.get("__doc__"))
    return out


def _put(out: dict, key: str, value):
    if value is not None:
        out[key] = value


def values_schema() -> dict[str, Any]:
    body = _object(ChartValues, None)
    del body["description"]
    return {"$schema": "http://json-schema.org/draft-07/schema#", "title": "mesh chart values", **body}


# --- the template defaults --------------------------------------------------------------------

# the entries the templates fill in from defaults: (helper name, key of the values, model)
ENTRY_DEFAULTS = (("chartgen.serviceDefaults", "services", Service),
                  ("chartgen.externalDefaults", "externalServices", ExternalService))


def entry_defaults(model: type[ValuesModel]) -> dict[str, Any]:
    """What the templates assume for each key an entry of ``model`` leaves out. Each is an
    empty value (false, 0, "", [], {}) or a map of them: the templates fill the defaults in
    with sprig's ``merge``, which also gives a key that an entry states empty its default, so
    only then does an entry's empty value stay what it was."""
    out = {}
    for name, f in model.model_fields.items():
        value = f.get_default(call_default_factory=True)
        out[name] = value.model_dump() if isinstance(value, BaseModel) else value
        _refuse_non_empty(f"{model.__name__}.{name}", out[name])
    return out


def _refuse_non_empty(path: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _refuse_non_empty(f"{path}.{key}", inner)
    elif value not in (False, 0, "", [], None):
        raise ValueError(f"{path}: the template default {value!r} is not empty; sprig's merge would "
                         "replace an entry's empty value with it (give the key an empty default)")


def _flow(value) -> str:
    """A value as one line of flow-style YAML (the defaults hold only these shapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(_flow(v) for v in value) + "]"


def _define(name: str, body: list[str]) -> list[str]:
    return [f'{{{{- define "{name}" -}}}}', *body, "{{- end -}}"]


def _fail_helper() -> list[str]:
    """chartgen.fail: the render fails with the message of a check of the invariants table."""
    most = max(len(inv.args) for inv in INVARIANTS)
    body = ["{{- $messages := dict -}}"]
    body += [f"{{{{- $_ := set $messages {json.dumps(inv.id)} {json.dumps(inv.message)} -}}}}" for inv in INVARIANTS]
    body += ['{{- $format := get $messages .check | required (printf "chartgen.fail: no check %q" .check) -}}',
             "{{- $a := .args | default list -}}"]
    for n in range(most + 1):
        args = "".join(f" (index $a {i})" for i in range(n))
        body += [f"{{{{- {'if' if n == 0 else 'else if'} eq (len $a) {n} -}}}}",
                 f"{{{{- fail {f'(printf $format{args})' if n else '$format'} -}}}}"]
    body += ["{{- end -}}"]
    return _define("chartgen.fail", body)


def contract_template() -> str:
    """The generated helper template: the default of every key of a service and an external
    service (chartgen.model fills them in, so templates never read an absent key), and
    chartgen.fail with the message of each check the schema cannot express."""
    lines = [
        "{{/* The values contract as the templates see it: defaults of absent keys, messages of the checks. */}}",
        "",
        "{{/*",
        f"{GENERATED_FROM} Do not edit: {REGENERATE}",
        "",
        "chartgen.serviceDefaults / chartgen.externalDefaults: the shape of one entry",
        "of .Values.services / .Values.externalServices. Missing keys take these values,",
        "so templates never read a key that is absent.",
        "*/}}",
    ]
    for helper, _key, model in ENTRY_DEFAULTS:
        lines += _define(helper, [f"{k}: {_flow(v)}" for k, v in entry_defaults(model).items()]) + [""]
    lines += [
        "{{/*",
        "chartgen.fail: fails the render with the message of a check the values' schema cannot",
        "express (chartgen/chart/invariants.py), its verbs filled with \"args\".",
        'Usage: {{- include "chartgen.fail" (dict "check" "weights-sum" "args" (list $key (int $sum))) }}',
        "*/}}",
        *_fail_helper(),
    ]
    return "\n".join(lines) + "\n"


# --- the contract doc -------------------------------------------------------------------------

GENERATED_FROM = "Generated from chartgen/chart/values_model.py and chartgen/chart/invariants.py."
REGENERATE = "`python -m chartgen.chart.values_contract` rewrites it."


def _walk(schema: dict, prefix: str = "", seen: dict | None = None):
    """(path, schema, same_as) of every key, in model order; entries of a map are <name>, items of
    a list []. A shape met before is not spelt out again: same_as names where it was."""
    seen = {} if seen is None else seen
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        inner = [(sub, path), (sub.get("additionalProperties"), f"{path}.<name>"), (sub.get("items"), f"{path}[]")]
        inner = [(s, p) for s, p in inner if isinstance(s, dict) and s.get("properties")]
        shape = json.dumps([s for s, _ in inner], sort_keys=True)
        same_as = seen.get(shape) if inner else None
        yield path, sub, same_as
        if inner and same_as is None:
            seen[shape] = inner[0][1]
            for s, p in inner:
                yield from _walk(s, p, seen)


def _constraint_text(s: dict) -> str:
    parts = []
    if "enum" in s:
        parts.append(" \\| ".join(f"`{v}`" for v in s["enum"]))
    if "minimum" in s or "maximum" in s:
        parts.append(f"{s.get('minimum', '…')}–{s.get('maximum', '…')}")
    if "pattern" in s:
        parts.append(f"`{s['pattern']}`".replace("|", "\\|"))
    if "minLength" in s:
        parts.append("not empty")
    if "minItems" in s:
        parts.append(f"at least {s['minItems']}")
    if "propertyNames" in s:
        parts.append(f"keys `{s['propertyNames']['pattern']}`".replace("|", "\\|"))
    low, high = s.get("minProperties"), s.get("maxProperties")
    if high is not None:
        parts.append(f"exactly {high} keys" if low == high else f"at most {high} keys")
    return "; ".join(parts)


def _type_text(s: dict) -> str:
    if "oneOf" in s:
        return " or ".join(_type_text(x) for x in s["oneOf"])
    kind = s.get("type", "object")
    if kind == "array":
        return f"list of {_type_text(s['items'])}"
    if kind == "object" and isinstance(s.get("additionalProperties"), dict):
        return f"map of {_type_text(s['additionalProperties'])}"
    return kind


def _entry_default(path: str) -> str:
    for _helper, key, model in ENTRY_DEFAULTS:
        head = f"{key}.<name>."
        if path.startswith(head):
            node: Any = entry_defaults(model)
            for part in path[len(head):].split("."):
                if not isinstance(node, dict) or part not in node:
                    return ""
                node = node[part]
            return f"`{_flow(node)}`"
    return ""


def _cell(text: str) -> str:
    """Prose in a Markdown table cell: '<host>' stays text (not an HTML tag), '|' no column."""
    return html.escape(text, quote=False).replace("|", "\\|").strip()


def contract_doc() -> str:
    """docs/design/values-contract.md: every key of the values and every invariant."""
    rows = ["| Key | Type | Allowed | Left out | Description |", "|---|---|---|---|---|"]
    for path, s, same_as in _walk(values_schema()):
        desc = _cell(" ".join(filter(None, [s.get("description", ""), NOTES.get(path, "")])))
        desc += f" Keys as in `{same_as}`." if same_as else ""
        rows.append(f"| `{path}` | {_type_text(s)} | {_constraint_text(s)} | {_entry_default(path)} | {desc} |")
    checks = ["| Check | Must hold | Chart's message | Catalog rule |", "|---|---|---|---|"]
    for inv in INVARIANTS:
        rule = f"`{inv.catalog_rule}`" if inv.catalog_rule else "— (no catalog produces it)"
        checks.append(f"| `{inv.id}` | {_cell(inv.summary)} | `{inv.message}` | {rule} |")
    return "\n".join([
        f"<!-- {GENERATED_FROM} Do not edit: {REGENERATE} -->",
        "# The mesh chart's values contract",
        "",
        "The chart's templates read only these keys. `chartgen/chart/values_model.py` defines them once; from it come",
        "`values.schema.json` (helm refuses values that do not fit it), the `## @param` comments of `values.yaml`,",
        "the values table of the chart README, the template defaults of a service and an external service",
        "(`templates/_contract.tpl`, with the messages of the checks below) and this page. `chartgen/chart/values.py` produces the values from the catalog:",
        "`values.yaml` holds the environment-neutral layer (secure defaults: STRICT mTLS, no chaos, HTTPS",
        "gateway); `values/<chart>/<env>.yaml` holds one environment's differences, deep-merged by helm.",
        "",
        "## Keys",
        "",
        "`<name>` stands for any key of a map, `[]` for each item of a list. *Left out* is what the templates",
        "assume when an entry of `services` or `externalServices` leaves the key out (the schema requires",
        "most keys, so this matters only to values given without the schema, e.g. `--skip-schema-validation`).",
        "",
        *rows,
        "",
        "## What the schema cannot say",
        "",
        "These hold across keys, so no JSON Schema states them. The chart refuses values that break one",
        "(`helm template` fails with the message), and the catalog rule refuses the same thing in the",
        "catalog before any values exist. The table is `chartgen/chart/invariants.py`.",
        "",
        *checks,
        "",
    ])


def schema_text() -> str:
    return json.dumps(values_schema(), indent=2) + "\n"


# the generated files, relative to the root of chartgen's tree, and what writes each
GENERATED = {
    "chartgen/data/values.schema.json": schema_text,
    "chartgen/chart/static/templates/_contract.tpl": contract_template,
    "docs/design/values-contract.md": contract_doc,
}


def write(root: Path) -> list[str]:
    """Rewrite the generated files under ``root`` (chartgen's tree); the paths that changed."""
    changed = []
    for rel, make in GENERATED.items():
        path, text = root / rel, make()
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            replace_file(path, text)
            changed.append(rel)
    return changed


if __name__ == "__main__":
    for rel in write(Path(__file__).resolve().parents[2]):  # the checkout: chartgen/chart/ is two below
        print(f"wrote {rel}")
