"""The API server's size and length limits, checked on rendered objects. Pure functions.

An object over one of these limits is refused when it is applied, by every route:

- the whole object: etcd refuses a request over ``--max-request-bytes`` (1.5 MiB by default),
  measured here as the object's compact JSON;
- a ConfigMap's ``data`` and ``binaryData`` (keys and values) and a Secret's decoded values:
  at most 1 MiB (``MaxConfigMapSize``/``MaxSecretSize`` in Kubernetes' validation);
- an object's annotations, keys and values together: at most 256 KiB
  (``TotalAnnotationSizeLimitB``). A client-side apply (``kubectl apply``, Argo CD without
  ``ServerSideApply=true``) adds ``kubectl.kubernetes.io/last-applied-configuration``, the
  whole object as JSON, so there the object itself must fit in 256 KiB. Helm (helmfile,
  Flux's helm-controller) merges in three ways without that annotation, and Flux's
  kustomize-controller applies server-side;
- a label value: at most 63 characters; a label or annotation key: a name of at most 63
  characters after an optional DNS prefix of at most 253;
- a name: at most 253 characters (a DNS subdomain), 63 for the kinds whose names are DNS
  labels (Namespace, Service).

``check_objects`` returns one ``LimitProblem`` per object and limit, naming the object and
the catalog part that made it large (``blame``); ``chartgen lint`` reports them under the
CG14x codes (docs/lint-rules.md), and the integration tests run them on every release of
every route.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from .gitops import server_side_apply, values_configmap_name

__all__ = ["LAST_APPLIED", "LIMITS", "LimitProblem", "check_object", "check_objects", "json_size"]

KIB = 1024
MIB = 1024 * KIB
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ARGO_TRACKING = "argocd.argoproj.io/tracking-id"
LIMITS = {
    "object": 3 * MIB // 2,  # etcd's default --max-request-bytes
    "data": MIB,  # ConfigMap data + binaryData; Secret data (decoded)
    "annotations": 256 * KIB,
    "label-value": 63,
    "key-name": 63,
    "key-prefix": 253,
    "name": 253,
    "dns-label-name": 63,
}
CODES = {"object": "CG140", "data": "CG141", "last-applied": "CG142", "annotations": "CG143", "length": "CG144"}
_DNS_LABEL_KINDS = {"Namespace", "Service"}


@dataclass(frozen=True, order=True)
class LimitProblem:
    code: str
    kind: str
    namespace: str
    name: str
    size: int
    limit: int
    message: str


def json_size(obj) -> int:
    """Bytes of ``obj`` as compact JSON (UTF-8): what a client sends, and what the
    last-applied annotation holds."""
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode())


def _data_size(obj: dict) -> int:
    kind = obj.get("kind")
    if kind == "ConfigMap":
        total = sum(len(k.encode()) + len(str(v).encode()) for k, v in (obj.get("data") or {}).items())
        return total + sum(len(k.encode()) + len(base64.b64decode(v or "")) for k, v in
                           (obj.get("binaryData") or {}).items())
    if kind == "Secret":
        total = sum(len(base64.b64decode(v or "")) for v in (obj.get("data") or {}).values())
        return total + sum(len(str(v).encode()) for v in (obj.get("stringData") or {}).values())
    return -1


def _annotation_size(annotations: dict) -> int:
    return sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())


def _bad_key(key: str) -> str | None:
    prefix, _, name = str(key).rpartition("/")
    if len(name) > LIMITS["key-name"]:
        return f"its name part has {len(name)} characters (at most {LIMITS['key-name']})"
    if len(prefix) > LIMITS["key-prefix"]:
        return f"its prefix has {len(prefix)} characters (at most {LIMITS['key-prefix']})"
    return None


def _lengths(obj: dict, meta: dict) -> list[tuple[str, int, int, str]]:
    out = []
    name = str(meta.get("name") or "")
    limit = LIMITS["dns-label-name"] if obj.get("kind") in _DNS_LABEL_KINDS else LIMITS["name"]
    if len(name) > limit:
        out.append(("length", len(name), limit, f"name has {len(name)} characters (at most {limit})"))
    for key, value in (meta.get("labels") or {}).items():
        if len(str(value)) > LIMITS["label-value"]:
            out.append(("length", len(str(value)), LIMITS["label-value"],
                        f"label {key} has a value of {len(str(value))} characters (at most {LIMITS['label-value']})"))
    for what in ("labels", "annotations"):
        for key in meta.get(what) or {}:
            bad = _bad_key(key)
            if bad:
                out.append(("length", len(str(key)), LIMITS["key-name"], f"{what[:-1]} key {key}: {bad}"))
    return out


def check_object(obj: dict, *, client_side_apply: bool = False, tracking: str | None = None) -> list[tuple]:
    """``(limit, size, allowed, message)`` for each limit ``obj`` breaks. ``client_side_apply``:
    the route stores the last-applied annotation (``tracking``: the value of Argo CD's
    tracking annotation it adds as well)."""
    meta = obj.get("metadata") or {}
    out = []
    size = json_size(obj)
    if size > LIMITS["object"]:
        out.append(("object", size, LIMITS["object"],
                    f"the object is {size:,} bytes; etcd accepts at most {LIMITS['object']:,} (1.5 MiB) per request"))
    data = _data_size(obj)
    if data > LIMITS["data"]:
        out.append(("data", data, LIMITS["data"],
                    f"its data is {data:,} bytes; a {obj.get('kind')} holds at most {LIMITS['data']:,} (1 MiB)"))
    annotations = dict(meta.get("annotations") or {})
    own = _annotation_size(annotations)
    if own > LIMITS["annotations"]:
        out.append(("annotations", own, LIMITS["annotations"],
                    f"its annotations are {own:,} bytes; at most {LIMITS['annotations']:,} (256 KiB)"))
    elif client_side_apply:
        if tracking:
            annotations[ARGO_TRACKING] = tracking
        applied = {**obj, "metadata": {**meta, "annotations": annotations}}
        total = own + len(LAST_APPLIED) + json_size(applied) + (len(ARGO_TRACKING) + len(tracking) if tracking else 0)
        if total > LIMITS["annotations"]:
            out.append(("last-applied", total, LIMITS["annotations"],
                        f"a client-side apply stores the object ({json_size(applied):,} bytes as JSON) in the "
                        f"{LAST_APPLIED} annotation: {total:,} bytes of annotations, at most "
                        f"{LIMITS['annotations']:,} (256 KiB); apply it server-side or make it smaller"))
    return out + _lengths(obj, meta)


def check_objects(objs: list[dict], *, client_side_apply: bool = False, app: str | None = None,
                  blame=None) -> list[LimitProblem]:
    """Every limit every object breaks. ``app``: the Argo CD Application applying them
    (its tracking annotation is counted); ``blame(obj) -> str``: the catalog part that made
    the object what it is, appended to the message."""
    out = []
    for obj in objs:
        if not isinstance(obj, dict) or "kind" not in obj:
            continue
        meta = obj.get("metadata") or {}
        kind, ns, name = str(obj["kind"]), str(meta.get("namespace") or ""), str(meta.get("name") or "")
        tracking = None
        if app:
            group = str(obj.get("apiVersion", "")).rpartition("/")[0]
            tracking = f"{app}:{group}/{kind}:{ns}/{name}"
        for limit, size, allowed, message in check_object(obj, client_side_apply=client_side_apply,
                                                          tracking=tracking):
            cause = blame(obj) if blame else ""
            out.append(LimitProblem(CODES[limit], kind, ns, name, size, allowed,
                                    message + (f" ({cause})" if cause else "")))
    return sorted(out)


# --- the routes -----------------------------------------------------------------------------

ROUTES = ("helmfile", "argocd", "flux")


def client_side_apply(route: str, release) -> bool:
    """Whether ``route`` applies ``release``'s objects client-side (with the last-applied
    annotation): only Argo CD, for the releases it does not sync with ServerSideApply."""
    return route == "argocd" and not server_side_apply(release)


def blame(mesh, env: str, release_name: str, mesh_release: str):
    """``obj -> str``: the catalog part that made an object of ``release_name`` in ``env``
    what it is (for the limit messages)."""
    view = next(v for v in mesh.views if v.name == env)
    by_name = {svc.service_name: key for key, svc in view.enabled.items()}
    slo = sum(1 for svc in view.enabled.values() if svc.spec.slo is not None)

    def why(obj: dict) -> str:
        kind = obj.get("kind")
        name = (obj.get("metadata") or {}).get("name", "")
        if release_name == "prometheus" and kind == "ConfigMap":
            return (f"the SLO alert rules of {slo} services: services.*.slo, "
                    f"values/prometheus/generated/slo-rules-{env}.yaml")
        if release_name == "grafana" and kind == "ConfigMap":
            return "Istio's Grafana dashboards: values/grafana/generated/istio-dashboards.yaml"
        if release_name == mesh_release:
            if name in by_name:
                return f"services.{by_name[name]} in environment {env}"
            return f"the {len(view.enabled)} services of environment {env} (services, environments.{env})"
        return f"values/{release_name}/ (release {release_name})"

    return why


def flux_values_configmaps(files: dict[str, str], plan, env: str, namespace: str) -> list[tuple[str, dict]]:
    """(release, ConfigMap) per release of ``env``: the values ConfigMaps that the Flux
    export's ``kustomization.yaml`` generates from the values files in ``files`` (paths
    from the output root), as kustomize builds them."""
    out = []
    for r in plan.releases:
        if env not in r.envs:
            continue
        data = {}
        for path in r.value_files(env):
            if path in files:
                data[path.rsplit("/", 1)[-1]] = files[path]
        out.append((r.name, {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": values_configmap_name(r), "namespace": namespace,
                                          "annotations": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}},
                             "data": data}))
    return out


def check_routes(renders: dict, plan, catalog_name: str, envs, *, mesh=None) -> list[tuple[str, str, str, LimitProblem]]:
    """Every limit broken by what the three routes apply, as ``(route, env, release,
    problem)``. ``renders``: per (route, env) the rendered objects per release, as
    ``{"*": objs}`` for helmfile (one release list, all applied by helm), per release name
    for ``argocd`` and ``flux``, and under ``("flux-build", env)`` the objects of the Flux
    directory's build (values ConfigMaps, HelmReleases, sources: applied server-side by
    kustomize-controller). ``mesh``: the resolved catalog, for the messages' causes."""
    by_name = {r.name: r for r in plan.releases}
    mesh_release = next(r.name for r in plan.releases if r.tier == "mesh")
    out = []
    for env in envs:
        for route in ROUTES:
            for release, objs in renders.get((route, env), {}).items():
                r = by_name.get(release)
                csa = r is not None and client_side_apply(route, r)
                why = blame(mesh, env, release, mesh_release) if mesh is not None and r is not None else None
                app = f"{catalog_name}-{env}-{release}" if route == "argocd" else None
                out += [(route, env, release, p) for p in check_objects(objs, client_side_apply=csa, app=app,
                                                                        blame=why)]
        for objs in renders.get(("flux-build", env), {}).values():
            out += [("flux", env, "(kustomization)", p) for p in check_objects(objs)]
    return out
