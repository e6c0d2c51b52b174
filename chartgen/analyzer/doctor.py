"""What chartgen can use on this machine, and where it found it (``chartgen doctor``).

Also the one table of optional Python parts: each module, the distribution that provides
it, the extra that installs it and what needs it, so a missing one is a one-line message
with the exact install command instead of a ModuleNotFoundError.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from importlib import metadata

from .scanner import HINT, find_checkov
from ..base.errors import ToolError, ToolNotFound
from ..base.toolchain import INSTALL_HINTS, Tool, env_var, find_tool, run, tool_version
from ..base.version import __version__

# module -> (distribution, extra, what needs it)
OPTIONAL_MODULES = {
    "kubernetes_validate": ("kubernetes-validate", "lint", "chartgen lint (Kubernetes schemas)"),
}


def install_command(distribution: str, extra: str) -> str:
    return f"pip install 'chartgen[{extra}]' (with pipx: pipx inject chartgen {distribution})"


def missing_module_message(name: str | None) -> str | None:
    """The one-line message for a missing optional module, or None if it is not optional."""
    top = (name or "").split(".")[0]
    if top not in OPTIONAL_MODULES:
        return None
    dist, extra, what = OPTIONAL_MODULES[top]
    return f"{what} needs {dist}, from chartgen's `{extra}` extra: {install_command(dist, extra)}"


@dataclass
class Item:
    name: str
    found: bool
    version: str = ""
    path: str = ""
    source: str = ""  # where it was found: option, env, tools, path, python
    used_by: str = ""
    hint: str = ""  # how to get it, when missing


def _python_items() -> list[Item]:
    out = []
    for module, (dist, extra, what) in sorted(OPTIONAL_MODULES.items()):
        try:
            importlib.import_module(module)
            found = True
        except ImportError:
            found = False
        try:
            version = metadata.version(dist) if found else ""
        except metadata.PackageNotFoundError:
            version = ""
        out.append(Item(dist, found, version, "", "python" if found else "", what,
                        "" if found else install_command(dist, extra)))
    return out


TOOL_USES = {
    "helm": "lint, package, publish (helm 4)",
    "helm3": "tests against helm 3 (optional)",
    "helmfile": "helmfile sync of the generated helmfile.yaml",
    "kubectl": "applying and inspecting the mesh (optional)",
    "dot": "graph --format svg|png (Graphviz)",
}


def _tool_items() -> list[Item]:
    out = []
    for name, used in TOOL_USES.items():
        try:
            tool = find_tool(name)
        except ToolNotFound:
            out.append(Item(name, False, used_by=used, hint=f"{INSTALL_HINTS[name]}; or set {env_var(name)}"))
            continue
        try:
            version = tool_version(tool)
        except ToolError as exc:
            version = f"unusable: {exc}"
        out.append(Item(name, True, version, tool.path, tool.source, used))
    return out


def _version_line(tool: Tool) -> str:
    """The last line ``<tool> --version`` prints ("" when it prints nothing or fails)."""
    proc = run(tool, "--version", check=False)
    return proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 and proc.stdout.strip() else ""


def _checkov_item() -> Item:
    used = "lint's Kubernetes security scanner (or lint --no-scanner)"
    try:
        path = find_checkov()
    except ToolError:
        return Item("checkov", False, used_by=used, hint=HINT)
    source = "env" if os.environ.get("CHARTGEN_CHECKOV") else (".tools/checkov" if "/.tools/" in path else "path")
    try:
        version = _version_line(Tool("checkov", path, source))
    except ToolError:
        version = "unusable"
    return Item("checkov", True, version, path, source, used)


def _git_item() -> Item:
    used = "the committed chart as the last release (versions)"
    path = shutil.which("git")
    if not path:
        return Item("git", False, used_by=used, hint="install git; without it the chart on disk counts as committed")
    try:
        version = _version_line(Tool("git", path, "path")).removeprefix("git version ")
    except ToolError:
        version = "unusable"
    return Item("git", True, version, path, "path", used)


def diagnose() -> dict:
    """Everything chartgen looks for, found or not (runs each tool's version command)."""
    return {
        "chartgen": {"version": __version__, "python": sys.version.split()[0], "executable": sys.executable},
        "python": [asdict(i) for i in _python_items()],
        "tools": [asdict(i) for i in _tool_items() + [_checkov_item(), _git_item()]],
    }


SOURCE_TEXT = {"option": "option", "env": "environment variable", "tools": ".tools/bin", "path": "PATH",
               "python": "this Python"}


def text_report(report: dict) -> str:
    c = report["chartgen"]
    lines = [f"chartgen {c['version']} (Python {c['python']}, {c['executable']})", "", "Python packages (optional):"]
    rows = report["python"] + [None] + report["tools"]
    width = max(len(r["name"]) for r in rows if r)
    for r in rows:
        if r is None:
            lines += ["", "Tools:"]
            continue
        if r["found"]:
            where = f"  {r['path']}" if r["path"] else ""
            lines.append(f"  {r['name']:<{width}}  ok  {r['version']}{where} (from {SOURCE_TEXT.get(r['source'], r['source'])})"
                         f" — {r['used_by']}")
        else:
            lines.append(f"  {r['name']:<{width}}  --  missing — {r['used_by']}; {r['hint']}")
    return "\n".join(lines) + "\n"
