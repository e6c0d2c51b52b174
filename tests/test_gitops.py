"""`chartgen export argocd|flux` and the exports `generate` writes: admitted by the real
Argo CD / Flux CRDs (vendored in chartgen/data/gitops/, checked by chartgen.base.crdcheck), the
helmfile's order and layering, catalog strings kept as data, and the lifecycle (--check,
diff, determinism). The renders with helm live in test_gitops_render.py."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from chartgen.lifecycle.generate import chart_options, generate
from chartgen.releases.gitops import check_files, crd_set, export_files
from chartgen.releases.helmfile import release_plan
from chartgen.catalog.validate import load_catalog
from conftest import ROOT, run_cli

GITOPS = "https://github.com/bytefreezer/chartgen.git"


def _docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def _catalog_with(tmp_path: Path, old: str, new: str, name: str = "catalog.yaml") -> Path:
    text = (ROOT / "catalog.yaml").read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _export(catalog, tool: str, **chart) -> dict[str, str]:
    args = {"chart_dir": "./charts/bytefreezer-mesh", **chart}
    return export_files(tool, catalog, out_dir=f"gitops/{tool}", **args)


@pytest.fixture(scope="module")
def crds():
    return crd_set()


VARIANTS = {
    "default": ("argocd: {}", "argocd: {}", {}),
    "https-mirror": ("argocd: {}", "argocd: {}", {"chart_mirror": "https://charts.internal/mirror/"}),
    "oci-mirror-and-published-mesh": ("argocd: {}", "argocd: {}", {
        "chart_mirror": "oci://registry.internal:5000/charts", "mesh_chart": "oci://registry.internal:5000/charts/bytefreezer-mesh",
        "mesh_version": "0.4.2"}),
    "settings": ("  revision: main\n  argocd: {}\n  flux: {}\n",
                 "  revision: 0123456789abcdef0123456789abcdef01234567\n  path: deploy/mesh\n"
                 "  argocd:\n    namespace: gitops\n    project: platform\n    automated: false\n"
                 "    clusters:\n      prod: {server: 'https://10.0.0.1:6443'}\n"
                 "  flux: {namespace: flux, interval: 1m30s}\n", {}),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("tool", ["argocd", "flux"])
def test_every_exported_object_is_admitted_by_the_real_crds(tmp_path, crds, tool, variant):
    old, new, chart = VARIANTS[variant]
    catalog = load_catalog(_catalog_with(tmp_path, old, new))
    files = _export(catalog, tool, **chart)
    objs = [d for p, t in files.items() if p.endswith(".yaml") for d in _docs(t)]
    assert len(objs) >= 18
    assert check_files(files, crds) == []


def test_the_crd_check_refuses_what_the_api_server_would(crds):
    catalog = load_catalog(ROOT / "catalog.yaml")
    argo = _export(catalog, "argocd")
    app = _docs(argo["gitops/argocd/dev/istiod.yaml"])[0]
    bad = copy.deepcopy(app)
    bad["spec"]["sources"][0]["helm"]["valuesFiles"] = ["x.yaml"]  # a typo: unknown field
    assert any("valuesFiles" in str(v) for v in crds.validate(bad))
    flux = _export(catalog, "flux")
    hr = _docs(flux["gitops/flux/dev/istiod.yaml"])[0]
    both = copy.deepcopy(hr)
    both["spec"]["chartRef"] = {"kind": "OCIRepository", "name": "istiod"}  # CEL: chart or chartRef
    assert any("chart or chartRef" in v.message for v in crds.validate(both))
    assert check_files({"x.yaml": yaml.safe_dump(both)}, crds)


def _waves(apps: dict) -> dict[str, int]:
    return {n: int((a["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-wave", 0))
            for n, a in apps.items()}


def test_order_and_layering_follow_the_helmfile():
    catalog = load_catalog(ROOT / "catalog.yaml")
    plan = release_plan(catalog, **chart_options(catalog, "charts/bytefreezer-mesh"))
    argo = _export(catalog, "argocd")
    flux = _export(catalog, "flux")
    for view_env in catalog.environments:
        apps = {r.name: _docs(argo[f"gitops/argocd/{view_env}/{r.name}.yaml"])[0]
                for r in plan.releases if view_env in r.envs}
        waves = _waves(apps)
        for r in plan.releases:
            if view_env not in r.envs:
                assert f"gitops/argocd/{view_env}/{r.name}.yaml" not in argo
                assert f"gitops/flux/{view_env}/{r.name}.yaml" not in flux
                continue
            app = apps[r.name]
            wave = waves[r.name]
            # after everything it needs; a release that needs nothing has no wave
            assert all(waves[dep] < wave for dep in r.needs_names if dep in waves)
            assert (wave == 0) == (not any(dep in waves for dep in r.needs_names))
            src = app["spec"]["sources"][0]
            assert src["helm"]["valueFiles"] == [f"$values/{f}" for f in r.value_files(view_env)]
            hr = _docs(flux[f"gitops/flux/{view_env}/{r.name}.yaml"])[0]
            assert {d["name"] for d in hr["spec"].get("dependsOn", [])} == set(r.needs_names)
            assert [v["valuesKey"] for v in hr["spec"]["valuesFrom"]] == [Path(f).name for f in r.value_files(view_env)]
        kust = _docs(flux[f"gitops/flux/{view_env}/kustomization.yaml"])[0]
        gen = {g["name"]: g["files"] for g in kust["configMapGenerator"]}
        assert gen["prometheus-values"] == [f"{Path(f).name}=../../../{f}"
                                            for f in next(r for r in plan.releases if r.name == "prometheus").value_files(view_env)]
    mesh = _docs(argo["gitops/argocd/dev/bytefreezer-mesh.yaml"])[0]
    assert "SkipDryRunOnMissingResource=true" in mesh["spec"]["syncPolicy"]["syncOptions"]
    assert mesh["spec"]["sources"][0]["path"] == "charts/bytefreezer-mesh"
    assert mesh["spec"]["destination"] == {"name": "kind-bytefreezer-dev", "namespace": "istio-system"}
    hr = _docs(flux["gitops/flux/dev/bytefreezer-mesh.yaml"])[0]
    assert hr["spec"]["install"]["disableOpenAPIValidation"] is True
    assert hr["spec"]["chart"]["spec"]["sourceRef"]["kind"] == "GitRepository"


def test_settings_reach_the_objects(tmp_path):
    old, new, _ = VARIANTS["settings"]
    catalog = load_catalog(_catalog_with(tmp_path, old, new))
    argo = _export(catalog, "argocd")
    prod = _docs(argo["gitops/argocd/prod/istiod.yaml"])[0]
    assert prod["metadata"]["namespace"] == "gitops"
    assert prod["spec"]["project"] == "platform-prod"
    assert prod["spec"]["destination"] == {"server": "https://10.0.0.1:6443", "namespace": "istio-system"}
    assert "automated" not in prod["spec"]["syncPolicy"]
    assert prod["spec"]["sources"][0]["helm"]["valueFiles"][0] == "$values/deploy/mesh/values/istiod/common.yaml"
    assert prod["spec"]["sources"][1]["targetRevision"] == "0123456789abcdef0123456789abcdef01234567"
    root = _docs(argo["gitops/argocd/bootstrap/prod.yaml"])[0]
    assert root["spec"]["source"]["path"] == "deploy/mesh/gitops/argocd/prod"
    flux = _export(catalog, "flux")
    git = next(d for d in _docs(flux["gitops/flux/dev/sources.yaml"]) if d["kind"] == "GitRepository")
    assert git["spec"]["ref"] == {"commit": "0123456789abcdef0123456789abcdef01234567"}
    mesh = _docs(flux["gitops/flux/dev/bytefreezer-mesh.yaml"])[0]
    assert mesh["spec"]["chart"]["spec"]["chart"] == "./deploy/mesh/charts/bytefreezer-mesh"
    assert mesh["metadata"]["namespace"] == "flux" and mesh["spec"]["interval"] == "1m30s"


def test_oci_mirror_uses_ocirepositories_and_argo_oci_helm_repos():
    catalog = load_catalog(ROOT / "catalog.yaml")
    chart = VARIANTS["oci-mirror-and-published-mesh"][2]
    flux = _export(catalog, "flux", **chart)
    sources = _docs(flux["gitops/flux/dev/sources.yaml"])
    assert {d["kind"] for d in sources} == {"OCIRepository"}
    istiod = next(d for d in sources if d["metadata"]["name"] == "istiod")
    assert istiod["spec"]["url"] == "oci://registry.internal:5000/charts/istiod"
    assert istiod["spec"]["ref"] == {"tag": "1.30.3"}
    mesh = next(d for d in sources if d["metadata"]["name"] == "bytefreezer-mesh")
    assert mesh["spec"]["ref"] == {"tag": "0.4.2"}
    hr = _docs(flux["gitops/flux/dev/istiod.yaml"])[0]
    assert hr["spec"]["chartRef"] == {"kind": "OCIRepository", "name": "istiod"} and "chart" not in hr["spec"]
    argo = _export(catalog, "argocd", **chart)
    app = _docs(argo["gitops/argocd/dev/bytefreezer-mesh.yaml"])[0]
    assert app["spec"]["sources"][0] | {"helm": None} == {"repoURL": "registry.internal:5000/charts", "chart": "bytefreezer-mesh",
                                                          "targetRevision": "0.4.2", "helm": None}


@pytest.mark.parametrize("old,new,message", [
    (f"repoURL: {GITOPS}", "repoURL: 'https://git.example.com/{{ .Values.x }}'", "gitops.repoURL: expected a git repository URL"),
    (f"repoURL: {GITOPS}", "repoURL: https://git.example.com/$ARGOCD_APP_NAME", "[git-url]"),
    ("revision: main", "revision: \"main'; rm -rf /\"", "gitops.revision: expected a branch, tag or commit"),
    ("revision: main", "revision: main\n  path: ../elsewhere", "gitops.path: expected a relative directory"),
    ("kubeContext: bytefreezer-prod", "kubeContext: 'prod ${HOME}'", "environments.prod.kubeContext: expected a cluster name"),
    ("argocd: {}", "argocd: {clusters: {qa: {name: x}}}", "gitops.argocd.clusters.qa: unknown environment 'qa'"),
    ("argocd: {}", "argocd: {clusters: {dev: {server: 'http://x'}}}", "gitops.argocd.clusters.dev.server"),
])
def test_hostile_gitops_settings_are_refused_with_a_location(tmp_path, old, new, message):
    path = _catalog_with(tmp_path, old, new)
    r = run_cli("validate", "-c", str(path))
    assert r.returncode == 1
    line = next(l for l in (r.stdout + r.stderr).splitlines() if message in l)
    file, lineno, col, rest = line.split(":", 3)
    assert file == str(path) and int(lineno) > 0 and int(col) > 0 and rest.startswith(" error: ")
    assert "Traceback" not in r.stderr


def test_catalog_strings_stay_data(tmp_path):
    """What the settings allow lands verbatim, and nothing a controller would expand
    (Argo CD's $VARS in value files, Flux's ${VARS}, Go templates) can appear."""
    url = "https://git.example.com/a/b.git?ref=x&y=%7B%7B#frag"
    catalog = load_catalog(_catalog_with(tmp_path, f"repoURL: {GITOPS}", f"repoURL: '{url}'"))
    for tool in ("argocd", "flux"):
        files = _export(catalog, tool)
        text = "".join(files.values())
        assert url in text
        assert "{{" not in text and "${" not in text
        for obj in (d for p, t in files.items() if p.endswith(".yaml") for d in _docs(t)):
            if "apiVersion" not in obj:
                continue  # argocd-cm's patch
            for f in obj.get("spec", {}).get("sources", [{}])[0].get("helm", {}).get("valueFiles", []):
                assert f.count("$") == 1 and f.startswith("$values/")
            if tool == "flux" and obj["kind"] != "Kustomization":
                assert obj["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/substitute"] == "disabled"


def test_generate_writes_the_exports_and_check_and_diff_cover_them(generated):
    app = generated / "gitops/argocd/dev/istiod.yaml"
    assert app.read_text() == (ROOT / "gitops/argocd/dev/istiod.yaml").read_text()
    assert run_cli("generate", "--check", cwd=generated).returncode == 0
    app.write_text(app.read_text().replace("sync-wave: '1'", "sync-wave: '7'"))
    extra = generated / "gitops/flux/dev/old-release.yaml"
    extra.write_text("stale\n")
    r = run_cli("generate", "--check", cwd=generated)
    assert r.returncode == 1
    assert "stale: gitops/argocd/dev/istiod.yaml" in r.stderr and "stale: gitops/flux/dev/old-release.yaml" in r.stderr
    d = run_cli("diff", "--no-color", cwd=generated)
    assert "-    argocd.argoproj.io/sync-wave: '7'" in d.stdout and "+    argocd.argoproj.io/sync-wave: '1'" in d.stdout
    assert run_cli("generate", cwd=generated).returncode == 0
    assert not extra.exists() and "sync-wave: '1'" in app.read_text()
    # without the catalog's gitops section the exports are no longer chartgen's to keep
    text = (generated / "catalog.yaml").read_text()
    (generated / "catalog.yaml").write_text(text.replace("  argocd: {}", "  argocd: null"))
    assert run_cli("generate", cwd=generated).returncode == 0
    assert run_cli("generate", "--check", cwd=generated).returncode == 0


def test_export_command(repo_copy):
    r = run_cli("export", "flux", "--env", "prod", cwd=repo_copy)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (repo_copy / "gitops/flux").iterdir()) == ["bootstrap", "prod"]
    assert sorted(p.name for p in (repo_copy / "gitops/flux/bootstrap").iterdir()) == ["prod.sh"]
    assert (repo_copy / "gitops/flux/prod/kustomization.yaml").read_text() == \
        (ROOT / "gitops/flux/prod/kustomization.yaml").read_text()
    r = run_cli("export", "argocd", "--out", "deploy/argo", cwd=repo_copy)
    assert r.returncode == 0, r.stderr
    root_app = _docs((repo_copy / "deploy/argo/bootstrap/dev.yaml").read_text())[0]
    assert root_app["spec"]["source"]["path"] == "deploy/argo/dev"
    assert run_cli("export", "argocd", "--out", "deploy/argo", "--check", cwd=repo_copy).returncode == 0
    (repo_copy / "deploy/argo/dev/mine.yaml").write_text("a user's file\n")
    assert run_cli("export", "argocd", "--out", "deploy/argo", cwd=repo_copy).returncode == 0
    assert (repo_copy / "deploy/argo/dev/mine.yaml").exists()  # a custom directory is never pruned
    for args, message in ((["--out", "../outside"], "must be inside the catalog's directory"),
                          (["--env", "qa"], "unknown environment 'qa'")):
        r = run_cli("export", "argocd", *args, cwd=repo_copy)
        assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr
    bare = repo_copy / "bare"
    bare.mkdir()
    text = (repo_copy / "catalog.yaml").read_text()
    start = text.index("gitops:\n")
    end = text.index("\n\n", start)
    (bare / "catalog.yaml").write_text(text[:start] + text[end + 2:])
    r = run_cli("export", "argocd", "-c", str(bare / "catalog.yaml"), cwd=repo_copy)
    assert r.returncode == 1 and "gitops.repoURL" in r.stderr


def test_two_exports_are_byte_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        shutil.copy(ROOT / "catalog.yaml", d / "catalog.yaml")
        assert run_cli("export", "flux", cwd=d).returncode == 0
        assert run_cli("export", "argocd", cwd=d).returncode == 0
    files = sorted(p.relative_to(a) for p in (a / "gitops").rglob("*") if p.is_file())
    assert len(files) > 30
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def test_other_local_charts_come_from_git_and_unknown_charts_stop_the_export(monkeypatch):
    import chartgen.releases.helmfile as hf
    from chartgen.base.errors import ChartgenError

    catalog = load_catalog(ROOT / "catalog.yaml")
    real = hf._releases

    def with_local(c):
        out = real(c)
        envs = out[0].envs
        return [hf.Release("gateway-api-crds", "istio-system", None, "gateway-api-crds", None, "istio", (), envs,
                           path="charts/gateway-api-crds"), *out]

    monkeypatch.setattr(hf, "_releases", with_local)
    argo = _export(catalog, "argocd", mesh_chart="oci://registry.internal/charts/bytefreezer-mesh", mesh_version="1.0.0")
    app = _docs(argo["gitops/argocd/dev/gateway-api-crds.yaml"])[0]
    assert app["spec"]["sources"][0]["path"] == "charts/gateway-api-crds"  # not the (published) mesh chart
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
    mesh = _docs(argo["gitops/argocd/dev/bytefreezer-mesh.yaml"])[0]
    assert mesh["spec"]["sources"][0]["chart"] == "bytefreezer-mesh"
    flux = _export(catalog, "flux")
    hr = _docs(flux["gitops/flux/dev/gateway-api-crds.yaml"])[0]
    assert hr["spec"]["chart"]["spec"]["chart"] == "./charts/gateway-api-crds"
    assert hr["spec"]["install"]["crds"] == "CreateReplace"

    def with_unknown(c):
        out = real(c)
        return [*out, hf.Release("mystery", "mystery", "istio", "mystery", "1.0.0", "addons", (), out[0].envs)]

    monkeypatch.setattr(hf, "_releases", with_unknown)
    with pytest.raises(ChartgenError, match="does not know what chart 'mystery' creates at cluster scope"):
        _export(catalog, "argocd")


def test_generate_refuses_to_write_an_export_the_crds_reject(repo_copy, monkeypatch):
    import chartgen.releases.gitops as gitops
    from chartgen.base.errors import RenderError

    real = gitops._helmrelease

    def broken(*args):
        hr = real(*args)
        hr["spec"]["valuesFile"] = "typo.yaml"  # no such field in HelmRelease v2
        return hr

    monkeypatch.setattr(gitops, "_helmrelease", broken)
    with pytest.raises(RenderError, match="flux export breaks its CRDs: .*valuesFile"):
        generate(repo_copy / "catalog.yaml")
    assert not (repo_copy / "gitops").exists() and not (repo_copy / "helmfile.yaml").exists()  # nothing written


def test_a_mesh_chart_from_a_repository_the_exports_cannot_name_is_refused_cleanly(repo_copy):
    r = run_cli("generate", "--mesh-chart", "meshpub/bytefreezer-mesh", "--mesh-version", "0.1.0", cwd=repo_copy)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert "cannot resolve the chart 'meshpub/bytefreezer-mesh' of release bytefreezer-mesh" in r.stderr
    assert not (repo_copy / "helmfile.yaml").exists()


def test_lint_plans_the_project_without_building_the_exports(tmp_path, monkeypatch):
    """Lint reads none of the exports: its plan neither builds nor CRD-checks them, while
    generate's plan of the same catalog (gitops: argocd and flux) still does."""
    import chartgen.lifecycle.generate as generate_module  # patched where generate looks them up
    from chartgen.lifecycle.workspace import Project
    from chartgen.lifecycle.generate import plan
    from chartgen.catalog.validate import parse_catalog

    calls = []
    real_export, real_check = generate_module.export_files, generate_module.check_or_raise
    monkeypatch.setattr(generate_module, "export_files", lambda tool, *a, **kw: calls.append(tool) or real_export(tool, *a, **kw))
    monkeypatch.setattr(generate_module, "check_or_raise", lambda tool, files: calls.append(f"check {tool}") or real_check(tool, files))
    catalog, smap = parse_catalog((ROOT / "catalog.yaml").read_text(encoding="utf-8"), "catalog.yaml")
    assert catalog.gitops.argocd is not None and catalog.gitops.flux is not None

    project = Project.from_catalog(catalog, tmp_path, source_map=smap)
    assert calls == []
    assert "helmfile.yaml" in project.files and f"{project.chart_dir}/values.yaml" in project.files
    assert not [p for p in project.files if p.startswith("gitops/")]

    planned = plan(catalog, tmp_path)  # generate's plan: unchanged
    assert calls == ["argocd", "check argocd", "flux", "check flux"]
    assert {p.split("/")[1] for p in planned.files if p.startswith("gitops/")} == {"argocd", "flux"}
    assert {p: t for p, t in planned.files.items() if not p.startswith("gitops/")} == project.files


