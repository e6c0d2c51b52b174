"""The workload checks on hand-made rendered objects (no helm): the ambient probe path and
the chart rule that admits it."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from chartgen.application import manifests, workloads

POD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers:
        - name: web
          ports: [{containerPort: 8080}]
          livenessProbe: {tcpSocket: {port: 8080}}
"""


@dataclass
class Doc:
    kind: str
    namespace: str
    spec: dict


def _env(np_ingress):
    view = SimpleNamespace(ambient=True, namespace="shop")
    policies = workloads.Policies.of([Doc("NetworkPolicy", "shop", {"podSelector": {}, "policyTypes": ["Ingress"],
                                                                    "ingress": np_ingress})])
    return workloads.Env("amb", view, {}, policies)


def test_ambient_probe_needs_the_ztunnel_probe_address_admitted():
    w = manifests.parse(POD, "app.yaml").objects[0]
    found = workloads._probes(_env([{"from": [{"namespaceSelector": {}}], "ports": [{"port": 15020}]}]), w, "shop")
    assert [f.format() for f in found] == [
        "app.yaml:12:11: error: Deployment/shop/web: kubelet's livenessProbe reaches ambient pods from 169.254.7.127, "
        "which no NetworkPolicy of the chart admits [WL050]"]
    admitted = _env([{"from": [{"ipBlock": {"cidr": "169.254.7.127/32"}}]}])
    assert workloads._probes(admitted, w, "shop") == []


def test_authorization_policy_ports_are_checked_against_the_pod_port():
    def policies(ports):
        docs = [Doc("AuthorizationPolicy", "shop", {"selector": {"matchLabels": {"app": "web"}}, "action": "ALLOW",
                                                    "rules": [{"from": [{"source": {"principals": ["a"]}}],
                                                               "to": [{"operation": {"ports": ports}}]}]}),
                # the metrics rule (no principals) does not count as admitting callers
                Doc("AuthorizationPolicy", "shop", {"selector": {"matchLabels": {"app": "web"}}, "action": "ALLOW",
                                                    "rules": [{"from": [{"source": {"notPrincipals": ["*"]}}],
                                                               "to": [{"operation": {"ports": ["9102"]}}]}]})]
        return workloads.Policies.of(docs)

    assert not workloads._authz_admits(policies(["80"]), "shop", {"app": "web"}, 8080)
    assert workloads._authz_admits(policies(["8080"]), "shop", {"app": "web"}, 8080)
    assert workloads._authz_admits(policies(["80"]), "shop", {"app": "other"}, 8080)  # not its pods
