"""Schema checks of rendered objects.

- Kubernetes kinds: kubernetes-validate's strict JSON schemas for a pinned Kubernetes
  version, every error of every object. One validator per (apiVersion, kind), built once
  from the package's schema files and a ``referencing`` registry.
- Istio kinds: the CRDs of the pinned Istio release (``chartgen.base.crdcheck``): structural
  schema with unknown fields rejected, schema defaults, then the CRDs' CEL rules. Without
  those CRDs (``istio=None``) Istio kinds are not schema-checked; lint says so in a note.
- Gateway API kinds: the vendored Gateway API CRDs through ``chartgen.base.crdcheck`` (schema
  defaults applied, then the structural schema and every CEL rule).

``validate_objects(docs)`` is the public entry point; tests use it directly.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

from ..base.crdcheck import _compile_cached
from ..chart.gatewayapi import GATEWAY_API_VERSION, crd_set
from .findings import Finding

K8S_CODE = "K8S-SCHEMA"
ISTIO_CODE = "IST0106"
CEL_CODE = "CRD-CEL"
SCHEMA_KEYWORDS = {"type", "required", "unknown field", "enum", "pattern", "format", "minimum", "maximum",
                   "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "oneOf",
                   "anyOf", "allOf", "not", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "metadata",
                   "kind", "served"}
DEFAULT_KUBE_VERSION = "1.33"


def _obj(doc: Any) -> dict:
    return doc.obj if hasattr(doc, "obj") else doc


def _source(doc: Any) -> str:
    return getattr(doc, "source", "") or ""


def _path(parts: Iterable) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# --- Kubernetes ----------------------------------------------------------------------------------


def _schema_dir(version: str) -> str:
    import kubernetes_validate.utils as kv  # start-up: the lint extra (optional); only building a schema validator needs it

    version = version[1:] if version.startswith("v") else version
    mm = kv.major_minor(version)
    candidates = [v for v in kv.all_versions() if kv.major_minor(v) <= mm]
    if not candidates:
        raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {version}")
    return f"v{candidates[-1]}-local-strict"


@lru_cache(maxsize=None)
def _registry(version: str):
    from referencing import Registry, Resource  # start-up: about 250 ms; only building a schema validator (no cached one) needs it

    folder = resources.files("kubernetes_validate") / "kubernetes-json-schema" / _schema_dir(version)
    defs = json.loads((folder / "_definitions.json").read_text(encoding="utf-8"))
    return Resource.from_contents(defs) @ Registry(), folder


@lru_cache(maxsize=None)
def _k8s_validator(version: str, api_version: str, kind: str):
    """The strict validator of one kind, or None when the kind has no schema."""
    import jsonschema  # start-up: about 60 ms; only building a schema validator (no cached one) needs it
    from referencing import Resource  # start-up: about 250 ms; only building a schema validator (no cached one) needs it

    schema = _kind_schema(version, api_version, kind)
    if schema is None:
        return None
    registry = Resource.from_contents(schema) @ _registry(version)[0]
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _kind_schema(version: str, api_version: str, kind: str) -> dict | None:
    """kubernetes-validate's schema of one kind (``deployment-apps-v1.json``…), or None."""
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_file = _registry(version)[1] / f"{kind.lower()}-{api}.json"
    if not schema_file.is_file():
        return None
    return json.loads(schema_file.read_text(encoding="utf-8"))


