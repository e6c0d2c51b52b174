"""``chartgen verify``: render every environment as ``lint`` does and compare what the rendered
mesh lets through (``chartgen.verify``) with the catalog's intent; and the same checks as a
lint rule family (VFY1xx)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import sarif
from ..base.errors import Problem
from ..graph.diagram import node_id
from ..verify import EnvReport, FlowResult, build_world, intended_flows, verify, verify_docs
from ..application.workloads import CODES, DOC, check_rendered
from .findings import RULES, SARIF_LEVELS, help_uri
from ..lifecycle.workspace import (Project, Rendered, assemble, fork_map, gc_paused, in_forks, job_item, keep_in_worker,
                                   parsed, render_texts)

WHAT = {"call": "the call", "redirect": "the redirected call", "external": "the external call",
        "ingress": "the ingress request", "scrape": "the metrics scrape", "probe": "the kubelet probe",
        "stray": "the flow"}


@dataclass
class VerifyResult:
    environments: list[str]
    reports: dict[str, EnvReport]
    problems: list[Problem]
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """A problem of level error (the workload checks also report warnings)."""
        return any(p.level == "error" for p in self.problems)


def rule_of(f: FlowResult) -> str:
    if f.expected and not f.verdict.allowed:
        return "VFY101"
    if not f.expected and f.verdict.allowed:
        return "VFY102"
    return "VFY103"


def message(f: FlowResult) -> str:
    deciding = "; ".join(f.verdict.deciding) or "no policy"
    if rule_of(f) == "VFY101":
        return f"{f.env}: {WHAT[f.kind]} {f.describe()} is denied: {deciding}"
    if rule_of(f) == "VFY102":
        return f"{f.env}: {WHAT[f.kind]} {f.describe()} is allowed but the catalog does not ask for it: {deciding}"
    got = ", ".join(f"{v} {p:g}%" for v, p in sorted(f.verdict.split.items()))
    want = ", ".join(f"{v} {p:g}%" for v, p in f.expected_split or ())
    return f"{f.env}: {WHAT[f.kind]} {f.describe()} is split {got}, the catalog asks for {want}: {deciding}"


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def locate(f: FlowResult, catalog_file: str, source_map) -> Problem:
    line = col = 0
    if source_map is not None and f.origin:
        line, col = source_map.value_pos(f.origin)
    return Problem(catalog_file, line, col, _dotted(f.origin), message(f), rule_of(f))


def env_problems(report: EnvReport, catalog_file: str, source_map) -> list[Problem]:
    return [locate(f, catalog_file, source_map) for f in report.problems]


def mesh_outbound(r: Rendered) -> str:
    mode = (((r.istiod_values or {}).get("meshConfig") or {}).get("outboundTrafficPolicy") or {}).get("mode")
    return str(mode or "ALLOW_ANY")


def verify_rendered(r: Rendered, intended=None) -> EnvReport:
    """``intended``: the environment's ``intended_flows``, if worked out already."""
    return verify_docs([(d.obj, d.source) for d in r.docs], r.view, r.gateway_namespace, mesh_outbound(r), intended)


def _verify_one(env: str) -> EnvReport:
    """One environment parsed and verified in a forked worker (``verify_rendered``, with the
    objects it builds kept until the worker exits)."""
    r = parsed(job_item("project"), job_item("rendered")[env])
    world = build_world([(d.obj, d.source) for d in r.docs], r.view, r.gateway_namespace, mesh_outbound(r))
    report = verify(world, r.view, job_item("intended").get(env))
    keep_in_worker(r, world, report)
    return report if job_item("flows") else report.compact()


def _reports(project: Project, envs: list[str], texts: dict[str, str], intended: dict,
             flows: bool = True) -> dict[str, EnvReport]:
    """Each environment parsed and verified: in forked processes for a large render on a machine
    with several cores (the model is CPU-bound Python), else in turn. ``flows`` False: a forked
    worker hands back only the problems (the whole matrix is tens of MB to pickle at 1,000 services)."""
    if in_forks(envs, texts):
        rendered = assemble(project, texts, parse=False)  # the workers parse
        return dict(zip(envs, fork_map(_verify_one, envs, project=project, rendered=rendered, intended=intended,
                                       flows=flows)))
    rendered = assemble(project, texts)
    return {env: verify_rendered(rendered[env], intended.get(env)) for env in envs}


