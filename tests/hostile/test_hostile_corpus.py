"""The hostile-catalog corpus: catalogs written by an attacker, or by a careless hand.

Every case is a directory under ``tests/hostile/cases/<case>/`` and ends in one of two
golden outcomes: a **located refusal** (exit 1, every line ``file:line:col: error: path:
message [rule]`` or a one-line ``error: …``), or **output proven safe** by the checks it
names, which run the real helm / helmfile / sh on what chartgen wrote.

Adding a case
-------------
1. ``mkdir tests/hostile/cases/<case>`` (lowercase, dashes) and put the attack in
   ``catalog.yaml`` (start from a small catalog such as ``cases/env-value-template``).
2. Write ``case.yaml``::

       about: one line saying what the attack is and what must happen
       item: 3                      # the issue-11 item(s) it covers (int or list)
       run: [validate]              # chartgen's arguments; default [validate].
                                    # Several steps: [[generate], [lint, --env, prod]]
       expect: refused              # refused (last step exits 1) | ok (last step exits 0)
       checks: [helmfile, test-pod] # ok cases: named proofs (CHECKS below)
       literals: ["{{ exec ..."]    # strings that must come out of helm/helmfile verbatim
       chart_values: {...}          # extra values given to the chart by hand (helm-template,
                                    # test-pod): what a user of the published chart may set
       skip_schema: true            # chart_values the chart's values.schema.json refuses: the
                                    # checks prove the refusal, then render with helm 4's
                                    # --skip-schema-validation to prove the templates safe too
       timeout: 20                  # seconds per step (default 20)
       upstream_mirror: true        # the catalog's helmfile.chartMirror is set to the real upstream
                                    # charts served on 127.0.0.1 (lint pulls istio/base from them)

   Optional beside it: ``setup/`` (a tree copied into the work directory over the case's
   files), ``setup.sh`` (run with bash in the work directory before the steps; e.g.
   symlinks, read-only files) and ``check.py`` (``def check(ctx): ...`` with the
   ``Ctx`` below, for proofs the named checks do not cover; raise AssertionError).
3. ``.venv/bin/python -m pytest tests/hostile --update-golden -k <case>`` writes
   ``expected.txt`` (exit codes, stdout and stderr of every step, the work directory
   shown as ``<dir>``, the count of written files as ``<n>``); review it like code and
   commit it.

Every step runs chartgen (in the test's process, as ``run_cli`` does: exit code, stdout and
stderr as the real process gives them) in a fresh copy of the case directory, with its time
limit and at most 2 GiB more address space. Whatever the outcome, the output never holds a
traceback or an ``internal error``, and no file named ``pwned*`` ever appears (payloads
``touch pwned``). A case whose checks run a binary (or that has a ``check.py``) is marked
``integration``; the others are in the fast tier.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from conftest import run_cli

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
ROOT = HERE.parent.parent
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "case.yaml").is_file()) if CASES_DIR.is_dir() else []

LOCATED = re.compile(r"^[^:\n]+:\d+:\d+: (error|warning): .*\[[a-z0-9-]+\]$")
SUMMARY = re.compile(r"^\d+ problems? found$")
MEMORY_LIMIT = 2 << 30


# --- running chartgen ----------------------------------------------------------------------


@dataclass
class Step:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Ctx:
    """What a case's ``check.py`` gets."""

    name: str
    dir: Path  # the work directory (a copy of the case)
    spec: dict  # case.yaml
    steps: list[Step]
    tools: dict = field(default_factory=dict)  # helm, helm3, helmfile (integration cases)
    env: dict = field(default_factory=dict)  # environment for the tools (helm state kept in tmp)

    def chartgen(self, *args: str, timeout: float = 60) -> Step:
        return _chartgen(self.dir, list(args), timeout)

    def helm_template(self, env: str, helm: str = "helm") -> list:
        """The documents ``helm template`` renders from the generated chart for ``env``."""
        chart = _mesh_chart(self)
        return _docs(_tool_run(self, [self.tools[helm], "template", "mesh", str(chart),
                                      *_values_args(self, chart, env)]))

    def helmfile_template(self, env: str, v1: bool = False) -> list:
        """The documents ``helmfile template`` renders for the mesh release in ``env``."""
        return _docs(_tool_run(self, [self.tools["helmfile"], "--helm-binary", self.tools["helm3"], "-e", env, "-l",
                                      "tier=mesh", "template", "--skip-deps"], {"HELMFILE_V1MODE": "true"} if v1 else {}))


def _chartgen(cwd: Path, args: list[str], timeout: float) -> Step:
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    proc = run_cli(*args, cwd=cwd, env=env, timeout=timeout, memory=MEMORY_LIMIT)
    return Step(args, proc.returncode, proc.stdout, proc.stderr)


