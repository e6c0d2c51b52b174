"""The value objects of the analyzer: a finding, and the rules that produce them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .sarif import docs_url
from .webhook import CHECKS as WEBHOOK_CHECKS

SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
RULES_DOC = "docs/lint-rules.md"


@dataclass(frozen=True)
class Rule:
    code: str
    level: str
    summary: str


_RULES = [
    Rule("K8S-SCHEMA", "error", "Kubernetes object does not match the strict Kubernetes schema"),
    Rule("IST0101", "error", "Referenced resource not found"),
    Rule("IST0106", "error", "Istio object does not match the CRD schema of the pinned Istio release"),
    Rule("CRD-CEL", "error", "Istio object breaks an x-kubernetes-validations (CEL) rule of its CRD"),
    Rule("IST0109", "error", "Two mesh VirtualServices for one host"),
    Rule("IST0112", "error", "Destination port missing for a service with several ports"),
    Rule("IST0118", "info", "Port name does not follow <protocol>[-suffix]"),
    Rule("IST0123", "warning", "Namespace carries more than one injection label"),
    Rule("IST0130", "warning", "VirtualService rule is unreachable"),
    Rule("IST0131", "info", "VirtualService match is ineffective (duplicate of an earlier one)"),
    Rule("IST0132", "warning", "VirtualService host not exposed by its Gateway"),
    Rule("IST0145", "error", "Conflicting Gateways (same selector, port and host)"),
    Rule("IST0151", "warning", "EnvoyFilter with a relative patch and no priority"),
    Rule("IST0160", "error", "More than one selector-less Telemetry in a namespace"),
    Rule("IST0161", "error", "Gateway credential outside the gateway workload namespace"),
    Rule("IST0162", "warning", "Gateway port not on the gateway Service"),
    Rule("IST0173", "warning", "DestinationRule subset selects no known version"),
    Rule("IST0174", "warning", "DestinationRule host is not a known service"),
    Rule("CG101", "error", "Production namespaces must enforce STRICT mTLS"),
    Rule("CG102", "error", "Deny-by-default AuthorizationPolicy missing in a workload namespace"),
    Rule("CG103", "error", "ALLOW rule with wildcard or empty sources"),
    Rule("CG104", "error", "Fault injection in a production environment"),
    Rule("CG105", "error", "Production Gateway must be TLS-only with an HTTPS redirect"),
    Rule("CG106", "warning", "Workload without a Sidecar resource"),
    Rule("CG107", "error", "NetworkPolicy default-deny missing in a workload namespace"),
    Rule("CG108", "warning", "Telemetry provider not defined in the istiod meshConfig"),
    Rule("CG109", "error", "Open egress (ALLOW_ANY) in a production environment"),
    Rule("CG110", "error", "JWKS fetched over plain HTTP in a production environment"),
    Rule("CG111", "error", "Wildcard ServiceEntry host in a production environment"),
    Rule("CG120", "error", "Port name makes Istio handle the port as another protocol"),
    Rule("CG121", "warning", "Port name and declared protocol differ"),
    Rule("CG130", "error", "Ambient: L7 authorization that no waypoint enforces"),
    Rule("CG131", "error", "Ambient: routing for a service that no waypoint serves"),
    Rule("CG132", "error", "Ambient: Sidecar in an ambient namespace"),
    Rule("CG133", "error", "Namespace both sidecar-injected and ambient"),
    Rule("CG134", "warning", "Ambient: waypoint that nothing uses"),
    Rule("VFY101", "error", "Behaviour: a flow the catalog asks for is denied by the rendered mesh"),
    Rule("VFY102", "error", "Behaviour: the rendered mesh allows a flow the catalog does not ask for"),
    Rule("VFY103", "error", "Behaviour: an intended flow gets another version split than the catalog's"),
    Rule("CG140", "error", "Object larger than etcd accepts in one request (1.5 MiB)"),
    Rule("CG141", "error", "ConfigMap or Secret data over 1 MiB"),
    Rule("CG142", "error", "Client-side apply: last-applied annotation over 256 KiB"),
    Rule("CG143", "error", "Annotations over 256 KiB"),
    Rule("CG144", "error", "Name, label value or key longer than Kubernetes allows"),
    Rule("CG150", "error", "istio.io/rev names a tag or revision no istiod serves"),
    Rule("CG151", "warning", "Ingress gateway on a revision the upgrade is removing"),
    Rule("SCANNER", "error", "Kubernetes security scanner (checkov) finding"),
]
_RULES += [Rule(name, "error", f"Istio's validating webhook rejects the object ({name})") for name in WEBHOOK_CHECKS]
RULES: dict[str, Rule] = {r.code: r for r in _RULES}


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in one environment's rendered output.

    ``file`` is the chart template the object comes from (from helm's ``# Source:``
    comment, relative to the project root), or the catalog for catalog-level findings;
    ``line`` starts at 1 (0: unknown).
    """

    env: str
    kind: str
    namespace: str
    name: str
    code: str
    message: str
    level: str = "error"
    file: str = ""
    line: int = 0
    tool: str = field(default="chartgen", compare=False)

    @property
    def object(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    def format(self) -> str:
        return f"{self.env} {self.object}: {self.level}: {self.message} [{self.code}]"

    def to_dict(self) -> dict:
        return asdict(self)


def help_uri(code: str) -> str:
    """The rule's absolute documentation URL (SARIF wants a URI; see chartgen.analyzer.sarif)."""
    anchor = code if code in RULES else "SCANNER"
    return docs_url(f"{RULES_DOC}#{anchor}")
