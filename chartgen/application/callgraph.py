"""Observed calls between workloads, read from a Kiali graph export or a Prometheus query
result, for ``chartgen import --calls``. Pure: text in, edges out.

- Kiali: the JSON of its graph API (``/api/namespaces/graph``; a workload, app, versioned
  app or service graph): ``elements.nodes[].data`` (``id``, ``nodeType``, ``namespace``,
  ``workload``, ``app``, ``service``) and ``elements.edges[].data`` (``source``,
  ``target``). Box (group) nodes and edges through a service node are followed.
- Prometheus: the JSON of its HTTP API (``/api/v1/query``) for ``istio_requests_total`` or
  ``istio_tcp_connections_opened_total`` summed by source and destination workload, e.g.
  ``sum by (source_workload, source_workload_namespace, destination_workload,
  destination_workload_namespace, destination_service_name) (rate(istio_requests_total[1d]))``:
  ``data.result[].metric``; a series whose value is 0 is no call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..base.errors import ChartgenError


class CallsError(ChartgenError):
    """The calls file is neither a Kiali graph nor a Prometheus query result."""


@dataclass(frozen=True, order=True)
class End:
    """One end of a call as the telemetry names it (any of the names may be empty)."""

    namespace: str = ""
    workload: str = ""
    app: str = ""
    service: str = ""

    def label(self) -> str:
        name = self.workload or self.app or self.service or "unknown"
        return f"{self.namespace}/{name}" if self.namespace else name


@dataclass(frozen=True, order=True)
class Call:
    source: End
    dest: End


def parse(text: str, file: str) -> list[Call]:
    """The calls of a Kiali graph or Prometheus query result (sorted, without repeats)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CallsError(f"{file}: not JSON ({exc}); expected a Kiali graph export or a Prometheus "
                         "query result") from None
    if isinstance(doc, dict) and isinstance(doc.get("elements"), dict):
        return sorted(set(_kiali(doc["elements"])))
    if isinstance(doc, dict) and isinstance(doc.get("data"), dict) and "result" in doc["data"]:
        return sorted(set(_prometheus(doc["data"]["result"])))
    raise CallsError(f"{file}: expected a Kiali graph export (elements.nodes, elements.edges) or a Prometheus "
                     "query result (data.result)")


def _kiali_end(data: dict) -> End:
    def text(key):
        value = data.get(key)
        return value if isinstance(value, str) and value not in ("unknown",) else ""

    return End(text("namespace"), text("workload"), text("app"), text("service"))


def _kiali(elements: dict) -> list[Call]:
    nodes = {}
    for item in elements.get("nodes") or []:
        data = (item or {}).get("data") or {}
        if data.get("isGroup") or data.get("nodeType") == "box":
            continue  # an app or version box, not an end of a call
        nodes[data.get("id")] = data
    outgoing: dict = {}
    for item in elements.get("edges") or []:
        data = (item or {}).get("data") or {}
        if data.get("source") in nodes and data.get("target") in nodes:
            outgoing.setdefault(data["source"], []).append(data["target"])
    calls = []
    for src, targets in outgoing.items():
        if nodes[src].get("nodeType") == "service":
            continue  # reached through its callers
        for dst in targets:
            calls.append(Call(_kiali_end(nodes[src]), _kiali_end(nodes[dst])))
    return calls


def _prometheus(result) -> list[Call]:
    calls = []
    for series in result if isinstance(result, list) else []:
        metric = (series or {}).get("metric") or {}
        value = (series or {}).get("value") or [None, "1"]
        try:
            if float(value[1]) <= 0:
                continue
        except (TypeError, ValueError, IndexError):
            pass
        src = End(metric.get("source_workload_namespace", ""), _known(metric.get("source_workload")),
                  _known(metric.get("source_app")), "")
        dst = End(metric.get("destination_workload_namespace", "") or metric.get("destination_service_namespace", ""),
                  _known(metric.get("destination_workload")), _known(metric.get("destination_app")),
                  _known(metric.get("destination_service_name")))
        calls.append(Call(src, dst))
    return calls


def _known(value) -> str:
    return value if isinstance(value, str) and value != "unknown" else ""
