"""Generated variants of the hostile corpus: hundreds of strings built from shell, YAML and Go
template metacharacters, put into every free-form field that reaches a tool. Each is either
refused by the catalog model, or comes out of helm, helmfile and the test Pod verbatim, and
nothing runs (payloads would ``touch pwned``)."""

from __future__ import annotations

import random
import subprocess

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from chartgen.catalog import model as model
from test_hostile_corpus import STUB_CURL, STUB_HELM, Ctx, _chartgen, _docs, _stub, _tool_run


pytestmark = pytest.mark.integration


PIECES = ["{{", "}}", "{{ exec \"sh\" (list \"-c\" \"touch pwned\") }}", "$(touch pwned)", "`touch pwned`", ";", "'",
          '"', "\\", "|", "&", "<", ">", "#", ": ", "- ", "---", "\n", "\t", "~", "=", "<<", "y", "on", "NO", "1e3",
          "012", "%", "*", "?", "!", "[", "]", ",", "${IFS}", "\u2028", "é", " ", "/", "x", "&a", "*a"]


def _variants(seed: int, n: int, prefix: str = "") -> list[str]:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        text = prefix + "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6)))
        if text not in out:
            out.append(text)
    return out


def _valid(adapter: TypeAdapter, text: str) -> bool:
    try:
        adapter.validate_python(text, strict=True)
        return True
    except ValidationError:
        return False


def test_generated_variants_are_refused_or_stay_data(tmp_path, request):
    env_values, headers, paths, contexts, refused = _strings()
    envs = {f"e{i}": {"gateway": {"https": False}, "kubeContext": c} for i, c in enumerate(contexts)}
    catalog = _catalog(envs, env_values, headers, paths)
    work = tmp_path / "work"
    work.mkdir()
    (work / "catalog.yaml").write_text(yaml.safe_dump(catalog, allow_unicode=True), encoding="utf-8")
    step = _chartgen(work, ["generate"], 60)
    assert step.returncode == 0, step.stdout + step.stderr

    # every kube context refused by the model is refused by validate, located, never a traceback
    bad = dict(catalog, environments={"e0": {"gateway": {"https": False}, "kubeContext": refused[0]}})
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "catalog.yaml").write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    step = _chartgen(tmp_path / "bad", ["validate"], 30)
    assert step.returncode == 1 and "[kube-context]" in step.stdout + step.stderr and "Traceback" not in step.stderr

    tools, env = request.getfixturevalue("tool_env")
    ctx = Ctx("variants", work, {}, [], tools, env)
    for name in envs:
        _assert_rendered_verbatim(ctx, name, env_values, headers)
    _assert_contexts_reach_helm(ctx, tmp_path / "helm.log", list(envs), contexts)
    _assert_test_pod_curls_each_path(ctx, tmp_path / "helm.log", paths)
    assert not list(tmp_path.rglob("pwned*")), "a payload ran"


def _strings() -> tuple[list[str], list[str], list[str], list[str], list[str]]:
    """Variants the model admits as env values, header values, paths and (two) kube contexts,
    and kube contexts it refuses."""
    text_ok = TypeAdapter(model.Text)
    multi_ok = TypeAdapter(model.MultilineText)
    path_ok = TypeAdapter(model.PlainPath)
    context_ok = TypeAdapter(model.KubeContext)

    env_values = [v for v in _variants(1, 150) if _valid(multi_ok, v)]
    headers = [v for v in _variants(2, 120) if _valid(text_ok, v)]
    # one path per route: a bare-string path and the same with a trailing slash are one prefix
    paths = list(dict.fromkeys(v.rstrip("/") or "/" for v in _variants(3, 200, "/") if _valid(path_ok, v)))
    contexts = [v for v in _variants(4, 60) if _valid(context_ok, v)][:2]
    refused = [v for v in _variants(4, 60) if not _valid(context_ok, v)]
    assert len(env_values) > 60 and len(headers) > 40 and len(paths) > 20 and len(contexts) == 2 and refused
    assert all("{{" not in c and "}}" not in c and "\n" not in c for c in contexts)
    return env_values, headers, paths, contexts, refused


