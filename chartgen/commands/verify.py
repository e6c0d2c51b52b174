"""``chartgen verify``: does the rendered mesh let through exactly the catalog's traffic? (docs/verify.md)"""

from __future__ import annotations

import sys

import click

from ..analyzer.behaviour import to_json, to_sarif, to_text, verify_catalog
from ..base.errors import UnknownEnvironment
from . import options
from .common import Ctx, run_guarded


@click.command("verify")
@options.catalog
@options.environments("Verify")
@options.output_format("text", "json", "sarif")
@click.option("--flows", is_flag=True, help="Print every flow (the whole matrix), not only the problems.")
@click.option("--workloads", "workloads", multiple=True, type=click.Path(allow_dash=True), metavar="MANIFEST",
              help="Also check the mesh against the pods it will govern: the application's manifests (a file, a "
                   "directory, '-' for stdin; repeatable). Codes WL0xx: docs/existing-application.md.")
@click.pass_obj
def command(obj: Ctx, catalog, envs, fmt, flows, workloads):
    """Render every environment with helm and check, offline, that the mesh allows every flow
    the catalog asks for (routed with its version split) and denies every other one.

    Exit 1 on any problem, each as file:line:col: error: path: message [VFYxxx].

    With --workloads, also check the mesh against the application's manifests: selectors,
    ServiceAccounts, pod ports, port protocols, version labels, probes, scrapes (WL0xx,
    located in the manifests; warnings do not fail).

    \b
    Example:
      chartgen verify
      chartgen verify --env prod --flows
      chartgen verify --format sarif > verify.sarif
      chartgen verify --workloads k8s/ --workloads extra.yaml
    """

    def run():
        try:
            result = verify_catalog(catalog, envs, tuple(workloads), flows=flows)
        except UnknownEnvironment as exc:
            raise click.BadParameter(str(exc), param_hint="--env") from None
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        if fmt == "json":
            click.echo(to_json(result, flows), nl=False)
        elif fmt == "sarif":
            click.echo(to_sarif(result), nl=False)
        else:
            click.echo(to_text(result, flows), nl=False)
        if result.failed:
            sys.exit(1)

    run_guarded(run, obj, fmt, report=True)
