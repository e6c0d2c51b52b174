"""``chartgen graph``: the mesh as Mermaid, DOT, SVG or PNG."""

from __future__ import annotations

import sys

import click

from ..drawing import draw, write_output
from ..errors import UnknownEnvironment
from . import options
from .common import Ctx, err, run_guarded


@click.command("graph")
@options.catalog
@options.environment("One environment (default: the whole catalog, each element marked with its environments).")
@options.output_format("mermaid", "dot", "svg", "png", help="svg and png are drawn by Graphviz `dot`.")
@options.output_file
@options.tool_binary("dot", "dot_bin", "Graphviz dot")
@options.force
@click.pass_obj
def command(obj: Ctx, catalog, env, fmt, output, dot_bin, force):
    """Draw the mesh: gateway, hosts and paths, services with versions and weights, A/B routes,
    mirrors, calls, external services and their redirects, mTLS, chaos.

    \b
    Example:
      chartgen graph                          # Mermaid, every environment
      chartgen graph --env prod --format dot
      chartgen graph --env dev --format svg -o mesh-dev.svg
    """

    def run():
        try:
            data = draw(catalog, env, fmt, dot_bin)
        except UnknownEnvironment as exc:
            raise click.BadParameter(str(exc), param_hint="--env") from None
        if output:
            write_output(output, data, fmt, catalog, force)
            err(f"wrote {output}")
        elif fmt == "png" and sys.stdout.isatty():
            raise click.UsageError("a PNG is not for the terminal: use -o FILE or redirect stdout")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()

    run_guarded(run, obj)