def _draft7(node: Any) -> Any:
    """A kubernetes-validate schema with its $defs references pointing at ``#/definitions``
    and no formats (as the full validator, which does not assert them)."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out[k] = "#/definitions/" + v.rsplit("/", 1)[-1]
            elif k in ("format", "$schema", "$id") and isinstance(v, str):
                continue
            else:
                out[k] = _draft7(v)
        return out
    if isinstance(node, list):
        return [_draft7(x) for x in node]
    return node


_REF = re.compile(r'"\$ref": "#/definitions/([^"]+)"')
_K8S_SEEN: dict = {}
FAST_AFTER = 20  # objects of one kind before its compiled validator is built


@lru_cache(maxsize=None)
def _k8s_fast(version: str, api_version: str, kind: str):
    """A compiled validator of one kind (only the definitions it reaches), or None."""
    raw = _kind_schema(version, api_version, kind)
    if raw is None:
        return None
    try:
        defs = _definitions(version)
        schema = _draft7(raw)
        need: dict = {}
        todo = [schema]
        while todo:
            for ref in _REF.findall(json.dumps(todo.pop())):
                if ref not in need and ref in defs:
                    need[ref] = _draft7(defs[ref])
                    todo.append(need[ref])
        schema["definitions"] = need
        return _compile_cached(schema)
    except Exception:  # noqa: BLE001 - no fast path: the full validator does everything
        return None


@lru_cache(maxsize=None)
def _definitions(version: str) -> dict:
    _, folder = _registry(version)
    return json.loads((folder / "_definitions.json").read_text(encoding="utf-8")).get("$defs", {})


def _k8s_errors(obj: dict, version: str) -> list[tuple[str, str]]:
    key = (version, str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    _K8S_SEEN[key] = _K8S_SEEN.get(key, 0) + 1
    if _K8S_SEEN[key] > FAST_AFTER:
        fast = _k8s_fast(*key)
        if fast is not None:
            try:
                fast(obj)
                return []
            except Exception:  # noqa: BLE001 - refused: the full validator says why, every reason
                pass
    validator = _k8s_validator(version, str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    if validator is None:
        return [("", f"no Kubernetes {version} schema for {obj.get('apiVersion')} {obj.get('kind')}")]
    errors = sorted(validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [(_path(e.absolute_path), e.message) for e in errors]


# --- Istio ---------------------------------------------------------------------------------------


def preload() -> None:
    """Build the Kubernetes registry (lint runs it in a thread while helm renders)."""
    _registry(DEFAULT_KUBE_VERSION)


def _istio_findings(obj: dict, crds) -> list[tuple[str, str, str]]:
    """(code, where, message) for one Istio object: the CRD schema, then its CEL rules."""
    out = []
    for v in crds.validate(obj):
        if v.rule in SCHEMA_KEYWORDS:
            out.append((ISTIO_CODE, v.path, v.message))
        else:
            out.append((CEL_CODE, v.path, f"{v.message} (rule: {_short(v.rule)})"))
    return out


def _short(rule: str) -> str:
    rule = " ".join(rule.split())
    return rule if len(rule) <= 120 else rule[:117] + "..."


# --- Gateway API ---------------------------------------------------------------------------------


def _gateway_api_errors(obj: dict) -> list[tuple[str, str]]:
    """The vendored Gateway API CRDs, as the API server applies them (defaults, schema, CEL)."""
    crds = crd_set()
    if not crds.knows(str(obj.get("apiVersion", "")), str(obj.get("kind", ""))):
        return [("", f"no Gateway API {GATEWAY_API_VERSION} CRD serves {obj.get('apiVersion')} {obj.get('kind')}")]
    return [(v.path, v.message) for v in crds.validate(obj)]


def is_gateway_api(obj: dict) -> bool:
    return str(obj.get("apiVersion", "")).split("/")[0] == "gateway.networking.k8s.io"


def is_istio(obj: dict) -> bool:
    return str(obj.get("apiVersion", "")).split("/")[0].endswith(".istio.io")


def validate_objects(docs: Iterable, env: str = "", kube_version: str = DEFAULT_KUBE_VERSION,
                     istio=None) -> list[Finding]:
    """Schema findings for rendered objects (dicts, or ``Doc`` objects with a source).

    ``istio``: the Istio CRDs (a ``chartgen.base.crdcheck.CRDSet``); None skips Istio kinds."""
    findings = []
    for doc in docs:
        obj = _obj(doc)
        if not isinstance(obj, dict) or not obj.get("kind"):
            continue
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        if is_istio(obj):
            if istio is None:
                continue
            errors = _istio_findings(obj, istio)
        elif is_gateway_api(obj):
            errors = [(K8S_CODE, where, message) for where, message in _gateway_api_errors(obj)]
        else:
            errors = [(K8S_CODE, where, message) for where, message in _k8s_errors(obj, kube_version)]
        for code, where, message in errors:
            findings.append(Finding(env, str(obj["kind"]), str(meta.get("namespace") or ""), str(meta.get("name", "")),
                                    code, f"{where}: {message}" if where else message, "error", _source(doc)))
    return findings
