"""SARIF 2.1.0 logs (pure functions: data in, JSON text out).

Every ``helpUri`` is absolute: SARIF requires a URI there, and code-scanning services
resolve nothing relative. The base is the project's documentation, or ``CHARTGEN_DOCS_URL``
for a mirror of the docs (e.g. an internal Git server).
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

from .errors import Problem
from .rules import RULES
from .rules.doc import DOC_PATH
from .version import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
DOCS_URL = "https://github.com/bytefreezer/chartgen/blob/main/"
DRIVER = "chartgen-lint"
LEVELS = {"error": "error", "warning": "warning", "info": "note", "note": "note"}


def docs_url(relative: str) -> str:
    """The absolute URL of a page of the docs (``docs/lint-rules.md#CG101``)."""
    base = os.environ.get("CHARTGEN_DOCS_URL") or DOCS_URL
    return base.rstrip("/") + "/" + relative.lstrip("/")


def file_uri(path: str) -> str:
    """A file path as a SARIF artifact URI (a relative or absolute URI reference)."""
    return quote(path.replace(os.sep, "/"), safe="/:@-._~")


def log(rules: list[dict], results: list[dict], failure: str | None = None) -> str:
    run = {"tool": {"driver": {"name": DRIVER, "version": __version__, "informationUri": docs_url("README.md"),
                               "rules": rules}},
           "results": results}
    if failure is not None:
        # the run did not complete: say so, rather than print nothing (an upload needs a log)
        run["invocations"] = [{"executionSuccessful": False, "toolExecutionNotifications": [
            {"level": "error", "message": {"text": failure}}]}]
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


def failure_log(message: str) -> str:
    """A SARIF log of a run that could not analyse anything (a tool missing, a render failing)."""
    return log([], [], failure=message)


def catalog_rule(rule_id: str) -> dict:
    """A catalog rule's SARIF metadata, from the rule table: its summary, and its section of
    docs/catalog-rules.md (the page itself for an id the table does not know)."""
    rule = RULES.get(rule_id)
    return {"id": rule_id, "shortDescription": {"text": rule.summary if rule else f"catalog rule {rule_id}"},
            "helpUri": docs_url(f"{DOC_PATH}#{rule_id}" if rule else DOC_PATH),
            "defaultConfiguration": {"level": "error"}}


def problems_log(problems: list[Problem]) -> str:
    """A catalog that does not validate, as a SARIF log: one result per problem, at its
    line and column, under a rule per problem kind."""
    ids = sorted({p.rule for p in problems})
    rules = [catalog_rule(rule) for rule in ids]
    index = {rule: i for i, rule in enumerate(ids)}
    results = []
    for p in problems:
        region = {"startLine": max(p.line, 1)}
        if p.line and p.col:
            region["startColumn"] = p.col
        results.append({
            "ruleId": p.rule,
            "ruleIndex": index[p.rule],
            "level": LEVELS.get(p.level, "error"),
            "message": {"text": f"{p.path}: {p.message}" if p.path else p.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": file_uri(p.file)}, "region": region}}],
        })
    return log(rules, results)
