"""The mesh chart's values, modelled once.

This is the values contract: every key the chart's templates read, with its type, bounds,
pattern and description. Everything else about the contract is generated from it by
``chartgen.chart.values_contract`` into files committed in the tree: the strict
``values.schema.json`` (whose descriptions become the ``values.yaml`` comments and the chart
README's values table), the template defaults of a service and an external service (the
generated helper template) and the contract doc. ``chartgen.chart.values`` produces values of this
shape from the catalog. Nothing imports this module at run time.

A field's default is what the templates assume when an entry of ``services`` or
``externalServices`` leaves the key out (``{}`` for a section they skip when empty); it is
not a value chartgen emits. Which keys the schema requires is said per model
(``schema_required``): all of them unless stated otherwise.
"""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic_core import PydanticCustomError

from ..catalog import model as catalog
from ..base import naming
from ..catalog.model import PROTOCOLS, Balancer, DataPlane, EgressPolicy, IngressApi, MtlsMode

DNS_LABEL = naming.DNS1123_LABEL.pattern
DNS_LABEL_OR_EMPTY = naming.DNS1123_LABEL_OR_EMPTY.pattern
DURATION = naming.DURATION.pattern
DURATION_OR_EMPTY = f"^$|{DURATION}"
ENV_VAR = naming.ENV_VAR.pattern
ENV_VAR_OR_EMPTY = f"^$|{ENV_VAR}"
# AuthorizationPolicy reads '*' as a wildcard and '{…}' as a template: literal paths have neither.
PLAIN_PATH = r"^/[^*{}?# ]*$"
# a container port name (the catalog checks the rest of IANA_SVC_NAME: a letter, no "--")
IANA_SVC_NAME = r"^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$"
INT32_MAX = naming.INT32_MAX
UINT32_MAX = naming.UINT32_MAX


def text(description: str = "", **constraints) -> Any:
    """A string, optionally described and constrained (pattern=…, min_length=…)."""
    return Annotated[str, Field(description=description or None, **constraints)]


def whole(description: str, lo: int | None = None, hi: int | None = None) -> Any:
    return Annotated[int, Field(description=description, ge=lo, le=hi)]


def share(description: str) -> Any:
    return Annotated[float, Field(description=description, ge=0, le=100)]


DnsKey = text(pattern=DNS_LABEL)
EnvKey = text(pattern=ENV_VAR)
Port = whole("Port number.", 1, 65535)
Protocol = Literal[PROTOCOLS]  # type: ignore[valid-type]


class ValuesModel(BaseModel):
    """A section of the values: unknown keys are refused (additionalProperties: false)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # the keys the schema requires: "all", "none" or the names
    schema_required: ClassVar[str | tuple[str, ...]] = "all"
    # how many of the keys may be given (minProperties, maxProperties), or None
    schema_counts: ClassVar[tuple[int | None, int | None]] = (None, None)
    # the catalog model this section has the shape of (``catalog_shape``), or None
    catalog_model: ClassVar[type[BaseModel] | None] = None

    @model_validator(mode="after")
    def _counts(self):
        low, high = self.schema_counts
        given = len(self.model_fields_set)
        if (low is not None and given < low) or (high is not None and given > high):
            raise PydanticCustomError("values-counts", "expected {low}–{high} of the keys, got {given}",
                                      {"low": low, "high": high, "given": given})
        return self


# --- shapes the catalog defines -----------------------------------------------------------------
# A section of the values that has the shape of a catalog model is derived from it: the same
# keys in the same order, the same types and the same bounds and patterns (written once, in
# chartgen.catalog.model); the values contract adds only each key's description (the values.yaml
# comments) and what the schema requires. tests/test_values_contract.py fails if a shape
# written out in both modules drifts.


def _unwrap(annotation: Any) -> tuple[Any, dict, bool]:
    """A catalog field's type: its base type, its schema bounds, whether it is optional."""
    optional = False
    args = get_args(annotation)
    if get_origin(annotation) in (Union, UnionType) and type(None) in args:
        optional, annotation = True, next(a for a in args if a is not type(None))
    bounds: dict = {}
    if get_origin(annotation) is Annotated:
        annotation, *metadata = get_args(annotation)
        for item in metadata:
            bounds |= getattr(item, "json_schema_extra", None) or {}
    return annotation, bounds, optional


