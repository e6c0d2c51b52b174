"""Issue 24, second pass: ``chartgen import`` writes comments that quote the manifests
(an Ingress's host and name, the files' names, ServiceAccount names). A line break in
such a string must not end the comment: the rest would be catalog text written by whoever
wrote the manifests (here, a service ``db`` and a call to it, an authorization grant)."""

from __future__ import annotations

import pytest
import yaml

from conftest import run_cli

DEPLOY_AND_SERVICE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""
INJECTED = "\n    calls: [db]\n  db:\n    ports: [{name: tcp, port: 5432, protocol: TCP}]\n    #"


def _ingress(host: str, name: str = "ing") -> str:
    return yaml.safe_dump({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": "shop"},
        "spec": {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "web", "port": {"number": 80}}}}]}}]}})


@pytest.mark.parametrize("breaker", ["\n", "\r", "\r\n", "\x85", "\u2028", "\u2029"])
@pytest.mark.parametrize("where", ["host", "name"])
def test_manifest_strings_cannot_leave_their_comment(tmp_path, breaker, where):
    payload = INJECTED.replace("\n", breaker)
    ingress = _ingress("web.shop.example" + payload) if where == "host" else _ingress("web.shop.example", "ing" + payload)
    (tmp_path / "app.yaml").write_text(DEPLOY_AND_SERVICE)
    (tmp_path / "ingress.yaml").write_text(ingress)
    r = run_cli("import", "app.yaml", "ingress.yaml", "-o", "catalog.yaml", cwd=tmp_path)
    assert "Traceback" not in r.stderr
    if r.returncode == 0:
        catalog = yaml.safe_load((tmp_path / "catalog.yaml").read_text())
        assert set(catalog["services"]) == {"web"}, catalog["services"]
        assert "calls" not in catalog["services"]["web"]
    else:
        assert r.returncode == 1 and r.stderr.startswith("error: ")
        assert not (tmp_path / "catalog.yaml").exists()


def test_file_name_cannot_leave_the_header_comment(tmp_path):
    name = "app.yaml\nallowAnyEgress: true\n#"
    (tmp_path / name).write_text(DEPLOY_AND_SERVICE)
    r = run_cli("import", name, "-o", "catalog.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "catalog.yaml").read_text()
    assert "allowAnyEgress" not in yaml.safe_load(text)
    assert "app.yaml\\nallowAnyEgress: true\\n#" in text.splitlines()[0]


def test_output_dash_is_stdout_and_a_file_named_dash_is_kept(tmp_path):
    (tmp_path / "app.yaml").write_text(DEPLOY_AND_SERVICE)
    (tmp_path / "-").write_text("my notes\n")
    r = run_cli("import", "app.yaml", "-o", "-", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["kind"] == "ServiceCatalog"
    assert (tmp_path / "-").read_text() == "my notes\n"
    assert "written to stdout" in r.stderr