def _intents(project: Project, envs: list[str]) -> tuple[dict, object]:
    """(intent per environment, a function filling it in): the intent is read from the catalog
    alone, so it is worked out while helm renders."""
    views = {v.name: v for v in project.mesh.views}
    intended: dict = {}

    def work() -> None:
        for env in envs:
            intended[env] = intended_flows(views[env])

    return intended, work


def verify_project(project: Project, envs: list[str] | None = None, scratch: Path | None = None,
                   workloads: tuple = (), flows: bool = True) -> VerifyResult:
    """``workloads``: the application's manifests (files, directories, '-'), checked against
    the same rendered environments (``chartgen.application.workloads``, the WL codes). ``flows`` False: the
    reports may hold only the problems."""
    envs = sorted(envs or project.environments())
    intended, work = _intents(project, envs)
    if scratch is not None:
        texts = render_texts(project, envs, scratch, meanwhile=work)
    else:
        with tempfile.TemporaryDirectory(prefix="chartgen-verify-") as tmp:
            texts = render_texts(project, envs, Path(tmp), meanwhile=work)
    reports = _reports(project, envs, texts, intended, flows)
    problems = [p for env in envs for p in env_problems(reports[env], project.catalog_file, project.source_map)]
    if workloads:
        problems += check_rendered(assemble(project, texts), list(workloads), catalog_file=project.catalog_file,
                                   source_map=project.source_map)
    return VerifyResult(envs, reports, sorted(problems), list(dict.fromkeys(project.notes)))


def verify_catalog(catalog_path: str | Path = "catalog.yaml", envs: list[str] | tuple[str, ...] = (),
                   workloads: tuple = (), flows: bool = True) -> VerifyResult:
    """``chartgen verify`` as a library call: read and check the catalog (every problem, as a
    CatalogError), render its environments with helm, verify them (``envs``: only these)."""
    with gc_paused():
        return _verify_catalog(Path(catalog_path), envs, workloads, flows)


def _verify_catalog(catalog_path: Path, envs, workloads: tuple, flows: bool) -> VerifyResult:
    project = Project.load(catalog_path, envs)
    return verify_project(project, list(envs), workloads=tuple(workloads), flows=flows)


def check_behaviour(ctx) -> None:
    """The lint rule family VFY1xx: verify's problems as findings of one environment."""
    report = verify_rendered(ctx.r)
    for f in report.problems:
        p = locate(f, ctx.catalog_file, ctx.source_map)
        ctx.add_at("Flow", "", f.describe(), p.rule, p.message, ctx.catalog_file, p.line)


# --- the graph ----------------------------------------------------------------------------------

def _short(f: FlowResult) -> str:
    where = f":{f.port}{f.path or ''}"
    deciding = (f.verdict.deciding or ["no policy"])[0]
    deciding = deciding if len(deciding) <= 80 else deciding[:77] + "..."
    if rule_of(f) == "VFY101":
        return f"{where} denied: {deciding}"
    if rule_of(f) == "VFY102":
        return f"{where} allowed, not in the catalog: {deciding}"
    return f"{where} split " + ", ".join(f"{v} {p:g}%" for v, p in sorted(f.verdict.split.items()))


