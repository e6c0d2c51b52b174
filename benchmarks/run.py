"""Whole-process benchmarks. Writes the results table to docs/benchmarks.md.

Run with `make bench`. Every time is the best of several runs of a fresh process (the
least disturbed by whatever else the machine is doing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import synth_catalog  # noqa: E402

from chartgen.lifecycle.workspace import HELM_GOGC  # noqa: E402
from chartgen.base.toolchain import find_tool, tool_env, tool_version  # noqa: E402

CHARTGEN = [sys.executable, "-m", "chartgen"]
SIZES = [10, 100, 1000]
# Every target the report judges, written once (seconds, ratios, MB).
TARGETS = {
    "validate_default": 0.5, "generate_default": 1.0, "noop_default": 0.5, "lint_default": 3.0,
    "generate_1000": 2.0, "overhead": 2.5, "scaling": 12.0, "memory_mb": 300.0,
    "lint_ratio": 3.0, "lint_scanner_ratio": 6.0, "lint_memory_mb": 1024.0, "lint_growth": 12.0,
    "verify_default": 1.0, "verify_ratio": 1.0, "verify_memory_mb": 1024.0,
}


# what lint prints (a note on stderr) when it could not have istio/base's CRDs: the run then
# measures less than a lint does, so a benchmark seeing it stops
CRDS_SKIPPED = "Istio CRD schema and CEL checks skipped"


def refuse_skipped_crds(cmd, stderr: str) -> None:
    if CRDS_SKIPPED in stderr:
        notes = "\n".join(line for line in stderr.splitlines() if CRDS_SKIPPED in line)
        raise SystemExit(f"benchmark run without the Istio CRD checks: {' '.join(cmd)}\n{notes}\n"
                         "(set CHARTGEN_UPSTREAM_CHARTS to a chart repository holding istio/base)")


def timed(cmd, cwd=None, env=None, runs=5, setup=None, ok=(0,), lint=False, cpu=False) -> tuple[float, float]:
    """(best seconds, peak RSS MB of the child) over ``runs`` fresh processes. ``lint``: stop
    if a run skipped the Istio CRD checks. ``cpu``: the best CPU time (user + sys) of the child
    instead of its wall time (steadier on a loaded machine)."""
    wall, peak, cpu_secs = timed_cpu(cmd, cwd, env, runs, setup, ok, lint)
    return (cpu_secs if cpu else wall), peak


def timed_cpu(cmd, cwd=None, env=None, runs=5, setup=None, ok=(0,), lint=False) -> tuple[float, float, float]:
    """(best wall seconds, peak RSS MB of the child, best CPU seconds: user + system of the
    process and every process it started) over ``runs`` fresh processes."""
    times, peaks, cpus = [], [], []
    for _ in range(runs):
        if setup:
            setup()
        wrapper = [sys.executable, "-c",
                   "import resource,subprocess,sys,time;t=time.perf_counter();"
                   "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE);"
                   "d=time.perf_counter()-t;u=resource.getrusage(resource.RUSAGE_CHILDREN);"
                   "print(d, u.ru_maxrss, u.ru_utime+u.ru_stime);"
                   "sys.exit(r.returncode)", *cmd]
        r = subprocess.run(wrapper, cwd=cwd, env=env, capture_output=True, text=True)
        if r.returncode not in ok:
            raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{r.stderr}")
        if lint:
            refuse_skipped_crds(cmd, r.stderr)
        secs, rss, cpu_secs = r.stdout.split()
        times.append(float(secs))
        peaks.append(int(rss) / 1024)
        cpus.append(float(cpu_secs))
    return min(times), max(peaks), min(cpus)


def side_by_side(jobs: dict, rounds: int) -> dict:
    """Commands measured in turn, round after round, so that each sees the same load: ``jobs``
    maps a name to a list of ``timed_cpu`` keyword sets (run one after the other and summed,
    e.g. helm template of each environment). Per name: (best wall s, peak MB, best CPU s)."""
    seen: dict = {name: ([], [], []) for name in jobs}
    for _ in range(rounds):
        for name, steps in jobs.items():
            runs = [timed_cpu(runs=1, **step) for step in steps]
            seen[name][0].append(sum(r[0] for r in runs))
            seen[name][1].append(max(r[1] for r in runs))
            seen[name][2].append(sum(r[2] for r in runs))
    return {name: (min(w), max(m), min(c)) for name, (w, m, c) in seen.items()}


def helm_steps(helm: str, chart: Path, values: Path, env: dict | None = None) -> list[dict]:
    """``helm template`` of the chart for dev and for prod, as ``side_by_side`` steps."""
    return [{"cmd": [helm, "template", "m", str(chart), "-n", "istio-system", "-f", str(values / "common.yaml"),
                     "-f", str(values / f"{name}.yaml")], "env": env} for name in ("dev", "prod")]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    helm = find_tool("helm", start=ROOT)
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM; "
            f"Python {platform.python_version()}; helm {tool_version(helm)}")


def sidecar_scope(rendered: str) -> tuple[float, int]:
    counts = [len(d["spec"]["egress"][0]["hosts"]) for d in yaml.safe_load_all(rendered)
              if d and d.get("kind") == "Sidecar"]
    return statistics.mean(counts), max(counts)


def helm_template(helm: str, chart: Path, values: list[Path], env: dict) -> str:
    args = [helm, "template", "m", str(chart), "-n", "istio-system"]
    for v in values:
        args += ["-f", str(v)]
    return subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout


def synth_project(n: int, work: Path, mirror: str | None) -> tuple[Path, Path]:
    """A project of ``n`` synthetic services under ``work`` (its charts from ``mirror`` when
    set), and the folder its outputs are generated into."""
    d = work / f"n{n}"
    d.mkdir()
    data = synth_catalog(n)
    if mirror:
        data["helmfile"] = {"chartMirror": mirror}
    (d / "catalog.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return d, d / "out"


def bench_size(n: int, work: Path, helm: str, env: dict, lint_env: dict, mirror: str | None) -> dict:
    d, out = synth_project(n, work, mirror)

    def clean():
        shutil.rmtree(out, ignore_errors=True)

    runs = 3 if n >= 1000 else 5
    gen, gen_mem = timed(CHARTGEN + ["generate", "-c", "catalog.yaml", "-o", "out"], cwd=d, runs=runs, setup=clean)
    subprocess.run(CHARTGEN + ["generate", "-c", "catalog.yaml", "-o", "out"], cwd=d, check=True, capture_output=True)
    noop, _ = timed(CHARTGEN + ["generate", "-c", "catalog.yaml", "-o", "out"], cwd=d, runs=runs)
    val, val_mem = timed(CHARTGEN + ["validate", "-c", "catalog.yaml"], cwd=d, runs=runs)
    chart = out / "charts" / "synth-mesh"
    values = [out / "values" / "synth-mesh" / "common.yaml", out / "values" / "synth-mesh" / "dev.yaml"]
    rendered = helm_template(helm, chart, values, env)
    # the same objects as a static chart: one template file, no logic
    static = d / "static" / "synth-static"
    static_chart(rendered, static)
    t_tpl, t_static = template_overhead(helm, chart, values, static, runs)
    mean_scope, max_scope = sidecar_scope(rendered)
    out_row = {"n": n, "generate": gen, "noop": noop, "validate": val, "helm_template": t_tpl, "helm_static": t_static,
               "overhead": t_tpl / t_static, "peak_mb": max(gen_mem, val_mem), "scope_mean": mean_scope,
               "scope_max": max_scope, "objects": rendered.count("\nkind: ")}
    out_row.update(bench_lint(n, d, helm, chart, out, lint_env))
    return out_row


def static_chart(rendered: str, static: Path) -> None:
    """The same objects as ``rendered`` as a chart of one template file without logic."""
    (static / "templates").mkdir(parents=True)
    (static / "Chart.yaml").write_text(f"apiVersion: v2\nname: {static.name}\nversion: 1.0.0\n")
    body = "\n".join(line for line in rendered.splitlines() if not line.startswith("# Source:"))
    (static / "templates" / "all.yaml").write_text(body.replace("{{", "{{`{{`}}") + "\n")


def template_overhead(helm: str, chart: Path, values: list[Path], static: Path, runs: int) -> tuple[float, float]:
    """The best CPU time (user + sys) of ``helm template`` of the chart and of the static chart
    holding the same objects, measured alternately (the same machine load for both)."""
    args = [helm, "template", "m", str(chart), "-n", "istio-system"]
    for v in values:
        args += ["-f", str(v)]
    t_tpl = t_static = float("inf")
    for _ in range(runs):
        t_tpl = min(t_tpl, timed(args, runs=1, cpu=True)[0])
        t_static = min(t_static, timed([helm, "template", "m", str(static), "-n", "istio-system"], runs=1, cpu=True)[0])
    return t_tpl, t_static


def bench_overhead(work: Path, helm: str, rounds: int) -> list[dict]:
    """``--only overhead``: the template overhead at 1,000 services alone, in ``rounds`` rounds of
    the best of 3 CPU times each, with the load average (1 minute) at the start of each round."""
    d = work / "overhead"
    d.mkdir()
    (d / "catalog.yaml").write_text(yaml.safe_dump(synth_catalog(1000), sort_keys=False))
    subprocess.run(CHARTGEN + ["generate", "-c", "catalog.yaml", "-o", "out"], cwd=d, check=True, capture_output=True)
    chart = d / "out" / "charts" / "synth-mesh"
    values = [d / "out" / "values" / "synth-mesh" / "common.yaml", d / "out" / "values" / "synth-mesh" / "dev.yaml"]
    static_chart(helm_template(helm, chart, values, tool_env()), d / "synth-static")
    out = []
    for _ in range(rounds):
        load = os.getloadavg()[0]
        t_tpl, t_static = template_overhead(helm, chart, values, d / "synth-static", 3)
        out.append({"load": load, "helm_template_cpu": t_tpl, "static_cpu": t_static, "overhead": t_tpl / t_static})
    return out


def bench_lint(n: int, d: Path, helm: str, chart: Path, out: Path, lint_env: dict) -> dict:
    """``chartgen lint`` against ``helm template`` of the same chart for both environments,
    measured side by side, round after round (the same machine load for both); wall and CPU."""
    rounds = 3 if n >= 1000 or n < 100 else 2
    fill_lint_cache(CHARTGEN + ["lint", "-c", "catalog.yaml", "--no-scanner", "-q"], d, lint_env)
    lint = {"cwd": d, "env": lint_env, "ok": (0, 1), "lint": True}
    start_load = os.getloadavg()[0]
    got = side_by_side({"helm": helm_steps(helm, chart, out / "values" / "synth-mesh"),
                        "plain": [{"cmd": CHARTGEN + ["lint", "-c", "catalog.yaml", "--no-scanner", "-q"], **lint}],
                        "scanned": [{"cmd": CHARTGEN + ["lint", "-c", "catalog.yaml", "-q"], **lint}]}, rounds)
    return {"helm_both": got["helm"][0], "lint": got["plain"][0], "lint_scanner": got["scanned"][0],
            "lint_mb": max(got["plain"][1], got["scanned"][1]), "helm_both_cpu": got["helm"][2],
            "lint_cpu": got["plain"][2], "lint_scanner_cpu": got["scanned"][2],
            "load": (start_load, os.getloadavg()[0])}


def bench_lint_only(n: int, work: Path, helm: str, lint_env: dict, mirror: str | None) -> dict:
    """The lint rows of one size alone (``--only lint_1000``): the synthetic catalog generated
    as ``bench_size`` does, then ``bench_lint`` beside ``helm template`` of both environments."""
    d, out = synth_project(n, work, mirror)
    subprocess.run(CHARTGEN + ["generate", "-c", "catalog.yaml", "-o", "out"], cwd=d, check=True, capture_output=True)
    row = bench_lint(n, d, helm, out / "charts" / "synth-mesh", out, lint_env)
    return {"n": n, **row, "lint_ratio": row["lint"] / row["helm_both"],
            "lint_scanner_ratio": row["lint_scanner"] / row["helm_both"]}


def lint_1000_update(text: str, row: dict) -> str:
    """docs/benchmarks.md with the 1,000-service lint row, its targets and a note on its CPU time
    and load rewritten from ``row`` (``--only lint_1000``; the other sizes keep their numbers)."""
    start = text.index("## Lint at scale\n")
    end = text.find("\n## ", start + 1)
    section = re.sub(r"\n\nThe 1,000-service row in CPU time[^\n]*", "", text[start:end if end >= 0 else len(text)])
    ratio, scanned = row["lint"] / row["helm_both"], row["lint_scanner"] / row["helm_both"]
    new_row = (f"| 1000 | {row['helm_both']:.2f} | {row['lint']:.2f} | {ratio:.2f}× | {row['lint_scanner']:.2f} | "
               f"{scanned:.2f}× | {row['lint_mb']:.0f} |")
    note = (f"The 1,000-service row in CPU time (user + system, every process): helm template ×2 "
            f"{row['helm_both_cpu']:.2f} s, lint --no-scanner {row['lint_cpu']:.2f} s "
            f"({row['lint_cpu'] / row['helm_both_cpu']:.2f}×), with checkov {row['lint_scanner_cpu']:.2f} s; "
            f"load average {row['load'][0]:.1f} at the start, {row['load'][1]:.1f} at the end, on {os.cpu_count()} cores "
            "(measured alone, `--only lint_1000`: the other rows and the growth are the last full run's).")
    lines = []
    for line in section.split("\n"):
        if line.startswith("| 1000 |"):
            line = new_row
        elif line.startswith("| 1,000 services, no scanner"):
            line = f"| 1,000 services, no scanner ≤ 3× helm template | {ratio:.2f}× | {verdict(ratio, 'lint_ratio')} |"
        elif line.startswith("| 1,000 services, with checkov"):
            line = (f"| 1,000 services, with checkov ≤ 6× helm template | {scanned:.2f}× | "
                    f"{verdict(scanned, 'lint_scanner_ratio')} |")
        elif line.startswith("| peak memory ≤ 1 GB"):
            line = f"| peak memory ≤ 1 GB | {row['lint_mb']:.0f} MB | {verdict(row['lint_mb'], 'lint_memory_mb')} |"
        lines.append(line)
    out = "\n".join(lines)
    marker = "\n\n| lint target |"
    out = out.replace(marker, "\n\n" + note + marker, 1)
    return text[:start] + out + (text[end:] if end >= 0 else "")


def fill_lint_cache(cmd, cwd: Path, lint_env: dict) -> None:
    """One lint run before the measured ones: it fills the cache (the Istio CRDs, compiled
    validators), and stops the benchmark if it could not have the Istio CRDs."""
    r = subprocess.run(cmd, cwd=cwd, env=lint_env, capture_output=True, text=True)
    refuse_skipped_crds(cmd, r.stderr)


def bench_lint_default(default: Path, lint_env: dict, mirror: str | None) -> float:
    """``chartgen lint`` of the default catalog, generated with the chart mirror when there is
    one: lint pulls istio/base through the helmfile on disk, so it is regenerated first."""
    if mirror:
        text = (default / "catalog.yaml").read_text()
        (default / "catalog.yaml").write_text(text + f"\nhelmfile:\n  chartMirror: {mirror}\n")
        subprocess.run(CHARTGEN + ["generate"], cwd=default, check=True, capture_output=True)
    fill_lint_cache(CHARTGEN + ["lint", "-q"], default, lint_env)
    return timed(CHARTGEN + ["lint", "-q"], cwd=default, env=lint_env, runs=3, lint=True)[0]


def bench_verify(work: Path, helm: str, env: dict) -> dict:
    """``chartgen verify`` of the default catalog, and of the 1,000-service synthetic catalog
    (both environments) beside ``helm template`` of its chart for both environments, measured in
    the same run."""
    start_load = os.getloadavg()[0]
    default = work / "verify-default"
    default.mkdir()
    shutil.copy(ROOT / "catalog.yaml", default / "catalog.yaml")
    subprocess.run(CHARTGEN + ["generate"], cwd=default, check=True, capture_output=True)
    out = {"verify_default": timed(CHARTGEN + ["verify"], cwd=default, runs=3)[0]}
    d = work / "verify-1000"
    d.mkdir()
    (d / "catalog.yaml").write_text(yaml.safe_dump(synth_catalog(1000), sort_keys=False))
    subprocess.run(CHARTGEN + ["generate"], cwd=d, check=True, capture_output=True)
    chart = d / "charts" / "synth-mesh"
    values = d / "values" / "synth-mesh"
    # helm as lint and verify run it (Go's GC target, chartgen.lifecycle.workspace.HELM_GOGC)
    tuned = dict(env, GOGC=HELM_GOGC) if "GOGC" not in os.environ else env
    got = side_by_side({"helm": helm_steps(helm, chart, values, env), "helm_gogc": helm_steps(helm, chart, values, tuned),
                        "verify": [{"cmd": CHARTGEN + ["verify"], "cwd": d, "ok": (0, 1)}]}, 3)
    out["verify_1000"], out["verify_mb"], out["verify_cpu"] = got["verify"]
    out["verify_helm_both"], _, out["verify_helm_both_cpu"] = got["helm"]
    out["verify_helm_gogc"], _, out["verify_helm_gogc_cpu"] = got["helm_gogc"]
    out["load"] = (start_load, os.getloadavg()[0])
    return out


def verify_report(v: dict) -> list[str]:
    ratio = v["verify_1000"] / v["verify_helm_both"]
    cpu = v.get("verify_cpu")
    lines = [
        "## Verify",
        "",
        "`chartgen verify` (`benchmarks/run.py --only verify`): render both environments with helm, parse,",
        "and evaluate every flow with the behaviour model; beside `helm template` of the same chart for",
        "both environments (one after the other), measured in the same run: three rounds of helm, helm",
        "with verify's GC setting and verify, each the best of its three runs. CPU is user + system time",
        "of the process and every process it started.",
        "",
        "| measurement | wall | CPU | target | |",
        "|---|---|---|---|---|",
        f"| default catalog (ByteFreezer), both environments | {v['verify_default']:.2f} s | | ≤ "
        f"{TARGETS['verify_default']} s | {verdict(v['verify_default'], 'verify_default')} |",
    ]
    if cpu is None:  # a report from a run before CPU was measured
        lines += [f"| 1,000 services, both environments | {v['verify_1000']:.2f} s | | | |",
                  f"| helm template of the same chart, both environments | {v['verify_helm_both']:.2f} s | | | |"]
    else:
        lines += [
            f"| 1,000 services, both environments | {v['verify_1000']:.2f} s | {cpu:.2f} s | | |",
            f"| helm template of the same chart, both environments | {v['verify_helm_both']:.2f} s | "
            f"{v['verify_helm_both_cpu']:.2f} s | | |",
            f"| the same with `GOGC={HELM_GOGC}` (as verify and lint run helm) | {v['verify_helm_gogc']:.2f} s | "
            f"{v['verify_helm_gogc_cpu']:.2f} s | | |",
        ]
    lines += [
        f"| ratio to helm template | {ratio:.2f}× | "
        + (f"{cpu / v['verify_helm_both_cpu']:.2f}×" if cpu is not None else "")
        + f" | ≤ {TARGETS['verify_ratio']}× (wall) | {verdict(ratio, 'verify_ratio')} |",
        f"| peak memory, 1,000 services | {v['verify_mb']:.0f} MB | | ≤ 1 GB | {verdict(v['verify_mb'], 'verify_memory_mb')} |",
        "",
    ]
    if "load" in v:
        lines += [f"Load average of the machine (1 minute) at the start and the end of the run: {v['load'][0]:.1f}, "
                  f"{v['load'][1]:.1f} on {os.cpu_count()} cores (other work on the machine slows the CPU-bound",
                  "model more than helm).", ""]
    return lines


def replace_section(text: str, title: str, lines: list[str]) -> str:
    """``text`` with its ``## title`` section replaced by ``lines`` (added before "## Targets" if absent)."""
    head = f"## {title}\n"
    start = text.find(head)
    if start < 0:
        start = end = text.find("## Targets\n") if "## Targets\n" in text else len(text)
    else:
        nxt = text.find("\n## ", start + len(head))
        end = nxt + 1 if nxt >= 0 else len(text)
    return text[:start] + "\n".join(lines) + "\n" + text[end:]


