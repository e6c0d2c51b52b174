"""docs/catalog-rules.md, rendered from the rule table (``tools/catalog_rules_doc.py`` writes
it; a test keeps the committed page in step)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ...base.errors import CatalogError
from ..validate import parse_catalog
from .registry import MODEL, READER, RULES, SEMANTIC, Rule, example_catalog

DOC_PATH = "docs/catalog-rules.md"
_CHECKED_BY = {
    MODEL: "the catalog model (`chartgen/catalog/model.py`)",
    READER: "the catalog reader (`chartgen/base/yamlsrc.py`, `chartgen/base/reading.py`)",
}

_INTRO = """\
# Catalog rules

<!-- Generated from the rule table in chartgen/catalog/rules/ by `python tools/catalog_rules_doc.py`; do not edit. -->

Every command that reads the catalog (`chartgen validate`, `generate`, `diff`, `lint`, …) checks
it against these rules first, and reports every problem it finds at once, one a line:

```
catalog.yaml:7:13: error: services.web.calls[0]: service 'web' calls itself [self-call]
```

`file:line:col`, the catalog path of the value (or key) at fault, the message, and the rule id
in brackets; the exit code is 1. A part of the catalog that is structurally broken is set aside,
and the semantic rules still run on the rest (a problem is reported once, where it is).

Three layers enforce them: the catalog reader (the file is readable YAML), the catalog model
(types, enums, ranges, unknown keys; `chartgen schema` prints it as a JSON Schema for editors),
and the semantic checks, which need the whole catalog (references between parts, what an
environment's data plane can carry, the production guards). Each rule below shows a catalog
that breaks it (and only it) and the same catalog fixed; a test checks both.
"""


def _example(title: str, text: str) -> list[str]:
    return [f"{title}:", "", "```yaml", example_catalog(text).rstrip("\n"), "```", ""]


def _reported(example: str) -> list[str]:
    """What validating the example reports, one line a problem (as ``chartgen validate`` prints)."""
    try:
        parse_catalog(example_catalog(example), "catalog.yaml")
    except CatalogError as exc:
        return [p.format() for p in exc.problems]
    return []


def _checked_by(r: Rule) -> str:
    if r.source != SEMANTIC:
        return _CHECKED_BY[r.source]
    modules = dict.fromkeys(fn.__module__.replace(".", "/") + ".py" for _scope, fn in r.checks)
    checks = "the semantic checks (" + ", ".join(f"`{m}`" for m in modules) + ")"
    return f"{_CHECKED_BY[MODEL]} and {checks}" if r.model_too else checks


ChartChecks = Callable[[str], Sequence]
"""The chart's checks that refuse what a catalog rule refuses, by the rule's id
(``chart.invariants.by_catalog_rule``; the chart sits above the catalog, so its caller passes it)."""


def _chart_checks(r: Rule, chart_checks: ChartChecks) -> list[str]:
    """The chart's own checks of the same thing (chartgen/chart/invariants.py), if any."""
    same = chart_checks(r.id)
    if not same:
        return []
    names = ", ".join(f"`{inv.id}`" for inv in same)
    return [f"The chart refuses the same in values it is given when it renders ({names}, "
            "`chartgen/chart/invariants.py`).", ""]


def _rule(r: Rule, chart_checks: ChartChecks) -> list[str]:
    out = [f'<a id="{r.id}"></a>', f"### {r.id}", "", f"{r.summary}. Checked by {_checked_by(r)}.", ""]
    out += _chart_checks(r, chart_checks)
    if r.fail is None:
        out += [f"Fails when {r.note}.", ""]
    else:
        out += _example("Fails", r.fail) + ["`chartgen validate` reports:", "", "```", *_reported(r.fail), "```", ""]
    return out + _example("Passes", r.ok)


def render(chart_checks: ChartChecks) -> str:
    """The page; ``chart_checks`` gives the chart's checks of each rule's id."""
    sections: dict[str, list[Rule]] = {}
    for r in RULES.values():
        sections.setdefault(r.section, []).append(r)
    lines = _INTRO.splitlines() + [""]
    for section, rules in sections.items():
        lines.append(f"- {section}: " + ", ".join(f"[{r.id}](#{r.id})" for r in rules))
    lines.append("")
    for section, rules in sections.items():
        lines += [f"## {section}", ""]
        for r in rules:
            lines += _rule(r, chart_checks)
    return "\n".join(lines).rstrip("\n") + "\n"
