"""Resolution: the catalog's layers (defaults → service → environment override) merged
into one effective service per environment. Pure functions of the validated catalog."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from .model import HTTP_PROTOCOLS, Catalog, Environment, Service, Slo, protocol_class

# Settings that only HTTP traffic has (timeouts, retries, faults, A/B matches, mirroring, local
# rate limits). A service without an HTTP port does not inherit them from ``defaults``, and
# asking for one on such a service is a validation error.
HTTP_ONLY = ("timeout", "retries", "faults", "routes", "mirror", "rateLimit")


def http_only_setting(name: str, value) -> bool:
    """Is ``name: value`` an HTTP-only setting? Also header/cookie/query affinity (source-IP
    affinity works for TCP) and a p99 latency SLO (Istio records no TCP latency)."""
    if name in HTTP_ONLY:
        return value is not None
    if name == "sessionAffinity":
        return value is not None and not value.sourceIp
    if name == "slo":
        return value is not None and value.p99Latency is not None
    return False


def has_http_port(ports) -> bool:
    return any(p.protocol in HTTP_PROTOCOLS for p in ports or [])


def _drop_http_only(merged: dict) -> None:
    """Remove the HTTP-only settings of a service that has no HTTP port."""
    for name in HTTP_ONLY:
        merged.pop(name, None)
    if http_only_setting("sessionAffinity", merged.get("sessionAffinity")):
        merged.pop("sessionAffinity")
    slo = merged.get("slo")
    if http_only_setting("slo", slo):
        if slo.errorRatio is None:
            merged.pop("slo")
        else:
            merged["slo"] = Slo.model_construct(_fields_set={"errorRatio"}, errorRatio=slo.errorRatio)

# Maps that an upper layer replaces wholesale instead of merging key by key.
REPLACED_MAPS = frozenset({"weights", "versions", "selector"})
# Settings that hold exactly one of their keys: an upper layer replaces them whole.
ONE_OF_MODELS = frozenset({"sessionAffinity"})
# Keys that exclude each other within one layer: setting one drops the other inherited.
EXCLUSIVE = {"loadBalancer": "sessionAffinity", "sessionAffinity": "loadBalancer"}


def _dump(model) -> dict:
    return model.model_dump(mode="json", exclude_unset=True) if model is not None else {}


@dataclass(frozen=True)
class ResolvedService:
    key: str
    spec: Service  # the merged layers
    enabled: bool
    namespace: str | None  # None: the environment's default namespace (base layer only)
    prefix: str = ""  # the catalog's naming.prefix
    selector_label: str = "app"  # the catalog's naming.selectorLabel
    version_label: str = "version"  # the catalog's naming.versionLabel
    own_retry_on: bool = False  # the service (or its environment override) states retries.retryOn

    @property
    def service_name(self) -> str:
        """The Kubernetes name: ``serviceName``, else the catalog key as written, after the
        catalog's ``naming.prefix`` (empty unless the catalog sets one)."""
        return self.spec.serviceName or f"{self.prefix}{self.key}"

    @property
    def selector(self) -> dict[str, str]:
        return dict(self.spec.selector) if self.spec.selector else {self.selector_label: self.service_name}

    @property
    def service_account(self) -> str:
        sa = self.spec.serviceAccount
        return (sa.name if sa and sa.name else None) or self.service_name

    @property
    def creates_service_account(self) -> bool:
        return self.spec.serviceAccount.create if self.spec.serviceAccount else True

    def fqdn(self, namespace: str) -> str:
        return f"{self.service_name}.{self.namespace or namespace}.svc.cluster.local"

    @property
    def port_classes(self) -> set[str]:
        """The rule kinds its ports need: ``http``, ``tls``, ``tcp``."""
        return {protocol_class(p.protocol) for p in self.spec.ports or []}

    @property
    def has_grpc(self) -> bool:
        return any(p.protocol == "GRPC" for p in self.spec.ports or [])

    def version_labels(self, version: str) -> dict[str, str]:
        spec = (self.spec.versions or {}).get(version)
        return dict(spec.labels) if spec and spec.labels else {self.version_label: version}