def _catalog(envs: dict, env_values: list[str], headers: list[str], paths: list[str]) -> dict:
    return {
        "apiVersion": "chartgen.io/v1", "kind": "ServiceCatalog",
        "metadata": {"name": "shop", "domain": "shop.example"},
        "environments": envs,
        "services": {
            "web": {
                "ports": [{"name": "http", "port": 8080}],
                "expose": {"paths": paths},
                "env": {f"V{i}": v for i, v in enumerate(env_values)},
                "versions": {"v1": {}, "v2": {}},
                "weights": {"v1": 100, "v2": 0},
                "routes": [{"name": f"r{i}", "match": {"headers": {"x-h": {"exact": h}}}, "version": "v2"}
                           for i, h in enumerate(headers)],
            },
        },
    }


def _assert_rendered_verbatim(ctx: Ctx, name: str, env_values: list[str], headers: list[str]) -> None:
    """helm 4 and 3 and helmfile (both modes) render the env values and header matches as written."""
    tools, work = ctx.tools, ctx.dir
    chart = work / "charts" / "shop-mesh"
    values = ["-f", str(work / "values" / "shop-mesh" / f"{name}.yaml")]
    for helm in ("helm", "helm3"):
        docs = _docs(_tool_run(ctx, [tools[helm], "template", "mesh", str(chart), *values]))
        data = next(d["data"] for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "web-env")
        assert data == {f"V{i}": v for i, v in enumerate(env_values)}
        vs = next(d for d in docs if d["kind"] == "VirtualService" and d["metadata"]["name"] == "web")
        got = [r["match"][0]["headers"]["x-h"]["exact"] for r in vs["spec"]["http"] if r["name"].startswith("r")]
        assert got == headers
    for v1 in ({}, {"HELMFILE_V1MODE": "true"}):
        out = _tool_run(ctx, [tools["helmfile"], "--helm-binary", tools["helm3"], "-e", name, "-l", "tier=mesh",
                              "template", "--skip-deps"], v1)
        data = next(d["data"] for d in _docs(out) if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "web-env")
        assert data == {f"V{i}": v for i, v in enumerate(env_values)}


def _assert_contexts_reach_helm(ctx: Ctx, log, envs: list[str], contexts: list[str]) -> None:
    """The kube contexts reach helm as one argument each, in both helmfile modes."""
    helm = _stub(ctx, "helm", STUB_HELM)
    for i, name in enumerate(envs):
        for v1 in ({}, {"HELMFILE_V1MODE": "true"}):
            log.write_bytes(b"")
            _tool_run(ctx, [ctx.tools["helmfile"], "--helm-binary", str(helm), "-e", name, "-l", "tier=mesh", "sync",
                            "--skip-deps"], dict(v1, STUB_LOG=str(log)))
            args = log.read_bytes().decode("utf-8").split("\0")
            assert contexts[i] in args, (contexts[i], args)


def _assert_test_pod_curls_each_path(ctx: Ctx, log, paths: list[str]) -> None:
    """The test Pod: every exposed path reaches curl as one argument."""
    work = ctx.dir
    curl = _stub(ctx, "curl", STUB_CURL)
    out = _tool_run(ctx, [ctx.tools["helm"], "template", "mesh", str(work / "charts" / "shop-mesh"), "-f",
                          str(work / "values" / "shop-mesh" / "e0.yaml"), "--show-only",
                          "templates/tests/test-routes.yaml"])
    container = next(d for d in _docs(out) if d["kind"] == "Pod")["spec"]["containers"][0]
    log.write_bytes(b"")
    proc = subprocess.run(container["command"] + container["args"], cwd=work, capture_output=True, text=True,
                          env={"PATH": f"{curl.parent}:/usr/bin:/bin", "STUB_LOG": str(log)}, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    args = log.read_text(encoding="utf-8").split("\0")
    for p in paths:
        assert f"http://web.e0.shop.example:80{p}" in args, p
