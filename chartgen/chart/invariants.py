"""What the mesh chart's values must satisfy beyond their JSON Schema, written once.

The values schema (``chartgen.chart.values_model``) says each key's type, bounds and pattern; it
cannot say that weights add up to 100, that a route's version is one of the service's
versions, or that a call names a known service. Those invariants are listed here, once:

- the chart checks each of them with a ``fail`` whose message is ``message`` (a Go ``printf``
  format filled with ``args``), through the generated helper template;
- the catalog refuses the same thing earlier, with the catalog rule ``catalog_rule`` (a
  catalog that validates never produces values that break an invariant; tests hold both
  sides to it);
- the values contract doc lists them.

Pure data: no rendering and no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Invariant:
    id: str  # the chart check's name (what the templates call it by)
    summary: str  # what must hold, in a sentence
    message: str  # the template's fail message: a Go printf format
    args: tuple[str, ...]  # what fills the format's verbs, in order
    # the catalog rule that refuses the same thing before any values exist; None where no
    # catalog can produce such values
    catalog_rule: str | None


INVARIANTS: tuple[Invariant, ...] = (
    Invariant("unique-keys", "A key names a service or an external service, not both.",
              "%q is both a service and an external service; keys must be unique",
              ("key",), "duplicate-name"),
    Invariant("https-credential", "An enabled HTTPS gateway names its TLS secret (gateway.credentialName).",
              "gateway.https is true but gateway.credentialName is empty",
              (), "https-credential"),
    Invariant("weights-version", "Every key of a service's weights is one of its versions.",
              "services.%s.weights: %q is not a version of services.%s.versions",
              ("service", "version", "service"), "unknown-version"),
    Invariant("weights-sum", "A service's weights, when it has any, add up to 100.",
              "services.%s.weights must add up to 100 (got %d)",
              ("service", "sum"), "canary-weights"),
    Invariant("route-version", "An A/B route goes to one of the service's versions.",
              "services.%s.routes[%d] (%v): version %q is not in services.%s.versions",
              ("service", "index", "name", "version", "service"), "unknown-version"),
    Invariant("mirror-version", "An enabled mirror copies traffic to one of the service's versions.",
              "services.%s.mirror.version %q is not in services.%s.versions",
              ("service", "version", "service"), "unknown-version"),
    Invariant("fault-action", "A fault injects a delay, an abort or both.",
              "services.%s.faults[%d] (%v) has neither delay nor abort",
              ("service", "index", "name"), "fault-empty"),
    Invariant("https-extra-port-credential", "An HTTPS port of gateway.extraPorts has a TLS secret (gateway.credentialName).",
              "gateway.credentialName is required for an HTTPS extra port",
              (), None),  # a catalog's extra gateway ports are HTTP, HTTP2, GRPC or TCP
    Invariant("jwt-issuer", "An enabled gateway.jwt names its issuer.",
              "gateway.jwt.issuer is required when gateway.jwt.enabled",
              (), "length"),
    Invariant("jwt-jwks-uri", "An enabled gateway.jwt names its JWKS URI.",
              "gateway.jwt.jwksUri is required when gateway.jwt.enabled",
              (), "http-url"),
    Invariant("selector", "An enabled service selects its pods by at least one label.",
              "services.%s.selector must not be empty",
              ("service",), None),  # a catalog's empty selector means the default {app: <serviceName>}
    Invariant("exposed-http-port", "An exposed service has an HTTP, HTTP2 or GRPC port (the gateway routes HTTP).",
              "services.%s is exposed but has no HTTP, HTTP2 or GRPC port",
              ("service",), "http-only"),
    Invariant("gateway-port", "A service exposed on another gateway port names a port of gateway.extraPorts.",
              "services.%s.expose.gatewayPort %d is not a number of gateway.extraPorts",
              ("service", "port"), "gateway-port"),
    Invariant("redirect-service", "An external service redirects to a key of services.",
              "externalServices.%s.redirect.service %q is not a key of services",
              ("external", "service"), "unknown-service"),
    Invariant("redirect-port", "An external service redirects to a port of its target service.",
              "externalServices.%s.redirect.port %d is not a port of services.%s",
              ("external", "port", "service"), "unknown-port"),
    Invariant("unknown-call", "A service calls keys of services or externalServices only.",
              "services.%s.calls: %q is neither a key of services nor of externalServices",
              ("service", "callee"), "unknown-service"),
)

BY_ID: dict[str, Invariant] = {inv.id: inv for inv in INVARIANTS}


def by_catalog_rule(rule: str) -> tuple[Invariant, ...]:
    """The chart invariants that the catalog rule ``rule`` enforces before values exist."""
    return tuple(inv for inv in INVARIANTS if inv.catalog_rule == rule)
