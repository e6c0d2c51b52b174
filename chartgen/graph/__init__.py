"""The mesh graph: ``diagram`` builds it from the resolved catalog and writes Mermaid or DOT
text (pure); ``drawing`` is ``chartgen graph``'s workflow (reads the catalog, writes the file,
runs Graphviz ``dot`` for SVG and PNG)."""
