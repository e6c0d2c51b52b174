"""``chartgen verify``'s model: the catalog's intended flows, and how Kubernetes and Istio
enforce the rendered objects (pure; no I/O). See docs/verify.md."""

from .intent import Intended, intended_flows
from .model import EnvReport, FlowResult, Verdict, build_world, verify, verify_docs

__all__ = ["EnvReport", "FlowResult", "Intended", "Verdict", "build_world", "intended_flows", "verify", "verify_docs"]
