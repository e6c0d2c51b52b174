"""The benchmarks' synthetic catalog generator (benchmarks/synth.py), for the tests."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "synth.py"


@lru_cache(maxsize=1)
def _module():
    spec = importlib.util.spec_from_file_location("chartgen_bench_synth", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synth_catalog(n: int) -> dict:
    """The N-service synthetic catalog (the same N gives the same catalog)."""
    return _module().synth_catalog(n)