SERVERS: list = []


def serve_upstream_charts(work: Path) -> str | None:
    """The real upstream charts ($CHARTGEN_UPSTREAM_CHARTS) on 127.0.0.1, so that lint pulls the
    pinned istio/base and runs the Istio CRD checks; None without them (lint then skips those)."""
    import socket

    charts = os.environ.get("CHARTGEN_UPSTREAM_CHARTS")
    if not charts or not (Path(charts) / "index.yaml").is_file():
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory",
                             charts], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    SERVERS.append(proc)
    for _ in range(50):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    return None


def lint_phases(d: Path, lint_env: dict) -> dict:
    """Where one lint of the 1,000-service catalog spends its time (in-process, one run)."""
    code = r'''
import json, sys, tempfile, time
from pathlib import Path
from chartgen.catalog.validate import parse_catalog
from chartgen.analyzer import Project, schema, webhook, mesh, security
from chartgen.analyzer.context import Context
from chartgen.analyzer.istio_crds import load
from chartgen.analyzer.scanner import find_checkov, scan_set, start_checkov, collect
from chartgen.base.toolchain import TIMEOUTS
TIMEOUTS['checkov'] = 1200  # a mesh of this size takes checkov longer than a user's
from chartgen.lifecycle.workspace import assemble, render_texts
t = {}
s = time.perf_counter()
def lap(name):
    global s
    now = time.perf_counter(); t[name] = t.get(name, 0) + now - s; s = now
c, smap = parse_catalog(Path("catalog.yaml").read_text(), "catalog.yaml"); lap("catalog")
p = Project.from_catalog(c, Path(".").resolve(), source_map=smap); lap("plan")
crds = load(p).crds; lap("istio_crds")
with tempfile.TemporaryDirectory() as tmp:
    texts = render_texts(p, ["dev", "prod"], Path(tmp)); lap("helm")
    r = assemble(p, texts); lap("parse")
    objects = sum(len(x.docs) for x in r.values())
    scanned = 0
    manifests, groups = {}, {}
    for env in ("dev", "prod"):
        text, groups[env] = scan_set(r[env]); scanned += len(groups[env])
        manifests[env] = Path(tmp) / f"{env}.yaml"; manifests[env].write_text(text)
    lap("scan_set")
    for env in ("dev", "prod"):
        docs = r[env].docs
        k8s = [d for d in docs if not schema.is_istio(d.obj)]; ist = [d for d in docs if schema.is_istio(d.obj)]
        schema.validate_objects(k8s, env); lap("kubernetes_schema")
        schema.validate_objects(ist, env, istio=crds); lap("istio_crds_cel")
        ctx = Context(r[env], "catalog.yaml", {}, source_map=smap)
        webhook.check_webhook(ctx); lap("webhook")
        mesh.check_mesh(ctx); security.check_security(ctx); lap("analyzers")
    try:
        scan = start_checkov(find_checkov(), list(manifests.values()))
        collect(scan, manifests, groups); lap("checkov")
    except Exception as exc:
        t["checkov_error"] = str(exc)
print(json.dumps({"times": t, "objects": objects, "scanned": scanned, "crds": crds is not None}))
'''
    r = subprocess.run([sys.executable, "-c", code], cwd=d, env=lint_env, capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": r.stderr.strip()[-500:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report-from", metavar="JSON", type=Path,
                        help="rewrite docs/benchmarks.md from the JSON that an earlier run printed")
    parser.add_argument("--only", choices=["lint_default", "lint_1000", "verify", "overhead"],
                        help="measure this row alone and print it (docs/benchmarks.md is left as it is, "
                             "but for verify, whose section is rewritten, and lint_1000, whose row is)")
    parser.add_argument("--rounds", type=int, default=3, help="--only overhead: rounds of best-of-3 CPU times")
    args = parser.parse_args()
    if args.report_from:
        saved = json.loads(args.report_from.read_text())
        write_report(saved["default"], saved["sizes"])
        return
    helm = find_tool("helm", start=ROOT).path
    env = tool_env()
    work = Path(tempfile.mkdtemp(prefix="chartgen-bench-"))
    env.update(HELM_CONFIG_HOME=str(work / "h1"), HELM_CACHE_HOME=str(work / "h2"), HELM_DATA_HOME=str(work / "h3"))
    try:
        default = work / "default"
        default.mkdir()
        shutil.copy(ROOT / "catalog.yaml", default / "catalog.yaml")

        def clean_default():
            for p in ("charts", "values", "helmfile.yaml"):
                shutil.rmtree(default / p, ignore_errors=True) if p != "helmfile.yaml" else (default / p).unlink(missing_ok=True)

        if args.only == "overhead":
            print(json.dumps(bench_overhead(work, helm, args.rounds), indent=1))
            return
        if args.only == "verify":
            v = bench_verify(work, helm, env)
            doc = ROOT / "docs" / "benchmarks.md"
            doc.write_text(replace_section(doc.read_text(encoding="utf-8"), "Verify", verify_report(v)), encoding="utf-8")
            print(json.dumps(v))
            return
        lint_env = dict(os.environ, XDG_CACHE_HOME=str(work / "cache"))
        mirror = serve_upstream_charts(work)
        results = {"crds": bool(mirror)}
        if args.only is None:
            results["validate_default"], _ = timed(CHARTGEN + ["validate"], cwd=default)
            results["generate_default"], _ = timed(CHARTGEN + ["generate"], cwd=default, setup=clean_default)
        subprocess.run(CHARTGEN + ["generate"], cwd=default, check=True, capture_output=True)
        if args.only is None:
            results["noop_default"], _ = timed(CHARTGEN + ["generate"], cwd=default)
        if args.only == "lint_1000":
            row = bench_lint_only(1000, work, helm, lint_env, mirror)
            doc = ROOT / "docs" / "benchmarks.md"
            doc.write_text(lint_1000_update(doc.read_text(encoding="utf-8"), row), encoding="utf-8")
            print(json.dumps(row))
            return
        results["lint_default"] = bench_lint_default(default, lint_env, mirror)
        if args.only == "lint_default":
            print(json.dumps({"lint_default": results["lint_default"], "crds": results["crds"]}))
            return
        sizes = [bench_size(n, work, helm, env, lint_env, mirror) for n in SIZES]
        results["verify"] = bench_verify(work, helm, env)
        results["phases"] = lint_phases(work / "n1000", lint_env)
    finally:
        for proc in SERVERS:
            proc.terminate()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    write_report(results, sizes)
    print(json.dumps({"default": results, "sizes": sizes}, indent=1))


