"""Contracts defined once, checked on the source: the shared command-line options live in
``chartgen/commands/options.py``, tools run only through ``chartgen/base/toolchain.py``, and the
tool error types exist only in ``chartgen/base/errors.py``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "chartgen"
OPTIONS = PACKAGE / "commands" / "options.py"
# the flags more than one command takes; their declarations belong in the options module
SHARED_FLAGS = {"-c", "--catalog", "-o", "--out", "--format", "--color/--no-color", "--env", "--chart-mirror",
                "--helm", "--helmfile", "--dot", "--output", "--check", "--sign", "--key", "--keyring",
                "--passphrase-file", "--dry-run"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` (imports for annotations, never run)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            out |= {id(n) for n in ast.walk(node)}
    return out


def _flags(call: ast.Call) -> set[str]:
    """The flags an option declaration names (``click.option("-c", "--catalog", …)``,
    ``click.Option(["--debug"], …)``): its string arguments that start with a dash."""
    strings = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    for a in call.args:
        if isinstance(a, ast.List):
            strings += [e.value for e in a.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return {s for s in strings if s.startswith("-")}


def _declarations() -> list[tuple[Path, int, set[str]]]:
    return [(path, node.lineno, _flags(node)) for path, tree in _modules() for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("option", "Option")]


def test_shared_options_are_declared_only_in_the_options_module():
    declarations = _declarations()
    assert any(path == OPTIONS and "--catalog" in flags for path, _, flags in declarations)
    found = [f"{path.relative_to(ROOT)}:{line}: {sorted(flags)}" for path, line, flags in declarations
             if path != OPTIONS and flags & SHARED_FLAGS]
    assert not found, f"declare these in {OPTIONS.relative_to(ROOT)} and import them: {found}"
    # --debug is the CLI's own (it sets the context every command reads): one declaration, in cli.py
    debug = [(path.name, line) for path, line, flags in declarations if "--debug" in flags]
    assert [name for name, _ in debug] == ["cli.py"], debug


def test_a_flag_declared_by_two_commands_is_a_shared_option():
    """Any flag two command modules would declare each for themselves belongs in the options
    module (SHARED_FLAGS lists today's; this catches tomorrow's)."""
    where: dict[str, set[str]] = {}
    for path, _, flags in _declarations():
        if path != OPTIONS and path.parent == OPTIONS.parent:
            for flag in flags:
                where.setdefault(flag, set()).add(path.name)
    assert {flag: sorted(files) for flag, files in where.items() if len(files) > 1} == {}


def test_check_is_declared_once_per_meaning():
    """``--check`` means one of two things: check the files a command writes (a flag) or check
    one named file (``schema --check FILE``); each is declared once, in the options module."""
    checks = [(path, line) for path, line, flags in _declarations() if "--check" in flags]
    assert [path for path, _ in checks] == [OPTIONS, OPTIONS], checks
    from chartgen.cli import cli
    from click.testing import CliRunner

    helps = {name: CliRunner().invoke(cli, [*name.split(), "--help"]).output for name in ("generate", "export", "schema")}
    assert "--check " in helps["generate"] and "--check " in helps["export"] and "--check FILE" in helps["schema"]


def test_tools_run_only_through_the_tool_runner():
    runner = PACKAGE / "base" / "toolchain.py"
    found = []
    for path, tree in _modules():
        annotations = _type_checking_only(tree)
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if path != runner and id(node) not in annotations and any(n.split(".")[0] == "subprocess" for n in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Attribute) and node.attr in ("system", "popen", "spawnv", "execv") \
                    and getattr(node.value, "id", None) == "os":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: os.{node.attr}")
    assert not found, f"run tools with chartgen.base.toolchain.run/start (one timeout, one error): {found}"


def test_the_tool_errors_are_defined_once():
    defined = [(path.relative_to(ROOT).as_posix(), node.name) for path, tree in _modules() for node in ast.walk(tree)
               if isinstance(node, ast.ClassDef) and node.name in ("ToolError", "ToolNotFound")]
    assert sorted(defined) == [("chartgen/base/errors.py", "ToolError"), ("chartgen/base/errors.py", "ToolNotFound")]


WRITER = PACKAGE / "base" / "writer.py"
# what writes a file, and where it may appear: only in the writer module
_WRITING_CALLS = {
    ("os", "replace"), ("os", "rename"), ("os", "renames"), ("os", "fsync"), ("os", "fdatasync"),
    ("tempfile", "mkstemp"), ("tempfile", "mkdtemp"), ("tempfile", "NamedTemporaryFile"),
    ("tempfile", "TemporaryFile"), ("tempfile", "SpooledTemporaryFile"),
    ("shutil", "copy"), ("shutil", "copy2"), ("shutil", "copyfile"), ("shutil", "copytree"), ("shutil", "move"),
}
_WRITING_METHODS = {"write_text", "write_bytes", "rename"}  # pathlib.Path's


def _writes(node: ast.AST) -> str | None:
    """What ``node`` writes with, if it is a call that writes a file (or stages one)."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Attribute):
        owner = getattr(func.value, "id", None)
        if (owner, func.attr) in _WRITING_CALLS:
            return f"{owner}.{func.attr}"
        if func.attr in _WRITING_METHODS and owner not in ("os", "str"):
            return f".{func.attr}()"
        if (owner, func.attr) == ("os", "open") and "O_CREAT" in ast.dump(node):
            return "os.open(O_CREAT)"
    name = func.id if isinstance(func, ast.Name) else \
        "os.fdopen" if isinstance(func, ast.Attribute) and (getattr(func.value, "id", None), func.attr) == ("os", "fdopen") \
        else None
    if name in ("mkstemp", "mkdtemp", "NamedTemporaryFile"):
        return f"{name}()"
    if name in ("open", "os.fdopen"):
        modes = node.args[1:2] + [k.value for k in node.keywords if k.arg == "mode"]
        if any(isinstance(m, ast.Constant) and isinstance(m.value, str) and set(m.value) & set("wax+") for m in modes):
            return f"{name}()"
    return None


