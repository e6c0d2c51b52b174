"""Locate the external tools chartgen drives (helm, helm3, helmfile, kubectl, Graphviz dot).

Lookup order for a tool ``name``:

1. an explicit path handed in by the caller (e.g. a CLI option)  -> source "option"
2. the environment variable ``CHARTGEN_<NAME>``                  -> source "env"
3. ``.tools/bin/<name>`` in ``start`` (default: cwd) or any parent
   directory, then next to the chartgen source checkout          -> source "tools"
4. ``<name>`` on ``PATH``                                        -> source "path"

``.tools/bin`` is populated by ``make setup`` (``tools/install_tools.py``).
This module never prints; failures are reported with exceptions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "TOOL_NAMES",
    "Tool",
    "ToolError",
    "ToolNotFound",
    "env_var",
    "find_tool",
    "tool_env",
    "tool_version",
]

TOOL_NAMES: tuple[str, ...] = ("helm", "helm3", "helmfile", "kubectl", "dot")

# How to get each tool: one line, with the exact command (shown when a tool is missing).
INSTALL_HINTS = {
    "helm": "install helm 4 (https://helm.sh/docs/intro/install/), or `make setup` in a chartgen checkout",
    "helm3": "install helm 3 as `helm3` (https://github.com/helm/helm/releases), or `make setup` in a chartgen checkout",
    "helmfile": "install helmfile (https://github.com/helmfile/helmfile/releases), or `make setup` in a chartgen checkout",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/), or `make setup` in a chartgen checkout",
    "dot": "install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS)",
}

SOURCES = ("option", "env", "tools", "path")

_VERSION_TIMEOUT = 60.0

# The directory that contains the ``chartgen`` package: the repository root
# for a source checkout (for an installed wheel, site-packages, which simply
# has no .tools directory).
_CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


class ToolNotFound(Exception):
    """The requested tool could not be located (or the given path is unusable)."""


class ToolError(RuntimeError):
    """A located tool could not be run or its output could not be understood."""


@dataclass(frozen=True)
class Tool:
    name: str
    path: str
    source: str  # one of SOURCES


def env_var(name: str) -> str:
    """``helm`` -> ``CHARTGEN_HELM``; ``helm3`` -> ``CHARTGEN_HELM3``."""
    return "CHARTGEN_" + name.upper()


def _hint(name: str) -> str:
    return f"{INSTALL_HINTS[name]}; or set {env_var(name)} to its path"


def _check_name(name: str) -> None:
    if name not in TOOL_NAMES:
        raise ValueError(f"unknown tool {name!r}; expected one of {', '.join(TOOL_NAMES)}")


def _is_executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _resolve_given(name: str, value: str, what: str, source: str) -> Tool:
    """Resolve a path given as an option or env var; raise ToolNotFound if unusable."""
    expanded = os.path.expanduser(value)
    if os.sep not in expanded and (os.altsep is None or os.altsep not in expanded):
        # A bare command name such as "helm-4": look it up on PATH.
        found = shutil.which(expanded)
        if found is None:
            raise ToolNotFound(
                f"{name}: {what}={value!r} is not a path and was not found on PATH; {_hint(name)}"
            )
        return Tool(name, os.path.abspath(found), source)
    path = Path(expanded)
    if not path.exists():
        raise ToolNotFound(f"{name}: {what}={value!r} does not exist; {_hint(name)}")
    if not _is_executable_file(path):
        raise ToolNotFound(f"{name}: {what}={value!r} is not an executable file; {_hint(name)}")
    return Tool(name, str(path.absolute()), source)


def _tools_dirs(start: Path) -> list[Path]:
    start = start.absolute()
    dirs = [d / ".tools" / "bin" for d in (start, *start.parents)]
    checkout = _CHECKOUT_ROOT / ".tools" / "bin"
    if checkout not in dirs:
        dirs.append(checkout)
    return dirs


def find_tool(name: str, explicit: str | None = None, *, start: Path | None = None) -> Tool:
    """Locate tool ``name``; see the module docstring for the lookup order."""
    _check_name(name)
    if explicit:
        return _resolve_given(name, str(explicit), "option", "option")

    var = env_var(name)
    value = os.environ.get(var)
    if value:
        return _resolve_given(name, value, var, "env")

    for bin_dir in _tools_dirs(Path(start) if start is not None else Path.cwd()):
        candidate = bin_dir / name
        if _is_executable_file(candidate):
            return Tool(name, str(candidate), "tools")

    found = shutil.which(name)
    if found is not None:
        return Tool(name, os.path.abspath(found), "path")

    raise ToolNotFound(f"{name} not found in .tools/bin or on PATH; {_hint(name)}")


def tool_env(extra: dict | None = None) -> dict:
    """A copy of ``os.environ`` suitable for running the tools."""
    env = dict(os.environ)
    env["HELMFILE_UPGRADE_NOTICE_DISABLED"] = "1"
    if extra:
        env.update({str(k): str(v) for k, v in extra.items()})
    return env


def _run(tool: Tool, *args: str) -> str:
    cmd = [tool.path, *args]
    try:
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=tool_env(),
            timeout=_VERSION_TIMEOUT,
        )
    except OSError as exc:
        raise ToolError(f"cannot run {tool.path}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"`{' '.join(cmd)}` timed out after {_VERSION_TIMEOUT:g}s") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise ToolError(f"`{' '.join(cmd)}` exited {proc.returncode}: {detail}")
    return proc.stdout


_SEMVER = re.compile(r"v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?")


def _helm_version(tool: Tool) -> str:
    out = _run(tool, "version", "--template", "{{.Version}}").strip()
    if _SEMVER.fullmatch(out):
        return out
    # Fallback for helm builds that do not honour --template: "v3.15.3+g3bb50bb".
    out = _run(tool, "version", "--short").strip()
    match = _SEMVER.match(out)
    if not match:
        raise ToolError(f"cannot parse helm version from {out!r}")
    return match.group(0)


def _helmfile_version(tool: Tool) -> str:
    out = _run(tool, "--version")
    # "helmfile version 0.166.0" (older builds print "v0.166.0").
    match = re.search(r"version\s+v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)", out)
    if not match:
        raise ToolError(f"cannot parse helmfile version from {out.strip()!r}")
    return match.group(1)


def _kubectl_version(tool: Tool) -> str:
    out = _run(tool, "version", "--client", "-o", "json")
    try:
        version = json.loads(out)["clientVersion"]["gitVersion"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ToolError(f"cannot parse kubectl version from {out.strip()!r}") from exc
    if not isinstance(version, str):
        raise ToolError(f"cannot parse kubectl version from {out.strip()!r}")
    return version


def tool_version(tool: Tool) -> str:
    """The tool's version: ``v4.3.1`` (helm), ``0.166.0`` (helmfile), ``v1.37.1`` (kubectl)."""
    _check_name(tool.name)
    if tool.name in ("helm", "helm3"):
        return _helm_version(tool)
    if tool.name == "helmfile":
        return _helmfile_version(tool)
    if tool.name == "dot":
        return _dot_version(tool)
    return _kubectl_version(tool)


def _dot_version(tool: Tool) -> str:
    try:
        proc = subprocess.run([tool.path, "-V"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=_VERSION_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"cannot run {tool.path}: {exc}") from exc
    # "dot - graphviz version 2.42.2 (0)", on stderr
    match = re.search(r"version\s+(\d+\.\d+(?:\.\d+)?)", proc.stderr + proc.stdout)
    if proc.returncode != 0 or not match:
        raise ToolError(f"cannot parse the Graphviz version from {(proc.stderr or proc.stdout).strip()!r}")
    return match.group(1)