def _values_type(field, description: str | None, shapes: dict[type, type]) -> Any:
    base, bounds, _ = _unwrap(field.annotation)
    bounds = bounds or (field.json_schema_extra or {})
    if base in shapes:
        return shapes[base]
    if base is int:
        return whole(description, bounds["minimum"], bounds["maximum"])
    if base is float:
        return Annotated[float, Field(description=description, ge=bounds["minimum"], le=bounds["maximum"])]
    if base is str:
        return text(description, **({"pattern": bounds["pattern"]} if "pattern" in bounds else {}))
    return Annotated[base, Field(description=description)]


def catalog_shape(model: type[BaseModel], descriptions: dict[str, str], *, doc: str | None = None,
                  shapes: dict[type, type] | None = None, required: str | tuple[str, ...] = "all",
                  counts: tuple[int | None, int | None] = (None, None)) -> type[ValuesModel]:
    """The values section of the catalog's ``model``: its keys, types and bounds, with the
    values contract's ``descriptions`` (``shapes``: the values sections of nested models)."""
    unknown = sorted(set(descriptions) - set(model.model_fields))
    if unknown:
        raise ValueError(f"{model.__name__} has no {unknown}")
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        typ = _values_type(field, descriptions.get(name), shapes or {})
        fields[name] = (typ | None, None) if _unwrap(field.annotation)[2] else (typ, ...)
    shape = create_model(model.__name__, __base__=ValuesModel, __module__=__name__, __doc__=doc, **fields)
    shape.schema_required, shape.schema_counts, shape.catalog_model = required, counts, model
    return shape


# --- shapes shared by several sections --------------------------------------------------------


class PortItem(ValuesModel):
    schema_required: ClassVar = ("name", "number", "protocol")

    name: text("Port name (<protocol>[-suffix]).", pattern=DNS_LABEL)
    number: Port
    targetPort: Annotated[Port | text(pattern=IANA_SVC_NAME), Field(
        description="The pod's port (number or container port name) that NetworkPolicies and AuthorizationPolicies "
                    "admit; default number.")] | None = None
    protocol: Annotated[Protocol, Field(description="Protocol: HTTP, HTTP2 and GRPC ports get http rules, TLS and HTTPS "
                                                    "tls rules (by SNI), TCP, MONGO, REDIS and MYSQL tcp rules.")]


class RateLimit(ValuesModel):
    enabled: Annotated[bool, Field(description="Insert a local rate limit (token bucket per pod; over-limit requests get 429).")] = False
    maxTokens: whole("Bucket size (burst).", 0, UINT32_MAX) = 0
    tokensPerFill: whole("Tokens added every fillInterval.", 0, UINT32_MAX) = 0
    fillInterval: text("Refill interval.", pattern=DURATION) = ""


StringMatch = catalog_shape(catalog.StringMatch, {}, required="none", counts=(1, 1))


class HttpMatch(ValuesModel):
    """An Istio HTTPMatchRequest."""

    schema_required: ClassVar = "none"

    headers: Annotated[dict[str, StringMatch], Field(description="Header conditions (lowercase names).")] = {}
    uri: StringMatch | None = None
    queryParams: Annotated[dict[str, StringMatch], Field(description="Query parameter conditions.")] = {}
    port: Port | None = None


# --- a service ----------------------------------------------------------------------------------


class ServiceAccount(ValuesModel):
    create: Annotated[bool, Field(description="Create the ServiceAccount (token not automounted).")] = False
    name: text("ServiceAccount name; its principal is used in AuthorizationPolicies.", pattern=DNS_LABEL) = ""


PlainPath = text("A path prefix.", pattern=PLAIN_PATH)


class PathMatch(ValuesModel):
    schema_required: ClassVar = "none"
    schema_counts: ClassVar = (1, 1)

    exact: text(pattern=PLAIN_PATH) | None = None
    prefix: text(pattern=PLAIN_PATH) | None = None
    regex: text(min_length=1) | None = None


