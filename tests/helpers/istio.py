"""The CRDs of the real istio/base chart ($CHARTGEN_UPSTREAM_CHARTS), loaded once per session.
Without the variable, the tests that need them are skipped with a one-line reason (under CI,
they fail)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

ISTIO_VERSION = "1.30.3"


@lru_cache(maxsize=1)
def _load(directory: str):
    from chartgen.analyzer.istio_crds import crds_from_chart
    from chartgen.base.crdcheck import CRDSet

    return CRDSet.from_documents(crds_from_chart(Path(directory) / f"base-{ISTIO_VERSION}.tgz"))


def istio_crds():
    """A CRDSet of Istio 1.30.3's CRDs (skips the calling test when the charts are not at hand)."""
    value = os.environ.get("CHARTGEN_UPSTREAM_CHARTS")
    if not value:
        from conftest import skip_or_fail_without_upstream

        skip_or_fail_without_upstream("$CHARTGEN_UPSTREAM_CHARTS is not set (the istio/base chart carries the Istio CRDs)")
    return _load(value)
