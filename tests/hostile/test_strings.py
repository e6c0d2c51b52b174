"""Issue 24, strings: whole-string matching (a trailing newline never passes a pattern),
invisible and bidirectional control characters, and SARIF that stays valid for any file
name and documentation URL."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from chartgen.base.errors import CatalogError
from chartgen.catalog.validate import parse_catalog

ROOT = Path(__file__).resolve().parent.parent.parent
BASE = yaml.safe_load((ROOT / "catalog.yaml").read_text(encoding="utf-8"))


def _with(path: tuple, value) -> dict:
    doc = copy.deepcopy(BASE)
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return doc


def _problems(doc: dict) -> list:
    try:
        parse_catalog(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), "catalog.yaml")
    except CatalogError as exc:
        return exc.problems
    return []


# --- 11. whole-string matching ----------------------------------------------------------------

TRAILING = [  # (catalog path, a valid value)
    (("gitops", "repoURL"), "https://github.com/bytefreezer/chartgen.git"),
    (("gitops", "revision"), "main"),
    (("gitops", "path"), "deploy/mesh"),
    (("gitops", "argocd", "clusters", "prod"), {"server": "https://10.0.0.1:6443"}),
    (("gitops", "argocd", "clusters", "prod"), {"name": "prod-cluster"}),
    (("metadata", "license"), "Apache-2.0"),
]


@pytest.mark.parametrize("path,valid", TRAILING, ids=[".".join(p) + (f".{next(iter(v))}" if isinstance(v, dict) else "")
                                                     for p, v in TRAILING])
@pytest.mark.parametrize("tail", ["\n", "\r\n", "\n\n"], ids=["lf", "crlf", "2lf"])
def test_a_trailing_newline_never_passes_a_pattern(path, valid, tail):
    assert _problems(_with(path, valid)) == []
    if isinstance(valid, dict):
        (key, value), = valid.items()
        bad = {key: value + tail}
    else:
        bad = valid + tail
    problems = _problems(_with(path, bad))
    assert problems, f"{'.'.join(path)}: {bad!r} was accepted"
    assert all(p.line > 0 and p.rule for p in problems)


def _anchored_patterns(trees) -> set[str]:
    """The names of the compiled patterns that end in ``$`` (not line anchors under re.M)."""
    import ast
    import re

    anchored: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            call = node.value if isinstance(node, ast.Assign) else None
            if not (isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "compile" and call.args):
                continue
            if re.search(r"\$['\"]\)?$", ast.unparse(call.args[0])) and "re.M" not in ast.unparse(call):
                anchored |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return anchored


def _prefix_matches(trees, anchored: set[str]) -> list[str]:
    import ast
    import re

    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "match"):
                continue
            target = node.func.value
            name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
            pattern = ast.unparse(node.args[0]) if name == "re" and node.args else ""
            if name in anchored or (name == "re" and re.search(r"\$['\"]$", pattern)):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_anchored_pattern_is_matched_by_prefix():
    """``re.match`` with a pattern ending in ``$`` accepts a trailing newline; every pattern
    that ends in ``$`` is used with ``fullmatch`` (or ``$`` is a line anchor under re.M)."""
    import ast

    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "chartgen").rglob("*.py"))}
    anchored = _anchored_patterns(trees)
    assert {"GIT_URL", "SEMVER", "CLUSTER_SERVER"} <= anchored
    assert _prefix_matches(trees, anchored) == []


# --- 12. invisible and bidirectional control characters ---------------------------------------

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202e", "\u2060", "\u2066", "\u2069",
             "\ufeff", "\u00ad", "\u061c"]
SVC = ("services", "proxy")
REACHING = [  # (catalog path, a value it accepts; the character is put into its last string)
    (SVC + ("expose", "paths"), ["/api"]),
    (SVC + ("routes",), [{"name": "beta", "version": "v2", "match": {"headers": {"x-beta": {"exact": "true"}}}}]),
    (SVC + ("routes",), [{"name": "beta", "version": "v2", "match": {"headers": {"x-beta": {"prefix": "tr"}}}}]),
    (("environments", "dev", "kubeContext"), "kind-dev"),
    (("metadata", "description"), "ByteFreezer mesh"),
    (SVC + ("description",), "the proxy"),
]


def _poison(value, char):
    if isinstance(value, str):
        return value[:2] + char + value[2:]
    if isinstance(value, list):
        return [_poison(value[0], char)] + value[1:]
    key = list(value)[-1]
    return {**value, key: _poison(value[key], char)}


@pytest.mark.parametrize("path,valid", REACHING, ids=[".".join(p[-2:]) + str(i) for i, (p, _) in enumerate(REACHING)])
@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_characters_are_a_located_error(path, valid, char):
    from chartgen.catalog.rules import RULES

    assert _problems(_with(path, valid)) == []
    problems = _problems(_with(path, _poison(valid, char)))
    assert [p.rule for p in problems] == ["invisible-character"], problems
    assert problems[0].line > 0 and f"U+{ord(char):04X}" in problems[0].message
    assert char not in problems[0].message  # the message shows the character escaped, never raw
    assert "invisible-character" in RULES


def test_a_query_parameter_name_is_checked_too():
    route = {"name": "beta", "version": "v2", "match": {"queryParams": {"beta": {"exact": "1"}}}}
    assert _problems(_with(SVC + ("routes",), [route])) == []
    for name, rule in (("be\u200bta", "invisible-character"), ("be\nta", "text")):
        poisoned = {**route, "match": {"queryParams": {name: {"exact": "1"}}}}
        assert [p.rule for p in _problems(_with(SVC + ("routes",), [poisoned]))] == [rule]


def test_the_cli_prints_a_located_invisible_character_error(tmp_path):
    from conftest import run_cli

    text = (ROOT / "catalog.yaml").read_text(encoding="utf-8").replace("kubeContext: kind-bytefreezer-dev",
                                                                        'kubeContext: "kind-byte\\u202efreezer-dev"', 1)
    assert "\\u202e" in text
    (tmp_path / "catalog.yaml").write_text(text, encoding="utf-8")
    r = run_cli("validate", cwd=tmp_path)
    assert r.returncode == 1
    out = r.stdout + r.stderr
    line = out.strip().splitlines()[0]
    assert line.startswith("catalog.yaml:83:") and ": error: environments.dev.kubeContext: " in line
    assert line.endswith("[invisible-character]") and "Traceback" not in out
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in line and "\u202e" not in out


# --- 14. SARIF: documentation URLs and artifact URIs ------------------------------------------

MISTAKES = ROOT / "tests" / "fixtures" / "invalid" / "several-mistakes.yaml"
BAD_DOCS_URLS = ["docs", "docs/", "https://docs.example/a b/", "javascript:alert(1)//", "//evil.example/",
                 "https://docs.example/{{x}}/", "https://docs.example/\n", "file:///etc/", "https://", "https://docs.example/%zz/"]


def _sarif(tmp_path, name: str, env_extra: dict):
    import json
    import os
    import shutil

    from conftest import run_cli

    shutil.copy(MISTAKES, tmp_path / name)
    env = {k: v for k, v in os.environ.items() if k != "CHARTGEN_DOCS_URL"} | env_extra
    r = run_cli("validate", name, "--format", "sarif", cwd=tmp_path, env=env)
    assert r.returncode == 1
    return r.stdout, json.loads(r.stdout)["runs"][0]


@pytest.mark.parametrize("url", BAD_DOCS_URLS)
def test_a_docs_url_that_is_not_absolute_http_is_ignored_with_a_note(tmp_path, url):
    try:
        from helpers.sarif import sarif_errors
    except ImportError:  # tests/ imported as a package
        from tests.helpers.sarif import sarif_errors
    from chartgen.analyzer.sarif import DOCS_URL

    text, run = _sarif(tmp_path, "catalog.yaml", {"CHARTGEN_DOCS_URL": url})
    assert sarif_errors(text) == []
    assert all(r["helpUri"].startswith(DOCS_URL) for r in run["tool"]["driver"]["rules"])
    assert run["tool"]["driver"]["informationUri"].startswith(DOCS_URL)
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert notes[0]["level"] == "warning" and "CHARTGEN_DOCS_URL" in notes[0]["message"]["text"]
    assert run["invocations"][0]["executionSuccessful"] is True


def test_a_good_docs_url_is_used_without_a_note(tmp_path):
    _, run = _sarif(tmp_path, "catalog.yaml", {"CHARTGEN_DOCS_URL": "https://git.internal:8443/mesh/-/blob/v1/"})
    assert all(r["helpUri"].startswith("https://git.internal:8443/mesh/-/blob/v1/docs/")
               for r in run["tool"]["driver"]["rules"])
    assert "invocations" not in run


@pytest.mark.parametrize("name", ["x:y.yaml", "javascript:alert(1).yaml", "a b#c?.yaml", "100%.yaml"])
def test_artifact_uris_never_read_as_a_scheme(tmp_path, name):
    from urllib.parse import unquote, urlsplit

    try:
        from helpers.sarif import sarif_errors
    except ImportError:  # tests/ imported as a package
        from tests.helpers.sarif import sarif_errors

    text, run = _sarif(tmp_path, name, {})
    assert sarif_errors(text) == []
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"] for loc in r["locations"]}
    assert len(uris) == 1
    uri = uris.pop()
    parts = urlsplit(uri)
    assert parts.scheme == "" and parts.netloc == "" and parts.query == "" and parts.fragment == ""
    assert unquote(parts.path).removeprefix("./") == name
