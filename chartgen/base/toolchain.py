"""Locate and run the external tools chartgen drives (helm, helm3, helmfile, kubectl,
Graphviz dot; checkov and git are run through ``run``/``start`` as well).

Lookup order for a tool ``name``:

1. an explicit path handed in by the caller (e.g. a CLI option)  -> source "option"
2. the environment variable ``CHARTGEN_<NAME>``                  -> source "env"
3. ``.tools/bin/<name>`` in ``start`` (default: cwd) or any parent
   directory, then next to the chartgen source checkout          -> source "tools"
4. ``<name>`` on ``PATH``                                        -> source "path"

``.tools/bin`` is populated by ``make setup`` (``tools/install_tools.py``).

Running: ``run`` (and ``start``/``Running.wait`` for a tool that works while chartgen does
something else) is the one way chartgen runs a tool: with ``tool_env``, the tool's time from
``TIMEOUTS``, and every failure (missing, not startable, out of time, non-zero exit) raised as
one ``chartgen.base.errors.ToolError`` carrying the command, the exit code and stderr.
This module never prints; failures are reported with exceptions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ToolError, ToolNotFound

__all__ = [
    "TIMEOUTS",
    "TOOL_NAMES",
    "Running",
    "Tool",
    "ToolError",
    "ToolNotFound",
    "env_var",
    "find_tool",
    "run",
    "start",
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

# The timeout policy: how long each tool may run before chartgen stops it and says so.
# Rendering, packaging and pulling a chart take seconds; checkov and Graphviz on a large mesh
# take longer; a version query or a git lookup is instant unless something is wrong.
TIMEOUTS: dict[str, float] = {"helm": 120.0, "helm3": 120.0, "helmfile": 600.0, "kubectl": 60.0,
                              "dot": 300.0, "checkov": 300.0, "git": 30.0}
DEFAULT_TIMEOUT = 120.0

# The directory that contains the ``chartgen`` package (this module is chartgen/base/toolchain.py): the repository root
# for a source checkout (for an installed wheel, site-packages, which simply
# has no .tools directory).
_CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


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


def _what(tool: Tool, args: Sequence[str]) -> str:
    """How a run is named in messages: the tool and its subcommand (``helm template``)."""
    return f"{tool.name} {args[0]}" if args and not str(args[0]).startswith("-") else tool.name


def timeout_of(tool: Tool) -> float:
    return TIMEOUTS.get(tool.name, DEFAULT_TIMEOUT)


def run(tool: Tool, *args: str, what: str | None = None, input: str | bytes | None = None,
        env: dict | None = None, cwd: str | Path | None = None, check: bool = True,
        text: bool = True) -> subprocess.CompletedProcess:
    """Run ``tool`` with ``args`` (stdin closed unless ``input`` is given, output captured).

    ``what`` names the run in messages (default: the tool and its subcommand); ``env``: extra
    variables over ``tool_env``. With ``check``, a non-zero exit raises ``ToolError``; without
    it the caller reads the exit code (a tool whose exit code is an answer, not a failure)."""
    command = [tool.path, *map(str, args)]
    what = what or _what(tool, args)
    seconds = timeout_of(tool)
    try:
        proc = subprocess.run(command, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, text=text, env=tool_env(env), cwd=cwd, timeout=seconds)
    except OSError as exc:
        raise ToolError.not_started(command, exc) from None
    except subprocess.TimeoutExpired as exc:
        raise ToolError.timed_out(command, what, seconds, exc.stderr) from None
    if check and proc.returncode != 0:
        raise ToolError.from_process(proc, what)
    return proc


@dataclass
class Running:
    """A tool started with ``start``: it works while chartgen does something else."""

    tool: Tool
    proc: subprocess.Popen
    what: str

    def wait(self, check: bool = True) -> subprocess.CompletedProcess:
        """Its output once it exits (within the tool's time; else it is stopped and
        ``ToolError`` says so). ``check`` as for ``run``."""
        seconds = timeout_of(self.tool)
        try:
            out, err = self.proc.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            _, err = self.stop()
            raise ToolError.timed_out(self.proc.args, self.what, seconds, err) from None
        proc = subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)
        if check and proc.returncode != 0:
            raise ToolError.from_process(proc, self.what)
        return proc

    def stop(self) -> tuple:
        """Kill it (if it still runs) and collect what it printed."""
        self.proc.kill()
        return self.proc.communicate()

    def kill(self) -> None:
        """Kill it if it still runs, without collecting (another thread may be in ``wait``)."""
        if self.proc.poll() is None:
            self.proc.kill()


def start(tool: Tool, *args: str, what: str | None = None, stdin: bool = False, env: dict | None = None,
          cwd: str | Path | None = None) -> Running:
    """Start ``tool`` with ``args`` without waiting for it; ``stdin``: a pipe the caller
    writes to and closes (else stdin is closed). ``Running.wait`` collects it."""
    command = [tool.path, *map(str, args)]
    try:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=tool_env(env),
                                cwd=cwd)
    except OSError as exc:
        raise ToolError.not_started(command, exc) from None
    return Running(tool, proc, what or _what(tool, args))


_SEMVER = re.compile(r"v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?")


def _helm_version(tool: Tool) -> str:
    out = run(tool, "version", "--template", "{{.Version}}").stdout.strip()
    if _SEMVER.fullmatch(out):
        return out
    # Fallback for helm builds that do not honour --template: "v3.15.3+g3bb50bb".
    out = run(tool, "version", "--short").stdout.strip()
    match = _SEMVER.match(out)
    if not match:
        raise ToolError(f"cannot parse helm version from {out!r}")
    return match.group(0)


def _helmfile_version(tool: Tool) -> str:
    out = run(tool, "--version").stdout
    # "helmfile version 0.166.0" (older builds print "v0.166.0").
    match = re.search(r"version\s+v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)", out)
    if not match:
        raise ToolError(f"cannot parse helmfile version from {out.strip()!r}")
    return match.group(1)


def _kubectl_version(tool: Tool) -> str:
    out = run(tool, "version", "--client", "-o", "json").stdout
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
    proc = run(tool, "-V", check=False)
    # "dot - graphviz version 2.42.2 (0)", on stderr
    match = re.search(r"version\s+(\d+\.\d+(?:\.\d+)?)", proc.stderr + proc.stdout)
    if proc.returncode != 0 or not match:
        raise ToolError(f"cannot parse the Graphviz version from {(proc.stderr or proc.stdout).strip()!r}")
    return match.group(1)
