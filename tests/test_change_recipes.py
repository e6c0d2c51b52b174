"""The recipes of docs/architecture.md ("Where a change goes") hold: every file, command and
Python name they mention exists, and the registrations they list are the only ones there are
(a rules module is imported by the table, a lint check is called and documented, a lint family
is in the recipe's table, a command is its module and one row)."""

from __future__ import annotations

import ast
import builtins
import importlib
import importlib.util
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

from click.testing import CliRunner

from chartgen.analyzer.findings import RULES as LINT_RULES
from chartgen.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "chartgen"
TESTS = ROOT / "tests"
TEMPLATES = PACKAGE / "chart" / "static" / "templates"
DOC = ROOT / "docs" / "architecture.md"
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]

# where a bare or relative path of the recipes may live
BASES = (ROOT, PACKAGE, TESTS, TEMPLATES, ROOT / "charts" / "bytefreezer-mesh")
PATH = re.compile(r"^[\w.<>-]*(/[\w.<>-]*)*$")
DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+(\(.*\))?$")
IDENTIFIER = re.compile(r"^_?[A-Za-z]\w*(\(.*\))?$")
HELM_FUNCTIONS = {"toYaml"}


def _recipes() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index("## Where a change goes"):text.index("### The exercises, carried out")]


def _recipe(title: str) -> str:
    """One recipe: from its bold title to the next one."""
    text = _recipes()
    start = text.index(f"**A new {title}.**")
    end = text.find("**A new ", start + 1)
    return text[start:end if end != -1 else None]


def _mentions() -> list[str]:
    return sorted(set(re.findall(r"`([^`\n]+)`", _recipes())))


