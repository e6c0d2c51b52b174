"""``chartgen doctor``: what chartgen can use here, and how to install what is missing."""

from __future__ import annotations

import json

import click

from ..analyzer.doctor import diagnose, text_report
from . import options
from .common import Ctx, run_guarded


@click.command("doctor")
@options.output_format("text", "json")
@click.pass_obj
def command(obj: Ctx, fmt):
    """Report what chartgen can use here and where it found it: the optional Python parts
    (the lint extra), helm, helmfile, kubectl, Graphviz, checkov and git, each with its
    version and path, or the exact command that installs it.

    \b
    Example:
      chartgen doctor
      chartgen doctor --format json | jq '.tools[] | select(.found | not)'
    """

    def run():
        report = diagnose()
        click.echo(json.dumps(report, indent=2) if fmt == "json" else text_report(report), nl=fmt == "json")

    run_guarded(run, obj)
