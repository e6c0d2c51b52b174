"""``chartgen diff``: what ``generate`` would change, as a summary and a unified diff."""

from __future__ import annotations

import sys

import click

from ..lifecycle.generate import preview
from . import options
from .common import Ctx, Painter, print_bump, print_changeset, print_notes, run_guarded, use_color


@click.command("diff")
@options.catalog
@options.out
@click.option("--exit-code", is_flag=True, help="Exit 1 when generate would change something (like git diff --exit-code).")
@options.color
@click.option("--stat", is_flag=True, help="Only the summary and the list of files.")
@click.option("--graph", "graph_only", is_flag=True, help="Only the change of the mesh graph (its Mermaid lines).")
@click.pass_obj
def command(obj: Ctx, catalog, out, exit_code, color, stat, graph_only):
    """Show what `generate` would change: a summary, then a unified diff.

    \b
    Example:
      chartgen diff
      chartgen diff --graph                # what changes in the picture of the mesh
      chartgen diff --exit-code --no-color > mesh.diff
    """

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