class Expose(ValuesModel):
    enabled: Annotated[bool, Field(description="Route external traffic to this service through the gateway.")] = False
    host: text("Subdomain; the host is <host>.<environment.hostSuffix>.", pattern=DNS_LABEL) = ""
    paths: Annotated[list[PlainPath | PathMatch], Field(
        description="Paths routed through the gateway: a string is a prefix on whole path segments (a trailing '/' "
                    "is ignored), or {exact: …}, {prefix: …} (a plain string prefix), {regex: …} (RE2, whole path).",
        min_length=1)] = []
    gatewayPort: whole("Gateway port; 0 means the main port (443 or 80).", 0, 65535) = 0


class Retries(ValuesModel):
    attempts: whole("Retry attempts.", 0, 20)
    perTryTimeout: text("Timeout per attempt; empty for the route timeout.", pattern=DURATION_OR_EMPTY)
    retryOn: text("Envoy retry conditions.", min_length=1)


class HttpCookie(ValuesModel):
    schema_required: ClassVar = "none"

    name: text(min_length=1)
    path: str | None = None
    ttl: text("Cookie lifetime.", pattern=DURATION) | None = None


class ConsistentHash(ValuesModel):
    schema_required: ClassVar = "none"
    schema_counts: ClassVar = (1, 1)

    httpHeaderName: text(min_length=1) | None = None
    httpCookie: HttpCookie | None = None
    useSourceIp: bool | None = None
    httpQueryParameterName: text(min_length=1) | None = None


class LoadBalancer(ValuesModel):
    """DestinationRule loadBalancer: {simple: …} or {consistentHash: …} (session affinity); empty for Istio's default."""

    schema_required: ClassVar = "none"
    schema_counts: ClassVar = (None, 1)

    simple: Annotated[Balancer, Field(description="Algorithm.")] | None = None
    consistentHash: ConsistentHash | None = None


TcpPool = catalog_shape(catalog.TcpPool, {
    "maxConnections": "Max connections.",
    "connectTimeout": "TCP connect timeout.",
}, required="none")


HttpPool = catalog_shape(catalog.HttpPool, {
    "http1MaxPendingRequests": "Max pending requests.",
    "http2MaxRequests": "Max concurrent requests.",
    "maxRequestsPerConnection": "Requests per connection (0 unlimited).",
    "maxRetries": "Max concurrent retries.",
    "idleTimeout": "Idle timeout.",
}, required="none")


ConnectionPool = catalog_shape(catalog.ConnectionPool, {}, doc="DestinationRule connectionPool.",
                               shapes={catalog.TcpPool: TcpPool, catalog.HttpPool: HttpPool}, required="none")


OutlierDetection = catalog_shape(catalog.OutlierDetection, {
    "consecutive5xxErrors": "5xx errors before ejection.",
    "consecutiveGatewayErrors": "Gateway errors before ejection.",
    "interval": "Sweep interval.",
    "baseEjectionTime": "Minimum ejection time.",
    "maxEjectionPercent": "Max ejected hosts (%).",
}, doc="Circuit breaking (DestinationRule outlierDetection).", required="none")


class VersionSubset(ValuesModel):
    labels: Annotated[dict[str, str], Field(description="Pod labels of the version.")]


class Route(ValuesModel):
    name: text("Rule name.", pattern=DNS_LABEL)
    match: Annotated[list[HttpMatch], Field(description="Matches (ORed).", min_length=1)]
    version: text("Version that matching requests go to.", pattern=DNS_LABEL)


class Mirror(ValuesModel):
    enabled: Annotated[bool, Field(description="Mirror traffic.")] = False
    version: text("Version that receives the copy.") = ""
    percent: share("Share of requests mirrored (%).") = 0


Delay = catalog_shape(catalog.Delay, {
    "percent": "Share delayed (%).",
    "fixedDelay": "Delay.",
})


