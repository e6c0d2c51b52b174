"""Observability wiring derived from the catalog: Prometheus alert rules from the SLOs, and
Istio's Grafana dashboards.

Pure functions. The rules go into the prometheus release's ``serverFiles."alerting_rules.yml"``,
the dashboards into the grafana release's ``dashboards`` (see ``chartgen.releases.helmfile``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..base import naming
from ..catalog.model import Catalog
from ..catalog.mesh import EnvView

__all__ = ["ISTIO_DASHBOARDS", "SloTarget", "istio_dashboards", "slo_alert_rules", "slo_group_name", "slo_targets"]

# Istio 1.30.3's own dashboards, vendored under chartgen/data/dashboards/istio/ (see its
# README: origin, licence, blob ids). Two Grafana dashboard providers, so that each of the
# two ConfigMaps the grafana chart makes of them stays well below the 256 KiB a client-side
# `kubectl apply` can annotate (Istio's own sample splits them the same way).
# provider -> ((dashboard key, vendored file), ...)
ISTIO_DASHBOARDS: dict[str, tuple[tuple[str, str], ...]] = {
    "istio": (
        ("istio-control-plane", "pilot-dashboard.gen.json"),
        ("istio-performance", "istio-performance-dashboard.json"),
        ("istio-workload", "istio-workload-dashboard.json"),
        ("istio-ztunnel", "ztunnel-dashboard.gen.json"),
    ),
    "istio-services": (
        ("istio-extension", "istio-extension-dashboard.json"),
        ("istio-mesh", "istio-mesh-dashboard.gen.json"),
        ("istio-service", "istio-service-dashboard.json"),
    ),
}


@lru_cache(maxsize=None)
def _dashboard_json(filename: str) -> str:
    """A vendored dashboard as compact JSON text (same content, no whitespace)."""
    text = (resources.files("chartgen") / "data" / "dashboards" / "istio" / filename).read_text(encoding="utf-8")
    return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))


def istio_dashboards() -> dict[str, dict[str, str]]:
    """provider → dashboard key → the dashboard's JSON text."""
    return {provider: {key: _dashboard_json(filename) for key, filename in entries}
            for provider, entries in ISTIO_DASHBOARDS.items()}


def slo_group_name(catalog: Catalog) -> str:
    return f"{catalog.metadata.name}-mesh-slo"


