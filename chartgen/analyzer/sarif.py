"""SARIF 2.1.0 logs (pure functions: data in, JSON text out).

Every ``helpUri`` is absolute: SARIF requires a URI there, and code-scanning services
resolve nothing relative. The base is the project's documentation, or ``CHARTGEN_DOCS_URL``
for a mirror of the docs (e.g. an internal Git server); a ``CHARTGEN_DOCS_URL`` that is not an
absolute http(s) URL is ignored, with a warning notification in the log. Artifact URIs are
relative references that never read as a scheme (``./x:y.yaml``).
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import quote

from ..base.errors import Problem
from ..catalog.rules import RULES
from ..catalog.rules.doc import DOC_PATH
from ..base.version import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
DOCS_URL = "https://github.com/bytefreezer/chartgen/blob/main/"
DRIVER = "chartgen-lint"
LEVELS = {"error": "error", "warning": "warning", "info": "note", "note": "note"}


# the characters of an absolute http(s) URL (RFC 3986's unreserved, reserved and '%'): no space,
# quote, '<', '>', '\\', '^', '`', '{', '|', '}' or control character
_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*)?")


def docs_base() -> tuple[str, str | None]:
    """The base URL of the docs, and a note when ``CHARTGEN_DOCS_URL`` is set but ignored: it
    must be an absolute http(s) URL without spaces, quotes or braces (a relative path, a
    ``javascript:`` URL or one with a space would make every ``helpUri`` invalid SARIF, or a
    link that runs code). An ignored setting never fails a run: the log says so."""
    value = os.environ.get("CHARTGEN_DOCS_URL")
    if not value:
        return DOCS_URL, None
    if _URL.fullmatch(value):
        return value, None
    return DOCS_URL, (f"CHARTGEN_DOCS_URL={value!r} is not an absolute http(s) URL (without spaces, quotes or "
                      f"braces); it was ignored and the help links point to {DOCS_URL}")


def docs_url(relative: str) -> str:
    """The absolute URL of a page of the docs (``docs/lint-rules.md#CG101``)."""
    return docs_base()[0].rstrip("/") + "/" + relative.lstrip("/")


def file_uri(path: str) -> str:
    """A file path as a SARIF artifact URI: a relative reference (or an absolute path) that no
    reader takes for a scheme or an authority: ``x:y.yaml`` is ``./x:y.yaml``, ``//h/a`` is
    ``/h/a``; everything but RFC 3986's path characters is percent-encoded."""
    uri = quote(path.replace(os.sep, "/"), safe="/:@-._~!$&'()*+,;=")
    if uri.startswith("//"):
        uri = "/" + uri.lstrip("/")
    elif ":" in uri.split("/", 1)[0]:
        uri = "./" + uri
    return uri


def log(rules: list[dict], results: list[dict], failure: str | None = None) -> str:
    run = {"tool": {"driver": {"name": DRIVER, "version": __version__, "informationUri": docs_url("README.md"),
                               "rules": rules}},
           "results": results}
    notes = [{"level": "warning", "message": {"text": note}} for note in [docs_base()[1]] if note]
    if failure is not None:
        # the run did not complete: say so, rather than print nothing (an upload needs a log)
        notes.append({"level": "error", "message": {"text": failure}})
    if notes:
        run["invocations"] = [{"executionSuccessful": failure is None, "toolExecutionNotifications": notes}]
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
