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


def slo_alert_rules(catalog: Catalog, env_view: EnvView) -> dict:
    """``{"groups": [...]}``: per enabled service with an SLO, an error-ratio and a p99
    latency alert on Istio's standard metrics (reporter="destination")."""
    rules: list[dict] = []
    for key, svc in sorted(env_view.enabled.items()):
        slo = svc.spec.slo
        if slo is None or (slo.errorRatio is None and slo.p99Latency is None):
            continue
        namespace = env_view.service_namespace(svc)
        fqdn = svc.fqdn(env_view.namespace)
        sel = f'reporter="destination",destination_service="{fqdn}"'
        alert = naming.camel_title(key)
        labels = {"severity": "warning", "service": svc.service_name, "namespace": namespace}
        if slo.errorRatio is not None:
            ratio = _number(slo.errorRatio)
            rules.append({
                "alert": f"{alert}HighErrorRatio",
                "expr": (f'sum(rate(istio_requests_total{{{sel},response_code=~"5.."}}[5m])) / '
                         f"sum(rate(istio_requests_total{{{sel}}}[5m])) > {ratio}"),
                "for": "5m",
                "labels": dict(labels),
                "annotations": {
                    "summary": f"{svc.service_name}: 5xx ratio above {ratio}",
                    "description": (f"More than {ratio} of the requests to {fqdn} returned 5xx "
                                    "over the last 5 minutes."),
                },
            })
        if slo.p99Latency is not None:
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
