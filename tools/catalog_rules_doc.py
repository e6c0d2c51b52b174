#!/usr/bin/env python3
"""Write docs/catalog-rules.md from the catalog rule table (chartgen/catalog/rules/).

Usage::

    .venv/bin/python tools/catalog_rules_doc.py           # rewrite the page
    .venv/bin/python tools/catalog_rules_doc.py --check   # exit 1 if the page is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from chartgen.catalog.rules.doc import DOC_PATH, render  # noqa: E402
from chartgen.chart.invariants import by_catalog_rule  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page differs from the table")
    args = parser.parse_args(argv)
    path = REPO_ROOT / DOC_PATH
    text = render(by_catalog_rule)
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is out of date; run `python tools/catalog_rules_doc.py`", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
