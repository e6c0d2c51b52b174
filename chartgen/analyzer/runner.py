"""``lint``: render every environment, run the checks, gather the findings."""

from __future__ import annotations

import re
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from ..base.crdcheck import add_verdicts, fresh_verdicts, load_verdicts, save_verdicts
from ..base.errors import ChartgenError
from ..base.usercache import cache_dir
from ..base.writer import scratch_file
from .ambient import check_ambient
from .behaviour import check_behaviour
from .context import Context
from .findings import Finding
from .istio_crds import load as load_istio_crds
from .limits import check_limits
from .mesh import check_mesh
from .revisions import check_revisions
from .scanner import (apply_suppressions, collect, feed, find_checkov, load_suppressions, prestart_checkov, scan_set,
                      start_checkov)
from .schema import preload, validate_objects
from .security import check_security
from .webhook import check_webhook
from ..lifecycle.workspace import (KUBE_VERSION, Project, Rendered, assemble, fork_map, gc_paused, in_forks, job_item,
                                   parsed, render_texts)


@dataclass
class LintResult:
    environments: list[str]
    findings: list[Finding]
    suppressed: list[tuple[Finding, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scanner: str | None = None  # the checkov that ran (None: skipped)

    def count(self, level: str) -> int:
        return sum(1 for f in self.findings if f.level == level)

    def failed(self, strict: bool = False) -> bool:
        return self.count("error") > 0 or (strict and self.count("warning") > 0)


def analyze(project: Project, rendered: Rendered, istio_crds=None) -> list[Finding]:
    """Schema, admission, mesh and security findings of one rendered environment (no scanner).

    ``istio_crds``: the pinned Istio release's CRDs (``chartgen.base.crdcheck.CRDSet``); without
    them Istio objects get the webhook checks but no CRD schema or CEL checks."""
    templates = {rel.rsplit("/", 1)[-1]: rel for rel in project.files
                 if rel.startswith(f"{project.chart_dir}/templates/")}
    ctx = Context(rendered, project.catalog_file, templates, source_map=project.source_map)
    findings = validate_objects(rendered.docs, rendered.env, KUBE_VERSION.rsplit(".", 1)[0], istio_crds)
    check_webhook(ctx)
    check_mesh(ctx)
    check_security(ctx)
    check_ambient(ctx)
    check_revisions(ctx)
    check_behaviour(ctx)
    return [_locate(project, f) for f in findings + ctx.findings + check_limits(project, rendered)]


def _environments(project: Project, envs: list[str] | None) -> list[str]:
    """The environments to lint, sorted (default: every one); an unknown one is refused."""
    known = project.environments()
    envs = list(envs) if envs else known
    unknown = [e for e in envs if e not in known]
    if unknown:
        raise ChartgenError(f"unknown environment(s) {', '.join(unknown)}; the catalog has {', '.join(known)}")
    return sorted(dict.fromkeys(envs))


class _Checkov:
    """checkov beside the other checks: its driver starts before helm renders (its import is
    slow), gets what it can judge (one object per shape) once the output is parsed, and is
    collected after the other checks."""

    def __init__(self, path: str):
        self.path = path
        self.scan = None
        self.manifests: dict[str, Path] = {}
        self.groups: dict = {}

    def prestart(self, folder: Path) -> None:
        self.scan = prestart_checkov(self.path, folder)

    def start(self, rendered: dict[str, Rendered], folder: Path) -> None:
        for env, r in rendered.items():
            text, self.groups[env] = scan_set(r)
            self.manifests[env] = folder / f"{env}.yaml"
            scratch_file(self.manifests[env], text)
        paths = list(self.manifests.values())
        self.scan = feed(self.scan, paths) if self.scan is not None else start_checkov(self.path, paths)

    def stop(self) -> None:
        if self.scan is not None:
            self.scan.stop()

    def findings(self) -> list[Finding]:
        return collect(self.scan, self.manifests, self.groups)


@contextmanager
def _stopped_on_error(checkov: _Checkov | None):
    """A failure (or Ctrl-C) while checkov runs stops it."""
    try:
        yield
    except BaseException:
        if checkov is not None:
            checkov.stop()
        raise


def _notes(project: Project, rendered: dict[str, Rendered], istio: list) -> list[str]:
    """What the run could not check, and why."""
    notes = list(dict.fromkeys(project.notes))
    if not istio:
        notes.append("the Istio CRDs could not be loaded; Istio CRD schema and CEL checks skipped")
    elif istio[0].note:
        notes.append(istio[0].note)
    for env, r in rendered.items():
        if r.gateway_values is None and r.view.ingress_api == "istio":  # Gateway API: Istio makes the Service
            notes.append(f"{env}: no values for the gateway release {project.catalog.istio.gatewayRelease}; IST0162 skipped")
        if r.istiod_values is None:
            notes.append(f"{env}: no values for istiod; CG108 skipped")
    return notes


def _verdicts_file() -> Path:
    return cache_dir() / "cel-verdicts.json"


class _WarmUp:
    """What lint loads while helm renders (the Kubernetes schemas, the pinned Istio CRDs, saved
    CEL verdicts), in a thread. ``result`` waits for it and raises in the caller what the
    thread raised; ``cancel`` (on every other path) stops it before its next step and waits."""

    def __init__(self, project: Project):
        self.project = project
        self.istio = None
        self.error: BaseException | None = None
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chartgen-lint-warm-up", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        steps = (preload, lambda: setattr(self, "istio", load_istio_crds(self.project)),
                 lambda: load_verdicts(_verdicts_file()))
        try:
            for step in steps:
                if self._cancelled.is_set():
                    return
                step()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
            self.error = exc

    def result(self):
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.istio

    def cancel(self) -> None:
        self._cancelled.set()
        self._thread.join()


def lint(project: Project, envs: list[str] | None = None, *, scanner: bool = True,
         suppressions_text: str | None = None, progress=None) -> LintResult:
    """Render every environment, run every check (checkov too unless ``scanner`` is False).
    ``progress``: a ``Progress`` told of each step (default: silent)."""
    progress = progress or Progress(None)
    envs = _environments(project, envs)
    suppressions = load_suppressions(suppressions_text)
    checkov = _Checkov(find_checkov()) if scanner else None
    findings: list[Finding] = []
    warm = _WarmUp(project)
    warm.start()
    try:
        rendered, istio = _checked(project, envs, checkov, warm, findings, progress)
    finally:
        warm.cancel()  # done already on success; on a failure it ends before lint returns
    progress.done()
    kept, dropped = apply_suppressions(findings, suppressions)
    return LintResult(envs, sorted(set(kept)), dropped, _notes(project, rendered, istio),
                      checkov.path if checkov else None)


def _checked(project: Project, envs: list[str], checkov, warm: _WarmUp, findings: list[Finding], progress):
    """Render, parse and check every environment (adding to ``findings``); (rendered, istio)."""
    with tempfile.TemporaryDirectory(prefix="chartgen-lint-") as tmp:
        scratch = Path(tmp)
        with _stopped_on_error(checkov):
            if checkov:
                checkov.prestart(scratch / "rendered")
            texts = render_texts(project, envs, scratch / "project")
            progress.step("rendered with helm")
            forked = in_forks(envs, texts)
            rendered = assemble(project, texts, parse=bool(checkov) or not forked)  # forked: the workers parse
            progress.step("parsed")
            if checkov:  # checkov scans while the checks below run
                checkov.start(rendered, scratch / "rendered")
            loaded = warm.result()
            istio = [loaded] if loaded is not None else []
            crds = loaded.crds if loaded is not None else None
            if forked:
                findings += _analyze_forked(project, envs, rendered, crds)
                progress.step(f"checked {', '.join(envs)}")
            else:
                for env in envs:
                    findings += analyze(project, rendered[env], crds)
                    progress.step(f"checked {env}")
            save_verdicts(_verdicts_file())
        if checkov:
            progress.step("waiting for checkov")
            findings += [_locate(project, f) for f in checkov.findings()]
    return rendered, istio


def _analyze_one(env: str) -> tuple[list[Finding], dict]:
    """One environment checked in a forked worker (and parsed there, unless the parent parsed it
    already for checkov): its findings, and the CEL verdicts it worked out (for the parent to save)."""
    project = job_item("project")
    rendered = parsed(project, job_item("rendered")[env])
    return analyze(project, rendered, job_item("crds")), fresh_verdicts()


def _analyze_forked(project: Project, envs: list[str], rendered: dict[str, Rendered], crds) -> list[Finding]:
    """Each environment checked in a forked process (a large render: the checks, the behaviour
    model most, are CPU-bound), as ``verify`` does; the workers' CEL verdicts are kept."""
    out: list[Finding] = []
    for found, fresh in fork_map(_analyze_one, envs, project=project, rendered=rendered, crds=crds):
        out += found
        add_verdicts(fresh)
    return out


class Progress:
    """Progress of a lint on a terminal: one line on stderr, rewritten per step, erased at the end.
    ``stream=None``: silent (not a terminal, or --quiet)."""

    def __init__(self, stream):
        self.stream = stream
        self.start = time.monotonic()
        self._width = 0

    def step(self, what: str) -> None:
        if self.stream is None:
            return
        text = f"chartgen lint: {what} ({time.monotonic() - self.start:.0f}s)"
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def done(self) -> None:
        if self.stream is not None and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


@lru_cache(maxsize=256)
def _kind_line(text: str, kind: str) -> int:
    m = re.search(rf"^kind:\s*{re.escape(kind)}\s*$", text, re.M)
    return text.count("\n", 0, m.start()) + 1 if m else 1


def _locate(project: Project, f: Finding) -> Finding:
    """Give a template finding the line of its kind in the template (the SARIF region)."""
    text = project.files.get(f.file) if f.file and not f.line else None
    return replace(f, line=_kind_line(text, f.kind)) if text is not None else f


def _require_lint_extra() -> None:
    """The lint extra is installed (missing: one line saying how to install it). Found, not
    imported: a lint whose schema validators are cached never loads it."""
    if find_spec("kubernetes_validate") is None:
        raise ModuleNotFoundError("No module named 'kubernetes_validate'", name="kubernetes_validate")


def lint_catalog(catalog_path: str | Path = "catalog.yaml", envs: list[str] | tuple[str, ...] = (), *,
                 scanner: bool = True, progress=None) -> LintResult:
    """``chartgen lint`` as a library call: read and check the catalog (every problem, as a
    CatalogError), then ``lint`` its environments (``envs``: only these; an unknown one is an
    UnknownEnvironment)."""
    _require_lint_extra()
    with gc_paused():
        return _lint_catalog(Path(catalog_path), envs, scanner, progress)



def _lint_catalog(catalog_path: Path, envs, scanner: bool, progress) -> LintResult:
    project = Project.load(catalog_path, envs)
    return lint(project, list(envs), scanner=scanner, progress=progress)
