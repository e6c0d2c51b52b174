"""``chartgen generate``: write the chart, helmfile.yaml and values/ from the catalog (``--check``: CI)."""

from __future__ import annotations

import sys

import click

from ..lifecycle.generate import Options, check as do_check, generate as do_generate
from . import options
from .common import Ctx, err, print_bump, print_notes, run_guarded


@click.command("generate")
@options.catalog
@options.out
@options.check_output("the committed output is stale")
@click.option("--version", "version", default=None, metavar="X.Y.Z", help="Set the chart version instead of bumping it.")
@options.chart_mirror
@click.option("--mesh-chart", default=None, metavar="REF",
              help="Install the published mesh chart (repo/chart or oci://…) instead of the local directory.")
@click.option("--mesh-version", default=None, metavar="X.Y.Z", help="Version of --mesh-chart.")
@options.force
@click.pass_obj
def command(obj: Ctx, catalog, out, check, version, chart_mirror, mesh_chart, mesh_version, force):
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

    def run():
        opts = Options(version=version, chart_mirror=chart_mirror, mesh_chart=mesh_chart, mesh_version=mesh_version,
                       force=force)
        if check:
            outcome = do_check(catalog, out, opts)
            print_notes(outcome)
            for path in outcome.stale:
                err(f"stale: {path}")
            if outcome.stale:
                err(f"{len(outcome.stale)} generated file(s) are out of date; run `chartgen generate`")
                sys.exit(1)
            click.echo(f"up to date: {outcome.chart_dir} {outcome.version}")
            return
        outcome = do_generate(catalog, out, options=opts, wait_message=err)
        print_notes(outcome)
        if not outcome.result.changed:
            click.echo(f"up to date: {outcome.chart_dir} {outcome.version} (nothing written)")
            return
        print_bump(outcome)
        click.echo(f"wrote {len(outcome.result.written)} file(s)"
                   + (f", removed {len(outcome.result.deleted)}" if outcome.result.deleted else ""))

    run_guarded(run, obj)
