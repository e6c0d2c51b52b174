"""Problems and exceptions. Exceptions carry data; only the CLI prints them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem in an input file.

    ``line`` and ``col`` start at 1; 0 means "unknown position".
    """

    file: str
    line: int
    col: int
    path: str
    message: str
    rule: str
    level: str = field(default="error", compare=False)

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        path = f"{self.path}: " if self.path else ""
        return f"{where}: {self.level}: {path}{self.message} [{self.rule}]"

    def to_dict(self) -> dict:
        return asdict(self)


class ChartgenError(Exception):
    """Base class of every error that the CLI reports without a traceback."""

    exit_code = 1


class CatalogError(ChartgenError):
    """The catalog is invalid; ``problems`` lists every problem found, sorted."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__(f"{len(self.problems)} problem(s) in the catalog")


class InvalidEdit(CatalogError):
    """An in-place edit (a canary step, an Istio upgrade step) would leave the catalog invalid;
    the file was not changed. The problems' lines refer to the edited text."""


class RenderError(ChartgenError):
    """Rendering or validating the generated output failed."""


class ToolError(ChartgenError):
    """An external tool (helm, helmfile, dot, checkov, git) is missing, could not be started,
    ran out of time, failed, or printed what chartgen cannot read. The message is the one line
    the user sees; the error also carries what ran: ``command`` (argv), ``returncode`` (None
    when the tool did not exit by itself) and ``stderr``. The messages of a run that went wrong
    are made here, by the constructors below, and nowhere else."""

    def __init__(self, message: str, *, command: Sequence[str] = (), returncode: int | None = None,
                 stderr: str = "", detail: str = ""):
        super().__init__(message)
        self.command = tuple(str(a) for a in command)
        self.returncode = returncode
        self.stderr = stderr
        self.detail = detail or message  # the tool's own words (its last ``Error:``), without chartgen's framing

    @classmethod
    def from_process(cls, proc: subprocess.CompletedProcess, what: str) -> ToolError:
        """A tool that exited non-zero: ``<what> exited <code>: <the tool's error>``."""
        stderr = _text(proc.stderr)
        detail = failure_detail(stderr, _text(proc.stdout))
        message = f"{what} exited {proc.returncode}" + (f": {detail}" if detail else "")
        return cls(message, command=proc.args, returncode=proc.returncode, stderr=stderr, detail=detail)

    @classmethod
    def not_started(cls, command: Sequence[str], exc: OSError) -> ToolError:
        """The tool could not be started (gone, not executable, not a program)."""
        reason = exc.strerror or str(exc)
        return cls(f"cannot run {command[0]}: {reason}", command=command, detail=reason)

    @classmethod
    def timed_out(cls, command: Sequence[str], what: str, seconds: float, stderr: str | bytes | None = None) -> ToolError:
        """The tool was stopped after its time (``chartgen.base.toolchain.TIMEOUTS``)."""
        return cls(f"{what} timed out after {seconds:g}s", command=command, stderr=_text(stderr),
                   detail=f"timed out after {seconds:g}s")


class ToolNotFound(ToolError):
    """The tool could not be located, or the path given for it is unusable (the message says
    how to install it)."""


def _text(out: str | bytes | None) -> str:
    return out.decode("utf-8", "replace") if isinstance(out, bytes) else (out or "")


def failure_detail(stderr: str, stdout: str = "") -> str:
    """What a failed tool said, without its noise: helm's and helmfile's last ``Error:``
    paragraph (without the prefix; a list of schema violations keeps its lines), else the
    last line it printed."""
    lines = [line.rstrip() for line in (stderr.strip() or stdout.strip()).splitlines()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Error:")]
    if not starts:
        return next((line.strip() for line in reversed(lines) if line.strip()), "")
    paragraph = []
    for line in lines[starts[-1]:]:
        if not line.strip():
            break
        paragraph.append(line)
    paragraph[0] = paragraph[0].removeprefix("Error:").strip()
    return "\n".join(paragraph)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (SIGINT): the run stops and cleans up what it staged.
    An interrupt that arrives once files were renamed into place carries ``committed``."""


class UnknownEnvironment(ChartgenError):
    """An environment asked for (``--env``) is not in the catalog: a usage error."""

    exit_code = 2
