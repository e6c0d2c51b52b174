"""What a cluster needs before the releases sync, and the bootstrap scripts that create or
check it. Pure functions.

The prerequisites come from the release plan and the environment:

- the namespaces the releases install into that no chart creates (``istio-system``, the
  gateway's, the add-ons'), created with their Pod Security Admission labels (``psa_level``),
  because helm's and Argo CD's ``createNamespace`` create them without labels;
- the gateway's TLS Secret (an HTTPS gateway's ``credentialName``): checked, never made up;
- Kiali's login-token signing key where users log in, and Grafana's admin Secret (the
  grafana chart would otherwise draw a random password on every render): created once with
  a random value, kept when present.

Each environment's script (``gitops/<tool>/bootstrap/<env>.sh``) does exactly that against
the environment's cluster (its ``kubeContext``), and the Argo CD one then installs the
``argoproj.io/Application`` health check and the root Application. Every catalog string in
a script is a DNS label or a context name from the catalog's restricted patterns, and is
quoted for the shell besides.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from .helmfile import GRAFANA_ADMIN_SECRET, KIALI_SIGNING_SECRET, ReleasePlan
from ..catalog.mesh import EnvView

__all__ = ["ARGO_HEALTH_LUA", "Prerequisite", "argocd_health_patch", "bootstrap_script", "prerequisites",
           "psa_level"]

# Argo CD v3.5's documented health check of Application resources (operator-manual/health.md,
# "Argocd App"): without it sync waves between Applications do not wait for health
ARGO_HEALTH_LUA = """hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil then
  if obj.status.health ~= nil then
    hs.status = obj.status.health.status
    if obj.status.health.message ~= nil then
      hs.message = obj.status.health.message
    end
  end
