"""Render a catalog's mesh chart with the real helm, per environment, as generate writes it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from chartgen.chart.render import ChartMeta, build_chart, dump_yaml
from chartgen.catalog.validate import parse_catalog
from chartgen.chart.values import mesh_env_values

KUBE_VERSION = "1.33.0"


def write_chart(catalog, root: Path, name: str = "mesh") -> Path:
    """The chart as generate writes it (version pinned so goldens survive bumps) in
    ``root/name``, plus each environment's values file in ``root``."""
    chart = root / name
    for rel, text in build_chart(catalog, ChartMeta(version="1.0.0")).items():
        path = chart / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for env, values in mesh_env_values(catalog).items():
        (root / f"{env}.yaml").write_text(dump_yaml(values))
    return chart


def render_catalog(text: str, root: Path, helm: str, helm_env: dict) -> dict[str, list[dict]]:
    """{env: rendered objects} of the catalog ``text`` (validated first)."""
    catalog, _ = parse_catalog(text, "catalog.yaml")
    chart = write_chart(catalog, root)
    out = {}
    for env in sorted(catalog.environments):
        r = subprocess.run([helm, "template", "mesh", str(chart), "-n", "istio-system", "--kube-version", KUBE_VERSION,
                            "-f", str(root / f"{env}.yaml")], capture_output=True, text=True, env=helm_env, timeout=120)
        assert r.returncode == 0, r.stderr
        out[env] = [d for d in yaml.safe_load_all(r.stdout) if d]
    return out


def one(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def istio_crdset(upstream_charts: Path):
    """The CRDs of the pinned Istio (1.30.3), from the real istio/base chart archive."""
    import tarfile

    from chartgen.base.crdcheck import CRDSet

    with tarfile.open(upstream_charts / "base-1.30.3.tgz") as tgz:
        text = tgz.extractfile("base/files/crd-all.gen.yaml").read().decode()
    return CRDSet.from_documents(d for d in yaml.safe_load_all(text) if d)


def crd_violations(crds, docs: list[dict]) -> tuple[int, list]:
    """(how many objects the CRDs know, their violations)."""
    known = [d for d in docs if crds.knows(d["apiVersion"], d["kind"])]
    return len(known), [(d["kind"], d["metadata"]["name"], v) for d in known for v in crds.validate(d)]