Abort = catalog_shape(catalog.Abort, {
    "percent": "Share aborted (%).",
    "httpStatus": "HTTP status returned.",
    "grpcStatus": "gRPC status returned (e.g. UNAVAILABLE).",
}, required=("percent",), counts=(2, 2))


class Fault(ValuesModel):
    schema_required: ClassVar = ("name", "match")

    name: text("Rule name.", pattern=DNS_LABEL)
    match: Annotated[list[HttpMatch], Field(description="Matches (ORed); empty for all requests.")]
    delay: Delay | None = None
    abort: Abort | None = None


class Metrics(ValuesModel):
    enabled: Annotated[bool, Field(description="Admit Prometheus (the observability namespace) to the application's "
                                               "metrics port and scrape it there.")] = False
    port: whole("Container port serving the metrics; 0 when disabled.", 0, 65535) = 0
    path: text("Metrics path.", pattern=r"^$|" + PLAIN_PATH) = ""


class Service(ValuesModel):
    """One service of the mesh."""

    # metrics: only a service that declares application metrics has the key
    schema_required: ClassVar = ("enabled", "waypoint", "namespace", "serviceName", "selector", "serviceAccount",
                                 "ports", "expose", "timeout", "retries", "loadBalancer", "connectionPool",
                                 "outlierDetection", "versions", "weights", "routes", "mirror", "faults", "rateLimit",
                                 "calls", "env")

    enabled: Annotated[bool, Field(description="Render this service's objects.")] = False
    waypoint: text("Ambient data plane: the waypoint (Gateway API Gateway of class istio-waypoint in the service's "
                   "namespace) applying this service's L7 settings; empty for none (L4 only).",
                   pattern=DNS_LABEL_OR_EMPTY) = ""
    namespace: text("Namespace; empty means environment.namespace.", pattern=DNS_LABEL_OR_EMPTY) = ""
    serviceName: text("Kubernetes Service name.", pattern=DNS_LABEL) = ""
    selector: Annotated[dict[str, str], Field(description="Pod labels of the workload.")] = {}
    serviceAccount: Annotated[ServiceAccount, Field(description="Workload identity.")] = ServiceAccount()
    ports: Annotated[list[PortItem], Field(description="Service ports; routes go to the first.", min_length=1)] = []
    expose: Annotated[Expose, Field(description="External exposure.")] = Expose()
    timeout: text("Request timeout; empty for none.", pattern=DURATION_OR_EMPTY) = ""
    retries: Annotated[Retries, Field(description="Retry policy.")] = {}  # type: ignore[assignment]
    loadBalancer: LoadBalancer = {}  # type: ignore[assignment]
    connectionPool: ConnectionPool = {}  # type: ignore[assignment]
    outlierDetection: OutlierDetection = {}  # type: ignore[assignment]
    versions: Annotated[dict[DnsKey, VersionSubset], Field(description="Subsets by version name.")] = {}
    weights: Annotated[dict[DnsKey, whole("Weight (%).", 0, 100)], Field(
        description="Traffic split over versions; empty routes to the host.")] = {}
    routes: Annotated[list[Route], Field(description="A/B rules, before the weighted default.")] = []
    mirror: Annotated[Mirror, Field(description="Traffic mirroring.")] = Mirror()
    faults: Annotated[list[Fault], Field(
        description="Fault injection rules (rendered first, only when environment.chaos).")] = []
    rateLimit: RateLimit = RateLimit()
    calls: Annotated[list[text("A key of services or externalServices.", pattern=DNS_LABEL)], Field(
        description="Dependencies: drive AuthorizationPolicies, NetworkPolicies and Sidecar scope.")] = []
    env: Annotated[dict[EnvKey, str], Field(description="Entries of this service's env ConfigMap.")] = {}
    metrics: Annotated[Metrics, Field(description="The application's own metrics endpoint.")] = Metrics()


# --- an external service ----------------------------------------------------------------------


class Redirect(ValuesModel):
    enabled: Annotated[bool, Field(description="Route the hosts to a service.")] = False
    service: text("A key of services.") = ""
    port: whole("Target port.", 0, 65535) = 0


