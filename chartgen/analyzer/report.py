"""Lint results as text, JSON or SARIF 2.1.0 (pure functions: strings out, no printing)."""

from __future__ import annotations

import json

from . import sarif
from .findings import RULES, SARIF_LEVELS, help_uri
from .runner import LintResult


def _sorted(result: LintResult):
    return sorted(result.findings, key=lambda f: (f.env, f.kind, f.namespace, f.name, f.code, f.message))


def summary(result: LintResult) -> str:
    e, w, i = (result.count(x) for x in ("error", "warning", "info"))
    scanner = "checkov" if result.scanner else "no scanner"
    return (f"{e} error{'s' if e != 1 else ''}, {w} warning{'s' if w != 1 else ''}, {i} info "
            f"in {', '.join(result.environments)} ({scanner}; {len(result.suppressed)} suppressed)")


def to_text(result: LintResult) -> str:
    lines = []
    env = None
    for f in _sorted(result):
        if f.env != env and env is not None:
            lines.append("")
        env = f.env
        lines.append(f.format())
    return "\n".join(lines) + ("\n" if lines else "")


def to_json(result: LintResult) -> str:
    data = {
        "valid": not result.failed(),
        "environments": result.environments,
        "summary": {"errors": result.count("error"), "warnings": result.count("warning"), "infos": result.count("info"),
                    "suppressed": len(result.suppressed)},
        "scanner": "checkov" if result.scanner else None,
        "findings": [f.to_dict() for f in _sorted(result)],
        "suppressed": [{**f.to_dict(), "reason": s.reason} for f, s in result.suppressed],
        "notes": result.notes,
    }
    return json.dumps(data, indent=2) + "\n"


def to_sarif(result: LintResult, catalog_file: str = "catalog.yaml") -> str:
    findings = _sorted(result)
    rule_ids = list(RULES)
    extra = sorted({f.code for f in findings if f.code not in RULES})
    descriptions = {f.code: f.message for f in findings if f.code not in RULES}
    rules = [{"id": code, "shortDescription": {"text": RULES[code].summary}, "helpUri": help_uri(code),
              "defaultConfiguration": {"level": SARIF_LEVELS[RULES[code].level]}} for code in rule_ids]
    rules += [{"id": code, "shortDescription": {"text": descriptions[code]}, "helpUri": help_uri(code),
               "defaultConfiguration": {"level": "error"}} for code in extra]
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for f in findings:
        results.append({
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": SARIF_LEVELS[f.level],
            "message": {"text": f"{f.env} {f.object}: {f.message}"},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": sarif.file_uri(f.file or catalog_file)},
                "region": {"startLine": max(f.line, 1)},
            }, "logicalLocations": [{"name": f.object, "kind": "resource"}]}],
            "properties": {"environment": f.env, "tool": f.tool},
        })
    return sarif.log(rules, results)