def test_writer_is_the_only_module_that_writes_files():
    found = [f"{path.relative_to(ROOT)}:{node.lineno}: {what}" for path, tree in _modules() if path != WRITER
             for node in ast.walk(tree) if (what := _writes(node))]
    assert not found, ("write files with chartgen.base.writer (replace_file, copy_file, staging_dir + move_into_place, "
                       f"write_plan; scratch_file for a tool's scratch directory): {found}")


def test_the_writing_check_recognises_each_way_of_writing():
    samples = ["os.replace(a, b)", "os.rename(a, b)", "os.fsync(fd)", "tempfile.mkstemp(dir=d)",
               "tempfile.mkdtemp()", "tempfile.NamedTemporaryFile()", "shutil.copyfile(a, b)", "shutil.move(a, b)",
               "p.write_text('x')", "p.write_bytes(b'x')", "p.rename(q)", "open(p, 'w')", "open(p, mode='ab')",
               "os.open(p, os.O_WRONLY | os.O_CREAT)", "mkstemp()", "os.fdopen(fd, 'wb')"]
    for sample in samples:
        assert _writes(ast.parse(sample).body[0].value), sample
    for harmless in ["open(p, 'rb')", "open(p)", "s.replace('a', 'b')", "os.open(p, os.O_RDONLY)", "p.read_text()",
                     "tempfile.TemporaryDirectory()", "os.fdopen(fd, 'rb')"]:
        assert _writes(ast.parse(harmless).body[0].value) is None, harmless
    writer_calls = {w for node in ast.walk(ast.parse(WRITER.read_text(encoding="utf-8"))) if (w := _writes(node))}
    assert {"os.replace", "os.fsync", "tempfile.mkstemp", "tempfile.mkdtemp"} <= writer_calls


# YAML text that is not written through base/yamlout.py, each with its reason
_YAML_EMITTERS_ELSEWHERE = {
    "chartgen/catalog/edit.py": "the catalog's in-place edits: ruamel's round trip keeps the user's layout and comments",
    "chartgen/analyzer/limits.py": "the size of the Prometheus chart's ConfigMap, as that chart's toYaml writes it; "
                                   "measured, never written",
}


def test_yaml_is_emitted_only_through_yamlout():
    """docs/architecture.md: every YAML file is written through base/yamlout.py, so a string
    reads back as the same string under YAML 1.1 and 1.2."""
    found = sorted({path.relative_to(ROOT).as_posix() for path, tree in _modules()
                    if path != PACKAGE / "base" / "yamlout.py" for node in ast.walk(tree)
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("dump", "safe_dump", "dump_all", "safe_dump_all")
                    and getattr(node.func.value, "id", None) in ("yaml", "ruamel")})
    assert found == sorted(_YAML_EMITTERS_ELSEWHERE)
