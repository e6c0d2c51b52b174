"""The strict JSON Schema (draft-07) of the mesh chart's values, with a description for
every key. values.yaml comments and the chart README's values table come from it."""

from __future__ import annotations

from typing import Any

from .catalog import GRPC_STATUS
from .naming import INT32_MAX, UINT32_MAX

DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_LABEL_OR_EMPTY = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$"


def obj(props: dict[str, Any], desc: str = "", required: bool = True) -> dict:
    out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        out["required"] = sorted(props)
    if desc:
        out["description"] = desc
    return out


def mapof(item: dict, desc: str = "", key_pattern: str | None = None) -> dict:
    out: dict[str, Any] = {"type": "object", "additionalProperties": item}
    if key_pattern:
        out["propertyNames"] = {"pattern": key_pattern}
    if desc:
        out["description"] = desc
    return out


def s(desc: str, **kw) -> dict:
    return {"type": "string", "description": desc, **kw}


def b(desc: str) -> dict:
    return {"type": "boolean", "description": desc}


def i(desc: str, lo: int | None = None, hi: int | None = None) -> dict:
    out: dict[str, Any] = {"type": "integer", "description": desc}
    if lo is not None:
        out["minimum"] = lo
    if hi is not None:
        out["maximum"] = hi
    return out


def n(desc: str, lo: float, hi: float) -> dict:
    return {"type": "number", "minimum": lo, "maximum": hi, "description": desc}


def arr(item: dict, desc: str, min_items: int = 0) -> dict:
    out = {"type": "array", "items": item, "description": desc}
    if min_items:
        out["minItems"] = min_items
    return out


def dur(desc: str, allow_empty: bool = False) -> dict:
    pattern = f"^$|{DURATION}" if allow_empty else DURATION
    return s(desc, pattern=pattern)


