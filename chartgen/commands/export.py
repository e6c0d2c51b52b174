"""``chartgen export argocd|flux``: the helmfile's releases as GitOps objects (docs/gitops.md)."""

from __future__ import annotations

import sys

import click

from ..lifecycle.generate import Options, export
from . import options
from .common import Ctx, run_guarded


@click.command("export")
@click.argument("tool", type=click.Choice(["argocd", "flux"]))
@options.catalog
@options.environments("Export")
@options.export_out
@options.check_output("the exported files are stale")
@options.chart_mirror
@options.force
@click.pass_obj
def command(obj: Ctx, tool, catalog, envs, out, check, chart_mirror, force):
    """Write Argo CD Applications or Flux HelmReleases for the helmfile's releases.

    The same releases, charts, versions, namespaces, order (needs) and values files as
    helmfile.yaml, per environment. Needs `gitops.repoURL` in the catalog: the git
    repository the controllers read values/ (and a local mesh chart) from. With
    `gitops.argocd` / `gitops.flux` set, `chartgen generate` writes the export too.

    \b
    Example:
      chartgen export argocd                 # gitops/argocd/<env>/, gitops/argocd/bootstrap/
      chartgen export flux --env prod        # gitops/flux/prod/
      chartgen export flux --check           # in CI
    """

    def run():
        outcome = export(catalog, tool, out, envs=tuple(envs), check=check,
                         options=Options(chart_mirror=chart_mirror, force=force), wait_message=lambda m: click.echo(m, err=True))
        if check:
            if outcome.stale:
                for path in outcome.stale:
                    click.echo(f"stale: {path}", err=True)
                click.echo(f"{len(outcome.stale)} exported file(s) are out of date; run `chartgen export {tool}`",
                           err=True)
                sys.exit(1)
            click.echo(f"up to date: {outcome.out_dir} ({len(outcome.files)} files)")
            return
        changed = outcome.result.changed
        if not changed:
            click.echo(f"up to date: {outcome.out_dir} (nothing written)")
            return
        click.echo(f"{outcome.out_dir}: wrote {len(outcome.result.written)} file(s)"
                   + (f", removed {len(outcome.result.deleted)}" if outcome.result.deleted else ""))

    run_guarded(run, obj)