def graph_disputes(result: VerifyResult) -> tuple[dict, dict]:
    """verify's problems as the (denied, unintended) maps of ``chartgen.graph.diagram.mark_flows``:
    (source node, destination node) -> reason, each reason prefixed with its environment when
    several were verified. Flows from workloads the graph has no node for (Prometheus, the
    kubelet, a stranger pod) are left out; ``unplaced`` counts them."""
    denied: dict = {}
    unintended: dict = {}
    several = len(result.environments) > 1
    for env in result.environments:
        for f in result.reports[env].problems:
            if len(f.ends) != 2 or any(kind not in ("svc", "ext", "gateway") for kind, _ in f.ends):
                continue
            edge = (node_id(*f.ends[0]), node_id(*f.ends[1]))
            reason = (f"[{env}] " if several else "") + _short(f)
            into = denied if f.expected else unintended
            into[edge] = f"{into[edge]}; {reason}" if edge in into and reason not in into[edge] else reason
    return denied, unintended


def unplaced(result: VerifyResult) -> int:
    """How many problems no graph edge can show (their source is no catalog element)."""
    return sum(1 for r in result.reports.values() for f in r.problems
               if len(f.ends) != 2 or any(kind not in ("svc", "ext", "gateway") for kind, _ in f.ends))


# --- reports ------------------------------------------------------------------------------------

def flow_row(f: FlowResult) -> dict:
    return {"environment": f.env, "kind": f.kind, "source": f.source, "target": f.target, "port": f.port,
            "protocol": f.protocol, "path": f.path, "expected": "allowed" if f.expected else "denied",
            "actual": "allowed" if f.verdict.allowed else "denied", "split": f.verdict.split,
            "expectedSplit": dict(f.expected_split) if f.expected_split else None, "deciding": f.verdict.deciding,
            "ok": f.ok}


def to_text(result: VerifyResult, flows: bool = False) -> str:
    lines = [p.format() for p in result.problems]
    if flows:
        for env in result.environments:
            lines.append(f"# {env}")
            for f in result.reports[env].flows:
                mark = "ok  " if f.ok else "FAIL"
                verdict = "allowed" if f.verdict.allowed else "denied "
                split = " ".join(f"{v}={p:g}%" for v, p in sorted(f.verdict.split.items())) if f.verdict.allowed else ""
                lines.append(f"{mark} {verdict} {f.kind:8} {f.describe()} {split} <- {'; '.join(f.verdict.deciding)}")
    n = sum(r.count for r in result.reports.values())
    lines.append(f"{len(result.problems)} problem{'s' if len(result.problems) != 1 else ''} in {n} flows "
                 f"({', '.join(result.environments)})")
    return "\n".join(lines) + "\n"


def to_json(result: VerifyResult, flows: bool = False) -> str:
    data = {"valid": not result.failed, "environments": result.environments,
            "problems": [p.to_dict() for p in result.problems], "notes": result.notes,
            "summary": {env: {"flows": r.count, "problems": len(r.problems)} for env, r in result.reports.items()}}
    if flows:
        data["flows"] = [flow_row(f) for r in result.reports.values() for f in r.flows]
    return json.dumps(data, indent=2) + "\n"


def to_sarif(result: VerifyResult) -> str:
    ids = sorted({p.rule for p in result.problems} | {c for c in RULES if c.startswith("VFY")})

    def rule(c: str) -> dict:
        if c in CODES:  # the workload checks (--workloads)
            level, summary = CODES[c]
            return {"id": c, "shortDescription": {"text": summary}, "helpUri": sarif.docs_url(DOC),
                    "defaultConfiguration": {"level": SARIF_LEVELS[level]}}
        return {"id": c, "shortDescription": {"text": RULES[c].summary}, "helpUri": help_uri(c),
                "defaultConfiguration": {"level": SARIF_LEVELS[RULES[c].level]}}

    rules = [rule(c) for c in ids]
    index = {c: i for i, c in enumerate(ids)}
    results = []
    for p in result.problems:
        region = {"startLine": max(p.line, 1)}
        if p.line and p.col:
            region["startColumn"] = p.col
        results.append({"ruleId": p.rule, "ruleIndex": index[p.rule], "level": SARIF_LEVELS[p.level],
                        "message": {"text": f"{p.path}: {p.message}" if p.path else p.message},
                        "locations": [{"physicalLocation": {"artifactLocation": {"uri": sarif.file_uri(p.file)},
                                                            "region": region}}]})
    return sarif.log(rules, results)
