"""``chartgen version``: chartgen's version and the helm and helmfile it would use."""

from __future__ import annotations


import click

from ..base.errors import ToolError
from ..base.toolchain import find_tool, tool_version
from ..base.version import __version__
from . import options
from .common import Ctx, run_guarded


@click.command("version")
@options.helm
@options.tool_binary("helmfile")
@click.pass_obj
def command(obj: Ctx, helm, helmfile):
    """Print chartgen's version and the helm and helmfile it would use.

    \b
    Example:
      CHARTGEN_HELM=/usr/local/bin/helm chartgen version
    """

    def run():
        click.echo(f"chartgen {__version__}")
        for name, explicit in (("helm", helm), ("helm3", None), ("helmfile", helmfile)):
            try:
                tool = find_tool(name, explicit)
                click.echo(f"{name} {tool_version(tool)} ({tool.path}, from {tool.source})")
            except ToolError as exc:  # not found, or its version unreadable
                click.echo(f"{name}: not found ({exc})")

    run_guarded(run, obj)
