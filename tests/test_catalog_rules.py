"""The catalog rule table (chartgen.catalog.rules): each rule's examples break exactly that rule or
validate, every rule id chartgen can report is in the table, and docs/catalog-rules.md is
the table's rendering."""

from __future__ import annotations

import ast
import codecs
import re
from pathlib import Path

import pytest

from chartgen.catalog import validate
from chartgen.base.errors import CatalogError
from chartgen.catalog.rules import RULES, example_catalog
from chartgen.catalog.rules.doc import DOC_PATH, render
from chartgen.chart.invariants import INVARIANTS, by_catalog_rule
from chartgen.catalog.rules.registry import MODEL, READER, SEMANTIC
from chartgen.catalog.validate import load_catalog, parse_catalog

ROOT = Path(__file__).resolve().parent.parent
WITH_FAIL = sorted(r.id for r in RULES.values() if r.fail is not None)


def _rules_reported(text: str) -> list[str]:
    try:
        parse_catalog(text, "catalog.yaml")
    except CatalogError as exc:
        return sorted({p.rule for p in exc.problems})
    return []


@pytest.mark.parametrize("rule_id", WITH_FAIL)
def test_failing_example_breaks_exactly_its_rule(rule_id):
    assert _rules_reported(example_catalog(RULES[rule_id].fail)) == [rule_id]


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_passing_example_validates(rule_id):
    assert _rules_reported(example_catalog(RULES[rule_id].ok)) == []


def test_rules_without_an_example_catalog_are_reported_as_described(tmp_path, monkeypatch):
    assert {r.id for r in RULES.values() if r.fail is None} == {"io", "encoding", "yaml-depth", "configmap-size"}
    assert all(r.note for r in RULES.values() if r.fail is None)
    text = example_catalog(RULES["encoding"].ok)
    (tmp_path / "utf16.yaml").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    for name, rule_id in (("missing.yaml", "io"), ("utf16.yaml", "encoding"), (".", "io")):
        with pytest.raises(CatalogError) as info:
            load_catalog(tmp_path / name)
        assert [p.rule for p in info.value.problems] == [rule_id]

    def too_deep(*_args):
        raise RecursionError

    big = example_catalog(RULES["configmap-size"].ok.replace("MODE: fast", "MODE: '" + "x" * (1 << 20) + "'"))
    assert _rules_reported(big) == ["configmap-size"]

    monkeypatch.setattr(validate, "load_yaml", too_deep)
    with pytest.raises(CatalogError) as info:
        parse_catalog(text)
    assert [p.rule for p in info.value.problems] == ["yaml-depth"]


def _literal(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


# where the catalog's reader and model name their rules: call -> the argument that is the id
_ID_ARGUMENT = {"_check": 0, "PydanticCustomError": 0, "_pattern_str": 1, "_problem": 3, "Problem": -1}


def _ids_in_source(module: str) -> set[str]:
    ids = set()
    for node in ast.walk(ast.parse((ROOT / "chartgen" / module).read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name in _ID_ARGUMENT and len(node.args) > max(_ID_ARGUMENT[name], 0):
            rule_id = _literal(node.args[_ID_ARGUMENT[name]])
            if rule_id is not None and rule_id != "":
                ids.add(rule_id)
    return ids


def test_every_rule_id_chartgen_can_report_is_in_the_table():
    mapped = {rule_id for rule_id, _message in validate.PYDANTIC_RULES.values()}
    assert mapped == {"type", "enum", "length", "range", "pattern"}
    own = _ids_in_source("catalog/validate.py")  # reading the file, and the pydantic errors it words itself
    assert own == {"io", "type", "required", "unknown-key"}
    model = _ids_in_source("catalog/model.py") | mapped | (own - {"io"})
    reader = _ids_in_source("base/yamlsrc.py") | _ids_in_source("base/reading.py") | {"io"}
    assert len(model) > 40 and {"required", "unknown-key", "port-range", "dns-1123"} <= model
    assert reader == {"yaml-syntax", "duplicate-key", "yaml-limits", "yaml-depth", "encoding", "io"}
    assert model == {r.id for r in RULES.values() if r.source == MODEL or r.model_too}
    assert reader == {r.id for r in RULES.values() if r.source == READER}
    # the rest of the table is checked by chartgen.catalog.rules, which tags each hit with its rule's id
    assert set(RULES) - model - reader == {r.id for r in RULES.values() if r.source == SEMANTIC and not r.model_too}


def test_every_rule_is_checked_where_the_table_says():
    for r in RULES.values():
        assert r.summary and not r.summary.endswith(".") and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r.id), r.id
        assert (r.source == SEMANTIC) == bool(r.checks), r.id
        assert r.source in (SEMANTIC, MODEL, READER)


def test_every_rule_id_of_the_invalid_corpus_is_in_the_table():
    reported = set()
    for err in (ROOT / "tests" / "fixtures" / "invalid").glob("*.err"):
        reported |= set(re.findall(r"\[([a-z0-9-]+)\]$", err.read_text(encoding="utf-8"), re.M))
    assert len(reported) > 30
    assert reported <= set(RULES), sorted(reported - set(RULES))


def test_every_chart_invariant_is_refused_by_a_rule_of_the_table():
    doc = (ROOT / DOC_PATH).read_text(encoding="utf-8")
    for inv in INVARIANTS:
        if inv.catalog_rule is None:  # no catalog can produce such values
            continue
        assert inv.catalog_rule in RULES, inv.id
        section = doc.split(f'<a id="{inv.catalog_rule}"></a>')[1].split("<a id=")[0]
        assert f"`{inv.id}`" in section, inv.id


def test_doc_is_in_step_with_the_table():
    doc = (ROOT / DOC_PATH).read_text(encoding="utf-8")
    assert doc == render(by_catalog_rule), "docs/catalog-rules.md is out of date; run `python tools/catalog_rules_doc.py`"
    for rule_id in RULES:
        assert f'<a id="{rule_id}"></a>' in doc
