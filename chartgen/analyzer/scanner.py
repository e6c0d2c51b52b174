"""The Kubernetes security scanner: checkov's Kubernetes checks on the rendered manifests,
and the suppressions (``suppressions.yaml`` beside this module, each with a reason).

checkov lives in its own virtualenv (``tools/install_checkov.py``). Lookup order:
``CHARTGEN_CHECKOV``, ``.tools/checkov/venv/bin/checkov`` in the working directory or a
parent (then next to the chartgen checkout), then ``checkov`` on PATH.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..base.errors import ChartgenError, ToolError, ToolNotFound
from ..base.toolchain import Running, Tool, start
from ..base.yamlsrc import LimitError, safe_load_bounded
from .findings import Finding
from ..lifecycle.workspace import Rendered

ENV_VAR = "CHARTGEN_CHECKOV"
VENV_BIN = Path(".tools") / "checkov" / "venv" / "bin" / "checkov"
_CHECKOUT_ROOT = Path(__file__).resolve().parent.parent.parent
HINT = ("install it in its own environment: `pipx install checkov` (in a chartgen checkout: `make setup`), "
        "or set CHARTGEN_CHECKOV to its path, or pass --no-scanner")


def find_checkov(start: Path | None = None) -> str:
    value = os.environ.get(ENV_VAR)
    if value:
        found = shutil.which(os.path.expanduser(value))
        if not found:
            raise ToolNotFound(f"{ENV_VAR}={value!r} is not an executable; {HINT}")
        return os.path.abspath(found)
    start = (start or Path.cwd()).absolute()
    for base in (start, *start.parents, _CHECKOUT_ROOT):
        candidate = base / VENV_BIN
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("checkov")
    if found:
        return os.path.abspath(found)
    raise ToolNotFound(f"checkov not found; {HINT}")


def _interpreter(checkov: str) -> str | None:
    """The Python of a checkov console script (from its shebang), if it has one."""
    try:
        with open(checkov, "rb") as fh:
            first = fh.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if first.startswith("#!") and "python" in first and " " not in first[2:].strip():
        python = first[2:].strip()
        return python if os.access(python, os.X_OK) else None
    return None


# checkov quiet: no log lines, no network look-ups, no Python warnings on stderr
_ENV = {"LOG_LEVEL": "ERROR", "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
        "PYTHONWARNINGS": "ignore"}


def _driver() -> str:
    return str(resources.files("chartgen.analyzer") / "checkov_driver.py")


def _start_cli(checkov: str, manifests: list[Path]) -> Running:
    args = []
    for m in manifests:
        args += ["-f", str(m)]
    args += ["--framework", "kubernetes", "--skip-download", "-o", "json", "--quiet", "--compact"]
    cwd = str(manifests[0].parent) if manifests else None
    return start(Tool("checkov", checkov, "path"), *args, what="checkov", env=_ENV, cwd=cwd)


@dataclass
class Scan:
    """A running checkov (through the fast driver when its interpreter is known)."""

    checkov: str
    manifests: list[Path]
    running: Running
    driver: bool

    def stop(self) -> None:
        self.running.stop()


def prestart_checkov(checkov: str, cwd: Path) -> Scan | None:
    """Start checkov's driver before the manifests exist, so that its slow import overlaps the
    rendering; ``feed`` gives it the manifests. None when checkov has no known interpreter."""
    python = _interpreter(checkov)
    if not python:
        return None
    cwd.mkdir(parents=True, exist_ok=True)
    running = start(Tool("checkov", python, "path"), _driver(), "--stdin", what="checkov", stdin=True, env=_ENV,
                    cwd=str(cwd))
    return Scan(checkov, [], running, True)


def feed(scan: Scan, manifests: list[Path]) -> Scan:
    """Give a prestarted checkov its manifests (it starts scanning when stdin closes)."""
    scan.manifests = list(manifests)
    proc = scan.running.proc
    stdin, proc.stdin = proc.stdin, None  # closed here: communicate() must not touch it
    try:
        stdin.write("".join(f"{m}\n" for m in manifests))
        stdin.close()
    except (BrokenPipeError, OSError):
        pass  # it died importing checkov: collect() reports it or falls back to the command
    return scan


def start_checkov(checkov: str, manifests: list[Path]) -> Scan:
    python = _interpreter(checkov)
    if python:
        cwd = str(manifests[0].parent) if manifests else None
        running = start(Tool("checkov", python, "path"), _driver(), *map(str, manifests), what="checkov", env=_ENV,
                        cwd=cwd)
        return Scan(checkov, manifests, running, True)
    return Scan(checkov, manifests, _start_cli(checkov, manifests), False)


# --- what the scanner sees ---------------------------------------------------------------------------------

# Kinds checkov 3.x has resource checks for (its Kubernetes check registry), and the kinds its
# graph checks start from. It has no check for any Istio kind, nor for Namespace.
CHECKED_KINDS = frozenset({
    "AdmissionConfiguration", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "CronJob", "DaemonSet", "Deployment",
    "DeploymentConfig", "Ingress", "Job", "Pod", "PodSecurityPolicy", "PodTemplate", "ReplicaSet",
    "ReplicationController", "Role", "RoleBinding", "Secret", "Service", "ServiceAccount", "StatefulSet"})
# Objects that graph checks reach by name (a binding names its ServiceAccount): never merged
NAMED_BY_OTHERS = frozenset({"ClusterRoleBinding", "RoleBinding"})
WORKLOAD_KINDS = frozenset({"Pod", "Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "CronJob"})


@dataclass
class ScanGroup:
    """Objects of one shape: the first is scanned, each gets its findings."""

    start: int  # lines of the representative in the scan manifest (1-based, inclusive)
    end: int
    docs: list


def _workload_labels(doc) -> dict:
    spec = doc.spec
    template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") if doc.kind == "CronJob" \
        else spec.get("template")
    meta = (template or {}).get("metadata") if isinstance(template, dict) else None
    labels = (meta or {}).get("labels") if doc.kind != "Pod" else doc.meta.get("labels")
    return labels if isinstance(labels, dict) else {}


def _selects_a_workload(policy, workloads: list) -> bool:
    """A NetworkPolicy matters to checkov only as what a workload's graph check looks for."""
    selector = (policy.spec.get("podSelector") or {}) if isinstance(policy.spec.get("podSelector"), dict) else {}
    wanted = selector.get("matchLabels") or {}
    return any(w.namespace == policy.namespace and all(_workload_labels(w).get(k) == v for k, v in wanted.items())
               for w in workloads)


