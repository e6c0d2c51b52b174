"""Render a generated project through the three routes with the real binaries, as each
controller would: helmfile (``helmfile -e <env> template``), Argo CD (``helm template`` of
each Application's chart source with its ``valueFiles``, ``$values/`` resolved to the
checkout) and Flux (``kubectl kustomize`` of the environment's directory, then ``helm
template`` of each HelmRelease's chart with its ``valuesFrom`` merged in order)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

GIT_URL = "https://git.example.com/platform/mesh.git"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def run(args: list, env: dict, cwd: Path | None = None) -> str:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc.stdout


def docs(text: str) -> list[dict]:
    return [d for d in yaml.load_all(text, Loader=_LOADER) if d]


def files(root: Path, pattern: str) -> list[dict]:
    return [d for p in sorted(root.glob(pattern)) for d in docs(p.read_text(encoding="utf-8"))]


def deep_merge(base: dict, upper: dict) -> dict:
    """Flux's merge of valuesFrom entries: maps merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in upper.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def helm_template_text(tools, env, name: str, chart: str, namespace: str, value_files: list[Path],
                       repo: str | None = None, version: str | None = None) -> str:
    args = [tools["helm3"], "template", name, chart, "--namespace", namespace]
    if repo:
        args += ["--repo", repo]
    if version:
        args += ["--version", version]
    for f in value_files:
        args += ["-f", str(f)]
    return run(args, env)


def argo_sources(tree: Path, env: str) -> list[tuple[dict, list]]:
    """(Application, helm_template_text arguments after tools and env) per Application."""
    out = []
    for app in files(tree / "gitops" / "argocd" / env, "*.yaml"):
        if app["kind"] != "Application":
            continue
        src, values_src = app["spec"]["sources"]
        assert values_src == {"repoURL": GIT_URL, "targetRevision": "main", "ref": "values"}
        helm = src["helm"]
        assert helm["ignoreMissingValueFiles"] is True
        value_files = [f for f in (tree / f.removeprefix("$values/") for f in helm["valueFiles"]) if f.exists()]
        ns = app["spec"]["destination"]["namespace"]
        if "chart" in src:
            out.append((app, [helm["releaseName"], src["chart"], ns, value_files, src["repoURL"], src["targetRevision"]]))
        else:
            out.append((app, [helm["releaseName"], str(tree / src["path"]), ns, value_files]))
    return out


def flux_build(tree: Path, tools, env_vars, env: str) -> list[dict]:
    return docs(run([tools["kubectl"], "kustomize", "--load-restrictor", "LoadRestrictionsNone",
                     str(tree / "gitops" / "flux" / env)], env_vars))


def render_routes(tree: Path, tools, helm_env, scratch: Path, envs=("dev", "prod")) -> dict:
    """Per (tool, env): per release, the rendered objects (helmfile: all releases at once,
    under "*"); and per ("flux-build", env) the objects of the Flux directory's build."""
    out: dict = {}
    for env in envs:
        out[("helmfile", env)] = {"*": docs(run([tools["helmfile"], "--helm-binary", tools["helm3"], "-e", env,
                                                  "template"], helm_env, cwd=tree))}
        out[("argocd", env)] = {args[0]: docs(helm_template_text(tools, helm_env, *args))
                                for _app, args in argo_sources(tree, env)}
        built = flux_build(tree, tools, helm_env, env)
        out[("flux-build", env)] = {"*": built}
        by_kind: dict = {}
        for d in built:
            by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
        flux = {}
        for hr in by_kind["HelmRelease"].values():
            spec = hr["spec"]
            values: dict = {}
            for ref in spec["valuesFrom"]:
                assert ref["kind"] == "ConfigMap"
                values = deep_merge(values, yaml.load(by_kind["ConfigMap"][ref["name"]]["data"][ref["valuesKey"]],
                                                      Loader=_LOADER) or {})
            vfile = scratch / f"{env}-{spec['releaseName']}.yaml"
            vfile.write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")
            chart = spec["chart"]["spec"]
            source = by_kind[chart["sourceRef"]["kind"]][chart["sourceRef"]["name"]]
            if source["kind"] == "HelmRepository":
                text = helm_template_text(tools, helm_env, spec["releaseName"], chart["chart"], spec["targetNamespace"],
                                          [vfile], repo=source["spec"]["url"], version=chart["version"])
            else:
                assert source["kind"] == "GitRepository"
                text = helm_template_text(tools, helm_env, spec["releaseName"], str(tree / chart["chart"]),
                                          spec["targetNamespace"], [vfile])
            flux[spec["releaseName"]] = docs(text)
        out[("flux", env)] = flux
    return out
