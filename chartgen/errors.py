"""Problems and exceptions. Exceptions carry data; only the CLI prints them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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


class RenderError(ChartgenError):
    """Rendering or validating the generated output failed."""


class ToolError(ChartgenError):
    """An external tool (helm, helmfile) is missing or failed."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (SIGINT): the run stops and cleans up what it staged.
    An interrupt that arrives once files were renamed into place carries ``committed``."""
