"""An Istio control-plane upgrade from 1.29.6 to 1.30.3, step by step, against the real charts.

ByteFreezer (sidecars) and the ambient example, set to 1.29.6 with one revision ``1-29-6`` and
the tag ``prod-stable`` first, go through ``chartgen istio upgrade`` start, promote (one
namespace, then the tags, then the gateway) and finish; and from the same start, abort after
start and after promote (mesh-wide, and for ByteFreezer in one environment with ``--env``).
At every step, in every environment:

- the whole helmfile renders with the real helmfile and helm 3, and each release renders with
  helm 4 ``helm template``; every object the CRDs of the render know (Istio's from istio-base,
  the Gateway API's) passes their schema and CEL rules (lint's crdcheck), and no object is
  rendered by two releases (helm would refuse to install it);
- the istiod releases, their versions and revisions, where each revision tag's webhook is,
  the istio.io/rev of each namespace (sidecars) or waypoint (ambient), the gateway's, and the
  revision ztunnel follows are what the step says;
- the Argo CD and Flux exports hold the same releases, at the same chart versions, in the
  helmfile's order (sync waves after every need; dependsOn = needs);
- abort gives back the tree of before ``start`` byte for byte (the chart's version files aside).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from chartgen.catalog.edit import RoundTrip
from chartgen.base.crdcheck import CRDSet
from chartgen.base.toolchain import find_tool

from conftest import ROOT, run_cli
from helpers.wiring import Render, read_render

pytestmark = [pytest.mark.integration, pytest.mark.servers]

OLD, NEW = "1.29.6", "1.30.3"
R_OLD, R_NEW = "1-29-6", "1-30-3"
TAG = "prod-stable"
ENVS = ("dev", "prod")
CATALOGS = {"sidecar": ROOT / "catalog.yaml", "ambient": ROOT / "examples" / "ambient" / "catalog.yaml"}
# the chart's version files, which every step rewrites
VERSION_FILES = ("Chart.yaml", "CHANGELOG.md", ".chartgen-state.json", "README.md")
# the namespace promoted ahead of the tag, per catalog
AHEAD = {"sidecar": "bytefreezer-prod", "ambient": "bytefreezer-prod"}


def _prepare(src: Path, dest: Path, mirror: str) -> None:
    """The catalog at Istio 1.29.6: one revision and the tag prod-stable, charts from ``mirror``."""
    rt = RoundTrip(src.read_text(encoding="utf-8"))
    doc = rt.doc
    doc["versions"]["istio"] = OLD
    istio = doc.setdefault("istio", {})
    istio.pop("revision", None)
    istio["revisions"] = {R_OLD: OLD}
    istio["tags"] = {TAG: R_OLD}
    doc["helmfile"] = {"chartMirror": mirror}
    if "gitops" not in doc:
        doc["gitops"] = {"repoURL": "https://git.example/mesh.git", "argocd": {}, "flux": {}}
        for name, env in doc["environments"].items():  # one cluster per environment (shared-cluster)
            env.setdefault("kubeContext", f"upgrade-{name}")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "catalog.yaml").write_text(rt.text(), encoding="utf-8")
    proc = run_cli("generate", cwd=dest)
    assert proc.returncode == 0, proc.stderr


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


def _without_version_files(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in tree.items() if not (k.startswith("charts/") and k.rsplit("/", 1)[-1] in VERSION_FILES)}


def _step(root: Path, *args: str) -> str:
    if "--env" not in args:  # both catalogs have a production environment: a mesh-wide step says so
        args = (*args, "--every-environment")
    proc = run_cli("istio", "upgrade", *args, cwd=root)
    assert proc.returncode == 0, f"istio upgrade {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


# --- reading the helmfile and the exports -------------------------------------------------------


def _helmfile(root: Path) -> tuple[dict, list[dict]]:
    docs = [d for d in yaml.safe_load_all((root / "helmfile.yaml").read_text(encoding="utf-8")) if d]
    return docs[0]["environments"], [r for d in docs for r in d.get("releases") or []]


def _env_releases(root: Path, env: str) -> list[dict]:
    """The releases helmfile installs in ``env`` (their conditions read from the environment)."""
    environments, releases = _helmfile(root)
    values = {k: v for layer in environments[env].get("values", []) for k, v in layer.items()}
    out = []
    for r in releases:
        cond = r.get("condition")
        if cond is None or values[cond.rsplit(".", 1)[0]]["enabled"]:
            out.append(r)
    return out


def _needs(release: dict, names: set[str]) -> set[str]:
    return {n.split("/", 1)[1] for n in release.get("needs", [])} & names


def _docs(directory: Path, kind: str) -> list[dict]:
    return [d for path in sorted(directory.glob("*.yaml")) for d in yaml.safe_load_all(path.read_text(encoding="utf-8"))
            if d and d.get("kind") == kind]


def _check_exports(root: Path, env: str) -> None:
    releases = _env_releases(root, env)
    names = {r["name"] for r in releases}
    argo = {a["metadata"]["labels"]["chartgen.io/release"]: a for a in _docs(root / "gitops" / "argocd" / env, "Application")
            if "chartgen.io/release" in a["metadata"].get("labels", {})}
    assert set(argo) == names, f"argocd {env}: {sorted(set(argo) ^ names)}"
    wave = {n: int(a["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", 0)) for n, a in argo.items()}
    for r in releases:
        assert all(wave[n] < wave[r["name"]] for n in _needs(r, names)), (env, r["name"], wave)
    versions = {r["name"]: r["version"] for r in releases if "version" in r}  # the local charts follow git
    assert {n: argo[n]["spec"]["sources"][0]["targetRevision"] for n in versions} == versions
    flux = {h["spec"].get("releaseName", h["metadata"]["name"]): h for h in _docs(root / "gitops" / "flux" / env, "HelmRelease")}
    assert set(flux) == names, f"flux {env}: {sorted(set(flux) ^ names)}"
    for r in releases:
        assert {d["name"] for d in flux[r["name"]]["spec"].get("dependsOn", [])} == _needs(r, names), (env, r["name"])


# --- rendering ----------------------------------------------------------------------------------


class Renderer:
    """Renders a tree's environments (helmfile + helm 3, and helm 4 per release), caching
    by content: an aborted tree is the tree of before, and its render is the same."""

    def __init__(self, env: dict, tmp: Path, mirror: str):
        self.env, self.tmp, self.mirror = env, tmp, mirror
        self.helmfile, self.helm3 = find_tool("helmfile", start=ROOT).path, find_tool("helm3", start=ROOT).path
        self.helm4 = find_tool("helm", start=ROOT).path
        self.cache: dict[str, Render] = {}
        self.helm4_cache: dict[str, list[dict]] = {}
        self.count = 0

    def _key(self, root: Path, env: str) -> str:
        h = hashlib.sha256(env.encode())
        for name, data in _tree(root).items():
            if not name.startswith("gitops/"):
                h.update(name.encode() + b"\0" + data + b"\0")
        return h.hexdigest()

    def render(self, root: Path, env: str) -> Render:
        key = self._key(root, env)
        if key not in self.cache:
            self.count += 1
            dest = self.tmp / f"render-{self.count}"
            namespaces = {r["name"]: r["namespace"] for r in _helmfile(root)[1]}
            proc = subprocess.run(
                [self.helmfile, "-b", self.helm3, "-e", env, "template", "--output-dir", str(dest),
                 "--output-dir-template", "{{ .OutputDir }}/{{ .Release.Name }}"],
                cwd=root, env=dict(self.env, HELMFILE_V1MODE="true"), capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"helmfile -e {env} template:\n{proc.stderr[-3000:]}"
            self.cache[key] = read_render(dest, namespaces)
        return self.cache[key]

    def helm4_objects(self, root: Path, env: str, release: dict) -> list[dict]:
        """``helm template`` of one release with helm 4: its chart and values files as helmfile
        gives them."""
        files = [root / v.replace("{{ .Environment.Name }}", env) for v in release["values"]]
        args = [self.helm4, "template", release["name"]]
        chart = release["chart"]
        if chart.startswith("./"):
            args.append(str(root / chart))
        else:
            args += [chart.split("/", 1)[1], "--repo", self.mirror, "--version", release["version"]]
        args += ["-n", release["namespace"]]
        for f in files:
            if f.is_file():
                args += ["-f", str(f)]
        h = hashlib.sha256("\0".join(args[2:]).encode())
        for f in files:
            h.update(f.read_bytes() if f.is_file() else b"-")
        if chart.startswith("./"):
            for name, data in _tree(root / chart).items():
                h.update(name.encode() + data)
        key = h.hexdigest()
        if key not in self.helm4_cache:
            proc = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, f"helm 4 template {release['name']} ({env}):\n{proc.stderr[-3000:]}"
            self.helm4_cache[key] = [d for d in yaml.safe_load_all(proc.stdout) if isinstance(d, dict) and d.get("kind")]
        return self.helm4_cache[key]


def _crd_errors(objects: list[dict], crd_objects: list[dict]) -> dict[str, list[str]]:
    crds = CRDSet.from_documents(crd_objects)
    out = {}
    for o in objects:
        if o["kind"] != "CustomResourceDefinition" and crds.knows(o["apiVersion"], o["kind"]):
            errors = [str(v) for v in crds.validate(o)]
            if errors:
                out[f"{o['kind']} {o['metadata'].get('namespace')}/{o['metadata']['name']}"] = errors
    return out


def _check_renders(renderer: Renderer, root: Path, env: str) -> Render:
    render = renderer.render(root, env)
    releases = _env_releases(root, env)
    assert set(render.releases) == {r["name"] for r in releases}
    owners = Counter((o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in render.objects)
    assert [k for k, n in owners.items() if n > 1] == []
    crd_objects = [o for o in render.objects if o["kind"] == "CustomResourceDefinition"]
    assert any(o["spec"]["group"] == "networking.istio.io" for o in crd_objects)
    assert _crd_errors(render.objects, crd_objects) == {}
    helm4 = [o for r in releases for o in renderer.helm4_objects(root, env, r)]
    assert _crd_errors(helm4, [o for o in helm4 if o["kind"] == "CustomResourceDefinition"]) == {}
    assert Counter(o["kind"] for o in helm4) == Counter(o["kind"] for o in render.objects)
    return render


# --- what each step must have done ---------------------------------------------------------------


def _label(obj: dict) -> str | None:
    return obj["metadata"].get("labels", {}).get("istio.io/rev")


def _check_state(plane: str, render: Render, root: Path, env: str, shared: str, *, revisions: dict[str, str],
                 tag: str, namespaces: dict[str, str], gateway: str) -> None:
    """``revisions``: revision → version of the istiod releases; ``tag``: the revision prod-stable
    is on; ``namespaces``: namespace → the istio.io/rev it carries (others: prod-stable);
    ``gateway``: the gateway's istio.io/rev; ``shared``: the version of istio/base, gateway, cni
    and ztunnel (the newest revision of any environment)."""
    releases = {r["name"]: r for r in _env_releases(root, env)}
    assert {n: r["version"] for n, r in releases.items() if r["chart"].endswith("/istiod")} == \
        {f"istiod-{rev}": v for rev, v in revisions.items()}
    assert releases["istio-base"]["version"] == shared
    for rev in revisions:
        deploy = render.one("Deployment", f"istiod-{rev}", "istio-system", release=f"istiod-{rev}")
        assert deploy["metadata"]["labels"]["istio.io/rev"] == rev
    hooks = {r: [o["metadata"]["name"] for o in render.find("MutatingWebhookConfiguration", release=f"istiod-{r}")]
             for r in revisions}
    assert {r for r, names in hooks.items() if f"istio-revision-tag-{TAG}" in names} == {tag}
    mesh = next(r for r in render.releases if r.endswith("-mesh"))
    _check_namespaces(plane, render, mesh, env, namespaces)
    if plane == "sidecar":
        deploy = render.one("Deployment", "istio-ingress", "istio-ingress", release="istio-ingress")
        assert deploy["spec"]["template"]["metadata"]["labels"]["istio.io/rev"] == gateway
    else:
        _check_ambient(render, mesh, revisions, gateway)
        assert releases["istio-cni"]["version"] == releases["ztunnel"]["version"] == shared


def _check_namespaces(plane: str, render: Render, mesh: str, env: str, namespaces: dict[str, str]) -> None:
    spaces = [o for o in render.find("Namespace", release=mesh) if o["metadata"]["name"] != "istio-ingress"]
    assert spaces
    for ns in spaces:
        name, labels = ns["metadata"]["name"], ns["metadata"].get("labels", {})
        want = namespaces.get(name, TAG)
        assert "istio-injection" not in labels, (env, name, labels)
        if plane == "sidecar":
            assert labels.get("istio.io/rev") == want, (env, name, labels)
            continue
        assert "istio.io/rev" not in labels, (env, name, labels)
        waypoints = [w for w in render.find("Gateway", namespace=name, release=mesh)
                     if w["spec"]["gatewayClassName"] == "istio-waypoint"]
        assert all(_label(w) == want for w in waypoints), (env, name)


def _check_ambient(render: Render, mesh: str, revisions: dict[str, str], gateway: str) -> None:
    assert render.find("Gateway", release=mesh)
    gws = [g for g in render.find("Gateway", release=mesh) if g["spec"]["gatewayClassName"] == "istio"]
    assert gws and all(_label(g) == gateway for g in gws)
    ztunnel = render.one("DaemonSet", "ztunnel", "istio-system", release="ztunnel")
    env_vars = {e["name"]: e.get("value") for c in ztunnel["spec"]["template"]["spec"]["containers"]
                for e in c.get("env", [])}
    newest = max(revisions, key=lambda r: tuple(map(int, revisions[r].split("."))))
    assert env_vars["CA_ADDRESS"] == f"istiod-{newest}.istio-system.svc:15012"


def _check_all(plane: str, renderer: Renderer, root: Path, expected: dict[str, dict]) -> None:
    shared = max((v for e in expected.values() for v in e["revisions"].values()),
                 key=lambda v: tuple(map(int, v.split("."))))
    for env in ENVS:
        render = _check_renders(renderer, root, env)
        _check_state(plane, render, root, env, shared, **expected[env])
        _check_exports(root, env)


def _same(env_state: dict) -> dict[str, dict]:
    return {env: env_state for env in ENVS}


BEFORE = dict(revisions={R_OLD: OLD}, tag=R_OLD, namespaces={}, gateway=TAG)
BOTH = {R_OLD: OLD, R_NEW: NEW}


@pytest.fixture(scope="module")
def renderer(upstream_repo, helm_env, tmp_path_factory):
    return Renderer(helm_env, tmp_path_factory.mktemp("upgrade-renders"), upstream_repo)


@pytest.fixture(scope="module")
def before(upstream_repo, tmp_path_factory) -> dict[str, Path]:
    out = {}
    for plane, src in CATALOGS.items():
        root = tmp_path_factory.mktemp(f"before-{plane}")
        _prepare(src, root, upstream_repo)
        out[plane] = root
    return out


def _copy(before: Path, tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(before, root)
    return root


@pytest.mark.parametrize("plane", sorted(CATALOGS))
def test_start_promote_finish(plane, before, renderer, tmp_path):
    root = _copy(before[plane], tmp_path)
    _check_all(plane, renderer, root, _same(BEFORE))

    out = _step(root, "start", NEW)
    assert "tags stay on 1-29-6" in out
    _check_all(plane, renderer, root, _same(dict(BEFORE, revisions=BOTH)))

    ahead = AHEAD[plane]
    _step(root, "promote", "--namespace", ahead)
    _check_all(plane, renderer, root, _same(dict(BEFORE, revisions=BOTH, namespaces={ahead: R_NEW})))

    _step(root, "promote")  # the tag; the gateway stays on the old revision
    _check_all(plane, renderer, root, _same(dict(revisions=BOTH, tag=R_NEW, namespaces={}, gateway=R_OLD)))
    refused = run_cli("istio", "upgrade", "finish", "--every-environment", cwd=root)
    assert refused.returncode == 1 and "gateway still on 1-29-6" in refused.stderr

    _step(root, "promote", "--gateways")
    _check_all(plane, renderer, root, _same(dict(revisions=BOTH, tag=R_NEW, namespaces={}, gateway=TAG)))

    out = _step(root, "finish")
    assert "helm uninstall istiod-1-29-6 -n istio-system" in out
    _check_all(plane, renderer, root, _same(dict(revisions={R_NEW: NEW}, tag=R_NEW, namespaces={}, gateway=TAG)))
    assert not (root / "values" / f"istiod-{R_OLD}").exists()


@pytest.mark.parametrize("plane", sorted(CATALOGS))
@pytest.mark.parametrize("promoted", [False, True], ids=["from-start", "from-promote"])
def test_abort_gives_back_the_tree_of_before(plane, promoted, before, renderer, tmp_path):
    root = _copy(before[plane], tmp_path)
    original = _without_version_files(_tree(root))
    _step(root, "start", NEW)
    if promoted:
        _step(root, "promote", "--namespace", AHEAD[plane])
        _step(root, "promote")
        _check_all(plane, renderer, root, _same(dict(revisions=BOTH, tag=R_NEW, namespaces={}, gateway=R_OLD)))
    out = _step(root, "abort")
    assert "helm uninstall istiod-1-30-3 -n istio-system" in out
    after = _without_version_files(_tree(root))
    assert sorted(after) == sorted(original)
    assert [k for k in original if after[k] != original[k]] == []
    _check_all(plane, renderer, root, _same(BEFORE))


def test_one_environment_upgrades_alone_and_aborts(before, renderer, tmp_path):
    """ByteFreezer's prod upgrades on its own (--env prod); dev stays on 1-29-6 (istio/base and the
    gateway chart, one version in the helmfile, move for both)."""
    root = _copy(before["sidecar"], tmp_path)
    original = _without_version_files(_tree(root))
    _step(root, "start", NEW, "--env", "prod")
    _step(root, "promote", "--env", "prod")
    state = {"dev": BEFORE, "prod": dict(revisions=BOTH, tag=R_NEW, namespaces={}, gateway=R_OLD)}
    _check_all("sidecar", renderer, root, state)
    _step(root, "abort", "--env", "prod")
    after = _without_version_files(_tree(root))
    assert [k for k in sorted(set(after) | set(original)) if after.get(k) != original.get(k)] == []
