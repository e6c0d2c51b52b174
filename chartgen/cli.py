"""The command line. Parses arguments, calls the library, prints; the only module that
prints. Errors become exit codes here: 1 for problems, 2 for usage."""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

import click

from . import __version__
from .commands import options
from .errors import CatalogError, ChartgenError, Terminated


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


def _set_debug(ctx: click.Context, _param, value: bool) -> None:
    if value:
        root = ctx.find_root()
        if root.obj is None:
            root.obj = Ctx(True)
        root.obj.debug = True


debug_option = click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
                            help="Show tracebacks.")


def _with_debug(command: click.Command) -> click.Command:
    """``--debug`` on a subcommand too (``chartgen validate --debug``), recursively."""
    if not any(p.name == "debug" for p in command.params):
        debug_option(command)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_debug(sub)
    return command


def _err(msg: str) -> None:
    click.echo(msg, err=True)


def _report(exc: BaseException, debug: bool, fmt: str = "text", report: bool = False) -> int:
    """Print an error; the exit code. Streams: a command's report goes to stdout, and for the
    commands whose report *is* the catalog's problems (validate, lint) so do those problems;
    everywhere else they, like every other error, go to stderr."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, CatalogError):
        if fmt == "json":
            click.echo(json.dumps({"valid": False, "problems": [p.to_dict() for p in exc.problems]}, indent=2))
        elif fmt == "sarif":
            from .sarif import problems_log

            click.echo(problems_log(exc.problems), nl=False)
        else:
            for p in exc.problems:
                click.echo(p.format(), err=not report)
            n = len(exc.problems)
            click.echo(f"{n} problem{'s' if n != 1 else ''} found", err=not report)
        return 1
    if isinstance(exc, ChartgenError):
        if fmt == "sarif":
            from .sarif import failure_log

            click.echo(failure_log(str(exc)), nl=False)
        _err(f"error: {exc}")
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):  # `chartgen … | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    if isinstance(exc, OSError):  # a failure no caller named more precisely: the file is in the error
        from .safeio import os_error_message

        _err(f"error: {os_error_message(exc)}")
        return 1
    if isinstance(exc, RecursionError):
        _err("error: the input is nested too deeply to process; flatten the deep structure")
        return 1
    if isinstance(exc, MemoryError):
        _err("error: out of memory; the input is too large (check it for repeated YAML aliases)")
        return 1
    if isinstance(exc, ModuleNotFoundError):
        from .doctor import missing_module_message

        message = missing_module_message(exc.name)
        if message:
            _err(f"error: {message}")
            return 1
    _err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
    return 1


def print_notes(outcome) -> None:
    """What a run recovered or cleaned up (stderr: the report stream stays clean)."""
    for note in outcome.notes:
        _err(f"note: {note}")


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
        _err(f"{what}; " + ("the files were already written" if getattr(exc, "committed", False)
                            else "nothing was changed"))
        sys.exit(143 if isinstance(exc, Terminated) else 130)
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        sys.exit(_report(exc, ctx.debug, fmt, report))


# Commands that live in their own modules, imported only when used (start-up time).
LAZY_COMMANDS = {
    "canary": ("chartgen.commands.canary", "command"),
    "export": ("chartgen.commands.export", "command"),
    "import": ("chartgen.commands.importcmd", "command"),
    "istio": ("chartgen.commands.istio", "command"),
    "lint": ("chartgen.commands.lint", "command"),
    "package": ("chartgen.commands.publish", "package"),
    "publish": ("chartgen.commands.publish", "publish"),
    "verify": ("chartgen.commands.verify", "command"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS and name not in self.commands:
            import importlib

            module, attr = LAZY_COMMANDS[name]
            self.add_command(getattr(importlib.import_module(module), attr), name)
        command = super().get_command(ctx, name)
        return _with_debug(command) if command is not None else None

    def invoke(self, ctx):
        """Every command runs inside the one error guard: what a command's own guard (with
        its report format) does not catch still becomes a one-line message and exit code."""
        if ctx.obj is None:
            ctx.obj = Ctx(False)
        return run_guarded(lambda: super(LazyGroup, self).invoke(ctx), ctx.obj)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@debug_option
@click.version_option(__version__, "--version", prog_name="chartgen")
@click.pass_context
def cli(ctx):
    """Generate an Istio mesh Helm chart and a helmfile from a service catalog.

    \b
    Example:
      chartgen validate            # check catalog.yaml
      chartgen generate            # write charts/, helmfile.yaml, values/
      chartgen lint                # analyse the rendered mesh offline
    """
    if ctx.obj is None:  # --debug (an eager option) has made it already
        ctx.obj = Ctx(False)


@cli.command()
@options.catalog
@options.output_format("text", "json", "sarif")
@click.pass_obj
def validate(obj: Ctx, catalog, fmt):
    """Check the catalog and report every problem at once.

    \b
    Example:
      chartgen validate catalog.yaml
      chartgen validate --format json | jq '.problems[].rule'
      chartgen validate --format sarif > catalog.sarif   # code scanning
    """
    from .validate import load_catalog

    def run():
        c = load_catalog(catalog)
        if fmt == "sarif":
            from .sarif import problems_log

            click.echo(problems_log([]), nl=False)
        elif fmt == "json":
            click.echo(json.dumps({"valid": True, "problems": [], "services": sorted(c.services),
                                   "environments": sorted(c.environments)}, indent=2))
        else:
            click.echo(f"{catalog}: ok ({len(c.services)} services, {len(c.environments)} environments)")

    run_guarded(run, obj, fmt, report=True)


@cli.command()
@options.catalog
@options.out
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the committed output is stale.")
@click.option("--version", "version", default=None, metavar="X.Y.Z", help="Set the chart version instead of bumping it.")
@options.chart_mirror
@click.option("--mesh-chart", default=None, metavar="REF",
              help="Install the published mesh chart (repo/chart or oci://…) instead of the local directory.")
@click.option("--mesh-version", default=None, metavar="X.Y.Z", help="Version of --mesh-chart.")
@options.force
@click.pass_obj
def generate(obj: Ctx, catalog, out, check, version, chart_mirror, mesh_chart, mesh_version, force):
    """Write charts/<name>-mesh/, helmfile.yaml and values/ from the catalog.

    Only changed files are written; an unchanged catalog touches nothing. The chart version
    is the last release's (committed, or packaged/published) bumped by the net change since
    (major: removals, minor: additions, patch: settings); a reverted change bumps nothing.

    \b
    Example:
      chartgen generate
      chartgen generate --check            # in CI / pre-commit
      chartgen generate --chart-mirror oci://registry.internal/charts
    """
    from .generate import Options, check as do_check, generate as do_generate

    def run():
        opts = Options(version=version, chart_mirror=chart_mirror, mesh_chart=mesh_chart, mesh_version=mesh_version,
                       force=force)
        if check:
            outcome = do_check(catalog, out, opts)
            print_notes(outcome)
            for path in outcome.stale:
                _err(f"stale: {path}")
            if outcome.stale:
                _err(f"{len(outcome.stale)} generated file(s) are out of date; run `chartgen generate`")
                sys.exit(1)
            click.echo(f"up to date: {outcome.chart_dir} {outcome.version}")
            return
        outcome = do_generate(catalog, out, options=opts, wait_message=_err)
        print_notes(outcome)
        if not outcome.result.changed:
            click.echo(f"up to date: {outcome.chart_dir} {outcome.version} (nothing written)")
            return
        print_bump(outcome)
        click.echo(f"wrote {len(outcome.result.written)} file(s)"
                   + (f", removed {len(outcome.result.deleted)}" if outcome.result.deleted else ""))

    run_guarded(run, obj)


@cli.command()
@options.catalog
@options.out
@click.option("--exit-code", is_flag=True, help="Exit 1 when generate would change something (like git diff --exit-code).")
@options.color
@click.option("--stat", is_flag=True, help="Only the summary and the list of files.")
@click.option("--graph", "graph_only", is_flag=True, help="Only the change of the mesh graph (its Mermaid lines).")
@click.pass_obj
def diff(obj: Ctx, catalog, out, exit_code, color, stat, graph_only):
    """Show what `generate` would change: a summary, then a unified diff.

    \b
    Example:
      chartgen diff
      chartgen diff --graph                # what changes in the picture of the mesh
      chartgen diff --exit-code --no-color > mesh.diff
    """
    from .generate import preview

    def run():
        outcome = preview(catalog, out)
        print_notes(outcome)
        changes = outcome.changeset
        if not changes:
            click.echo("no changes")
            return
        painter = Painter(use_color(color))
        if graph_only:
            lines = changes.graph_diff(f"{outcome.chart_dir}/README.md")
            if not lines:
                click.echo("graph unchanged")
            painter.diff(lines)
            if exit_code and lines:
                sys.exit(1)
            return
        print_bump(outcome, painter)
        print_changeset(changes, painter, stat=stat, binary_note="; `chartgen generate` replaces it")
        if exit_code:
            sys.exit(1)

    run_guarded(run, obj)


def _graph_disputes(catalog, env: str | None) -> tuple[dict, dict]:
    """The flows ``chartgen verify`` finds wrong, as the marks of the graph (notes on stderr)."""
    from .analyzer.behaviour import graph_disputes, unplaced, verify_catalog

    result = verify_catalog(catalog, (env,) if env else (), flows=False)
    for note in result.notes:
        _err(f"note: {note}")
    hidden = unplaced(result)
    if result.problems:
        _err(f"{len(result.problems)} flow(s) where the rendered mesh and the catalog disagree"
             + (f" ({hidden} from workloads the graph has no node for; see chartgen verify)" if hidden else ""))
    return graph_disputes(result)


@cli.command()
@options.catalog
@options.environment("One environment (default: the whole catalog, each element marked with its environments).")
@options.output_format("mermaid", "dot", "svg", "png", help="svg and png are drawn by Graphviz `dot`.")
@options.output_file
@options.tool_binary("dot", "dot_bin", "Graphviz dot")
@options.force
@click.option("--verify", "verify", is_flag=True,
              help="Render with helm and mark the flows where the rendered mesh and the catalog disagree (chartgen verify).")
@click.pass_obj
def graph(obj: Ctx, catalog, env, fmt, output, dot_bin, force, verify):
    """Draw the mesh: gateway, hosts and paths, services with versions and weights, A/B routes,
    mirrors, calls, external services and their redirects, mTLS, chaos.

    With --verify, helm renders each environment and the flows the rendered mesh denies though
    the catalog asks for them are drawn dashed red with the reason; flows it allows that the
    catalog does not ask for are added, dotted orange. Without it the graph is drawn offline.

    \b
    Example:
      chartgen graph                          # Mermaid, every environment
      chartgen graph --env prod --format dot
      chartgen graph --env dev --format svg -o mesh-dev.svg
      chartgen graph --env prod --verify      # mark what the rendered mesh gets wrong
    """
    from .errors import UnknownEnvironment
    from .graph import draw, write_output

    def run():
        try:
            data = draw(catalog, env, fmt, dot_bin, disputes=_graph_disputes(catalog, env) if verify else None)
        except UnknownEnvironment as exc:
            raise click.BadParameter(str(exc), param_hint="--env") from None
        if output:
            write_output(output, data, fmt, catalog, force)
            _err(f"wrote {output}")
        elif fmt == "png" and sys.stdout.isatty():
            raise click.UsageError("a PNG is not for the terminal: use -o FILE or redirect stdout")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()

    run_guarded(run, obj)


@cli.command()
@click.option("--check", "check_path", default=None, type=click.Path(dir_okay=False),
              help="Exit 1 if this file differs from the schema.")
@click.pass_obj
def schema(obj: Ctx, check_path):
    """Print the catalog's JSON Schema (generated from the model).

    \b
    Example:
      chartgen schema > schemas/catalog.schema.json
    """
    from .catalog import catalog_json_schema
    from .safeio import read_text

    def run():
        text = json.dumps(catalog_json_schema(), indent=2) + "\n"
        if check_path:
            current = read_text(check_path, "schema file") if Path(check_path).exists() else ""
            if current != text:
                _err(f"{check_path} is out of date; run `chartgen schema > {check_path}`")
                sys.exit(1)
            return
        click.echo(text, nl=False)

    run_guarded(run, obj)


@cli.command()
@click.argument("path", default="catalog.yaml", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_obj
def init(obj: Ctx, path, force):
    """Write a commented starter catalog to PATH, and a .gitignore beside it for what
    chartgen leaves there (its lock file, temporary files, dist/); an existing .gitignore
    gets the missing lines.

    \b
    Example:
      chartgen init my-mesh/catalog.yaml && chartgen validate -c my-mesh/catalog.yaml
    """
    from .starter import init_catalog

    def run():
        started = init_catalog(path, force=force)
        click.echo(f"wrote {path}" + (f" and {started.gitignore}" if started.gitignore else "")
                   + f"; next: chartgen validate {path}")

    run_guarded(run, obj)


@cli.command()
@options.output_format("text", "json")
@click.pass_obj
def doctor(obj: Ctx, fmt):
    """Report what chartgen can use here and where it found it: the optional Python parts
    (the lint extra), helm, helmfile, kubectl, Graphviz, checkov and git, each with its
    version and path, or the exact command that installs it.

    \b
    Example:
      chartgen doctor
      chartgen doctor --format json | jq '.tools[] | select(.found | not)'
    """
    from .doctor import diagnose, text_report

    def run():
        report = diagnose()
        click.echo(json.dumps(report, indent=2) if fmt == "json" else text_report(report), nl=fmt == "json")

    run_guarded(run, obj)


@cli.command("version")
@options.helm
@options.tool_binary("helmfile")
@click.pass_obj
def version_cmd(obj: Ctx, helm, helmfile):
    """Print chartgen's version and the helm and helmfile it would use.

    \b
    Example:
      CHARTGEN_HELM=/usr/local/bin/helm chartgen version
    """
    from .errors import ToolError
    from .toolchain import find_tool, tool_version

    def run():
        click.echo(f"chartgen {__version__}")
        for name, explicit in (("helm", helm), ("helm3", None), ("helmfile", helmfile)):
            try:
                tool = find_tool(name, explicit)
                click.echo(f"{name} {tool_version(tool)} ({tool.path}, from {tool.source})")
            except ToolError as exc:  # not found, or its version unreadable
                click.echo(f"{name}: not found ({exc})")

    run_guarded(run, obj)


def _terminate(signum, frame):
    raise Terminated()


def main(argv=None) -> None:
    import gc
    import signal

    # A run builds its whole output in memory (a large catalog: millions of small containers
    # that live until the end); with the default thresholds the collector walks that growing
    # heap, and the modules imported so far, again and again: a third of a 1,000-service
    # generate. The modules stay out of its walks (they live as long as the process), and
    # fewer, larger young collections still reclaim any cycle.
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)

    # SIGTERM (kill, a CI timeout, a container stop) stops a run the way Ctrl-C does: what was
    # staged is removed and the tree stays as it was.
    signal.signal(signal.SIGTERM, _terminate)
    cli.main(args=argv, prog_name="chartgen")
