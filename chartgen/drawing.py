"""``graph.draw``'s I/O half: load the catalog, write the pure graph text (``graph.py``), and
have Graphviz ``dot`` draw it as an SVG or PNG when asked."""

from __future__ import annotations

from pathlib import Path

from .catalog import Catalog
from .graph import graph_text
from .toolchain import ToolNotFound, find_tool, run
from .validate import load_catalog


def draw(catalog: Catalog | str | Path, env: str | None = None, fmt: str = "mermaid", dot_bin: str | None = None) -> bytes:
    """The mesh graph of a catalog (``env``: one environment) as Mermaid or DOT text, or as
    an SVG or PNG drawn by Graphviz ``dot`` (``dot_bin``, else the lookup order)."""
    if not isinstance(catalog, Catalog):
        catalog = load_catalog(catalog)
    text = graph_text(catalog, env, "mermaid" if fmt == "mermaid" else "dot")
    if fmt in ("mermaid", "dot"):
        return text.encode("utf-8")
    return _graphviz(text, fmt, dot_bin)


def _graphviz(dot_text: str, fmt: str, dot_bin: str | None) -> bytes:
    """SVG or PNG of a DOT graph, by Graphviz."""
    try:
        tool = find_tool("dot", dot_bin)
    except ToolNotFound as exc:
        raise ToolNotFound(f"--format {fmt} needs Graphviz: {exc} (or use --format dot or mermaid)") from None
    return run(tool, f"-T{fmt}", input=dot_text.encode("utf-8"), text=False, what=f"dot -T{fmt}").stdout


__all__ = ["draw"]
