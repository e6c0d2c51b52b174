"""The generated bootstrap scripts (gitops/<tool>/bootstrap/<env>.sh), run by sh against a
stand-in kubectl that records its calls: they create the namespaces with their Pod Security
labels, create the random Secrets once, refuse to go on without the TLS Secret, and only
then install Argo CD's health check and root Application."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chartgen.releases.bootstrap import psa_level
from chartgen.catalog.mesh import workload_psa_level
from chartgen.releases.helmfile import release_plan
from chartgen.catalog.mesh import resolve
from chartgen.catalog.validate import load_catalog
from conftest import ROOT

KUBECTL = """#!/bin/sh
echo "$*" >> "$KUBECTL_LOG"
case "$*" in
  *" get secret "*) for s in $KUBECTL_SECRETS; do case "$*" in *" -n ${s%/*} get secret ${s#*/}") exit 0;; esac; done; exit 1;;
  *" get namespace "*) exit 1;;
esac
exit 0
"""


def _run(script: Path, tmp_path: Path, secrets: str) -> tuple[int, list[str], str]:
    if shutil.which("sh") is None:
        pytest.fail("sh is required")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "kubectl").write_text(KUBECTL)
    (bin_dir / "kubectl").chmod(0o755)
    log = tmp_path / "calls.log"
    log.write_text("")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "KUBECTL_LOG": str(log),
           "KUBECTL_SECRETS": secrets}
    proc = subprocess.run(["sh", str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return proc.returncode, log.read_text().splitlines(), proc.stderr


@pytest.mark.integration
def test_prod_bootstrap_creates_secrets_once_and_stops_without_the_tls_secret(tmp_path):
    script = ROOT / "gitops/argocd/bootstrap/prod.sh"
    code, calls, err = _run(script, tmp_path, "")
    assert code == 1 and "missing TLS secret istio-ingress/bytefreezer-prod-tls" in err
    assert all(c.startswith("--context bytefreezer-prod ") for c in calls)  # the environment's cluster only
    created = [c for c in calls if " create secret generic " in c]
    assert len(created) == 2
    kiali = next(c for c in created if "kiali-signing-key" in c)
    assert re.search(r"--from-literal=signing-key=[A-Za-z0-9]{32}$", kiali)
    grafana = next(c for c in created if "grafana-admin" in c)
    assert "--from-literal=admin-user=admin" in grafana and re.search(r"admin-password=[A-Za-z0-9]{32}$", grafana)
    assert ("--context bytefreezer-prod label namespace observability --overwrite "
            "pod-security.kubernetes.io/enforce=privileged pod-security.kubernetes.io/warn=baseline "
            "pod-security.kubernetes.io/audit=baseline") in calls
    assert not any("argocd" in c for c in calls)  # Argo CD is not touched before the prerequisites

    everything = "istio-ingress/bytefreezer-prod-tls observability/kiali-signing-key observability/grafana-admin"
    code, calls, err = _run(script, tmp_path, everything)
    assert code == 0, err
    assert not any(" create secret " in c for c in calls)  # an existing Secret is kept
    assert calls[-2:] == [
        "-n argocd patch configmap argocd-cm --type merge --patch-file gitops/argocd/bootstrap/argocd-cm-health.yaml",
        "-n argocd apply -f gitops/argocd/bootstrap/prod.yaml"]


@pytest.mark.integration
def test_dev_bootstrap_needs_no_tls_and_no_kiali_key(tmp_path):
    code, calls, err = _run(ROOT / "gitops/flux/bootstrap/dev.sh", tmp_path, "")
    assert code == 0, err
    created = [c for c in calls if " create secret generic " in c]
    assert len(created) == 1 and "grafana-admin" in created[0]  # dev's Kiali is anonymous
    # localstack's namespace is created by the mesh chart (helm would refuse to adopt it)
    assert not any("create namespace localstack" in c for c in calls)
    assert any(c.endswith("create namespace istio-system") for c in calls)


def test_pod_security_levels_follow_istios_guide():
    sidecar = resolve(load_catalog(ROOT / "catalog.yaml"))
    ambient = resolve(load_catalog(ROOT / "examples/ambient/catalog.yaml"))
    for mesh in (sidecar, ambient):
        plan = release_plan(mesh, chart_dir="./charts/x")
        for view in mesh.views:
            cni = any(r.chart == "cni" and view.name in r.envs for r in plan.releases)
            assert psa_level(view, "istio-system", plan) == ("privileged" if cni else "baseline")
            assert psa_level(view, mesh.catalog.observability.namespace, plan) == "privileged"  # node exporter
            assert workload_psa_level(view) == ("baseline" if view.ambient else "privileged")  # istio-init
    assert any(v.ambient for v in ambient.views)
