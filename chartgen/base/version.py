"""chartgen's version (one line the generated files, SARIF and ``--version`` read; a leaf
module, so any module can import it without importing the package's API)."""

__version__ = "0.1.0"