end
return hs
"""
ARGO_HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"


@dataclass(frozen=True)
class Prerequisite:
    kind: str  # namespace | tls-secret | random-secret
    namespace: str
    name: str = ""
    keys: tuple[tuple[str, str], ...] = ()  # (key, fixed value or "" for a random one)
    level: str = ""  # namespaces: the Pod Security Admission level enforced


def psa_level(view: EnvView, namespace: str, plan: ReleasePlan) -> str:
    """The Pod Security Admission level of a release namespace: privileged where istio-cni
    or ztunnel run (hostPath, NET_ADMIN) and where Prometheus's node exporter runs
    (hostNetwork, hostPID, hostPath); baseline elsewhere (istiod, the gateway, Kiali,
    Jaeger, Grafana)."""
    releases = [r for r in plan.releases if view.name in r.envs]
    host_level = {r.namespace for r in releases if r.chart in ("cni", "ztunnel", "prometheus")}
    return "privileged" if namespace in host_level else "baseline"


def prerequisites(view: EnvView, plan: ReleasePlan, chart_namespaces: set[str]) -> list[Prerequisite]:
    """What ``view``'s cluster needs before the releases sync. ``chart_namespaces``: the
    namespaces the mesh chart creates itself (never created here: helm would refuse to
    adopt them)."""
    releases = {r.name: r for r in plan.releases if view.name in r.envs}
    charts = {r.chart: r for r in releases.values()}
    out = []
    for ns in sorted({r.namespace for r in releases.values() if r.create_namespace} - chart_namespaces):
        out.append(Prerequisite("namespace", ns, level=psa_level(view, ns, plan)))
    gw = view.env.gateway
    if gw.https and gw.credentialName:
        ns = view.mesh.catalog.istio.gatewayRelease
        out.append(Prerequisite("tls-secret", ns, gw.credentialName))
    kiali = charts.get("kiali-server")
    anonymous = view.env.kialiAnonymous if view.env.kialiAnonymous is not None else not view.env.production
    if kiali and not anonymous:
        name, key = KIALI_SIGNING_SECRET
        out.append(Prerequisite("random-secret", kiali.namespace, name, ((key, ""),)))
    grafana = charts.get("grafana")
    if grafana:
        name, user_key, password_key = GRAFANA_ADMIN_SECRET
        out.append(Prerequisite("random-secret", grafana.namespace, name, ((user_key, "admin"), (password_key, ""))))
    return out


def argocd_health_patch() -> dict:
    """The merge patch of ``argocd-cm`` that installs the Application health check."""
    return {"data": {ARGO_HEALTH_KEY: ARGO_HEALTH_LUA}}


_PRELUDE = """set -eu
# kubectl on the environment's cluster
k() { kubectl %(context)s"$@"; }
# a random value of 32 letters and digits
random() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32; }
missing=0
namespace() {  # name level: create the namespace if absent, then set its Pod Security labels
  k get namespace "$1" >/dev/null 2>&1 || k create namespace "$1"
  k label namespace "$1" --overwrite "pod-security.kubernetes.io/enforce=$2" \\
    "pod-security.kubernetes.io/warn=$3" "pod-security.kubernetes.io/audit=$3" >/dev/null
}
random_secret() {  # namespace name key=value|key ...: create once; an existing Secret is kept
  ns=$1 name=$2; shift 2
  if k -n "$ns" get secret "$name" >/dev/null 2>&1; then echo "kept secret $ns/$name"; return; fi
  args=""
  for kv in "$@"; do
    case $kv in *=*) args="$args --from-literal=$kv" ;; *) args="$args --from-literal=$kv=$(random)" ;; esac
  done
  # shellcheck disable=SC2086  # the keys are fixed words, the values letters and digits
  k -n "$ns" create secret generic "$name" $args >/dev/null
  echo "created secret $ns/$name"
}
tls_secret() {  # namespace name: must exist (a certificate is never made up here)
  if k -n "$1" get secret "$2" >/dev/null 2>&1; then echo "found TLS secret $1/$2"; else
    echo "missing TLS secret $1/$2: kubectl -n $1 create secret tls $2 --cert=<file> --key=<file>" >&2
    missing=1
  fi
}
"""


def _q(value: str) -> str:
    return shlex.quote(value)


def bootstrap_script(header: str, view: EnvView, prereqs: list[Prerequisite], *, argo: dict | None = None) -> str:
    """The environment's bootstrap script. ``argo``: ``{"namespace", "health", "root"}`` (the
    Argo CD namespace and the paths of the health patch and the root Application, from the
    repository root) to install Argo CD's part after the prerequisites."""
    ctx = view.env.kubeContext
    lines = ["#!/bin/sh", header.replace("\n", "\n# ").rstrip(),
             f"# Bootstrap of environment {view.name}: the prerequisites of its releases"
             + (", then Argo CD's Application health check and the root Application." if argo else "."),
             "# Run from the repository root; it is safe to run again.",
             _PRELUDE % {"context": f"--context {_q(ctx)} " if ctx else ""}]
    for p in prereqs:
        if p.kind == "namespace":
            shown = "baseline" if p.level == "privileged" else p.level
            lines.append(f"namespace {_q(p.namespace)} {p.level} {shown}")
        elif p.kind == "tls-secret":
            lines.append(f"tls_secret {_q(p.namespace)} {_q(p.name)}")
        else:
            keys = " ".join(_q(f"{k}={v}") if v else _q(k) for k, v in p.keys)
            lines.append(f"random_secret {_q(p.namespace)} {_q(p.name)} {keys}")
    lines.append('[ "$missing" = 0 ] || { echo "create the missing Secrets above, then run this again" >&2; exit 1; }')
    if argo:
        ns = _q(argo["namespace"])
        lines += [
            "# Argo CD (the current kubectl context: the cluster Argo CD runs in)",
            f"kubectl -n {ns} patch configmap argocd-cm --type merge --patch-file {_q(argo['health'])}",
            f"kubectl -n {ns} apply -f {_q(argo['root'])}",
        ]
    return "\n".join(lines) + "\n"