def _shape(obj: dict) -> str:
    """The object as checkov judges it, without its name (objects differing only by name
    get the same verdicts from every check that does not read the name)."""
    meta = dict(obj.get("metadata") or {})
    name = meta.pop("name", None)
    if name == "default":  # checkov reads this one name (CKV_K8S_41, the default ServiceAccount)
        meta["name"] = name
    return json.dumps({**obj, "metadata": meta}, sort_keys=True, default=str)


def scan_set(r: Rendered, dedupe: bool = True) -> tuple[str, list[ScanGroup]]:
    """The manifest checkov scans for one environment (only kinds it judges, one object per
    shape) and the groups that map each scanned object back to every object it stands for."""
    docs = r.docs
    workloads = [d for d in docs if d.kind in WORKLOAD_KINDS]
    named = any(d.kind in NAMED_BY_OTHERS for d in docs)
    chosen = [d for d in docs if d.kind in CHECKED_KINDS or (d.kind == "NetworkPolicy" and workloads
                                                             and _selects_a_workload(d, workloads))]
    groups: dict[str, list] = {}
    order: list[str] = []
    for d in chosen:
        key = _shape(d.obj) if dedupe and not named and d.kind != "NetworkPolicy" else f"{id(d)}"
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(d)
    lines = r.text.split("\n")
    out: list[str] = []
    result: list[ScanGroup] = []
    for key in order:
        rep = groups[key][0]
        chunk = lines[rep.start - 1:rep.end]
        out.append("---")
        start = len(out) + 1
        out += chunk
        result.append(ScanGroup(start, len(out), groups[key]))
    return "\n".join(out) + "\n", result


