"""``chartgen schema``: the catalog's JSON Schema, generated from the model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..catalog.model import catalog_json_schema
from ..base.reading import read_text
from . import options
from .common import Ctx, err, run_guarded


@click.command("schema")
@options.check_file
@click.pass_obj
def command(obj: Ctx, check_path):
    """Print the catalog's JSON Schema (generated from the model).

    \b
    Example:
      chartgen schema > schemas/catalog.schema.json
    """

    def run():
        text = json.dumps(catalog_json_schema(), indent=2) + "\n"
        if check_path:
            current = read_text(check_path, "schema file") if Path(check_path).exists() else ""
            if current != text:
                err(f"{check_path} is out of date; run `chartgen schema > {check_path}`")
                sys.exit(1)
            return
        click.echo(text, nl=False)

    run_guarded(run, obj)
