"""The architecture as checked contracts: the import-linter contracts of pyproject.toml hold
(`lint-imports`), every module of chartgen is in a layer, the import graph has no cycle, an
import inside a function says why, and docs/architecture.md's layer table is the contracts'."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter import configuration
from importlinter.application.use_cases import lint_imports

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "chartgen"
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
# why an import may stay inside a function: an optional dependency, or the start-up time of a heavy one
REASONS = ("# optional:", "# start-up:")


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("chartgen")


def test_the_import_contracts_hold(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # lint-imports' cache stays out of the checkout
    configuration.configure()  # what the `lint-imports` entry point does first
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None, no_logo=True), \
        "run `lint-imports` for the broken contract and how to mend it"


def _layered() -> set[str]:
    """Every module a layers contract names (a package names its submodules too)."""
    out = set()
    for contract in CONTRACTS:
        if contract["type"] != "layers":
            continue
        for container in contract.get("containers", [""]):
            for layer in contract["layers"]:
                out |= {f"{container}.{m.strip()}".lstrip(".") for m in layer.replace(":", "|").split("|")}
    return out


def test_every_module_is_in_a_layer(graph):
    layered = _layered()
    missing = sorted(m for m in graph.modules if m != "chartgen"
                     and not any(m == x or m.startswith(x + ".") for x in layered))
    assert not missing, (f"{missing}: add each to the layer of what it is in pyproject.toml "
                         "([tool.importlinter] contracts), then run `python tools/architecture_doc.py`")
    # and the contracts name no module that does not exist
    assert sorted(x for x in layered if x not in graph.modules) == []


def _cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_the_import_graph_has_no_cycle(graph):
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    cyclic = grimp.ImportGraph()
    for module in ("a", "a.b", "a.c", "a.d"):
        cyclic.add_module(module)
    cyclic.add_import(importer="a.b", imported="a.c")
    cyclic.add_import(importer="a.c", imported="a.b")
    cyclic.add_import(importer="a.c", imported="a.d")
    assert _cycles(cyclic) == [["a.b", "a.c"]]


def test_an_import_inside_a_function_says_why():
    """An import runs at the top of its module; one inside a function hides a dependency
    (and, once, hid two cycles), so it stays only with its reason on the line."""
    unexplained = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for fn in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)) and \
                            not any(r in lines[node.lineno - 1] for r in REASONS):
                        unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not unexplained, f"move these to the top of the module, or say why on the line ({REASONS}): {unexplained}"


def test_the_layer_table_of_the_architecture_page_is_the_contracts():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import architecture_doc
    finally:
        sys.path.remove(str(ROOT / "tools"))
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert architecture_doc.render(doc) == doc, "run `python tools/architecture_doc.py`"
    for layer in next(c for c in CONTRACTS if c["id"] == "layers")["layers"]:
        for module in layer.replace(":", "|").split("|"):
            assert f"`{module.strip()}`" in doc or f"`{module.strip()}/`" in doc


@pytest.mark.integration
def test_the_command_line_starts_without_the_library():
    """`chartgen --help` (and the start of every command) imports no command module and no
    library module: the command table lists them (start-up time)."""
    code = ("import sys; from chartgen.cli import cli; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('chartgen'))))")
    loaded = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                            check=True).stdout
    assert json.loads(loaded) == ["chartgen", "chartgen.base", "chartgen.base.errors", "chartgen.base.version",
                                  "chartgen.cli", "chartgen.commands", "chartgen.commands.common"]


def test_the_architecture_page_names_files_that_exist():
    """A file the page names with its directory is there (analyzer/webhook.py,
    chartgen/base/crdcheck.py, commands/common.py), and a bare name is somewhere in chartgen."""
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    templates = PACKAGE / "chart" / "static"
    missing = []
    for name in sorted(set(re.findall(r"`([A-Za-z_][\w/.]*\.(?:py|tpl))`", doc))):
        if "/" in name:
            found = any((base / name).is_file() for base in (ROOT, PACKAGE, templates))
        else:
            found = any(PACKAGE.rglob(name))
        if not found:
            missing.append(name)
    assert missing == []


def test_only_the_command_line_prints():
    """cli and commands print; the library returns results. Two programs of chartgen's own
    print too: the values contract generator and the checkov driver lint runs as a process."""
    own_programs = {"chartgen/chart/values_contract.py", "chartgen/analyzer/checkov_driver.py"}
    printing = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "chartgen/cli.py" or rel.startswith("chartgen/commands/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and (getattr(node.func, "id", None) == "print" or (
                    isinstance(node.func, ast.Attribute) and ast.unparse(node.func) in
                    ("sys.stdout.write", "sys.stderr.write", "click.echo", "json.dump"))):
                printing.add(rel)
    assert printing == own_programs


def test_the_folders_are_the_layers():
    """A newcomer opening chartgen/ sees the layers as folders: besides the entry points
    (`__main__`, `cli`), every module lives in a package, and every package is a layer of the
    main contract or one of a layer's independent packages, with a contract of its own when it has
    more than one module."""
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert top == ["__main__", "cli"]
    layers = [m.strip() for layer in next(c for c in CONTRACTS if c["id"] == "layers")["layers"]
              for m in layer.replace(":", "|").split("|")]
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert sorted(m for m in layers if m not in top) == packages
    own = {c["id"] for c in CONTRACTS}
    several = [p for p in packages if len([m for m in (PACKAGE / p).glob("*.py") if m.stem != "__init__"]) > 1]
    assert [p for p in several if p not in own and p != "commands"] == []


def test_no_import_is_exempt_from_the_layers():
    """The architecture page says no import runs up the layers: the contracts that order modules
    ignore none (the command contracts' ignores only let every command use the shared helpers)."""
    exempt = {c["id"]: c.get("ignore_imports") for c in CONTRACTS if c["type"] == "layers" and c.get("ignore_imports")}
    assert exempt == {}


def test_the_renderers_read_only_chartgens_own_package_data():
    """docs/architecture.md, "Pure renderers": they read nothing but chartgen's package data.
    Beyond the pure-renderers contract (no reading or writing module, no program), none opens a
    path, builds one, or reads the environment; what they read comes from
    `importlib.resources.files("chartgen")`."""
    renderers = next(c for c in CONTRACTS if c["id"] == "pure-renderers")["source_modules"]
    found = []
    for module in renderers:
        path = ROOT / (module.replace(".", "/") + ".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = ast.unparse(node) if isinstance(node, (ast.Call, ast.Attribute)) else ""
            if isinstance(node, ast.Call) and text.startswith(("open(", "Path(", "os.getenv(", "io.open(")):
                found.append(f"{module}: {text[:60]}")
            elif isinstance(node, ast.Attribute) and text in ("os.environ", "sys.argv", "sys.stdin"):
                found.append(f"{module}: {text}")
            elif isinstance(node, ast.Call) and text.startswith("resources.files(") and text != "resources.files('chartgen')":
                found.append(f"{module}: {text}")
    assert len(renderers) >= 7 and found == []
