"""``chartgen validate``: check the catalog and report every problem at once."""

from __future__ import annotations

import json

import click

from ..analyzer.sarif import problems_log
from ..catalog.validate import load_catalog
from . import options
from .common import Ctx, run_guarded


@click.command("validate")
@options.catalog
@options.output_format("text", "json", "sarif")
@click.pass_obj
def command(obj: Ctx, catalog, fmt):
    """Check the catalog and report every problem at once.

    \b
    Example:
      chartgen validate catalog.yaml
      chartgen validate --format json | jq '.problems[].rule'
      chartgen validate --format sarif > catalog.sarif   # code scanning
    """

    def run():
        c = load_catalog(catalog)
        if fmt == "sarif":
            click.echo(problems_log([]), nl=False)
        elif fmt == "json":
            click.echo(json.dumps({"valid": True, "problems": [], "services": sorted(c.services),
                                   "environments": sorted(c.environments)}, indent=2))
        else:
            click.echo(f"{catalog}: ok ({len(c.services)} services, {len(c.environments)} environments)")

    run_guarded(run, obj, fmt, report=True)