def lint_report(results: dict, sizes: list[dict], by_n: dict) -> list[str]:
    if "lint" not in by_n[1000]:
        return []
    crds = "with" if results.get("crds") else "**without** (no chart repository at hand)"
    out = [
        "",
        "## Lint at scale",
        "",
        "`chartgen lint` of the same synthetic catalogs, both environments, beside `helm template` of the",
        "same chart for both environments measured in the same run (so the ratios hold on any machine).",
        f"Runs {crds} the Istio CRD checks (schema and CEL of the pinned istio/base) and with the webhook",
        "port, after one run that fills the cache.",
        "",
        "| services | helm template ×2 s | lint --no-scanner s | ratio | lint with checkov s | ratio | peak MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in sizes:
        out.append(f"| {s['n']} | {s['helm_both']:.2f} | {s['lint']:.2f} | {s['lint'] / s['helm_both']:.2f}× | "
                   f"{s['lint_scanner']:.2f} | {s['lint_scanner'] / s['helm_both']:.2f}× | {s['lint_mb']:.0f} |")
    big = by_n[1000]
    growth = big["lint"] / by_n[100]["lint"]
    out += [
        "",
        "| lint target | measured | |",
        "|---|---|---|",
        f"| 1,000 services, no scanner ≤ 3× helm template | {big['lint'] / big['helm_both']:.2f}× | "
        f"{verdict(big['lint'] / big['helm_both'], 'lint_ratio')} |",
        f"| 1,000 services, with checkov ≤ 6× helm template | {big['lint_scanner'] / big['helm_both']:.2f}× | "
        f"{verdict(big['lint_scanner'] / big['helm_both'], 'lint_scanner_ratio')} |",
        f"| peak memory ≤ 1 GB | {big['lint_mb']:.0f} MB | {verdict(big['lint_mb'], 'lint_memory_mb')} |",
        f"| lint(1,000) / lint(100) ≤ 12 | {growth:.1f} | {verdict(growth, 'lint_growth')} |",
        f"| default catalog with checkov ≤ 3 s | {results['lint_default']:.2f} s | "
        f"{verdict(results['lint_default'], 'lint_default')} |",
    ]
    phases = results.get("phases") or {}
    times = phases.get("times") or {}
    if times:
        total = sum(v for k, v in times.items() if isinstance(v, float))
        labels = {"catalog": "catalog: YAML, model, semantic rules", "plan": "planning the chart, values and helmfile",
                  "istio_crds": "Istio CRDs from the cache", "helm": "helm template, both environments (in parallel)",
                  "parse": "parsing the manifests", "scan_set": "choosing what checkov sees",
                  "kubernetes_schema": "Kubernetes schemas", "istio_crds_cel": "Istio CRD schemas and CEL rules",
                  "webhook": "Istio webhook port", "analyzers": "mesh and security analyzers",
                  "checkov": "checkov (the scan set)"}
        out += ["", f"Where one lint of 1,000 services spends its time (one in-process run, {phases.get('objects')} "
                f"objects, {phases.get('scanned')} of them given to checkov):", "",
                "| phase | seconds | share |", "|---|---|---|"]
        for key, label in labels.items():
            if key in times:
                out.append(f"| {label} | {times[key]:.2f} | {100 * times[key] / total:.0f} % |")
    out += [
        "",
        "- Schemas: each kind seen often gets a validator compiled once per process (fastjsonschema;",
        "  never cached on disk, see docs/security.md); an object it passes only gets the CRD checks a schema cannot express",
        "  (CEL rules, list types, formats), an object it refuses gets the full walk with every reason.",
        "- CEL: a rule's verdict is cached per the values it reads (a rule that only asks `has()` of a",
        "  field is cached per presence), and the rules applied to every label, host and port run as",
        "  Python proven equal to cel-python; cel-python itself runs only for new values.",
        "- Analyzers: indexes instead of scans (subsets by host, Sidecars by namespace).",
        "- checkov sees only kinds it has checks for (no Istio kind; a NetworkPolicy only when it selects a",
        "  workload), and one object per shape (objects equal but for their name); each finding is",
        "  reported on every object of that shape.",
    ]
    return out


def verdict(value: float, target: str) -> str:
    return "met" if value <= TARGETS[target] else "**missed**"


def write_report(results: dict, sizes: list[dict]) -> None:
    by_n = {s["n"]: s for s in sizes}
    scaling = by_n[1000]["generate"] / by_n[100]["generate"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`benchmarks/run.py`); do not edit by hand. Every time is the best",
        "wall-clock time of a fresh process over 3–5 runs (the machine is shared, so the best run is",
        "the least disturbed one); memory is the peak resident set of the process.",
        "",
        f"Machine: {machine()}.",
        "",
        "## Default catalog (ByteFreezer)",
        "",
        "| measurement | seconds | target | |",
        "|---|---|---|---|",
        f"| `chartgen validate` | {results['validate_default']:.3f} | ≤ {TARGETS['validate_default']} | {verdict(results['validate_default'], 'validate_default')} |",
        f"| `chartgen generate` (cold) | {results['generate_default']:.3f} | ≤ {TARGETS['generate_default']} | {verdict(results['generate_default'], 'generate_default')} |",
        f"| `chartgen generate` (no-op) | {results['noop_default']:.3f} | ≤ {TARGETS['noop_default']} | {verdict(results['noop_default'], 'noop_default')} |",
    ]
    if "lint_default" in results:
        lines.append(f"| `chartgen lint` (all environments, checkov included) | {results['lint_default']:.3f} | ≤ {TARGETS['lint_default']} | "
                     f"{verdict(results['lint_default'], 'lint_default')} |")
    lines += [
        "",
        "## Synthetic catalogs",
        "",
        "Each service: 2 ports, 2 versions with a canary, 3–5 dependencies, an SLO, a fault rule in dev",
        "(`benchmarks/synth.py`). `helm template` renders the dev environment; the static chart holds",
        "the same rendered objects as plain YAML, so the ratio is the cost of the templates. Both are",
        "CPU times (user + sys, best of the runs, measured alternately): steadier than wall time on a",
        "loaded machine.",
        "",
        "| services | generate (cold) s | no-op s | validate s | helm template CPU s | static CPU s | overhead | peak MB | objects | Sidecar hosts mean / max |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sizes:
        lines.append(f"| {s['n']} | {s['generate']:.3f} | {s['noop']:.3f} | {s['validate']:.3f} | {s['helm_template']:.3f} | "
                     f"{s['helm_static']:.3f} | {s['overhead']:.2f}× | {s['peak_mb']:.0f} | {s['objects']} | "
                     f"{s['scope_mean']:.1f} / {s['scope_max']} |")
    lines += lint_report(results, sizes, by_n)
    if "verify" in results:
        lines += [""] + verify_report(results["verify"])
    worst_overhead = max(s["overhead"] for s in sizes)
    peak = max(s["peak_mb"] for s in sizes)
    lines += [
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| 1,000 services generated in ≤ 2 s | {by_n[1000]['generate']:.2f} s | {verdict(by_n[1000]['generate'], 'generate_1000')} |",
        f"| no-op regeneration of the default catalog ≤ 0.5 s | {results['noop_default']:.2f} s | {verdict(results['noop_default'], 'noop_default')} |",
        f"| template overhead ≤ 2.5× the static chart | {worst_overhead:.2f}× | {verdict(worst_overhead, 'overhead')} |",
        f"| scaling 100 → 1,000 services ≤ 12× | {scaling:.1f}× | {verdict(scaling, 'scaling')} |",
        f"| peak memory ≤ 300 MB | {peak:.0f} MB | {verdict(peak, 'memory_mb')} |",
        "",
        "## Proxy configuration scale",
        "",
        "The Sidecar of each workload lists only what it calls (plus `istio-system/*` and the tracing",
        "collector), so the hosts in a proxy's scope stay flat while the mesh grows:",
        "",
        "| mesh size | hosts per proxy (mean) | max | without Sidecar scoping |",
        "|---|---|---|---|",
    ]
    for s in sizes:
        lines.append(f"| {s['n']} | {s['scope_mean']:.1f} | {s['scope_max']} | {s['n']} services |")
    lines += [
        "",
        "## Where the time goes",
        "",
        "- `chartgen generate` at 1,000 services: about half is loading and validating the catalog",
        "  (YAML, pydantic, semantic rules; source positions are only gathered when a problem needs",
        "  them), the rest building values.yaml, the per-environment values and the state file. A",
        "  no-op run does the same work and writes nothing.",
        "- `helm template`: the chart computes a model of its values once per render (kept on the",
        "  root context), then about 12 objects per service. Sets are dicts, not `uniq` lists, and",
        "  long lists are never grown by `append` in a loop: both are quadratic in Go templates and",
        "  made 1,000 services take 32 s before they were removed. What remains is linear; a good",
        "  part of it is helm parsing and sorting the rendered manifests, which the static chart",
        "  pays as well.",
    ]
    report = ROOT / "docs" / "benchmarks.md"
    previous = report.read_text(encoding="utf-8") if report.exists() else ""
    tail = "".join(f"\n## {title}\n" + body.rstrip("\n") + "\n"
                   for title in KEPT_SECTIONS if (body := _section_body(previous, title)) is not None)
    report.write_text("\n".join(lines) + "\n" + tail, encoding="utf-8")


# Sections of docs/benchmarks.md that a full run keeps as they are, in this order: the template
# overhead's history (measured in rounds by `--only overhead`, written with its reading), the
# limits (benchmarks/limits.py) and the test suite (`make test-times`, benchmarks/suite_times.py).
KEPT_SECTIONS = ("Template overhead, before and after", "Kubernetes' limits at scale", "Test suite")


def _section_body(text: str, title: str) -> str | None:
    """The text of ``## title`` up to the next ``## `` section (its ``###`` subsections
    included), or None when the page has no such section."""
    parts = text.split(f"\n## {title}\n", 1)
    if len(parts) != 2:
        return None
    return parts[1].split("\n## ", 1)[0]


if __name__ == "__main__":
    main()