@cache
def _defined_names() -> frozenset[str]:
    """Every function, class and module-level name defined in chartgen and the tests, and the
    templates' define names."""
    names = set()
    for path in [*PACKAGE.rglob("*.py"), *TESTS.rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    for path in TEMPLATES.glob("*.tpl"):
        names |= set(re.findall(r'define "([\w.]+)"', path.read_text(encoding="utf-8")))
    return frozenset(names)


def _path_exists(token: str) -> bool:
    """A path, up to its first placeholder (commands/<name>.py: commands/)."""
    fixed = token.split("<", 1)[0]
    fixed = fixed.rsplit("/", 1)[0] + "/" if "<" in token else fixed
    if "/" not in fixed.rstrip("/"):
        return any((base / fixed).exists() for base in BASES) or any(PACKAGE.rglob(fixed))
    return any((base / fixed).exists() for base in BASES)


def _resolves(dotted: str) -> bool:
    """``a.b.c``: a module (of chartgen, of its packages, of the tests, or installed) and
    attributes of it."""
    parts = dotted.split("(", 1)[0].split(".")
    packages = ["chartgen."] + [
        "chartgen." + ".".join(p.parent.relative_to(PACKAGE).parts) + "." for p in PACKAGE.rglob("__init__.py")
        if p.parent != PACKAGE]
    for n in range(len(parts), 0, -1):
        for prefix in ["", *packages]:
            name = prefix + ".".join(parts[:n])
            try:
                found = importlib.util.find_spec(name) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                continue
            obj = importlib.import_module(name)
            try:
                for attr in parts[n:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                continue
            return True
    return False


def _command_exists(command: str) -> bool:
    words = command.split()
    if words[0] == "make":
        return re.search(rf"^{re.escape(words[1])}:", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M) is not None
    if words[:2] == ["python", "-m"]:
        return importlib.util.find_spec(words[2]) is not None
    if words[0] == "python":
        return (ROOT / words[1]).is_file()
    if words[0] == "pytest":
        return all((ROOT / w).is_file() for w in words if w.startswith("tests/"))
    if words[0] == "chartgen":
        return words[1] in COMMANDS or words[1] in ("--help", "--version")
    return False


def test_every_file_command_and_name_the_recipes_mention_exists():
    defined = _defined_names()
    missing = []
    for token in _mentions():
        if token.split()[0] in ("make", "python", "pytest", "chartgen"):
            ok = _command_exists(token)
        elif token.startswith("<a id="):  # the lint section's anchor, shown as written
            ok = True
        elif "/" in token or re.search(r"\.(py|md|tpl|json|yaml|toml)$", token):
            ok = PATH.match(token) is not None and _path_exists(token)
        elif DOTTED.match(token):
            parts = token.split("(", 1)[0].split(".")
            # a module's name, or a class's (Layer.loc), or a template's define (chartgen.fail)
            ok = _resolves(token) or {parts[0], parts[-1]} <= defined or ".".join(parts) in defined
        elif IDENTIFIER.match(token) and (token[1:] != token[1:].lower() or "_" in token):
            name = token.split("(", 1)[0]
            ok = name in defined or name in HELM_FUNCTIONS or hasattr(builtins, name)
        else:  # a code, a key, a word
            ok = True
        if not ok:
            missing.append(token)
    assert missing == [], f"docs/architecture.md's recipes name what is not there: {missing}"


def test_the_checker_finds_a_wrong_name():
    """The test above can fail: a file, command or name that is not there is caught."""
    assert not _path_exists("catalog/rules/nothing.py") and _path_exists("catalog/rules/traffic.py")
    assert not _command_exists("make nothing") and _command_exists("make schema")
    assert not _command_exists("python -m chartgen.chart.nothing") and _command_exists("python tools/catalog_rules_doc.py")
    assert not _resolves("cli.NOTHING") and _resolves("cli.COMMANDS") and _resolves("security.check_security")
    assert "check_security" in _defined_names() and "chartgen.fail" in _defined_names()


# --- a catalog rule -----------------------------------------------------------------------------


def test_every_rules_module_is_imported_by_the_table():
    """A rule is registered when its module is imported: a rules module that
    catalog/rules/__init__.py leaves out would have its rules silently never run."""
    rules_dir = PACKAGE / "catalog" / "rules"
    init = ast.parse((rules_dir / "__init__.py").read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(init) if isinstance(n, ast.ImportFrom) and n.module is None for a in n.names}
    registering = set()
    for path in rules_dir.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "registry" and \
                    {a.name for a in node.names} & {"rule", "check"}:
                registering.add(path.stem)
    assert registering and registering <= imported, sorted(registering - imported)


# --- a lint check -------------------------------------------------------------------------------


@cache
def _code_modules() -> dict[str, set[str]]:
    """{module path relative to chartgen/: the lint codes it reports} (the table itself aside)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "analyzer/findings.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        codes = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in LINT_RULES}
        if codes:
            out[rel] = codes
    return out


def _lint_table() -> list[tuple[str, str]]:
    """(module, entry point) of each row of the lint recipe's table."""
    rows = []
    for line in _recipe("lint check").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`") and "/" in cells[1]:
            rows.append((re.findall(r"`([^`]+)`", cells[1])[0], cells[2]))
    return rows


def test_every_module_that_reports_lint_codes_is_in_the_recipes_table():
    named = {module for module, _ in _lint_table()}
    assert sorted(set(_code_modules()) - named) == [], "add the family to the lint recipe of docs/architecture.md"


def test_each_lint_familys_entry_point_is_in_its_module_and_run_by_analyze():
    runner = ast.parse((PACKAGE / "analyzer" / "runner.py").read_text(encoding="utf-8"))
    analyze = next(n for n in ast.walk(runner) if isinstance(n, ast.FunctionDef) and n.name == "analyze")
    called = {ast.unparse(c.func) for c in ast.walk(analyze) if isinstance(c, ast.Call)}
    rows = _lint_table()
    assert len(rows) >= 8
    for module, entry in rows:
        name, *where = re.findall(r"`([^`]+)`", entry)
        source = (PACKAGE / (where[0] if where else module)).read_text(encoding="utf-8")
        assert f"def {name}(" in source, (module, entry)
        assert name in called, f"analyzer/runner.analyze does not call {name}"


def test_every_lint_check_function_is_called():
    """A function that reports a lint code is reached: something in its module refers to it
    (a call, or a table of checks), or, if public, some other module does."""
    everything = {p: p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}
    uncalled = []
    for rel in _code_modules():
        path = PACKAGE / rel
        tree = ast.parse(everything[path])
        for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
            if not any(isinstance(n, ast.Constant) and n.value in LINT_RULES for n in ast.walk(fn)):
                continue
            inside = {id(n) for n in ast.walk(fn)}
            here = any(isinstance(n, ast.Name) and n.id == fn.name and id(n) not in inside for n in ast.walk(tree))
            elsewhere = not fn.name.startswith("_") and any(
                re.search(rf"\b{fn.name}\b", text) for p, text in everything.items() if p != path)
            if not (here or elsewhere):
                uncalled.append(f"{rel}:{fn.name}")
    assert uncalled == [], "call each check from its family's entry point"


def test_every_lint_code_has_its_section_in_lint_rules_md():
    doc = (ROOT / "docs" / "lint-rules.md").read_text(encoding="utf-8")
    assert [code for code in LINT_RULES if f'<a id="{code}"></a>' not in doc] == []


# --- a command -------------------------------------------------------------------------------------

PROBE = '''\
"""``chartgen probe-recipe``: a command added the way docs/architecture.md says."""

import click

from chartgen.commands import options
from chartgen.commands.common import Ctx, run_guarded


@click.command("probe-recipe")
@options.output_format("text", "json")
@click.pass_obj
def command(obj: Ctx, fmt):
    """Print what a new command needs: its module and one row.

    \\b
    Example:
      chartgen probe-recipe
    """
    run_guarded(lambda: click.echo(f"module and row ({fmt})"), obj)
'''


def test_a_new_command_is_its_module_and_one_row(tmp_path, monkeypatch):
    """A module that defines ``command`` and one row in cli.COMMANDS: `chartgen --help` lists
    it with its summary and it runs; nothing else registers it."""
    name = "chartgen.commands.probe_recipe"
    (tmp_path / "probe_recipe.py").write_text(PROBE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, tmp_path / "probe_recipe.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    summary = "Print what a new command needs: its module and one row."
    monkeypatch.setitem(COMMANDS, "probe-recipe", (name, summary))
    monkeypatch.setattr(cli, "commands", dict(cli.commands))  # the group caches the commands it loaded
    assert module.command.get_short_help_str(limit=1000) == summary  # what tests/test_cli_commands.py requires
    listed = CliRunner().invoke(cli, ["--help"], terminal_width=100).output
    assert f"  probe-recipe  {summary}" in listed
    r = CliRunner().invoke(cli, ["probe-recipe", "--format", "json"])
    assert (r.exit_code, r.output) == (0, "module and row (json)\n")


def test_the_import_contracts_take_a_new_command_as_it_is():
    """The contracts name the commands by wildcard: a new command module needs no contract."""
    layers = next(c for c in CONTRACTS if c["id"] == "layers")["layers"]
    assert "commands" in layers
    independent = next(c for c in CONTRACTS if c["id"] == "commands-independent")
    assert independent["modules"] == ["chartgen.commands.*"]
    assert not [c["id"] for c in CONTRACTS if any(re.match(r"chartgen\.commands\.[a-z]", m)
                                                  for m in c.get("modules", []) + c.get("source_modules", []))
                if c["id"] != "commands-shared"]
