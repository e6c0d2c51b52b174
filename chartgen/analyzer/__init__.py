"""``chartgen lint``: offline analysis of the rendered mesh chart.

Every environment is rendered with the real helm, layered as the helmfile does, then
checked: Kubernetes schemas, the pinned Istio release's CRDs (schema and CEL rules) and a port of
Istio's validating webhook, mesh semantics (istioctl analyze codes), chartgen's
security rules (CG1xx) and checkov's Kubernetes checks. The rules are documented in
docs/lint-rules.md.
"""

from .findings import RULES, Finding, Rule
from .runner import LintResult, analyze, lint, lint_catalog
from .schema import validate_objects
from .workspace import Project, Rendered, render

__all__ = ["RULES", "Finding", "LintResult", "Project", "Rendered", "Rule", "analyze", "lint", "lint_catalog", "render",
           "validate_objects"]
