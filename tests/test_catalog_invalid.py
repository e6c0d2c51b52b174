"""The invalid-catalog corpus: each file's exact error output is a golden file."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartgen.base.errors import CatalogError
from chartgen.catalog.validate import load_catalog

INVALID = Path(__file__).resolve().parent / "fixtures" / "invalid"
CASES = sorted(p.stem for p in INVALID.glob("*.yaml"))


def test_corpus_is_large_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES)
def test_invalid_catalog_reports_located_errors(case, golden, monkeypatch):
    monkeypatch.chdir(INVALID)
    with pytest.raises(CatalogError) as info:
        load_catalog(f"{case}.yaml")
    problems = info.value.problems
    assert problems, "an invalid catalog must report at least one problem"
    for p in problems:
        assert p.file == f"{case}.yaml"
        assert p.line >= 1 and p.col >= 1, p
        assert p.rule and " " not in p.rule
    golden(INVALID / f"{case}.err", "".join(p.format() + "\n" for p in problems))


def test_several_mistakes_are_all_reported(monkeypatch):
    monkeypatch.chdir(INVALID)
    with pytest.raises(CatalogError) as info:
        load_catalog("several-mistakes.yaml")
    rules = sorted(p.rule for p in info.value.problems)
    assert rules == ["canary-weights", "enum", "https-credential", "port-range", "unknown-service"]
    lines = [p.line for p in info.value.problems]
    assert lines == sorted(lines) and len(set(lines)) == 5
