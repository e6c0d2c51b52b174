"""``chartgen lint``: offline analysis of the rendered mesh chart.

Every environment is rendered with the real helm, layered as the helmfile does, then
checked: Kubernetes schemas, the pinned Istio release's CRDs (schema and CEL rules) and a port of
Istio's validating webhook, mesh semantics (istioctl analyze codes), chartgen's
security rules (CG1xx) and checkov's Kubernetes checks. The rules are documented in
docs/lint-rules.md.
"""

__all__ = ["RULES", "Finding", "LintResult", "Project", "Rendered", "Rule", "analyze", "lint", "lint_catalog", "render",
           "validate_objects"]


def __getattr__(name: str):
    """The package's API, each name loaded from its module on first use: importing one stage
    does not load them all."""
    if name in ("RULES", "Finding", "Rule"):
        from . import findings as module  # start-up: the stages load only when used
    elif name in ("LintResult", "analyze", "lint", "lint_catalog"):
        from . import runner as module  # start-up: the runner loads every stage (checkov's driver, CEL)
    elif name == "validate_objects":
        from . import schema as module  # start-up: the stages load only when used
    elif name in ("Project", "Rendered", "render"):
        from ..lifecycle import workspace as module  # start-up: the stages load only when used
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)