def collect(scan: Scan, manifests: dict[str, Path], groups: dict[str, list[ScanGroup]]) -> list[Finding]:
    """Wait for checkov and turn its failed checks into findings, one for every object of the
    scanned object's shape."""
    proc = scan.running.wait(check=False)  # exit 1: checks failed, which is the answer
    if scan.driver and proc.returncode == 3:  # the runner could not be imported: use the command
        proc = _start_cli(scan.checkov, scan.manifests).wait(check=False)
    if proc.returncode not in (0, 1):
        raise ToolError.from_process(proc, "checkov")
    out, err = proc.stdout, proc.stderr
    try:
        data = json.loads(out) if out.strip() else []
    except ValueError:
        raise ToolError(f"checkov printed no JSON: {(out or err).strip()[:500]}") from None
    reports = data if isinstance(data, list) else [data]
    by_path = {os.path.realpath(p): env for env, p in manifests.items()}
    findings = []
    for report in reports:
        if report.get("check_type") not in (None, "kubernetes"):
            continue
        for check in (report.get("results") or {}).get("failed_checks") or []:
            path = os.path.realpath(check.get("file_abs_path") or check.get("file_path") or "")
            env = by_path.get(path)
            if env is None:
                continue
            findings += _findings(env, check, groups[env])
    return findings


def _findings(env: str, check: dict, groups: list[ScanGroup]) -> list[Finding]:
    first = (check.get("file_line_range") or [0])[0]
    group = next((g for g in groups if g.start <= first <= g.end), None)
    name = str(check.get("check_name", "")).strip()
    if group is None:
        kind, _, rest = str(check.get("resource", "")).partition(".")
        ns, _, obj_name = rest.partition(".")
        return [Finding(env, kind, ns, obj_name, str(check["check_id"]), name, "error", "", 0, "checkov")]
    return [Finding(env, d.kind, d.namespace, d.name, str(check["check_id"]), name, "error", d.source, 0, "checkov")
            for d in group.docs]


# --- suppressions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suppression:
    code: str  # a rule code or check id; shell-style globs allowed
    resource: str  # kind/namespace/name with globs ("*" for cluster-scoped namespaces too)
    reason: str
    env: str = "*"

    def matches(self, f: Finding) -> bool:
        return (fnmatch.fnmatchcase(f.code, self.code) and fnmatch.fnmatchcase(f.env, self.env)
                and fnmatch.fnmatchcase(f"{f.kind}/{f.namespace}/{f.name}", self.resource))


def load_suppressions(text: str | None = None) -> list[Suppression]:
    if text is None:
        text = (resources.files("chartgen.analyzer") / "suppressions.yaml").read_text(encoding="utf-8")
    try:
        data = safe_load_bounded(text, "suppressions.yaml") or {}
    except LimitError as exc:
        raise ChartgenError(exc.problem.format()) from None
    out = []
    for i, entry in enumerate(data.get("suppressions") or []):
        if not isinstance(entry, dict) or not entry.get("check") or not str(entry.get("reason") or "").strip():
            raise ChartgenError(f"suppressions.yaml: entry {i} needs 'check' and a written 'reason'")
        out.append(Suppression(str(entry["check"]), str(entry.get("resource", "*/*/*")), str(entry["reason"]).strip(),
                               str(entry.get("env", "*"))))
    return out


def apply_suppressions(findings: list[Finding], suppressions: list[Suppression]) -> tuple[list[Finding], list[tuple[Finding, Suppression]]]:
    kept, dropped = [], []
    for f in findings:
        s = next((s for s in suppressions if s.matches(f)), None)
        if s is None:
            kept.append(f)
        else:
            dropped.append((f, s))
    return kept, dropped
