"""``chartgen graph``: the mesh as Mermaid, DOT, SVG or PNG."""

from __future__ import annotations

import sys

import click

from ..analyzer.behaviour import graph_disputes, unplaced, verify_catalog
from ..graph.drawing import draw, write_output
from ..base.errors import UnknownEnvironment
from . import options
from .common import Ctx, err, run_guarded


def _graph_disputes(catalog, env: str | None) -> tuple[dict, dict]:
    """The flows ``chartgen verify`` finds wrong, as the marks of the graph (notes on stderr)."""
    result = verify_catalog(catalog, (env,) if env else (), flows=False)
    for note in result.notes:
        err(f"note: {note}")
    hidden = unplaced(result)
    if result.problems:
        err(f"{len(result.problems)} flow(s) where the rendered mesh and the catalog disagree"
            + (f" ({hidden} from workloads the graph has no node for; see chartgen verify)" if hidden else ""))
    return graph_disputes(result)


@click.command("graph")
@options.catalog
@options.environment("One environment (default: the whole catalog, each element marked with its environments).")
@options.output_format("mermaid", "dot", "svg", "png", help="svg and png are drawn by Graphviz `dot`.")
@options.output_file
@options.tool_binary("dot", "dot_bin", "Graphviz dot")
@options.force
@click.option("--verify", "verify", is_flag=True,
              help="Render with helm and mark the flows where the rendered mesh and the catalog disagree (chartgen verify).")
@click.pass_obj
def command(obj: Ctx, catalog, env, fmt, output, dot_bin, force, verify):
    """Draw the mesh: gateway, hosts and paths, services with versions and weights, A/B routes,
    mirrors, calls, external services and their redirects, mTLS, chaos.

    With --verify, helm renders each environment and the flows the rendered mesh denies though
    the catalog asks for them are drawn dashed red with the reason; flows it allows that the
    catalog does not ask for are added, dotted orange. Without it the graph is drawn offline.

    \b
    Example:
      chartgen graph                          # Mermaid, every environment
      chartgen graph --env prod --format dot
      chartgen graph --env dev --format svg -o mesh-dev.svg
      chartgen graph --env prod --verify      # mark what the rendered mesh gets wrong
    """

    def run():
        try:
            data = draw(catalog, env, fmt, dot_bin, disputes=_graph_disputes(catalog, env) if verify else None)
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