@dataclass(frozen=True, eq=False)
class EnvView:
    """One environment of the catalog, with every service resolved for it (once: a view
    belongs to one ``Mesh``)."""

    name: str
    env: Environment
    catalog: Catalog
    mesh: "Mesh"

    @property
    def namespace(self) -> str:
        return self.env.namespace or f"{self.catalog.metadata.name}-{self.name}"

    @property
    def host_suffix(self) -> str:
        return self.env.hostSuffix or f"{self.name}.{self.catalog.metadata.domain}"

    @cached_property
    def services(self) -> dict[str, ResolvedService]:
        return {key: resolve_service(self.catalog, key, self.name) for key in self.catalog.services}

    @cached_property
    def enabled(self) -> dict[str, ResolvedService]:
        return {k: s for k, s in self.services.items() if s.enabled}

    def service_namespace(self, svc: ResolvedService) -> str:
        return svc.namespace or self.namespace

    def external_host(self, svc: ResolvedService) -> str | None:
        if svc.spec.expose is None:
            return None
        return f"{svc.spec.expose.host or svc.key}.{self.host_suffix}"

    @property
    def ambient(self) -> bool:
        return self.env.dataPlane == "ambient"

    @property
    def ingress_api(self) -> str:
        """The ingress API actually used: the catalog's, else the data plane's default."""
        return self.env.ingressApi or ("gatewayApi" if self.ambient else "istio")

    @property
    def chaos(self) -> bool:
        """Fault rules render here (production also needs allowChaosInProduction)."""
        return self.env.chaos and (not self.env.production or self.env.allowChaosInProduction)

    def gateway_api_routed(self, svc: ResolvedService) -> str | None:
        """Why this service's traffic is routed through the Gateway API here, or None:
        "ambient" (in-mesh routing) or "gatewayApi" (its ingress)."""
        if self.ambient:
            return "ambient"
        if self.ingress_api == "gatewayApi" and svc.spec.expose is not None:
            return "gatewayApi"
        return None

    def redirect_active(self, ext_key: str) -> bool:
        ext = self.catalog.externalServices[ext_key]
        if ext.redirectTo is None:
            return False
        target = self.services.get(ext.redirectTo.service)
        return bool(target and target.enabled)


# What a waypoint does for a service in the ambient data plane: every setting below is
# applied by an L7 proxy (ztunnel only does mTLS, L4 authorization and L4 load balancing).
L7_SETTINGS = ("timeout", "retries", "routes", "mirror", "faults", "rateLimit", "loadBalancer", "sessionAffinity",
               "connectionPool", "outlierDetection")


def l7_needs(svc: ResolvedService) -> list[str]:
    """The catalog settings of ``svc`` that need a waypoint in the ambient data plane
    (a version split counts as "weights")."""
    s = svc.spec
    out = [name for name in L7_SETTINGS if getattr(s, name)]
    if s.slo and (s.slo.errorRatio is not None or s.slo.p99Latency) and "http" in svc.port_classes:
        out.append("slo")  # request metrics: in ambient only a waypoint records them
    if s.weights:  # even 100 % to one version: only a route picks that version's pods
        out.append("weights")
    return out


def _merge_models(layers: list) -> dict:
    """Merge validated model layers (lowest first) into {field: value}, without
    re-validating: nested settings merge, lists and REPLACED_MAPS replace."""
    acc: dict = {}
    for layer in layers:
        fields = layer.model_fields_set
        for name in fields:
            if name in EXCLUSIVE and EXCLUSIVE[name] not in fields:
                acc.pop(EXCLUSIVE[name], None)
        for name in fields:
            value = getattr(layer, name)
            lower = acc.get(name)
            if isinstance(value, BaseModel) and isinstance(lower, BaseModel) and name not in ONE_OF_MODELS:
                acc[name] = _merge_pair(lower, value)
            elif isinstance(value, dict) and isinstance(lower, dict) and name not in REPLACED_MAPS:
                acc[name] = {**lower, **value}
            else:
                acc[name] = value
    return acc


def _merge_pair(lower: BaseModel, upper: BaseModel) -> BaseModel:
    merged = _merge_models([lower, upper])
    return type(upper).model_construct(_fields_set=set(merged), **merged)


def implicit_weights(versions: list[str], canary) -> dict[str, int]:
    """The split of a service that declares several versions and no weights: all of it to the
    stable version (the canary's ``stable``, else the first version listed), 0 % to the others.
    Routing to the plain host instead would balance over every version's pods by their count,
    which the catalog never said; a new version gets traffic only when the weights say so."""
    stable = canary.stable if canary is not None and canary.stable in versions else versions[0]
    return {v: 100 if v == stable else 0 for v in versions}


