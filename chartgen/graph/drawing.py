"""The mesh graph's I/O: load the catalog, have ``graph.py`` (pure) write the graph text,
have Graphviz ``dot`` draw it as an SVG or PNG when asked, and write the drawing to a file."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from ..catalog.model import Catalog
from .diagram import graph_text
from ..base.provenance import MARK
from ..base.reading import FileError, display, file_error
from ..base.toolchain import ToolNotFound, find_tool, run
from ..catalog.validate import load_catalog
from ..base.writer import replace_file


def draw(catalog: Catalog | str | Path, env: str | None = None, fmt: str = "mermaid", dot_bin: str | None = None,
         disputes: tuple[dict, dict] | None = None) -> bytes:
    """The mesh graph of a catalog (``env``: one environment) as Mermaid or DOT text, or as
    an SVG or PNG drawn by Graphviz ``dot`` (``dot_bin``, else the lookup order).
    ``disputes``: (denied, unintended) flows to mark (``graph.mark_flows``)."""
    if not isinstance(catalog, Catalog):
        catalog = load_catalog(catalog)
    text = graph_text(catalog, env, "mermaid" if fmt == "mermaid" else "dot", disputes)
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


def marked(data: bytes, fmt: str) -> bytes:
    """``data`` (a drawing in ``fmt``) with chartgen's mark near its top, so that a later
    ``graph -o`` knows the file as its own: a comment in Mermaid, DOT and SVG, a ``tEXt``
    chunk in PNG."""
    note = f"{MARK} graph; `chartgen graph -o` replaces it."
    if fmt == "mermaid":  # after the diagram type: some Mermaid readers refuse a comment before it
        head, sep, rest = data.partition(b"\n")
        return head + sep + f"  %% {note}\n".encode() + rest
    if fmt == "dot":
        return f"// {note}\n".encode() + data
    if fmt == "svg":
        head, sep, rest = data.partition(b"\n")
        comment = f"<!-- {note.replace('--', '-')} -->\n".encode()
        return head + sep + comment + rest if head.startswith(b"<?xml") else comment + data
    if fmt == "png" and data[12:16] == b"IHDR":
        end = 8 + 12 + struct.unpack(">I", data[8:12])[0]
        body = b"tEXt" + b"Software\0" + note.encode("latin-1")
        chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        return data[:end] + chunk + data[end:]
    return data


def write_output(output: str | Path, data: bytes, fmt: str, catalog: str | Path, force: bool = False) -> None:
    """Write the drawing to ``output``: never over the catalog it was drawn from (not even with
    ``force``), and over another existing file only when chartgen wrote it (its mark) or with
    ``force``. The file is replaced whole (a temporary file renamed into place)."""
    real = Path(os.path.realpath(output))
    if real.exists() and os.path.exists(catalog) and os.path.samefile(real, catalog):
        raise FileError(f"refusing to write the graph to {display(output)}: it is the catalog being read; "
                        "give another file")
    if real.exists() and not force:
        try:
            with open(real, "rb") as fh:
                head = fh.read(1024)
        except OSError as exc:
            raise file_error(exc, output, "read") from None
        if f"{MARK} graph".encode() not in head:
            raise FileError(f"refusing to replace {display(output)}: it is not a drawing of chartgen graph (no "
                            f"`{MARK} graph` mark); give another file, or run again with --force to replace it")
    try:
        replace_file(real, marked(data, fmt))
    except OSError as exc:
        raise file_error(exc, output, "write") from None


__all__ = ["draw", "marked", "write_output"]
