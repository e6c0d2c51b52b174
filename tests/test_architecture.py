"""Structural limits of the code base, checked on every run: no function above cyclomatic
complexity 20 (radon's measure) and no helper template file of the chart over 250 lines.

There are no exceptions: a function over the limit is split by meaning (a helper per
concern, a table of rules), and a helper file over it is split by concern."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Function

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("chartgen", "tools", "benchmarks", "tests")
MAX_COMPLEXITY = 20
MAX_HELPER_LINES = 250
HELPERS = ROOT / "chartgen" / "chart" / "static" / "templates"


def _functions(blocks, prefix: str = ""):
    for block in blocks:
        if isinstance(block, Function):
            name = prefix + (block.fullname if not prefix else block.name)
            yield name, block.complexity
            yield from _functions(block.closures, name + ".")
        else:  # a class: its methods are listed on their own by cc_visit
            yield from _functions(getattr(block, "inner_classes", []), prefix + block.name + ".")


def complexities() -> dict[str, int]:
    out: dict[str, int] = {}
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for name, value in _functions(cc_visit(path.read_text(encoding="utf-8"))):
                out[f"{rel}::{name}"] = max(value, out.get(f"{rel}::{name}", 0))
    return out


def test_no_function_above_the_complexity_limit():
    measured = complexities()
    assert len(measured) > 500  # the walk reached the code base
    over = sorted(f"{name} ({value})" for name, value in measured.items() if value > MAX_COMPLEXITY)
    assert not over, f"functions above complexity {MAX_COMPLEXITY}; split them: {over}"


def test_no_helper_template_file_over_the_line_limit():
    lengths = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in HELPERS.glob("_*.tpl")}
    assert lengths, "no helper templates found"
    over = sorted(f"{name} ({n})" for name, n in lengths.items() if n > MAX_HELPER_LINES)
    assert not over, f"helper templates over {MAX_HELPER_LINES} lines; split them by concern: {over}"


def test_function_names_follow_python_conventions():
    """snake_case, as PEP 8 has it. The only exception: the CEL library functions that
    crdcheck implements under their CEL names (isURL, getHost, …), which CEL rules call."""
    import ast
    import re

    camel = re.compile(r"[a-z0-9][A-Z]")
    found = []
    for path in sorted((ROOT / "chartgen").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        cel = {id(n) for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef) and fn.name == "_cel_functions"
               for n in ast.walk(fn) if n is not fn}
        found += [f"{path.relative_to(ROOT)}:{n.lineno}: {n.name}" for n in ast.walk(tree)
                  if isinstance(n, ast.FunctionDef) and camel.search(n.name) and id(n) not in cel]
    assert found == []


def _templates() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(HELPERS.iterdir()) if p.is_file()}


def test_no_template_writes_yaml_with_printf():
    """Objects are template text and toYaml; printf builds only strings (names, hosts,
    messages): no format string holds a line break or a YAML key or list item."""
    import re

    built = []
    for name, text in _templates().items():
        for fmt in re.findall(r'printf\s+"((?:[^"\\]|\\.)*)"', text):
            if "\\n" in fmt or re.search(r"^\s*[A-Za-z]+:(\s|$)|^\s*- ", fmt):
                built.append(f"{name}: printf {fmt!r}")
    assert built == []
    assert sum(text.count("printf") for text in _templates().values()) > 10  # the scan saw the templates


def test_the_model_is_the_only_value_kept_on_the_root_context():
    """docs/architecture.md, "The chart's templates": one derivation is shared between
    template files, on the root context; nothing else is cached there."""
    import re

    kept = {key for text in _templates().values() for key in re.findall(r"\b(_chartgen\w*)", text)}
    assert kept == {"_chartgenModel"}
    stores = [f"{name}: {line.strip()}" for name, text in _templates().items() for line in text.splitlines()
              if re.search(r'\bset\s+(\$|\$root|\.)\s+"', line)]
    assert len(stores) == 1 and '"_chartgenModel"' in stores[0], stores