PORT = i("Port number.", 1, 65535)
STRING_MATCH = {
    "type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
    "properties": {"exact": {"type": "string"}, "prefix": {"type": "string"}, "regex": {"type": "string"}},
}
HTTP_MATCH = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "headers": mapof(STRING_MATCH, "Header conditions (lowercase names)."),
        "uri": STRING_MATCH,
        "queryParams": mapof(STRING_MATCH, "Query parameter conditions."),
        "port": PORT,
    },
    "description": "An Istio HTTPMatchRequest.",
}
PROTOCOLS = ["HTTP", "HTTP2", "GRPC", "TCP", "TLS", "HTTPS", "MONGO", "REDIS", "MYSQL"]
PORT_ITEM = obj({
    "name": s("Port name (<protocol>[-suffix]).", pattern=DNS_LABEL),
    "number": PORT,
    "protocol": s("Protocol: HTTP, HTTP2 and GRPC ports get http rules, TLS and HTTPS tls rules (by SNI), "
                  "TCP, MONGO, REDIS and MYSQL tcp rules.", enum=PROTOCOLS),
})
# AuthorizationPolicy reads '*' as a wildcard and '{…}' as a template: literal paths have neither.
PLAIN_PATH = r"^/[^*{}?# ]*$"
EXPOSED_PATH = {
    "oneOf": [
        {"type": "string", "pattern": PLAIN_PATH, "description": "A path prefix."},
        {"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
         "properties": {"exact": {"type": "string", "pattern": PLAIN_PATH},
                        "prefix": {"type": "string", "pattern": PLAIN_PATH},
                        "regex": {"type": "string", "minLength": 1}}},
    ],
}
RATE_LIMIT = obj({
    "enabled": b("Insert a local rate limit (token bucket per pod; over-limit requests get 429)."),
    "maxTokens": i("Bucket size (burst).", 0, UINT32_MAX),
    "tokensPerFill": i("Tokens added every fillInterval.", 0, UINT32_MAX),
    "fillInterval": dur("Refill interval."),
})
LOAD_BALANCER = {
    "type": "object", "additionalProperties": False, "maxProperties": 1,
    "description": "DestinationRule loadBalancer: {simple: …} or {consistentHash: …} (session affinity); empty for Istio's default.",
    "properties": {
        "simple": s("Algorithm.", enum=["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "PASSTHROUGH"]),
        "consistentHash": {
            "type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
            "properties": {
                "httpHeaderName": {"type": "string", "minLength": 1},
                "httpCookie": obj({"name": {"type": "string", "minLength": 1}, "path": {"type": "string"},
                                   "ttl": dur("Cookie lifetime.")}, required=False),
                "useSourceIp": {"type": "boolean"},
                "httpQueryParameterName": {"type": "string", "minLength": 1},
            },
        },
    },
}
SERVICE = obj({
    "enabled": b("Render this service's objects."),
    "waypoint": s("Ambient data plane: the waypoint (Gateway API Gateway of class istio-waypoint in the service's "
                  "namespace) applying this service's L7 settings; empty for none (L4 only).",
                  pattern=DNS_LABEL_OR_EMPTY),
    "namespace": s("Namespace; empty means environment.namespace.", pattern=DNS_LABEL_OR_EMPTY),
    "serviceName": s("Kubernetes Service name.", pattern=DNS_LABEL),
    "selector": mapof({"type": "string"}, "Pod labels of the workload."),
    "serviceAccount": obj({"create": b("Create the ServiceAccount (token not automounted)."),
                           "name": s("ServiceAccount name; its principal is used in AuthorizationPolicies.", pattern=DNS_LABEL)},
                          "Workload identity."),
    "ports": arr(PORT_ITEM, "Service ports; routes go to the first.", 1),
    "expose": obj({
        "enabled": b("Route external traffic to this service through the gateway."),
        "host": s("Subdomain; the host is <host>.<environment.hostSuffix>.", pattern=DNS_LABEL),
        "paths": arr(EXPOSED_PATH, "Paths routed through the gateway: a string is a prefix, or "
                     "{exact: …}, {prefix: …}, {regex: …} (RE2, whole path).", 1),
        "gatewayPort": i("Gateway port; 0 means the main port (443 or 80).", 0, 65535),
    }, "External exposure."),
    "timeout": dur("Request timeout; empty for none.", allow_empty=True),
    "retries": obj({
        "attempts": i("Retry attempts.", 0, 20),
        "perTryTimeout": dur("Timeout per attempt; empty for the route timeout.", allow_empty=True),
        "retryOn": s("Envoy retry conditions.", minLength=1),
    }, "Retry policy."),
    "loadBalancer": LOAD_BALANCER,
    "connectionPool": obj({
        "tcp": obj({"maxConnections": i("Max connections.", 1, INT32_MAX), "connectTimeout": dur("TCP connect timeout.")},
                   required=False),
        "http": obj({"http1MaxPendingRequests": i("Max pending requests.", 1, INT32_MAX),
                     "http2MaxRequests": i("Max concurrent requests.", 1, INT32_MAX),
                     "maxRequestsPerConnection": i("Requests per connection (0 unlimited).", 0, INT32_MAX),
                     "maxRetries": i("Max concurrent retries.", 0, INT32_MAX),
                     "idleTimeout": dur("Idle timeout.")}, required=False),
    }, "DestinationRule connectionPool.", required=False),
    "outlierDetection": obj({
        "consecutive5xxErrors": i("5xx errors before ejection.", 0, UINT32_MAX),
        "consecutiveGatewayErrors": i("Gateway errors before ejection.", 0, UINT32_MAX),
        "interval": dur("Sweep interval."),
        "baseEjectionTime": dur("Minimum ejection time."),
        "maxEjectionPercent": i("Max ejected hosts (%).", 0, 100),
    }, "Circuit breaking (DestinationRule outlierDetection).", required=False),
    "versions": mapof(obj({"labels": mapof({"type": "string"}, "Pod labels of the version.")}),
                      "Subsets by version name.", DNS_LABEL),
    "weights": mapof(i("Weight (%).", 0, 100), "Traffic split over versions; empty routes to the host.", DNS_LABEL),
    "routes": arr(obj({"name": s("Rule name.", pattern=DNS_LABEL), "match": arr(HTTP_MATCH, "Matches (ORed).", 1),
                       "version": s("Version that matching requests go to.", pattern=DNS_LABEL)}),
                  "A/B rules, before the weighted default."),
    "mirror": obj({"enabled": b("Mirror traffic."), "version": s("Version that receives the copy."),
                   "percent": n("Share of requests mirrored (%).", 0, 100)}, "Traffic mirroring."),
    "faults": arr({
        "type": "object", "additionalProperties": False, "required": ["name", "match"],
        "properties": {
            "name": s("Rule name.", pattern=DNS_LABEL),
            "match": arr(HTTP_MATCH, "Matches (ORed); empty for all requests."),
            "delay": obj({"percent": n("Share delayed (%).", 0, 100), "fixedDelay": dur("Delay.")}),
            "abort": {**obj({"percent": n("Share aborted (%).", 0, 100), "httpStatus": i("HTTP status returned.", 200, 599),
                             "grpcStatus": s("gRPC status returned (e.g. UNAVAILABLE).", enum=list(GRPC_STATUS))},
                            required=False),
                      "required": ["percent"], "minProperties": 2, "maxProperties": 2},
        },
    }, "Fault injection rules (rendered first, only when environment.chaos)."),
    "rateLimit": RATE_LIMIT,
    "calls": arr(s("A key of services or externalServices.", pattern=DNS_LABEL),
                 "Dependencies: drive AuthorizationPolicies, NetworkPolicies and Sidecar scope."),
    "env": mapof({"type": "string"}, "Entries of this service's env ConfigMap.", r"^[A-Za-z_][A-Za-z0-9_]*$"),
}, "One service of the mesh.")

VALUES_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "mesh chart values",
    **obj({
        "nameOverride": s("Override the chart name in labels."),
        "domain": s("Base DNS domain."),
        "environment": obj({
            "name": s("Environment name."),
            "production": b("Production environment (lint rules are stricter)."),
            "namespace": s("Default namespace of services.", pattern=DNS_LABEL),
            "hostSuffix": s("External hosts end with it."),
            "chaos": b("Render fault injection rules."),
            "mtlsMode": s("PeerAuthentication mode.", enum=["STRICT", "PERMISSIVE"]),
            "tracingSamplingPercent": n("Trace sampling (%).", 0, 100),
            "accessLogging": b("Envoy access logs."),
            "egressPolicy": s("Sidecar outboundTrafficPolicy.", enum=["REGISTRY_ONLY", "ALLOW_ANY"]),
            "dataPlane": s("sidecar (injected Envoy, Sidecar scoping) or ambient (ztunnel, waypoints, "
                           "Gateway API routing).", enum=["sidecar", "ambient"]),
        }, "The environment this release configures."),
        "istio": obj({
            "revision": s("Control plane revision; empty uses istio-injection=enabled.", pattern=DNS_LABEL_OR_EMPTY),
            "systemNamespace": s("Istio's namespace.", pattern=DNS_LABEL),
            "trustDomain": s("Mesh trust domain (principals)."),
        }, "Istio installation."),
        "namespaces": obj({"create": b("Create the service namespaces (kept on uninstall)."),
                           "labels": mapof({"type": "string"}, "Extra namespace labels.")}, "Namespaces."),
        "gateway": obj({
            "enabled": b("Render the Gateway and ingress routes."),
            "api": s("istio: an Istio Gateway and VirtualServices (gateway pods from the istio/gateway chart); "
                     "gatewayApi: a Gateway API Gateway of class istio (Istio deploys it) and HTTPRoutes.",
                     enum=["istio", "gatewayApi"]),
            "name": s("Gateway name.", pattern=DNS_LABEL),
            "namespace": s("Namespace of the gateway workload.", pattern=DNS_LABEL),
            "selector": mapof({"type": "string"}, "Gateway pod labels."),
            "serviceAccount": s("Gateway service account (principal).", pattern=DNS_LABEL),
            "service": s("Gateway Kubernetes Service (helm test).", pattern=DNS_LABEL),
            "https": b("Serve HTTPS on 443."),
            "credentialName": s("TLS secret in the gateway namespace.", pattern=DNS_LABEL_OR_EMPTY),
            "httpsRedirect": b("Redirect HTTP to HTTPS."),
            "extraPorts": arr(PORT_ITEM, "Extra gateway servers (plain)."),
            "rateLimit": RATE_LIMIT,
            "jwt": obj({"enabled": b("Require a JWT at the gateway."), "issuer": s("Issuer."),
                        "jwksUri": s("JWKS URI."), "audiences": arr({"type": "string"}, "Audiences.")},
                       "RequestAuthentication."),
        }, "Ingress gateway."),
        "observability": obj({
            "namespace": s("Add-ons namespace.", pattern=DNS_LABEL),
            "prometheus": obj({"service": s("Prometheus Service."), "port": PORT}, "Prometheus."),
            "jaeger": obj({"service": s("Jaeger Service."), "otlpGrpcPort": PORT, "otlpHttpPort": PORT}, "Jaeger."),
            "tracingProvider": s("meshConfig extensionProvider name."),
            "dashboards": obj({"enabled": b("Ship the Grafana dashboard ConfigMap.")}, "Dashboards."),
        }, "Observability wiring."),
        "test": obj({"enabled": b("Render the helm test."), "image": s("curl image.")}, "helm test."),
        "env": mapof({"type": "string"}, "Extra entries of every namespace's env ConfigMap.",
                     r"^[A-Za-z_][A-Za-z0-9_]*$"),
        "externalServices": mapof(obj({
            "enabled": b("Render the ServiceEntry."),
            "namespace": s("Namespace; empty means environment.namespace.", pattern=DNS_LABEL_OR_EMPTY),
            "hosts": arr(s("Host."), "Hosts.", 1),
            "ports": arr(PORT_ITEM, "Ports.", 1),
            "exportTo": arr({"type": "string"}, "Visibility."),
            "redirect": obj({"enabled": b("Route the hosts to a service."), "service": s("A key of services."),
                             "port": i("Target port.", 0, 65535)}, "Redirect."),
            "envVar": s("Env var receiving the redirect URL.", pattern=r"^$|^[A-Za-z_][A-Za-z0-9_]*$"),
        }, "An external service."), "External services by name.", DNS_LABEL),
        "services": mapof(SERVICE, "Services by name.", DNS_LABEL),
    }),
}


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
