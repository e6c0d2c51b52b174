"""How long the test suite takes: the fast tier (`make test-fast`) and the full suite (`make
test`), each as its make target runs it, timed as a whole (wall clock and CPU seconds of the
whole process tree) and per test (pytest's durations, and CPU seconds from the
`pytest_cputime` plugin). Run with `make test-times`; `--write` puts the report in the "Test
suite" section of docs/benchmarks.md (`make bench` keeps that section).

CPU seconds are the steadier number on a shared machine: wall-clock time grows with whatever
else runs, CPU time much less. Compare changes with CPU time, run back to back.

    python benchmarks/suite_times.py [--tier fast|full|both] [--workers N] [--write] [--save F | --load F]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks.md"
SECTION = "## Test suite"
# The targets, as wall-clock seconds on the 2-core reference machine.
TARGETS = {"fast": 30.0, "full": 180.0}
LONG_TEST = 10.0  # a test over this needs a stated reason (REASONS)

# Why a test may take longer than LONG_TEST seconds of wall-clock time, by test or by file (a
# module-scoped fixture's cost lands on whichever of its tests runs first).
REASONS = {
    "tests/test_upstream.py":
        "the module's first test renders the whole helmfile with the real helmfile, helm 3 and "
        "upstream charts 8 times (2 catalogs × 2 helmfile modes × 2 environments); the rest reuse it",
    "tests/test_gitops_render.py":
        "the first test per catalog renders the helmfile, every Argo CD Application and every Flux "
        "HelmRelease with the real binaries against the served upstream charts",
    "tests/hostile/test_variants.py::test_generated_variants_are_refused_or_stay_data":
        "hundreds of generated hostile strings, each through the model, then through helm, helmfile "
        "and the test Pod",
    "tests/test_examples.py::test_example_is_up_to_date_and_lints_clean":
        "generates each example and runs the whole `chartgen lint` (helm, schemas, CRDs, checkov)",
    "tests/test_install.py::test_the_wheel_works_outside_the_checkout":
        "builds the wheel with pip, installs it apart and runs five commands from it",
    "tests/test_addon_values.py::test_every_written_key_changes_the_render":
        "renders each add-on chart once per key chartgen writes, to prove every key matters",
    "tests/test_admission_property.py":
        "60 generated catalogs, each rendered and checked against Istio's CRDs and webhook",
}


def _reason(nodeid: str) -> str:
    matches = [k for k in REASONS if nodeid == k or nodeid.startswith(k + "::") or nodeid.startswith(k + "[")]
    return REASONS[max(matches, key=len)] if matches else "no reason recorded: the machine's load, or a regression"


TIERS = {"fast": ["-m", "not integration"], "full": []}


def run_tier(tier: str, workers: int) -> dict:
    """Run one tier; its wall-clock and CPU seconds and the per-test rows."""
    with tempfile.TemporaryDirectory(prefix="chartgen-test-times-") as tmp:
        rows_path = Path(tmp) / "rows.json"
        env = dict(os.environ, CHARTGEN_TEST_TIMES=str(rows_path),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH")])))
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "pytest_cputime",
               "-n", str(workers), "--dist", "loadfile", *TIERS[tier]]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
        rows = json.loads(rows_path.read_text()) if rows_path.exists() else {}
    return {"tier": tier, "workers": workers, "wall": wall, "cpu": cpu, "returncode": proc.returncode,
            "load": os.getloadavg()[1],  # what else ran: the 5-minute load average at the end
            "summary": summary, "rows": rows, "command": " ".join(["pytest", *cmd[3:]])}


def _total(row: dict, key: str) -> float:
    return sum(row[key].values())


def report(results: list[dict]) -> list[str]:
    lines = [SECTION, "",
             "Written by `make test-times` (`benchmarks/suite_times.py --write`). Wall-clock and CPU seconds",
             "(the whole process tree: pytest, its xdist workers, and every process a test starts) of",
             "each tier as its make target runs it, then the slowest tests. On a shared machine CPU",
             "seconds are the number to compare; on an idle one the wall clock of a tier is about its",
             "CPU seconds over the number of workers.",
             "",
             "What keeps it fast: chartgen runs in the test's process (`run_cli`, click's test runner)",
             "unless the test is about the process (signals, locks between processes, pipes, start-up:",
             "`run_cli_process`, integration tier); tests that need a generated tree copy one generated",
             "once per worker (`generated`); a test file runs on one xdist worker (`--dist loadfile`), so",
             "a module's shared render is computed once. A fast-tier test that starts a process fails.",
             "",
             f"Machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}.",
             "",
             "| tier | command | tests | wall s | CPU s | load (5 min) | target (wall, 2 cores) |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        load = f"{r['load']:.1f}" if "load" in r else "not recorded"
        lines.append(f"| {r['tier']} | `{r['command']}` | {r['summary']} | {r['wall']:.1f} | {r['cpu']:.1f} | "
                     f"{load} | ≤ {TARGETS[r['tier']]:.0f} s |")
    for r in results:
        rows = r["rows"]
        if not rows:
            continue
        lines += ["", f"### Slowest tests, {r['tier']} tier (wall s / CPU s, setup + call + teardown)", "",
                  "| test | wall s | CPU s |", "|---|---|---|"]
        for nodeid, row in sorted(rows.items(), key=lambda kv: -_total(kv[1], "wall"))[:15]:
            lines.append(f"| `{nodeid}` | {_total(row, 'wall'):.2f} | {_total(row, 'cpu'):.2f} |")
        by_file: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        for nodeid, row in rows.items():
            f = by_file[nodeid.split("::")[0]]
            f[0] += 1
            f[1] += _total(row, "wall")
            f[2] += _total(row, "cpu")
        lines += ["", f"By file, {r['tier']} tier (the ten costliest by CPU):", "",
                  "| file | tests | wall s | CPU s |", "|---|---|---|---|"]
        for name, (n, wall, cpu) in sorted(by_file.items(), key=lambda kv: -kv[1][2])[:10]:
            lines.append(f"| `{name}` | {n} | {wall:.1f} | {cpu:.1f} |")
        long = [(nodeid, _total(row, "wall")) for nodeid, row in rows.items() if _total(row, "wall") > LONG_TEST]
        if long:
            lines += ["", f"Tests over {LONG_TEST:.0f} s of wall-clock time in this run, and why:", ""]
            for nodeid, wall in sorted(long, key=lambda x: -x[1]):
                lines.append(f"- `{nodeid}` ({wall:.1f} s): {_reason(nodeid)}")
    return lines


def write(lines: list[str]) -> None:
    text = REPORT.read_text(encoding="utf-8") if REPORT.exists() else "# Benchmarks\n"
    head = text.split(f"\n{SECTION}\n", 1)[0].rstrip("\n")
    REPORT.write_text(head + "\n\n" + "\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", choices=["fast", "full", "both"], default="both")
    parser.add_argument("--workers", default="auto", help="pytest-xdist workers (-n), as `make test` runs them")
    parser.add_argument("--write", action="store_true", help="update the Test suite section of docs/benchmarks.md")
    parser.add_argument("--save", metavar="JSON", help="also keep the measurements in this file")
    parser.add_argument("--load", metavar="JSON", help="report measurements saved earlier instead of running")
    args = parser.parse_args(argv)
    tiers = ["fast", "full"] if args.tier == "both" else [args.tier]
    results = json.loads(Path(args.load).read_text(encoding="utf-8")) if args.load else []
    for tier in [] if args.load else tiers:
        r = run_tier(tier, args.workers)
        print(f"{tier}: {r['summary']}; wall {r['wall']:.1f} s, CPU {r['cpu']:.1f} s "
              f"(target ≤ {TARGETS[tier]:.0f} s wall on 2 cores)", flush=True)
        results.append(r)
    if args.save:
        Path(args.save).write_text(json.dumps(results), encoding="utf-8")
    lines = report(results)
    if args.write:
        write(lines)
    else:
        print("\n".join(lines))
    return max(r["returncode"] for r in results)


if __name__ == "__main__":
    sys.exit(main())
