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
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from ..errors import ChartgenError, ToolError
from .findings import Finding
from .workspace import Rendered

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
            raise ToolError(f"{ENV_VAR}={value!r} is not an executable; {HINT}")
        return os.path.abspath(found)
    start = (start or Path.cwd()).absolute()
    for base in (start, *start.parents, _CHECKOUT_ROOT):
        candidate = base / VENV_BIN
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("checkov")
    if found:
        return os.path.abspath(found)
    raise ToolError(f"checkov not found; {HINT}")


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


def _spawn(args: list[str], cwd: str | None) -> subprocess.Popen:
    env = dict(os.environ, LOG_LEVEL="ERROR", BC_SKIP_MAPPING="TRUE", CKV_SKIP_PACKAGE_UPDATE_CHECK="true",
               PYTHONWARNINGS="ignore")
    try:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                text=True, env=env, cwd=cwd)
    except OSError as exc:
        raise ToolError(f"cannot run checkov ({args[0]}): {exc}") from None


def _cli_args(checkov: str, manifests: list[Path]) -> list[str]:
    args = [checkov]
    for m in manifests:
        args += ["-f", str(m)]
    return args + ["--framework", "kubernetes", "--skip-download", "-o", "json", "--quiet", "--compact"]


@dataclass
class Scan:
    """A running checkov (through the fast driver when its interpreter is known)."""

    checkov: str
    manifests: list[Path]
    proc: subprocess.Popen
    driver: bool


def start_checkov(checkov: str, manifests: list[Path]) -> Scan:
    cwd = str(manifests[0].parent) if manifests else None
    python = _interpreter(checkov)
    if python:
        driver = str(resources.files("chartgen.analyzer") / "checkov_driver.py")
        return Scan(checkov, manifests, _spawn([python, driver, *map(str, manifests)], cwd), True)
    return Scan(checkov, manifests, _spawn(_cli_args(checkov, manifests), cwd), False)


def _wait(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ToolError(f"checkov did not finish within {timeout:g}s") from None


def collect(scan: Scan, manifests: dict[str, Path], rendered: dict[str, Rendered],
            timeout: float = 300) -> list[Finding]:
    """Wait for checkov and turn its failed checks into findings."""
    proc = scan.proc
    out, err = _wait(proc, timeout)
    if scan.driver and proc.returncode == 3:  # the runner could not be imported: use the command
        proc = _spawn(_cli_args(scan.checkov, scan.manifests), str(scan.manifests[0].parent))
        out, err = _wait(proc, timeout)
    if proc.returncode not in (0, 1):
        raise ToolError(f"checkov exited {proc.returncode}: {(err or out).strip()[-2000:]}")
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
            findings.append(_finding(env, check, rendered[env]))
    return findings


def _finding(env: str, check: dict, r: Rendered) -> Finding:
    first = (check.get("file_line_range") or [0])[0]
    doc = next((d for d in r.docs if d.start <= first <= d.end), None)
    if doc is not None:
        kind, ns, name, source = doc.kind, doc.namespace, doc.name, doc.source
    else:
        kind, _, rest = str(check.get("resource", "")).partition(".")
        ns, _, name = rest.partition(".")
        source = ""
    return Finding(env, kind, ns, name, str(check["check_id"]), str(check.get("check_name", "")).strip(), "error",
                   source, 0, "checkov")


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
    data = yaml.safe_load(text) or {}
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
