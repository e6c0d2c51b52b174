"""What every command shares: the context (``--debug``), the one error guard that turns every
exception into a located line and an exit code, and the printing of outcomes, diffs and
colour. Commands print; the library they call never does."""

from __future__ import annotations

import json
import os
import sys
import traceback

import click

from ..base.errors import CatalogError, ChartgenError, InvalidEdit, Terminated


def use_color(flag: bool | None, stream=None) -> bool:
    """Colour or not: ``--color/--no-color`` wins, then ``NO_COLOR`` (no-color.org: set and
    not empty means no colour), then whether the output is a terminal."""
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    return (stream or sys.stdout).isatty()


class Ctx:
    def __init__(self, debug: bool):
        self.debug = debug


def err(msg: str) -> None:
    click.echo(msg, err=True)


def report_error(exc: BaseException, debug: bool, fmt: str = "text", report: bool = False) -> int:
    """Print an error; the exit code. Streams: a command's report goes to stdout, and for the
    commands whose report *is* the catalog's problems (validate, lint) so do those problems;
    everywhere else they, like every other error, go to stderr."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, CatalogError):
        if fmt == "json":
            click.echo(json.dumps({"valid": False, "problems": [p.to_dict() for p in exc.problems]}, indent=2))
        elif fmt == "sarif":
            from ..analyzer.sarif import problems_log  # start-up: loads the rules and the catalog model; only an error needs it

            click.echo(problems_log(exc.problems), nl=False)
        else:
            for p in exc.problems:
                click.echo(p.format(), err=not report)
            n = len(exc.problems)
            click.echo(f"{n} problem{'s' if n != 1 else ''} found", err=not report)
        return 1
    if isinstance(exc, ChartgenError):
        if fmt == "sarif":
            from ..analyzer.sarif import failure_log  # start-up: loads the rules and the catalog model; only an error needs it

            click.echo(failure_log(str(exc)), nl=False)
        err(f"error: {exc}")
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):  # `chartgen … | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    if isinstance(exc, OSError):  # a failure no caller named more precisely: the file is in the error
        from ..base.reading import os_error_message  # start-up: only an error needs it

        err(f"error: {os_error_message(exc)}")
        return 1
    if isinstance(exc, RecursionError):
        err("error: the input is nested too deeply to process; flatten the deep structure")
        return 1
    if isinstance(exc, MemoryError):
        err("error: out of memory; the input is too large (check it for repeated YAML aliases)")
        return 1
    if isinstance(exc, ModuleNotFoundError):
        from ..analyzer.doctor import missing_module_message  # start-up: loads the tool lookup; only an error needs it

        message = missing_module_message(exc.name)
        if message:
            err(f"error: {message}")
            return 1
    err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
    return 1


def print_notes(outcome) -> None:
    """What a run recovered or cleaned up (stderr: the report stream stays clean)."""
    for note in outcome.notes:
        err(f"note: {note}")


class Painter:
    """Lines to stdout, coloured or not (``--color/--no-color``, see ``use_color``)."""

    DIFF_STYLES = (("+++", {"bold": True}), ("---", {"bold": True}), ("+", {"fg": "green"}), ("-", {"fg": "red"}),
                   ("@@", {"fg": "cyan"}))

    def __init__(self, color: bool = False):
        self.color = color

    def line(self, text: str, nl: bool = True, **style) -> None:
        # color= is passed through: click strips colour off a pipe otherwise
        click.echo(click.style(text, **style) if self.color and style else text, nl=nl, color=self.color)

    def diff(self, lines) -> None:
        """Unified diff lines (each ending in a newline): headers bold, additions green,
        removals red, hunks cyan."""
        for line in lines:
            style = next((st for prefix, st in self.DIFF_STYLES if line.startswith(prefix)), {})
            self.line(line, nl=False, **style)


def print_bump(outcome, painter: Painter | None = None) -> None:
    """The version line and the changelog lines of a generate outcome, if either moved."""
    painter = painter or Painter()
    line = outcome.version_line()
    if line:
        painter.line(line, bold=True)
        for ch in outcome.changes:
            click.echo(f"  - {ch.text}")


def print_changeset(changes, painter: Painter, *, stat: bool = False, binary_note: str = "") -> None:
    """The stat of a changeset ('  changed: path'), then, unless ``stat``, its unified diff."""
    for line in changes.stat_lines():
        painter.line(line, fg="cyan")
    if not stat:
        painter.diff(changes.diff_lines(binary_note))


def run_guarded(fn, ctx: Ctx, fmt: str = "text", report: bool = False):
    """Run a command's body; errors become one-line messages and exit codes. ``report``:
    the catalog's problems are this command's report (stdout), not a diagnostic (stderr)."""
    try:
        return fn()
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
        raise
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        err(f"{what}; " + ("the files were already written" if getattr(exc, "committed", False)
                           else "nothing was changed"))
        sys.exit(143 if isinstance(exc, Terminated) else 130)
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        sys.exit(report_error(exc, ctx.debug, fmt, report))


__all__ = ["Ctx", "Painter", "err", "print_bump", "print_changeset", "print_notes", "report_error", "run_guarded",
           "use_color"]


def interactive() -> bool:
    """A person at a terminal can answer a question (stdin and stderr are terminals)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def production_confirmation(question: str):
    """For an edit without --env that would change production environments: at a terminal, a
    function asking ``question`` (``{envs}`` is replaced by their names); elsewhere None, so the
    edit is refused."""
    if not interactive():
        return None
    return lambda envs: click.confirm(question.format(envs=", ".join(envs)), default=False, err=True)


def run_catalog_edit(catalog: str, how, question: str, **kwargs):
    """Run an in-place catalog edit (``how``: a canary weight change, an Istio upgrade step)
    and return its result. Without --env, an edit that would change production environments
    asks ``question`` at a terminal (``production_confirmation``) and is refused elsewhere. When
    the edit is refused as invalid, or the catalog was put back after generate failed, stderr
    says so before the error itself is reported."""
    confirm = production_confirmation(question)
    try:
        return how(catalog, wait_message=err, warn=err, confirm_production=confirm, **kwargs)
    except InvalidEdit:
        err(f"the edited catalog would be invalid, so {catalog} was not changed (lines refer to the edited text):")
        raise
    except BaseException as exc:
        if getattr(exc, "catalog_restored", False):
            err(f"{'interrupted' if isinstance(exc, KeyboardInterrupt) else 'generate failed'}; {catalog} was restored")
        raise