def _steps(spec: dict) -> list[list[str]]:
    run = spec.get("run", ["validate"])
    if run and isinstance(run[0], list):
        return [[str(a) for a in step] for step in run]
    return [[str(a) for a in run]]


def _transcript(steps: list[Step], workdir: Path) -> str:
    out = []
    for s in steps:
        out.append(f"$ chartgen {' '.join(s.args)}\nexit {s.returncode}\n")
        for name, text in (("stdout", s.stdout), ("stderr", s.stderr)):
            if text:
                text = text.replace(str(workdir.resolve()), "<dir>").replace(str(workdir), "<dir>")
                # how many files a generation writes grows with the product: not part of a case
                text = re.sub(r"\bwrote \d+ file\(s\)", "wrote <n> file(s)", text)
                out.append(f"--- {name}\n{text}" + ("" if text.endswith("\n") else "\n"))
    return "".join(out)


# --- named checks (output proven safe with the real binaries) ---------------------------------


def _walk_strings(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk_strings(k)
            yield from _walk_strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk_strings(v)
    elif isinstance(node, str):
        yield node


class _GoLoader(yaml.SafeLoader):
    """PyYAML as close to go-yaml as the checks need: a bare '=' or '<<' value (as helm's
    toYaml writes them) is a string there."""


for _tag in ("tag:yaml.org,2002:value", "tag:yaml.org,2002:merge"):
    _GoLoader.add_constructor(_tag, lambda loader, node: loader.construct_scalar(node))


def _docs(text: str) -> list:
    return [d for d in yaml.load_all(text, Loader=_GoLoader) if d is not None]


def _tool_run(ctx: Ctx, argv: list[str], extra_env: dict | None = None, timeout: float = 120) -> str:
    proc = subprocess.run(argv, cwd=ctx.dir, env=dict(ctx.env, **(extra_env or {})), capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc.stdout


def _environments(ctx: Ctx) -> list[str]:
    catalog = yaml.safe_load((ctx.dir / "catalog.yaml").read_text(encoding="utf-8"))
    return sorted(catalog["environments"])


def _mesh_chart(ctx: Ctx) -> Path:
    charts = [p for p in (ctx.dir / "charts").iterdir() if (p / "Chart.yaml").is_file()]
    assert len(charts) == 1, charts
    return charts[0]


def _values_args(ctx: Ctx, chart: Path, env: str) -> list[str]:
    """``-f`` arguments: the environment's values file, then the case's chart_values."""
    args = ["-f", str(ctx.dir / "values" / chart.name / f"{env}.yaml")]
    if ctx.spec.get("chart_values"):
        extra = ctx.dir.parent / "chart-values.yaml"
        extra.write_text(json.dumps(ctx.spec["chart_values"]), encoding="utf-8")
        args += ["-f", str(extra)]
    return args


def _helms(ctx: Ctx, chart: Path) -> list[list[str]]:
    """The helm commands to render with: helm 4 and helm 3; with skip_schema, first prove
    that both refuse the values by the chart's schema, then helm 4 without the schema."""
    if not ctx.spec.get("skip_schema"):
        return [[ctx.tools["helm"]], [ctx.tools["helm3"]]]
    for helm in (ctx.tools["helm"], ctx.tools["helm3"]):
        for env in _environments(ctx):
            proc = subprocess.run([helm, "template", "mesh", str(chart), *_values_args(ctx, chart, env)], cwd=ctx.dir,
                                  env=ctx.env, capture_output=True, text=True, timeout=120)
            assert proc.returncode != 0 and "schema" in proc.stderr, \
                f"the chart's values schema should refuse these values ({helm}):\n{proc.stderr}"
    return [[ctx.tools["helm"], "--skip-schema-validation"]]


def _assert_literals(ctx: Ctx, texts: list[str], where: str) -> None:
    strings = set()
    for text in texts:
        for doc in _docs(text):
            strings.update(_walk_strings(doc))
    for lit in ctx.spec.get("literals", []):
        assert any(lit in s for s in strings), f"{where}: the literal {lit!r} did not survive as data"


def check_helmfile(ctx: Ctx) -> None:
    """``helmfile list`` per environment and ``helmfile template`` of the mesh release (local
    chart, no network), in helmfile's default mode (helmfile.yaml is a Go template) and in
    HELMFILE_V1MODE; the literals must come out verbatim."""
    rendered = []
    for mode in ({}, {"HELMFILE_V1MODE": "true"}):
        for env in _environments(ctx):
            base = [ctx.tools["helmfile"], "--helm-binary", ctx.tools["helm3"], "-e", env]
            _tool_run(ctx, base + ["list"], mode)
            rendered.append(_tool_run(ctx, base + ["-l", "tier=mesh", "template", "--skip-deps"], mode))
    _assert_literals(ctx, rendered, "helmfile template")


STUB_HELM = """#!/bin/sh
# stands in for helm under `helmfile sync`: records every invocation (NUL-separated
# arguments, then an empty record) and succeeds
for a in "$@"; do printf '%s\\0' "$a"; done >> "$STUB_LOG"
printf '\\0' >> "$STUB_LOG"
case "$1" in version) echo 'v3.15.3+g3bb50bb';; esac
exit 0
"""


def _stub(ctx: Ctx, name: str, text: str) -> Path:
    stub = ctx.dir.parent / "stub-bin"
    stub.mkdir(exist_ok=True)
    (stub / name).write_text(text, encoding="utf-8")
    (stub / name).chmod(0o755)
    return stub / name


def check_helmfile_sync(ctx: Ctx) -> None:
    """``helmfile sync`` of the mesh release per environment, in both modes, with a stub
    ``helm`` that records its arguments: each literal (e.g. a kube context) reaches helm as
    exactly one argument, verbatim."""
    helm = _stub(ctx, "helm", STUB_HELM)
    log = ctx.dir.parent / "helm.log"
    calls = []
    for mode in ({}, {"HELMFILE_V1MODE": "true"}):
        for env in _environments(ctx):
            log.write_bytes(b"")
            _tool_run(ctx, [ctx.tools["helmfile"], "--helm-binary", str(helm), "-e", env, "-l", "tier=mesh", "sync",
                            "--skip-deps"], dict(mode, STUB_LOG=str(log)))
            record: list[str] = []
            for arg in log.read_bytes().decode("utf-8").split("\0")[:-1]:
                if arg == "":
                    calls.append(record)
                    record = []
                else:
                    record.append(arg)
    assert any(c[:2] == ["upgrade", "--install"] for c in calls), calls
    for lit in ctx.spec.get("literals", []):
        assert any(lit in c for c in calls), f"helm never received {lit!r} as one argument: {calls}"


def check_helm_template(ctx: Ctx) -> None:
    """``helm template`` of the generated chart with each environment's values, with helm 4
    and helm 3; the literals must come out verbatim."""
    chart = _mesh_chart(ctx)
    rendered = []
    for helm in _helms(ctx, chart):
        for env in _environments(ctx):
            rendered.append(_tool_run(ctx, [helm[0], "template", "mesh", str(chart), *helm[1:],
                                            *_values_args(ctx, chart, env)]))
    for text in rendered:
        names = set()
        for doc in _docs(text):
            # no smuggled object: the chart renders no Secret, ever
            assert doc.get("apiVersion") and doc.get("kind") and doc["kind"] != "Secret", doc
            meta = doc.get("metadata") or {}
            name = meta.get("name")
            assert isinstance(name, str) and 0 < len(name) <= 63, f"{doc['kind']} name {name!r}"
            ident = (doc["apiVersion"].split("/")[0], doc["kind"], meta.get("namespace"), name)
            assert ident not in names, f"two objects named {ident}: one would replace the other on apply"
            names.add(ident)
    _assert_literals(ctx, rendered, "helm template")


STUB_CURL = """#!/bin/sh
# stands in for curl: records its arguments (NUL-separated) and answers 200
for a in "$@"; do printf '%s\\0' "$a"; done >> "$STUB_LOG"
printf '%s' 200
"""


def check_test_pod(ctx: Ctx) -> None:
    """Run the chart's ``helm test`` Pod (its command and args, as the kubelet would) with a
    stub ``curl`` on PATH: every exposed URL reaches curl as one argument, verbatim."""
    chart = _mesh_chart(ctx)
    stub = _stub(ctx, "curl", STUB_CURL).parent
    log = ctx.dir.parent / "curl.log"
    seen = 0
    helm = _helms(ctx, chart)[0]
    for env in _environments(ctx):
        out = _tool_run(ctx, [helm[0], "template", "mesh", str(chart), *helm[1:], *_values_args(ctx, chart, env),
                              "--show-only", "templates/tests/test-routes.yaml"])
        pods = [d for d in _docs(out) if d.get("kind") == "Pod"]
        assert len(pods) == 1, out
        container = pods[0]["spec"]["containers"][0]
        argv = container["command"] + container.get("args", [])
        log.write_text("", encoding="utf-8")
        env_vars = {"PATH": f"{stub}:/usr/bin:/bin", "STUB_LOG": str(log)}
        proc = subprocess.run(argv, cwd=ctx.dir, env=env_vars, capture_output=True, text=True, timeout=60)
        assert not list(ctx.dir.parent.rglob("pwned*")), f"the test pod ran a payload:\n{proc.stdout}{proc.stderr}"
        assert proc.returncode == 0, proc.stdout + proc.stderr
        args = log.read_text(encoding="utf-8").split("\0")
        urls = container.get("args", [])[0::3]  # URL, connect-to, -k
        for url in urls:
            assert url in args, f"curl never received {url!r} as one argument: {args}"
        for lit in ctx.spec.get("literals", []):
            if any(lit in u for u in urls):
                seen += 1
    assert not ctx.spec.get("literals") or seen, "no literal reached the test pod's URLs"


CHECKS = {
    "helmfile": check_helmfile,
    "helmfile-sync": check_helmfile_sync,
    "helm-template": check_helm_template,
    "test-pod": check_test_pod,
}


# --- the cases -------------------------------------------------------------------------------


def _spec(case: str) -> dict:
    return yaml.safe_load((CASES_DIR / case / "case.yaml").read_text(encoding="utf-8")) or {}


def _is_integration(case: str) -> bool:
    spec = _spec(case)
    return (bool(spec.get("checks")) or (CASES_DIR / case / "check.py").is_file() or bool(spec.get("integration"))
            or bool(spec.get("upstream_mirror")))


def _params():
    out = []
    for case in CASES:
        marks = [pytest.mark.integration] if _is_integration(case) else []
        out.append(pytest.param(case, marks=marks, id=case))
    return out


def test_corpus_size_and_shape():
    assert len(CASES) >= 40, f"the hostile corpus has {len(CASES)} cases"
    for case in CASES:
        spec = _spec(case)
        assert spec.get("about"), f"{case}: case.yaml needs 'about'"
        assert spec.get("expect") in ("refused", "ok"), f"{case}: expect must be refused or ok"
        assert (CASES_DIR / case / "catalog.yaml").is_file() or (CASES_DIR / case / "setup").is_dir(), case
        for name in spec.get("checks", []):
            assert name in CHECKS, f"{case}: unknown check {name!r} (known: {', '.join(CHECKS)})"
        if spec["expect"] == "ok":
            assert spec.get("checks") or (CASES_DIR / case / "check.py").is_file(), \
                f"{case}: an 'ok' case must prove its output safe (checks or check.py)"


@pytest.mark.parametrize("case", _params())
def test_hostile_case(case, tmp_path, golden, request):
    spec = _spec(case)
    src = CASES_DIR / case
    work = tmp_path / "work"
    shutil.copytree(src, work, ignore=shutil.ignore_patterns("case.yaml", "expected.txt", "check.py", "setup",
                                                             "setup.sh", "__pycache__"))
    if (src / "setup").is_dir():
        shutil.copytree(src / "setup", work, dirs_exist_ok=True, symlinks=True)
    if (src / "setup.sh").is_file():
        subprocess.run(["bash", str(src / "setup.sh")], cwd=work, check=True, timeout=60)

    if spec.get("upstream_mirror"):
        # lint pulls istio/base: from the real upstream charts on 127.0.0.1, never the internet
        catalog = yaml.safe_load((work / "catalog.yaml").read_text(encoding="utf-8"))
        catalog.setdefault("helmfile", {})["chartMirror"] = request.getfixturevalue("upstream_repo")
        (work / "catalog.yaml").write_text(yaml.safe_dump(catalog, sort_keys=False), encoding="utf-8")
    steps = [_chartgen(work, args, spec.get("timeout", 20)) for args in _steps(spec)]
    transcript = _transcript(steps, work)
    for s in steps:
        both = s.stdout + s.stderr
        assert "Traceback" not in both and "internal error" not in both, transcript
    last = steps[-1]
    if spec["expect"] == "refused":
        assert last.returncode == 1, transcript
        lines = [ln for ln in (last.stdout + last.stderr).splitlines() if ln.strip()]
        assert lines, transcript
        for ln in lines:
            assert LOCATED.match(ln) or SUMMARY.match(ln) or ln.startswith("error: "), \
                f"not a located refusal or a one-line error: {ln!r}"
    else:
        assert last.returncode == 0, transcript
    golden(src / "expected.txt", transcript)

    ctx = Ctx(case, work, spec, steps)
    if _is_integration(case):
        ctx.tools, ctx.env = request.getfixturevalue("tool_env")
    for name in spec.get("checks", []):
        CHECKS[name](ctx)
    if (src / "check.py").is_file():
        namespace: dict = {"__file__": str(src / "check.py")}
        exec(compile((src / "check.py").read_text(encoding="utf-8"), str(src / "check.py"), "exec"), namespace)
        namespace["check"](ctx)
    pwned = [p for p in tmp_path.rglob("pwned*")]
    assert not pwned, f"a payload ran: {pwned}"