class ExternalService(ValuesModel):
    """An external service."""

    enabled: Annotated[bool, Field(description="Render the ServiceEntry.")] = False
    namespace: text("Namespace; empty means environment.namespace.", pattern=DNS_LABEL_OR_EMPTY) = ""
    hosts: Annotated[list[text("Host.")], Field(description="Hosts.", min_length=1)] = []
    ports: Annotated[list[PortItem], Field(description="Ports.", min_length=1)] = []
    exportTo: Annotated[list[str], Field(description="Visibility.")] = []
    redirect: Annotated[Redirect, Field(description="Redirect.")] = Redirect()
    envVar: text("Env var receiving the redirect URL.", pattern=ENV_VAR_OR_EMPTY) = ""


# --- the chart-wide sections ------------------------------------------------------------------


class EnvironmentValues(ValuesModel):
    name: text("Environment name.")
    production: Annotated[bool, Field(description="Production environment (lint rules are stricter).")]
    namespace: text("Default namespace of services.", pattern=DNS_LABEL)
    hostSuffix: text("External hosts end with it.")
    chaos: Annotated[bool, Field(description="Render fault injection rules.")]
    mtlsMode: Annotated[MtlsMode, Field(description="PeerAuthentication mode.")]
    tracingSamplingPercent: share("Trace sampling (%).")
    accessLogging: Annotated[bool, Field(description="Envoy access logs.")]
    egressPolicy: Annotated[EgressPolicy, Field(description="Sidecar outboundTrafficPolicy.")]
    dataPlane: Annotated[DataPlane, Field(description="sidecar (injected Envoy, Sidecar scoping) or ambient (ztunnel, "
                                                      "waypoints, Gateway API routing).")]


class Istio(ValuesModel):
    revision: text("Control plane tag or revision of the namespaces; empty uses istio-injection=enabled.",
                   pattern=DNS_LABEL_OR_EMPTY)
    gatewayRevision: text("Tag or revision of a Gateway API gateway (istio.io/rev); empty: none.",
                          pattern=DNS_LABEL_OR_EMPTY)
    namespaceRevisions: Annotated[dict[DnsKey, str], Field(description="Namespace -> its tag or revision, "
                                                                       "where not istio.revision.")]
    systemNamespace: text("Istio's namespace.", pattern=DNS_LABEL)
    trustDomain: text("Mesh trust domain (principals).", min_length=1)


class Namespaces(ValuesModel):
    create: Annotated[bool, Field(description="Create the service namespaces (kept on uninstall).")]
    labels: Annotated[dict[str, str], Field(description="Extra namespace labels.")]


class Jwt(ValuesModel):
    enabled: Annotated[bool, Field(description="Require a JWT at the gateway.")]
    issuer: text("Issuer.")
    jwksUri: text("JWKS URI.")
    audiences: Annotated[list[str], Field(description="Audiences.")]


class Gateway(ValuesModel):
    enabled: Annotated[bool, Field(description="Render the Gateway and ingress routes.")]
    api: Annotated[IngressApi, Field(description="istio: an Istio Gateway and VirtualServices (gateway pods from the "
                                                 "istio/gateway chart); gatewayApi: a Gateway API Gateway of class "
                                                 "istio (Istio deploys it) and HTTPRoutes.")]
    name: text("Gateway name.", pattern=DNS_LABEL)
    namespace: text("Namespace of the gateway workload.", pattern=DNS_LABEL)
    selector: Annotated[dict[str, str], Field(description="Gateway pod labels.")]
    serviceAccount: text("Gateway service account (principal).", pattern=DNS_LABEL)
    service: text("Gateway Kubernetes Service (helm test).", pattern=DNS_LABEL)
    https: Annotated[bool, Field(description="Serve HTTPS on 443.")]
    credentialName: text("TLS secret in the gateway namespace.", pattern=DNS_LABEL_OR_EMPTY)
    httpsRedirect: Annotated[bool, Field(description="Redirect HTTP to HTTPS.")]
    extraPorts: Annotated[list[PortItem], Field(description="Extra gateway servers (plain).")]
    rateLimit: RateLimit
    jwt: Annotated[Jwt, Field(description="RequestAuthentication.")]
    serviceType: Annotated[Literal["LoadBalancer", "NodePort", "ClusterIP"], Field(
        description="gatewayApi: the type of the Service Istio deploys for the Gateway "
                    "(annotation networking.istio.io/service-type).")]


