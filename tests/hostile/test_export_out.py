"""Issue 24, second pass: ``chartgen export --out`` into a directory that ``generate`` writes.
The export would be published inside the chart (``charts/<chart>/``, or rendered by helm under
``templates/``), mixed into the values directory, or pruned as stale by the next ``generate``:
each is refused with one line, and nothing is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import run_cli

CATALOG = """\
apiVersion: chartgen.io/v1
kind: ServiceCatalog
metadata: {name: shop, domain: shop.example}
environments:
  dev: {mtls: PERMISSIVE, gateway: {https: false}}
services:
  web:
    ports: [{name: http, port: 8080}]
    expose: {paths: [/]}
gitops:
  repoURL: https://git.example.com/shop.git
  revision: main
  argocd: {}
  flux: {}
"""


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".chartgen.lock"}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("export-out")
    (root / "catalog.yaml").write_text(CATALOG)
    r = run_cli("generate", cwd=root)
    assert r.returncode == 0, r.stderr
    return root


@pytest.mark.parametrize("out", ["values", "values/shop-mesh", "charts", "charts/shop-mesh",
                                 "charts/shop-mesh/templates", "gitops/flux",
                                 "gitops/argocd/extra"])
def test_export_into_a_generated_directory_is_refused(project, out):
    before = _files(project)
    r = run_cli("export", "argocd", "--out", out, cwd=project)
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: refusing to export to "), r.stderr
    assert _files(project) == before


@pytest.mark.parametrize("out", ["gitops/argocd", "deploy/argocd", "valuesx", "gitops/other"])
def test_export_into_its_own_directory_still_works(project, out):
    r = run_cli("export", "argocd", "--out", out, cwd=project)
    assert r.returncode == 0, r.stderr
    assert (project / out / "bootstrap" / "dev.sh").is_file()
