"""The Kubernetes Gateway API CRDs that chartgen vendors (``chartgen/data/gateway-api/``):
which environments need them, the local chart that installs them, and a ``CRDSet`` to
validate rendered Gateway API objects with. Pure functions of the catalog.

The Gateway API CRDs are not in any upstream Helm chart, so ``chartgen generate`` writes
them as the small local chart ``charts/gateway-api-crds/`` (the vendored files, each
annotated ``helm.sh/resource-policy: keep`` so that uninstalling the release never deletes
the routes), and the helmfile installs it before istiod where the Gateway API is used.
"""

from __future__ import annotations

import yaml
from functools import lru_cache
from importlib import resources

from ..catalog.model import Catalog, protocol_class
from ..base.crdcheck import CRDSet
from ..catalog.mesh import Mesh, env_views
from ..base.provenance import GENERATED, copy_header

__all__ = ["GATEWAY_API_VERSION", "CRD_CHART", "uses_gateway_api", "gateway_api_envs", "uses_tcp_routes",
           "crd_files", "crd_set", "build_crd_chart"]

GATEWAY_API_VERSION = "v1.5.1"
CRD_CHART = "gateway-api-crds"
_KEEP = "helm.sh/resource-policy: keep"
HEADER = f"# {GENERATED}"


def gateway_api_envs(source: Catalog | Mesh) -> list[str]:
    """The environments whose chart renders Gateway API objects."""
    return [v.name for v in env_views(source) if v.ambient or v.ingress_api == "gatewayApi"]


def uses_gateway_api(source: Catalog | Mesh) -> bool:
    return bool(gateway_api_envs(source))


def uses_tcp_routes(source: Catalog | Mesh) -> bool:
    """Does an ambient environment split the versions of a TCP port (a TCPRoute, whose CRD
    is in the experimental channel only)?"""
    return any(view.ambient and svc.spec.weights and any(protocol_class(p.protocol) == "tcp" for p in svc.spec.ports)
               for view in env_views(source) for svc in view.enabled.values())


def _data():
    return resources.files("chartgen") / "data" / "gateway-api" / GATEWAY_API_VERSION


def crd_files(tcp_route: bool = False) -> list[tuple[str, str]]:
    """(file name, text) of the vendored install, standard channel first, sorted by name."""
    return [(name, text) for _, name, text in _vendored(tcp_route)]


def _vendored(tcp_route: bool) -> list[tuple[str, str, str]]:
    """(channel, file name, text) of the vendored install, as ``crd_files`` orders them."""
    out = []
    for channel in ("standard", "experimental"):
        if channel == "experimental" and not tcp_route:
            continue
        folder = _data() / channel
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yaml"):
                out.append((channel, entry.name, entry.read_text(encoding="utf-8")))
    return out


@lru_cache(maxsize=1)
def crd_set():
    """Every vendored Gateway API CRD (standard and experimental), for ``crdcheck``."""

    docs = []
    for _, text in crd_files(tcp_route=True):
        docs += [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    return CRDSet.from_documents(docs)


def _kept(text: str) -> str:
    """The vendored text with ``helm.sh/resource-policy: keep`` added to its first
    document's annotations (every file starts ``metadata:`` then ``annotations:``)."""
    marker = "\n  annotations:\n"
    at = text.find(marker)
    if at < 0:
        raise ValueError("a vendored Gateway API file without metadata.annotations")
    at += len(marker)
    return text[:at] + f"    {_KEEP}\n" + text[at:]


_TEMPLATE = """{{- /*
The Kubernetes Gateway API CRDs, from files/ (vendored unchanged but for the
helm.sh/resource-policy: keep annotation): helm upgrades them, never deletes them.
*/ -}}
{{- range $path, $_ := .Files.Glob "files/*.yaml" }}
---
{{ $.Files.Get $path }}
{{- end }}
"""


def build_crd_chart(source: Catalog | Mesh) -> dict[str, str]:
    """The files of ``charts/gateway-api-crds/`` (relative to that directory)."""
    version = GATEWAY_API_VERSION.lstrip("v")
    tcp = uses_tcp_routes(source)
    files = {
        "Chart.yaml": (
            f"{HEADER}\n"
            "apiVersion: v2\n"
            f"name: {CRD_CHART}\n"
            "description: The Kubernetes Gateway API CRDs (standard channel"
            f"{', and TCPRoute from the experimental channel' if tcp else ''}), installed before istiod\n"
            "type: application\n"
            f"version: {version}\n"
            f'appVersion: "{GATEWAY_API_VERSION}"\n'
            "home: https://gateway-api.sigs.k8s.io\n"
            "sources:\n"
            "  - https://github.com/kubernetes-sigs/gateway-api\n"
            "annotations:\n"
            "  artifacthub.io/license: Apache-2.0\n"
        ),
        "README.md": (
            f"<!-- {HEADER[2:]} -->\n"
            f"# {CRD_CHART}\n\n"
            f"The Kubernetes Gateway API {GATEWAY_API_VERSION} CRDs (standard channel"
            f"{', plus the experimental TCPRoute' if tcp else ''}) as a chart, so that the helmfile installs "
            "them before istiod. Istio 1.30 builds against this version and does not ship them.\n\n"
            "`files/` holds the files of the upstream release "
            f"(<https://github.com/kubernetes-sigs/gateway-api>, tag `{GATEWAY_API_VERSION}`, "
            "`config/crd/`), unchanged except for the annotation `helm.sh/resource-policy: keep`: "
            "uninstalling the release leaves the CRDs, and with them every Gateway and route, in place.\n\n"
            "Licence of the CRDs: Apache License 2.0, Copyright The Kubernetes Authors.\n"
        ),
        "templates/crds.yaml": copy_header("templates/crds.yaml", _TEMPLATE, "chartgen/chart/gatewayapi.py",
                                           "written from its _TEMPLATE"),
    }
    for channel, name, text in _vendored(tcp):
        source = f"chartgen/data/gateway-api/{GATEWAY_API_VERSION}/{channel}/{name}"
        files[f"files/{name}"] = copy_header(f"files/{name}", _kept(text), source, f"with {_KEEP} added")
    return files