def resolve_service(catalog: Catalog, key: str, env_name: str | None) -> ResolvedService:
    """The effective service ``key`` in ``env_name`` (None: the environment-neutral layer)."""
    service = catalog.services[key]
    layers = [catalog.defaults, service]
    enabled = service.environments is None or (env_name is not None and env_name in service.environments)
    if env_name is None:
        enabled = service.environments is None
    if env_name is not None:
        override = catalog.environments[env_name].services.get(key)
        if override is not None:
            layers.append(override)
            if override.enabled is not None:
                enabled = override.enabled
    merged = _merge_models(layers)
    merged.pop("enabled", None)
    if len(merged.get("versions") or {}) > 1 and not merged.get("weights"):
        merged["weights"] = implicit_weights(list(merged["versions"]), merged.get("canary"))
    if not has_http_port(merged.get("ports")):
        _drop_http_only(merged)
    spec = Service.model_construct(_fields_set=set(merged), **merged)
    own_retry_on = any(layer.retries is not None and "retryOn" in layer.retries.model_fields_set
                       for layer in layers[1:])
    return ResolvedService(key=key, spec=spec, enabled=enabled, namespace=spec.namespace,
                           prefix=catalog.naming.prefix, selector_label=catalog.naming.selectorLabel,
                           version_label=catalog.naming.versionLabel, own_retry_on=own_retry_on)


class Mesh:
    """The catalog resolved once: every environment's view with its effective services, and
    the environment-neutral services of values.yaml. Built by ``resolve`` and passed down to
    the renderers (values, chart, helmfile, GitOps), so each run resolves the catalog once;
    what they derive from it (the chart values) is computed once per ``Mesh`` as well."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.views: tuple[EnvView, ...] = tuple(
            EnvView(name, env, catalog, self) for name, env in sorted(catalog.environments.items()))
        self._derived: dict[str, Any] = {}

    @cached_property
    def neutral(self) -> dict[str, ResolvedService]:
        """The services of the environment-neutral layer (values.yaml), by sorted key."""
        return {key: resolve_service(self.catalog, key, None) for key in sorted(self.catalog.services)}

    def view(self, name: str) -> EnvView:
        return next(v for v in self.views if v.name == name)

    def derived(self, key: str, compute: Callable[[Mesh], Any]) -> Any:
        """What a layer above derives from this mesh (the chart values: ``values.mesh_values``),
        computed on first use, once per ``Mesh`` (the catalog it resolves does not change)."""
        if key not in self._derived:
            self._derived[key] = compute(self)
        return self._derived[key]


# --- what an environment implies (read by the values, the helmfile and the GitOps bootstrap) ---


def gateway_service_type(view: EnvView) -> str:
    """The gateway Service's type: the environment's ``gateway.serviceType``, else
    LoadBalancer in production and NodePort elsewhere (no address on a laptop cluster)."""
    return view.env.gateway.serviceType or ("LoadBalancer" if view.env.production else "NodePort")


def autoscaling(view: EnvView) -> bool:
    """HPAs for istiod and the gateway: the environment's ``autoscaling``, else production."""
    return view.env.autoscaling if view.env.autoscaling is not None else view.env.production


PSA = "pod-security.kubernetes.io"


def workload_psa_level(view: EnvView) -> str:
    """The level of the workload namespaces the mesh chart creates (Istio's PSA guide):
    sidecar-injected pods without istio-cni run istio-init with NET_ADMIN and NET_RAW, which
    only privileged admits; the ambient data plane leaves the pods as they are (baseline)."""
    return "baseline" if view.ambient else "privileged"


def psa_labels(level: str) -> dict[str, str]:
    """Enforce ``level``; warn and audit at baseline at least, so a privileged namespace
    still reports what baseline would refuse."""
    shown = "baseline" if level == "privileged" else level
    return {f"{PSA}/enforce": level, f"{PSA}/warn": shown, f"{PSA}/audit": shown}


def resolve(source: "Catalog | Mesh") -> Mesh:
    """The catalog resolved (a ``Mesh`` is returned as it is)."""
    return source if isinstance(source, Mesh) else Mesh(source)


def env_views(source: "Catalog | Mesh") -> list[EnvView]:
    """The environments of a resolved mesh; a bare catalog is resolved for the purpose."""
    return list(resolve(source).views)
