"""Observability wiring derived from the catalog: Prometheus alert rules from the SLOs, and
Istio's Grafana dashboards.

Pure functions. The rules go into the prometheus release's ``serverFiles."alerting_rules.yml"``,
the dashboards into the grafana release's ``dashboards`` (see ``chartgen.helmfile``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from . import naming
from .catalog import Catalog
from .mesh import EnvView

__all__ = ["ISTIO_DASHBOARDS", "istio_dashboards", "slo_alert_rules", "slo_group_name"]

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


def _error_metric(svc, sel: str, ratio: str, fqdn: str) -> tuple[str, str, str, str]:
    """(errors, total, what, description) of the error ratio, by the service's ports: HTTP
    requests with a 5xx; gRPC requests with a grpc-status other than OK (their failures arrive
    as HTTP 200); for a service without HTTP ports, TCP connections that Envoy closed with a
    response flag (Istio records no request metrics for TCP, and its stats filter sets the
    flags of a TCP connection once, when it is set up: UF, UH… mean it failed to connect)."""
    if "http" not in svc.port_classes:
        return (f'rate(istio_tcp_connections_closed_total{{{sel},response_flags!="-"}}[5m])',
                f"rate(istio_tcp_connections_closed_total{{{sel}}}[5m])", "failed connection ratio",
                f"More than {ratio} of the TCP connections to {fqdn} closed with an Envoy response flag "
                "(failure) over the last 5 minutes.")
    total = f"rate(istio_requests_total{{{sel}}}[5m])"
    if svc.has_grpc:
        return (f'rate(istio_requests_total{{{sel},request_protocol!="grpc",response_code=~"5.."}}[5m]) or '
                f'rate(istio_requests_total{{{sel},request_protocol="grpc",grpc_response_status!="0"}}[5m])',
                total, "error ratio",
                f"More than {ratio} of the requests to {fqdn} failed (HTTP 5xx, or a gRPC status other than OK) "
                "over the last 5 minutes.")
    return (f'rate(istio_requests_total{{{sel},response_code=~"5.."}}[5m])', total, "5xx ratio",
            f"More than {ratio} of the requests to {fqdn} returned 5xx over the last 5 minutes.")


def slo_alert_rules(catalog: Catalog, env_view: EnvView) -> dict:
    """``{"groups": [...]}``: per enabled service with an SLO, an error-ratio and a p99
    latency alert on Istio's standard metrics (reporter="destination"; "waypoint" for an
    HTTP service of the ambient data plane, whose SLO gives it a waypoint), the metrics
    chosen by the service's ports (see ``_error_metric``)."""
    rules: list[dict] = []
    for key, svc in sorted(env_view.enabled.items()):
        slo = svc.spec.slo
        if slo is None or (slo.errorRatio is None and slo.p99Latency is None):
            continue
        namespace = env_view.service_namespace(svc)
        fqdn = svc.fqdn(env_view.namespace)
        # ambient: a waypoint records the requests (reporter "waypoint"); ztunnel only TCP
        reporter = "waypoint" if env_view.ambient and "http" in svc.port_classes else "destination"
        sel = f'reporter="{reporter}",destination_service="{fqdn}"'
        alert = naming.camel_title(key)
        labels = {"severity": "warning", "service": svc.service_name, "namespace": namespace}
        if slo.errorRatio is not None:
            ratio = _number(slo.errorRatio)
            errors, total, what, desc = _error_metric(svc, sel, ratio, fqdn)
            rules.append({
                "alert": f"{alert}HighErrorRatio",
                "expr": f"sum({errors}) / sum({total}) > {ratio}",
                "for": "5m",
                "labels": dict(labels),
                "annotations": {"summary": f"{svc.service_name}: {what} above {ratio}", "description": desc},
            })
        if slo.p99Latency is not None and "http" in svc.port_classes:
            ms = _number(naming.duration_ms(slo.p99Latency))
            rules.append({
                "alert": f"{alert}HighLatencyP99",
                "expr": ("histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket"
                         f"{{{sel}}}[5m]))) > {ms}"),
                "for": "5m",
                "labels": dict(labels),
                "annotations": {
                    "summary": f"{svc.service_name}: p99 latency above {ms}ms",
                    "description": f"The 99th percentile latency of {fqdn} has been above {ms}ms for 5 minutes.",
                },
            })
    return {"groups": [{"name": slo_group_name(catalog), "rules": rules}]}