class Prometheus(ValuesModel):
    service: text("Prometheus Service.", min_length=1)
    port: Port


class Jaeger(ValuesModel):
    service: text("Jaeger Service.", min_length=1)
    otlpGrpcPort: Port
    otlpHttpPort: Port


class Dashboards(ValuesModel):
    enabled: Annotated[bool, Field(description="Ship the Grafana dashboard ConfigMap.")]


class Observability(ValuesModel):
    namespace: text("Add-ons namespace.", pattern=DNS_LABEL)
    prometheus: Annotated[Prometheus, Field(description="Prometheus.")]
    jaeger: Annotated[Jaeger, Field(description="Jaeger.")]
    tracingProvider: text("meshConfig extensionProvider name.", min_length=1)
    dashboards: Annotated[Dashboards, Field(description="Dashboards.")]


class HelmTest(ValuesModel):
    enabled: Annotated[bool, Field(description="Render the helm test.")]
    image: text("curl image.", min_length=1)


class ChartValues(ValuesModel):
    """The mesh chart's values (values.yaml and each environment's overrides, merged)."""

    nameOverride: text("Override the chart name in labels.")
    domain: text("Base DNS domain.")
    environment: Annotated[EnvironmentValues, Field(description="The environment this release configures.")]
    istio: Annotated[Istio, Field(description="Istio installation.")]
    namespaces: Annotated[Namespaces, Field(description="Namespaces.")]
    gateway: Annotated[Gateway, Field(description="Ingress gateway.")]
    observability: Annotated[Observability, Field(description="Observability wiring.")]
    test: Annotated[HelmTest, Field(description="helm test.")]
    env: Annotated[dict[EnvKey, str], Field(description="Extra entries of every namespace's env ConfigMap.")]
    externalServices: Annotated[dict[DnsKey, ExternalService], Field(description="External services by name.")]
    services: Annotated[dict[DnsKey, Service], Field(description="Services by name.")]


# What the contract doc says of a key beyond its description (which values.yaml and the chart
# README show too). Keys are the doc's paths: <name> for any key of a map, [] for list items.
NOTES: dict[str, str] = {
    "environment.hostSuffix": 'External host = <expose.host>.<hostSuffix>; "" → the host as is.',
    "environment.chaos": "Fault rules render only when true.",
    "environment.dataPlane": "ambient: namespaces, waypoints and GAMMA HTTPRoutes (docs/ambient.md).",
    "istio.revision": "Otherwise namespaces get istio.io/rev=<revision> (never istio-injection too).",
    "istio.namespaceRevisions": "During an Istio upgrade: namespaces moved before the tag (docs/istio-upgrades.md).",
    "namespaces.create": "Namespace objects are annotated helm.sh/resource-policy: keep.",
    "gateway.namespace": "The TLS secret (credentialName) must live here.",
    "gateway.httpsRedirect": "With https: an HTTP server on 80 that redirects.",
    "gateway.extraPorts": "E.g. LocalStack on 4566 (plain HTTP).",
    "observability.dashboards.enabled": 'A ConfigMap labelled grafana_dashboard: "1" in the observability namespace.',
    "externalServices.<name>.exportTo": 'Namespaces of the callers ("." = its own).',
    "externalServices.<name>.envVar": "With redirect on, env ConfigMaps get <envVar>=http://<fqdn>:<port>.",
    "services.<name>.expose": "Needs an HTTP, HTTP2 or GRPC port; the gateway routes to the first one.",
    "services.<name>.retries.attempts": "0 → the rule gets exactly {attempts: 0} (Istio refuses other retry fields then).",
    "services.<name>.routes[].match": "The conditions inside one match are ANDed.",
    "services.<name>.faults[].delay": "A fault has a delay, an abort or both.",
    "services.<name>.faults[].abort.grpcStatus": "Applied on the service's GRPC ports only.",
}
