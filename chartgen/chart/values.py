"""Catalog → the mesh chart's values: ``values.yaml`` (environment-neutral, secure
defaults) and one override file per environment.

The values have the shape of ``chartgen.chart.values_model`` (the values contract, from which the
schema, the template defaults and docs/design/values-contract.md are generated); the Go
templates read nothing else. Pure functions of the catalog.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

from ..base import naming
from ..catalog.model import ISTIO_DEFAULT_RETRY_ON, Catalog, Match, path_match
from ..catalog.mesh import EnvView, Mesh, ResolvedService, gateway_service_type, l7_needs, psa_labels, resolve, workload_psa_level
from ..catalog.revisions import control_plane

# gRPC failures arrive as HTTP 200 with a grpc-status: a gRPC service also retries on these.
GRPC_RETRY_ON = ("cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable")
TEST_IMAGE = "curlimages/curl:8.11.1"
WAYPOINT = "waypoint"  # the waypoint Gateway of an ambient namespace (also its service account)


def chart_name(catalog: Catalog) -> str:
    return naming.trunc63(f"{catalog.metadata.name}-mesh")


# --- Istio shapes ------------------------------------------------------------------------------


def _string_match(m) -> dict:
    return {k: v for k, v in (("exact", m.exact), ("prefix", m.prefix), ("regex", m.regex)) if v is not None}


def istio_match(m: Match | None) -> list[dict]:
    """A catalog match as a list of Istio HTTPMatchRequest (one entry: all conditions ANDed)."""
    if m is None:
        return []
    out: dict[str, Any] = {}
    headers = {name: _string_match(cond) for name, cond in sorted(m.headers.items())}
    if m.cookie is not None:
        headers["cookie"] = {"regex": f"^(.*?;\\s*)?({re.escape(m.cookie.name)}={re.escape(m.cookie.value)})(;.*)?$"}
    if headers:
        out["headers"] = headers
    if m.path is not None:
        out["uri"] = _string_match(m.path)
    if m.queryParams:
        out["queryParams"] = {name: _string_match(cond) for name, cond in sorted(m.queryParams.items())}
    return [out] if out else []


def _load_balancer(s) -> dict:
    if s.sessionAffinity is not None:
        a = s.sessionAffinity
        if a.header is not None:
            return {"consistentHash": {"httpHeaderName": a.header}}
        if a.cookie is not None:
            cookie = {"name": a.cookie.name}
            if a.cookie.path:
                cookie["path"] = a.cookie.path
            if a.cookie.ttl:
                cookie["ttl"] = a.cookie.ttl
            return {"consistentHash": {"httpCookie": cookie}}
        if a.sourceIp:
            return {"consistentHash": {"useSourceIp": True}}
        return {"consistentHash": {"httpQueryParameterName": a.queryParameter}}
    if s.loadBalancer is not None:
        return {"simple": s.loadBalancer}
    return {}


def _retry_on(svc: ResolvedService) -> str:
    """The retry conditions: the service's own when it states them; otherwise those of
    ``defaults`` (or Istio's), plus the gRPC status conditions for a service with a GRPC port."""
    retries = svc.spec.retries
    base = retries.retryOn if retries is not None else ISTIO_DEFAULT_RETRY_ON
    if svc.own_retry_on or not svc.has_grpc:
        return base
    tokens = base.split(",")
    return ",".join(tokens + [t for t in GRPC_RETRY_ON if t not in tokens])


def _exposed_path(item):
    """A segment prefix stays a bare string (its trailing "/" dropped); "/" stays "/"; exact,
    a plain string prefix and regex become a match."""
    kind, value = path_match(item)
    return value if kind == "pathPrefix" or (kind, value) == ("prefix", "/") else {kind: value}


def path_label(item) -> str:
    """An exposed path of the values as text: ``/api`` (a prefix), ``/login (exact)``."""
    if isinstance(item, str):
        return item
    kind, value = next(iter(item.items()))
    return f"{value} ({kind})"


def _nonnull(model) -> dict:
    return model.model_dump(mode="json", exclude_none=True) if model is not None else {}


def _ports(ports) -> list[dict]:
    out = []
    for p in ports:
        item = {"name": p.name, "number": p.port, "protocol": p.protocol}
        target = getattr(p, "targetPort", None)  # a service's port may name the pod's port
        if target is not None and target != p.port:
            item["targetPort"] = target
        out.append(item)
    return out


def _expose(svc: ResolvedService) -> dict:
    e = svc.spec.expose
    if e is None:
        return {"enabled": False, "host": svc.key, "paths": ["/"], "gatewayPort": 0}
    return {"enabled": True, "host": e.host or svc.key, "paths": [_exposed_path(p) for p in e.paths],
            "gatewayPort": e.gatewayPort or 0}


def _retries(svc: ResolvedService) -> dict:
    r = svc.spec.retries
    return {"attempts": r.attempts if r else 2, "perTryTimeout": (r.perTryTimeout or "") if r else "",
            "retryOn": _retry_on(svc)}


def _mirror(m) -> dict:
    if m is None:
        return {"enabled": False, "version": "", "percent": 0}
    return {"enabled": True, "version": m.version, "percent": m.percent}


def _waypoint(svc: ResolvedService, view: EnvView | None) -> str:
    return WAYPOINT if view is not None and view.ambient and l7_needs(svc) else ""


def service_values(svc: ResolvedService, view: EnvView | None = None) -> dict:
    """One entry of ``services`` (values_model.Service)."""
    s = svc.spec
    return {
        "enabled": svc.enabled,
        "waypoint": _waypoint(svc, view),
        "namespace": s.namespace or "",
        "serviceName": svc.service_name,
        "selector": svc.selector,
        "serviceAccount": {"create": svc.creates_service_account, "name": svc.service_account},
        "ports": _ports(s.ports),
        "expose": _expose(svc),
        "timeout": s.timeout or "",
        "retries": _retries(svc),
        "loadBalancer": _load_balancer(s),
        "connectionPool": _nonnull(s.connectionPool),
        "outlierDetection": _nonnull(s.outlierDetection),
        "versions": {v: {"labels": svc.version_labels(v)} for v in sorted(s.versions or {})},
        "weights": dict(sorted((s.weights or {}).items())),
        "routes": [{"name": r.name, "match": istio_match(r.match), "version": r.version} for r in s.routes or []],
        "mirror": _mirror(s.mirror),
        "faults": [_fault(f) for f in s.faults or []],
        "rateLimit": _rate_limit(s.rateLimit),
        "calls": list(s.calls or []),
        "env": dict(sorted((s.env or {}).items())),
        **({"metrics": {"enabled": True, "port": s.metrics.port, "path": s.metrics.path}} if s.metrics else {}),
    }


def _fault(f) -> dict:
    out: dict[str, Any] = {"name": f.name, "match": istio_match(f.match)}
    if f.delay is not None:
        out["delay"] = {"percent": f.delay.percent, "fixedDelay": f.delay.fixedDelay}
    if f.abort is not None:
        status = ("httpStatus", f.abort.httpStatus) if f.abort.httpStatus is not None else ("grpcStatus", f.abort.grpcStatus)
        out["abort"] = {"percent": f.abort.percent, status[0]: status[1]}
    return out


def _rate_limit(rl) -> dict:
    if rl is None:
        return {"enabled": False, "maxTokens": 0, "tokensPerFill": 0, "fillInterval": "1s"}
    return {"enabled": True, "maxTokens": rl.burst or rl.requests, "tokensPerFill": rl.requests, "fillInterval": rl.per}


def _gateway_release_label(release: str) -> str:
    return release[len("istio-"):] if release.startswith("istio-") else release


def _environment_block(catalog: Catalog, view: EnvView | None) -> dict:
    if view is None:  # secure, environment-neutral defaults
        return {
            "name": "",
            "production": True,
            "namespace": catalog.metadata.name,
            "hostSuffix": catalog.metadata.domain,
            "chaos": False,
            "mtlsMode": "STRICT",
            "tracingSamplingPercent": 1.0,
            "accessLogging": True,
            "egressPolicy": "REGISTRY_ONLY",
            "dataPlane": "sidecar",
        }
    e = view.env
    return {
        "name": view.name,
        "production": e.production,
        "namespace": view.namespace,
        "hostSuffix": view.host_suffix,
        "chaos": view.chaos,
        "mtlsMode": e.mtls,
        "tracingSamplingPercent": float(e.tracing.samplingPercent),
        "accessLogging": e.accessLogging,
        "egressPolicy": e.egressPolicy,
        "dataPlane": e.dataPlane,
    }


def _gateway_block(catalog: Catalog, view: EnvView | None) -> dict:
    release = catalog.istio.gatewayRelease
    block = {
        "enabled": True,
        "api": "istio",
        "name": f"{catalog.metadata.name}-gateway",
        "namespace": release,
        "selector": {"istio": _gateway_release_label(release)},
        "serviceAccount": release,
        "service": release,
        "https": True,
        "credentialName": f"{catalog.metadata.name}-gateway-tls",
        "httpsRedirect": True,
        "extraPorts": [],
        "rateLimit": _rate_limit(None),
        "jwt": {"enabled": False, "issuer": "", "jwksUri": "", "audiences": []},
        "serviceType": "LoadBalancer",
    }
    if view is not None:
        gw = view.env.gateway
        block.update(
            serviceType=gateway_service_type(view),
            https=gw.https,
            credentialName=gw.credentialName or "",
            httpsRedirect=gw.httpsRedirect,
            extraPorts=_ports(gw.extraPorts),
            rateLimit=_rate_limit(gw.rateLimit),
        )
        if view.ingress_api == "gatewayApi":
            # Istio deploys the gateway of a Gateway API Gateway itself: "<name>-istio"
            # (Deployment, Service and ServiceAccount), pods labelled with the Gateway's name
            deployed = f"{block['name']}-istio"
            block.update(api="gatewayApi", selector={"gateway.networking.k8s.io/gateway-name": block["name"]},
                         serviceAccount=deployed, service=deployed)
        if gw.jwt is not None:
            block["jwt"] = {"enabled": True, "issuer": gw.jwt.issuer, "jwksUri": gw.jwt.jwksUri,
                            "audiences": list(gw.jwt.audiences)}
    return block


def _external_services(catalog: Catalog, view: EnvView | None) -> dict:
    out = {}
    for key, ext in sorted(catalog.externalServices.items()):
        r = ext.redirectTo
        out[key] = {
            "enabled": True,
            "namespace": "",
            "hosts": list(ext.hosts),
            "ports": _ports(ext.ports),
            "exportTo": ["."],
            "redirect": {
                "enabled": bool(view is not None and view.redirect_active(key)),
                "service": r.service if r else "",
                "port": r.port if r else 0,
            },
            "envVar": (r.envVar or "") if r else "",
        }
    return out


class MeshValues:
    """The chart values of a resolved mesh: values.yaml, each environment's complete values,
    and what each environment puts over values.yaml. Each is computed on first use, once
    (``mesh_values`` keeps them on the mesh); treat the dicts as read-only."""

    def __init__(self, mesh: Mesh):
        self.mesh = mesh
        self._envs: dict[str, dict] = {}

    @cached_property
    def base(self) -> dict:
        """The environment-neutral values (values.yaml)."""
        return _chart_values(self.mesh.catalog, None, self.mesh.neutral)

    def of(self, view: EnvView | None) -> dict:
        """The complete values for ``view`` (None: values.yaml)."""
        if view is None:
            return self.base
        if view.name not in self._envs:
            self._envs[view.name] = _chart_values(self.mesh.catalog, view, dict(sorted(view.services.items())))
        return self._envs[view.name]

    @cached_property
    def overrides(self) -> dict[str, dict]:
        """Per environment: the overrides of values.yaml."""
        return {view.name: values_diff(self.base, self.of(view)) for view in self.mesh.views}


def mesh_values(source: Catalog | Mesh) -> MeshValues:
    """The chart values of a mesh (``source`` resolved), computed once per ``Mesh``."""
    return resolve(source).derived("values", MeshValues)


def chart_values(source: Catalog | Mesh, view: EnvView | None = None) -> dict:
    """The complete values for ``view`` (None: the environment-neutral values.yaml), from
    the view's mesh (or ``source`` resolved). Treat the result as read-only."""
    mesh = view.mesh if view is not None else resolve(source)
    return mesh_values(mesh).of(view)


def _istio_block(catalog: Catalog, view: EnvView | None) -> dict:
    """The control plane labels: what namespaces (istio.io/rev), waypoints and a Gateway API
    gateway carry in the environment (chartgen.catalog.revisions)."""
    block = {"revision": catalog.istio.revision, "gatewayRevision": "", "namespaceRevisions": {},
             "systemNamespace": "istio-system", "trustDomain": catalog.istio.trustDomain}
    if view is not None:
        cp = control_plane(catalog, view.name)
        if not cp.legacy:
            own = {view.namespace} | {view.service_namespace(s) for s in view.enabled.values()}
            block.update(revision=cp.workloads, gatewayRevision=cp.gateway,
                         namespaceRevisions={ns: label for ns, label in cp.namespaces.items() if ns in own})
    return block


def _namespace_labels(view: EnvView | None) -> dict:
    """The Pod Security Admission labels of the namespaces the chart creates, per environment."""
    if view is None:
        return {}
    return psa_labels(workload_psa_level(view))


def _chart_values(catalog: Catalog, view: EnvView | None, services: dict[str, ResolvedService]) -> dict:
    obs = catalog.observability
    return {
        "nameOverride": "",
        "domain": catalog.metadata.domain,
        "environment": _environment_block(catalog, view),
        "istio": _istio_block(catalog, view),
        "namespaces": {"create": True, "labels": _namespace_labels(view)},
        "gateway": _gateway_block(catalog, view),
        "observability": {
            "namespace": obs.namespace,
            "prometheus": {"service": "prometheus-server", "port": 80},
            "jaeger": {"service": "jaeger", "otlpGrpcPort": 4317, "otlpHttpPort": 4318},
            "tracingProvider": "jaeger",
            "dashboards": {"enabled": obs.grafana},
        },
        "test": {"enabled": True, "image": TEST_IMAGE},
        "env": {},
        "externalServices": _external_services(catalog, view),
        "services": {k: service_values(s, view) for k, s in services.items()},
    }


def values_diff(base: dict, full: dict) -> dict:
    """What to put over ``base`` so that helm's deep merge yields ``full``.
    Keys missing from ``full`` are set to null, which deletes them in helm."""
    out: dict = {}
    for key, value in full.items():
        if key not in base:
            out[key] = value
        elif isinstance(value, dict) and isinstance(base[key], dict):
            sub = values_diff(base[key], value)
            if sub:
                out[key] = sub
        elif value != base[key]:
            out[key] = value
    for key in base:
        if key not in full:
            out[key] = None
    return out


def mesh_env_values(source: Catalog | Mesh) -> dict[str, dict]:
    """Per environment: the overrides of the chart's values.yaml."""
    return mesh_values(source).overrides