def test_argo_waves_hold_back_nothing_for_a_release_nobody_needs():
    catalog = load_catalog(ROOT / "catalog.yaml")
    argo = _export(catalog, "argocd")

    def waves(env):
        out = {}
        for path, text in argo.items():
            if path.startswith(f"gitops/argocd/{env}/") and not path.endswith("project.yaml"):
                app = _docs(text)[0]
                out[app["metadata"]["labels"]["chartgen.io/release"]] = int(
                    (app["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-wave", 0))
        return out

    dev, prod = waves("dev"), waves("prod")
    assert dev == {"istio-base": 0, "grafana": 0, "jaeger": 0, "prometheus": 0, "istiod": 1, "istio-ingress": 2,
                   "bytefreezer-mesh": 3, "localstack": 4, "kiali": 4}
    assert prod["kiali"] == 3 == max(prod.values())  # prod's Kiali waits for its signing key: last, alone


def test_argo_root_retries_and_the_health_check_ships():
    catalog = load_catalog(ROOT / "catalog.yaml")
    argo = _export(catalog, "argocd")
    root = _docs(argo["gitops/argocd/bootstrap/dev.yaml"])[0]
    assert root["spec"]["syncPolicy"]["retry"]["limit"] == -1  # a stuck wave is retried until it converges
    assert root["spec"]["syncPolicy"]["retry"]["backoff"]["maxDuration"] == "5m"
    child = _docs(argo["gitops/argocd/dev/kiali.yaml"])[0]
    assert child["spec"]["syncPolicy"]["retry"]["limit"] == 5
    patch = _docs(argo["gitops/argocd/bootstrap/argocd-cm-health.yaml"])[0]
    lua = patch["data"]["resource.customizations.health.argoproj.io_Application"]
    assert "obj.status.health.status" in lua and lua.rstrip().endswith("return hs")
    script = argo["gitops/argocd/bootstrap/dev.sh"]
    assert ("kubectl -n argocd patch configmap argocd-cm --type merge --patch-file "
            "gitops/argocd/bootstrap/argocd-cm-health.yaml") in script
    assert script.rstrip().endswith("kubectl -n argocd apply -f gitops/argocd/bootstrap/dev.yaml")


def test_flux_git_repository_takes_a_secret_ref(tmp_path, crds):
    catalog = load_catalog(_catalog_with(tmp_path, "  flux: {}", "  flux: {secretRef: mesh-git-auth}"))
    files = _export(catalog, "flux")
    git = next(d for d in _docs(files["gitops/flux/dev/sources.yaml"]) if d["kind"] == "GitRepository")
    assert git["spec"]["secretRef"] == {"name": "mesh-git-auth"}
    assert check_files(files, crds) == []
    plain = _export(load_catalog(ROOT / "catalog.yaml"), "flux")
    assert "secretRef" not in plain["gitops/flux/dev/sources.yaml"]
