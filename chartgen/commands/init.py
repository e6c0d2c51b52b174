"""``chartgen init``: a commented starter catalog and its .gitignore."""

from __future__ import annotations

import click

from ..lifecycle.starter import init_catalog
from .common import Ctx, run_guarded


@click.command("init")
@click.argument("path", default="catalog.yaml", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_obj
def command(obj: Ctx, path, force):
    """Write a commented starter catalog to PATH, and a .gitignore beside it for what
    chartgen leaves there (its lock file, temporary files, dist/); an existing .gitignore
    gets the missing lines.

    \b
    Example:
      chartgen init my-mesh/catalog.yaml && chartgen validate -c my-mesh/catalog.yaml
    """

    def run():
        started = init_catalog(path, force=force)
        click.echo(f"wrote {path}" + (f" and {started.gitignore}" if started.gitignore else "")
                   + f"; next: chartgen validate {path}")

    run_guarded(run, obj)
