"""Schema checks of rendered objects.

- Kubernetes kinds: kubernetes-validate's strict JSON schemas for a pinned Kubernetes
  version, every error of every object. One validator per (apiVersion, kind), built once
  from the package's schema files and a ``referencing`` registry.
- Istio kinds: the cloudcoil pydantic models (strict types), plus unknown-field detection
  (the models drop unknown fields silently, so the input keys are compared with the dump).
- Gateway API kinds: the vendored Gateway API CRDs through ``chartgen.crdcheck`` (schema
  defaults applied, then the structural schema and every CEL rule).

``validate_objects(docs)`` is the public entry point; tests use it directly.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

from .findings import Finding

K8S_CODE = "K8S-SCHEMA"
ISTIO_CODE = "IST0106"
DEFAULT_KUBE_VERSION = "1.33"
ISTIO_GROUPS = {
    "networking.istio.io": "networking",
    "security.istio.io": "security",
    "telemetry.istio.io": "telemetry",
    "extensions.istio.io": "extensions",
}


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
    import kubernetes_validate.utils as kv

    version = version[1:] if version.startswith("v") else version
    mm = kv.major_minor(version)
    candidates = [v for v in kv.all_versions() if kv.major_minor(v) <= mm]
    if not candidates:
        raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {version}")
    return f"v{candidates[-1]}-local-strict"


@lru_cache(maxsize=None)
def _registry(version: str):
    from referencing import Registry, Resource

    folder = resources.files("kubernetes_validate") / "kubernetes-json-schema" / _schema_dir(version)
    defs = json.loads((folder / "_definitions.json").read_text(encoding="utf-8"))
    return Resource.from_contents(defs) @ Registry(), folder


@lru_cache(maxsize=None)
def _k8s_validator(version: str, api_version: str, kind: str):
    """The strict validator of one kind, or None when the kind has no schema."""
    import jsonschema
    from referencing import Resource

    registry, folder = _registry(version)
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_file = folder / f"{kind.lower()}-{api}.json"
    if not schema_file.is_file():
        return None
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    registry = Resource.from_contents(schema) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _k8s_errors(obj: dict, version: str) -> list[tuple[str, str]]:
    validator = _k8s_validator(version, str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    if validator is None:
        return [("", f"no Kubernetes {version} schema for {obj.get('apiVersion')} {obj.get('kind')}")]
    errors = sorted(validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [(_path(e.absolute_path), e.message) for e in errors]


# --- Istio ---------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _istio_model(api_version: str, kind: str):
    group, _, version = api_version.partition("/")
    short = ISTIO_GROUPS.get(group)
    if short is None or not re.fullmatch(r"v\d+((alpha|beta)\d+)?", version):
        return None
    try:
        module = importlib.import_module(f"cloudcoil.models.istio.{short}.{version}")
    except ModuleNotFoundError:
        return None
    model = getattr(module, kind, None)
    return model if isinstance(model, type) and hasattr(model, "model_validate") else None


def preload() -> None:
    """Import the Istio models and build the Kubernetes registry (about 1.5 s; lint runs it
    in a thread while helm renders)."""
    for api, kind in (("networking.istio.io/v1", "VirtualService"), ("security.istio.io/v1", "AuthorizationPolicy"),
                      ("telemetry.istio.io/v1", "Telemetry"), ("networking.istio.io/v1alpha3", "EnvoyFilter")):
        _istio_model(api, kind)
    _registry(DEFAULT_KUBE_VERSION)


def _unknown_keys(given: Any, kept: Any, path: tuple = ()) -> list[tuple]:
    """Paths of keys present in ``given`` but dropped from ``kept``."""
    out: list[tuple] = []
    if isinstance(given, dict) and isinstance(kept, dict):
        for key, value in given.items():
            if key not in kept:
                out.append(path + (key,))
            else:
                out += _unknown_keys(value, kept[key], path + (key,))
    elif isinstance(given, list) and isinstance(kept, list):
        for i, (a, b) in enumerate(zip(given, kept)):
            out += _unknown_keys(a, b, path + (i,))
    return out


def _without_errors(model, obj: dict, exc):
    """Parse ``obj`` with the failing values removed, to look for unknown fields next to them."""
    from pydantic import ValidationError

    pruned = copy.deepcopy(obj)
    for _ in range(3):
        for err in exc.errors():
            loc = list(err["loc"])
            node = pruned
            for part in loc[:-1]:
                try:
                    node = node[part]
                except (KeyError, IndexError, TypeError):
                    node = None
                    break
            if isinstance(node, dict):
                node.pop(loc[-1], None) if loc else None
        try:
            return model.model_validate(pruned), pruned
        except ValidationError as again:
            exc = again
    return None


def _istio_errors(obj: dict) -> list[tuple[str, str]]:
    from pydantic import ValidationError

    model = _istio_model(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    if model is None:
        return [("", f"unknown Istio kind {obj.get('kind')} in {obj.get('apiVersion')}")]
    errors: list[tuple[str, str]] = []
    given = obj
    try:
        parsed = model.model_validate(obj, strict=True)
    except ValidationError as exc:
        errors = [(_path(e["loc"]), e["msg"]) for e in exc.errors()]
        retry = _without_errors(model, obj, exc)
        if retry is None:
            return errors
        parsed, given = retry
    kept = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return errors + [(_path(p), f"unknown field {p[-1]!r}") for p in _unknown_keys(given, kept)]


# --- Gateway API ---------------------------------------------------------------------------------


def _gateway_api_errors(obj: dict) -> list[tuple[str, str]]:
    """The vendored Gateway API CRDs, as the API server applies them (defaults, schema, CEL)."""
    from ..gatewayapi import GATEWAY_API_VERSION, crd_set

    crds = crd_set()
    if not crds.knows(str(obj.get("apiVersion", "")), str(obj.get("kind", ""))):
        return [("", f"no Gateway API {GATEWAY_API_VERSION} CRD serves {obj.get('apiVersion')} {obj.get('kind')}")]
    return [(v.path, v.message) for v in crds.validate(obj)]


def is_gateway_api(obj: dict) -> bool:
    return str(obj.get("apiVersion", "")).split("/")[0] == "gateway.networking.k8s.io"


def is_istio(obj: dict) -> bool:
    return str(obj.get("apiVersion", "")).split("/")[0].endswith(".istio.io")


def validate_objects(docs: Iterable, env: str = "", kube_version: str = DEFAULT_KUBE_VERSION) -> list[Finding]:
    """Schema findings for rendered objects (dicts, or ``Doc`` objects with a source)."""
    findings = []
    for doc in docs:
        obj = _obj(doc)
        if not isinstance(obj, dict) or not obj.get("kind"):
            continue
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        istio = is_istio(obj)
        if istio:
            errors = _istio_errors(obj)
        elif is_gateway_api(obj):
            errors = _gateway_api_errors(obj)
        else:
            errors = _k8s_errors(obj, kube_version)
        for where, message in errors:
            findings.append(Finding(env, str(obj["kind"]), str(meta.get("namespace") or ""), str(meta.get("name", "")),
                                    ISTIO_CODE if istio else K8S_CODE, f"{where}: {message}" if where else message,
                                    "error", _source(doc)))
    return findings