def _number(value: float) -> str:
    """PromQL text of a threshold: ``0.005``, ``2000``."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


# The SLO rules hold each PromQL expression once per measure, not once per service: a
# recording rule per measure computes it for every destination service, and each alert
# rule compares it with one threshold for the services (named in one regular expression)
# that share the measure, reporter and threshold. The rules grow by a service's name (about
# ten bytes), not by a copy of its expressions (about 1.7 KB), so the Prometheus ConfigMap
# stays inside Kubernetes' limits for thousands of services.
# measure -> (recorded series, what, error numerator, denominator or None for the latency)
_RATE = "[5m]"
_MEASURES: dict[str, tuple[str, str, str, str]] = {
    "http": ("chartgen_slo:http_5xx_ratio:rate5m", "5xx ratio",
             'istio_requests_total{{{sel},response_code=~"5.."}}', "istio_requests_total{{{sel}}}"),
    "grpc": ("chartgen_slo:request_error_ratio:rate5m", "error ratio",
             'istio_requests_total{{{sel},request_protocol!="grpc",response_code=~"5.."}}|'
             'istio_requests_total{{{sel},request_protocol="grpc",grpc_response_status!="0"}}',
             "istio_requests_total{{{sel}}}"),
    "tcp": ("chartgen_slo:tcp_failed_ratio:rate5m", "failed connection ratio",
            'istio_tcp_connections_closed_total{{{sel},response_flags!="-"}}',
            "istio_tcp_connections_closed_total{{{sel}}}"),
    "latency": ("chartgen_slo:request_duration_p99_ms:rate5m", "p99 latency", "", ""),
}
_DESCRIPTIONS = {
    "http": "More than {t} of the requests to {{{{ $labels.destination_service }}}} returned 5xx over the last "
            "5 minutes.",
    "grpc": "More than {t} of the requests to {{{{ $labels.destination_service }}}} failed (HTTP 5xx, or a gRPC "
            "status other than OK) over the last 5 minutes.",
    "tcp": "More than {t} of the TCP connections to {{{{ $labels.destination_service }}}} closed with an Envoy "
           "response flag (failure) over the last 5 minutes.",
    "latency": "The 99th percentile latency of {{{{ $labels.destination_service }}}} has been above {t}ms for "
               "5 minutes.",
}


@dataclass(frozen=True, order=True)
class SloTarget:
    """One alert condition of one service: what is measured, by which reporter, against
    which threshold (a ratio, or milliseconds for the latency)."""

    measure: str  # http | grpc | tcp (the error ratio by the service's ports) | latency
    reporter: str  # destination, or waypoint for an HTTP service of the ambient data plane
    threshold: str  # PromQL number text
    namespace: str
    service: str

    @property
    def fqdn(self) -> str:
        return f"{self.service}.{self.namespace}.svc.cluster.local"


def _error_measure(svc) -> str:
    """The error ratio by the service's ports: HTTP requests with a 5xx; gRPC requests with a
    grpc-status other than OK (their failures arrive as HTTP 200); for a service without HTTP
    ports, TCP connections that Envoy closed with a response flag (Istio records no request
    metrics for TCP, and its stats filter sets the flags of a TCP connection once, when it
    is set up: UF, UH… mean it failed to connect)."""
    if "http" not in svc.port_classes:
        return "tcp"
    return "grpc" if svc.has_grpc else "http"


def slo_targets(env_view: EnvView) -> list[SloTarget]:
    """Per enabled service with an SLO: an error-ratio target and (HTTP services) a p99
    latency target, on Istio's standard metrics (reporter="destination"; "waypoint" for an
    HTTP service of the ambient data plane, whose SLO gives it a waypoint)."""
    out = []
    for _key, svc in sorted(env_view.enabled.items()):
        slo = svc.spec.slo
        if slo is None:
            continue
        namespace = env_view.service_namespace(svc)
        # ambient: a waypoint records the requests (reporter "waypoint"); ztunnel only TCP
        reporter = "waypoint" if env_view.ambient and "http" in svc.port_classes else "destination"
        if slo.errorRatio is not None:
            out.append(SloTarget(_error_measure(svc), reporter, _number(slo.errorRatio), namespace, svc.service_name))
        if slo.p99Latency is not None and "http" in svc.port_classes:
            out.append(SloTarget("latency", reporter, _number(naming.duration_ms(slo.p99Latency)), namespace,
                                 svc.service_name))
    return sorted(out)


def _service_labels(expr: str) -> str:
    """The alert's ``service`` and ``namespace`` labels, read from ``destination_service``
    (``<service>.<namespace>.svc.cluster.local``)."""
    expr = f'label_replace({expr}, "service", "$1", "destination_service", `([^.]+)\\..*`)'
    return f'label_replace({expr}, "namespace", "$1", "destination_service", `[^.]+\\.([^.]+)\\..*`)'


def _recording_rule(measure: str, reporters: list[str]) -> dict:
    record, _, errors, total = _MEASURES[measure]
    sel = 'reporter=~"{}"'.format("|".join(reporters)) if len(reporters) > 1 else f'reporter="{reporters[0]}"'
    by = "sum by (reporter, destination_service)"
    if measure == "latency":
        expr = (f"histogram_quantile(0.99, sum by (reporter, destination_service, le) "
                f"(rate(istio_request_duration_milliseconds_bucket{{{sel}}}{_RATE})))")
    else:
        parts = [f"rate({e.format(sel=sel)}{_RATE})" for e in errors.split("|")]
        expr = f"{by} ({' or '.join(parts)}) / {by} (rate({total.format(sel=sel)}{_RATE}))"
    return {"record": record, "expr": _service_labels(expr)}


def _services_regex(targets: list[SloTarget]) -> str:
    """One regular expression (a PromQL raw string: no escapes) matching exactly the
    targets' FQDNs, the names grouped by namespace (PromQL anchors it)."""
    by_ns: dict[str, list[str]] = {}
    for t in targets:
        by_ns.setdefault(t.namespace, []).append(t.service)
    esc = "\\."
    parts = [f"({'|'.join(sorted(set(names)))}){esc}{ns}{esc}svc{esc}cluster{esc}local"
             for ns, names in sorted(by_ns.items())]
    return "|".join(parts)


def _alert_rule(measure: str, reporter: str, threshold: str, targets: list[SloTarget]) -> dict:
    record, what, _, _ = _MEASURES[measure]
    unit = "ms" if measure == "latency" else ""
    return {
        "alert": "ServiceHighLatencyP99" if measure == "latency" else "ServiceHighErrorRatio",
        "expr": f'{record}{{reporter="{reporter}",destination_service=~`{_services_regex(targets)}`}} > {threshold}',
        "for": "5m",
        "labels": {"severity": "warning"},
        "annotations": {"summary": f"{{{{ $labels.service }}}}: {what} above {threshold}{unit}",
                        "description": _DESCRIPTIONS[measure].format(t=threshold)},
    }


def slo_alert_rules(catalog: Catalog, env_view: EnvView) -> dict:
    """``{"groups": [...]}``: one group, the recording rules of the measures in use first
    (a group's rules are evaluated in order), then one alert rule per (measure, reporter,
    threshold) naming its services (``slo_targets``). Each alert carries the labels
    ``service`` and ``namespace`` of the service it fires for."""
    targets = slo_targets(env_view)
    reporters: dict[str, set[str]] = {}
    groups: dict[tuple[str, str, str], list[SloTarget]] = {}
    for t in targets:
        reporters.setdefault(t.measure, set()).add(t.reporter)
        groups.setdefault((t.measure, t.reporter, t.threshold), []).append(t)
    order = list(_MEASURES)
    rules = [_recording_rule(m, sorted(reporters[m])) for m in order if m in reporters]
    rules += [_alert_rule(m, r, th, groups[(m, r, th)])
              for m, r, th in sorted(groups, key=lambda k: (order.index(k[0]), k[1], float(k[2])))]
    return {"groups": [{"name": slo_group_name(catalog), "rules": rules}]}
