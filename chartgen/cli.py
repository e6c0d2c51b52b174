"""The command line: the ``chartgen`` group, its ``--debug`` and ``--version``, and the table of
its commands. Each command lives in its own module in ``chartgen/commands/`` and is imported
only when it runs: ``chartgen --help`` lists the commands from the table below, so it loads
no command and no library module (start-up time)."""

from __future__ import annotations

import gc
import importlib
import signal

import click

from .commands.common import Ctx, run_guarded
from .base.errors import Terminated
from .base.version import __version__

# Every command, one way: its name → (its module in chartgen/commands/, the summary line of
# `chartgen --help`, or None for a hidden command). The module defines `command`;
# tests/test_cli_commands.py checks that each summary is its command's own first sentence and
# that every module is listed here.
COMMANDS: dict[str, tuple[str, str | None]] = {
    "canary": ("chartgen.commands.canary",
               "Canary releases: see and move the traffic split between a service's versions."),
    "diff": ("chartgen.commands.diff", "Show what `generate` would change: a summary, then a unified diff."),
    "doctor": ("chartgen.commands.doctor",
               "Report what chartgen can use here and where it found it: the optional Python parts (the lint extra),"
               " helm, helmfile, kubectl, Graphviz, checkov and git, each with its version and path, or the exact "
               "command that installs it."),
    "export": ("chartgen.commands.export",
               "Write Argo CD Applications or Flux HelmReleases for the helmfile's releases."),
    "generate": ("chartgen.commands.generate",
                 "Write charts/<name>-mesh/, helmfile.yaml and values/ from the catalog."),
    "graph": ("chartgen.commands.graph",
              "Draw the mesh: gateway, hosts and paths, services with versions and weights, A/B routes, mirrors, "
              "calls, external services and their redirects, mTLS, chaos."),
    "import": ("chartgen.commands.importcmd",
               "Write a catalog from Kubernetes manifests (files, directories, '-' for stdin; `kubectl get -o "
               "yaml`, `helm template` and `kustomize build` output)."),
    "init": ("chartgen.commands.init",
             "Write a commented starter catalog to PATH, and a .gitignore beside it for what chartgen leaves there"
             " (its lock file, temporary files, dist/); an existing .gitignore gets the missing lines."),
    "istio": ("chartgen.commands.istio", "The Istio control plane: revisions, revision tags and staged upgrades."),
    "lint": ("chartgen.commands.lint", "Render every environment with helm and check the result offline."),
    "package": ("chartgen.commands.package",
                "Package the generated chart (charts/<name>-mesh) into DEST/<name>-<version>.tgz."),
    "publish": ("chartgen.commands.publish",
                "Package the chart and publish it to a chart repository directory or an OCI registry."),
    "schema": ("chartgen.commands.schema", "Print the catalog's JSON Schema (generated from the model)."),
    "validate": ("chartgen.commands.validate", "Check the catalog and report every problem at once."),
    "verify": ("chartgen.commands.verify",
               "Render every environment with helm and check, offline, that the mesh allows every flow the "
               "catalog asks for (routed with its version split) and denies every other one."),
    "version": ("chartgen.commands.version", "Print chartgen's version and the helm and helmfile it would use."),
}


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


class LazyGroup(click.Group):
    """The group of ``COMMANDS``: a command's module is imported when the command runs (or its
    own ``--help`` is asked for), never to list it."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        if name not in self.commands:
            self.add_command(_with_debug(importlib.import_module(COMMANDS[name][0]).command), name)
            gc.freeze()  # the command's modules live as long as the process: out of the collector's walks (main)
        return self.commands[name]

    def format_commands(self, ctx, formatter):
        """The commands and their summaries, from the table (no command module is imported)."""
        shown = {name: summary for name, (_, summary) in COMMANDS.items() if summary is not None}
        width = formatter.width - 6 - max(len(name) for name in shown)
        rows = [(name, click.Command(name, help=summary).get_short_help_str(width))
                for name, summary in sorted(shown.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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


def _terminate(signum, frame):
    raise Terminated()


def main(argv=None) -> None:
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
