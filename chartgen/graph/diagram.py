"""A picture of the mesh: the catalog as a graph, written as Mermaid or Graphviz DOT.

Pure functions. ``build_graph`` walks one environment (or every environment, each element
annotated with the environments that have it) and returns nodes and edges; ``mermaid`` and
``dot`` write them. Every catalog string is escaped for the target language, so a header
value or a regex can never break out of its label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from ..catalog.model import Catalog, match_text
from ..base.errors import UnknownEnvironment
from ..catalog.mesh import EnvView, Mesh, ResolvedService, resolve
from ..catalog.revisions import control_plane


@dataclass
class Node:
    id: str
    kind: str  # mesh | gateway | service | version | external
    title: str
    lines: list[str] = field(default_factory=list)
    chaos: bool = False


class Edge(NamedTuple):  # a tuple: hashing and sorting thousands of edges stay in C
    src: str
    dst: str
    kind: str  # ingress | ab | mirror | version | call | redirect | denied | unintended
    label: str = ""


@dataclass
class Graph:
    title: str
    nodes: list[Node]
    edges: list[Edge]


def _id(*parts: str) -> str:
    # catalog keys are DNS labels ([a-z0-9-]); '-' becomes '_' and parts join with '__'
    return "__".join(parts).replace("-", "_")


def _path_text(item) -> str:
    if isinstance(item, str):
        return item  # a prefix on whole path segments
    kind, value = next(iter(item.model_dump(exclude_none=True).items()))
    return f"{value} ({kind})"


def _pct(value: float) -> str:
    return f"{value:g}%"


def _faults(svc: ResolvedService) -> list[str]:
    out = []
    for f in svc.spec.faults or []:
        what = []
        if f.delay:
            what.append(f"delay {_pct(f.delay.percent)} {f.delay.fixedDelay}")
        if f.abort:
            status = f.abort.httpStatus if f.abort.httpStatus is not None else f.abort.grpcStatus
            what.append(f"abort {_pct(f.abort.percent)} {status}")
        when = f" when {match_text(f.match)}" if f.match else ""
        out.append(f"chaos {f.name}: {', '.join(what)}{when}")
    return out


def _env_elements(view: EnvView) -> tuple[dict[str, Node], set[Edge]]:
    """The nodes and edges of one environment."""
    nodes: dict[str, Node] = {"mesh": _mesh_node(view)}
    edges: set[Edge] = set()
    enabled = view.enabled  # a new dict per call: taken once
    exposed = False
    for key, svc in sorted(enabled.items()):
        exposed |= _add_service(view, key, svc, enabled, nodes, edges)
    if exposed:
        nodes["gateway"] = _gateway_node(view)
    for key, ext in sorted(view.catalog.externalServices.items()):
        eid = _id("ext", key)
        lines = [", ".join(ext.hosts), ", ".join(f"{p.port}/{p.protocol}" for p in ext.ports)]
        nodes[eid] = Node(eid, "external", f"external {key}", lines)
        if view.redirect_active(key):
            r = ext.redirectTo
            edges.add(Edge(eid, _id("svc", r.service), "redirect", f"redirected to :{r.port}"))
    return nodes, edges


def _mesh_node(view: EnvView) -> Node:
    env = view.env
    lines = [f"namespace {view.namespace}", f"mTLS {env.mtls}", f"data plane {env.dataPlane}",
             f"egress {env.egressPolicy}"]
    if view.chaos:
        lines.append("chaos on")
    lines += _revision_lines(view)
    return Node("mesh", "mesh", f"mesh {view.catalog.metadata.name}", lines)


def _revision_lines(view: EnvView) -> list[str]:
    """With control-plane revisions: the istiod revisions, and the tag or revision each
    namespace is on (chartgen.catalog.revisions)."""
    cp = control_plane(view.catalog, view.name)
    if cp.legacy:
        return []
    lines = ["istiod " + ", ".join(f"{rev} ({version})" for rev, version in cp.revisions.items())]
    for ns in sorted({view.namespace} | {view.service_namespace(s) for s in view.enabled.values()}):
        label = cp.label_of(ns)
        rev = cp.resolve(label)
        lines.append(f"{ns} → {label}" + (f" ({rev})" if rev != label else ""))
    gateway = cp.resolve(cp.gateway)
    lines.append(f"gateway → {cp.gateway}" + (f" ({gateway})" if gateway != cp.gateway else ""))
    return lines


def _gateway_node(view: EnvView) -> Node:
    gw = view.env.gateway
    lines = [f"{'HTTPS' if gw.https else 'HTTP'} *.{view.host_suffix}"]
    if gw.https and gw.httpsRedirect:
        lines.append("HTTP → HTTPS redirect")
    lines += [f"port {p.port} {p.name}" for p in gw.extraPorts]
    if gw.jwt:
        lines.append(f"JWT {gw.jwt.issuer}")
    if gw.rateLimit:
        lines.append(f"rate limit {gw.rateLimit.requests}/{gw.rateLimit.per}")
    lines.append(f"{view.ingress_api} ingress")
    return Node("gateway", "gateway", f"gateway {view.catalog.istio.gatewayRelease}", lines)


def _add_service(view: EnvView, key: str, svc, enabled: dict, nodes: dict[str, Node], edges: set[Edge]) -> bool:
    """Adds an enabled service's node, its versions and its edges; whether it is exposed."""
    s = svc.spec
    sid = _id("svc", key)
    # the environment's namespace is on the mesh node; a service's own one is shown here
    lines = [f"Service {svc.service_name}" + (f".{svc.namespace}" if svc.namespace else ""),
             ", ".join(f"{p.port}/{p.protocol}" for p in s.ports)]
    chaos = _faults(svc) if view.chaos else []
    nodes[sid] = Node(sid, "service", key, lines + chaos, chaos=bool(chaos))
    if s.expose is not None:
        paths = " ".join(_path_text(p) for p in s.expose.paths)
        port = f":{s.expose.gatewayPort}" if s.expose.gatewayPort else ""
        edges.add(Edge("gateway", sid, "ingress", f"{s.expose.host or key}{port} {paths}"))
    for ver in sorted(s.versions or {}):
        vid = _id("ver", key, ver)
        nodes[vid] = Node(vid, "version", f"{key} {ver}", _version_lines(s, ver))
        edges.add(Edge(sid, vid, "version"))
    for route in s.routes or []:
        edges.add(Edge(sid, _id("ver", key, route.version), "ab", f"A/B {route.name}: {match_text(route.match)}"))
    if s.mirror:
        edges.add(Edge(sid, _id("ver", key, s.mirror.version), "mirror", f"mirror {_pct(s.mirror.percent)}"))
    externals = view.catalog.externalServices
    # every call the chart admits: to an enabled service, or to an external service (its
    # ServiceEntry is rendered in every environment; where it is redirected, the redirect edge
    # continues the path to the service that stands in for it)
    edges.update(Edge(sid, _id("svc", callee), "call") for callee in s.calls or [] if callee in enabled)
    edges.update(Edge(sid, _id("ext", callee), "call") for callee in s.calls or [] if callee in externals)
    return s.expose is not None


def _version_lines(spec, ver: str) -> list[str]:
    lines = [f"weight {(spec.weights or {}).get(ver, 0)}%"]
    if spec.canary and spec.canary.candidate == ver:
        lines.append("canary candidate")
    elif spec.canary and spec.canary.stable == ver:
        lines.append("canary stable")
    return lines


def build_graph(source: Catalog | Mesh, env: str | None = None) -> Graph:
    """The graph of one environment, or of the whole catalog: then a node, a line of a node
    or an edge that not every environment has is annotated with the ones that do."""
    mesh = resolve(source)
    catalog = mesh.catalog
    views = [v for v in mesh.views if env is None or v.name == env]
    if not views:
        raise KeyError(env)
    if env is not None:
        nodes, edges = _env_elements(views[0])
        return Graph(f"{catalog.metadata.name} mesh: {env}", [nodes[k] for k in sorted(nodes, key=_order)],
                     sorted(edges))
    all_envs = [v.name for v in views]
    node_envs: dict[str, list[str]] = {}
    merged: dict[str, Node] = {}
    line_envs: dict[tuple[str, str], list[str]] = {}
    edge_envs: dict[Edge, list[str]] = {}
    for view in views:
        nodes, edges = _env_elements(view)
        for nid, node in nodes.items():
            node_envs.setdefault(nid, []).append(view.name)
            if nid not in merged:
                merged[nid] = Node(nid, node.kind, node.title)
            merged[nid].chaos |= node.chaos
            for line in node.lines:
                if (nid, line) not in line_envs:
                    merged[nid].lines.append(line)
                line_envs.setdefault((nid, line), []).append(view.name)
        for e in edges:
            edge_envs.setdefault(e, []).append(view.name)

    def note(envs: list[str], context: list[str]) -> str:
        """The environments, unless they are all those of the context (the node, the edge's ends)."""
        return "" if envs == context else f" [{', '.join(envs)}]"

    out_nodes = []
    for nid in sorted(merged, key=_order):
        n = merged[nid]
        out_nodes.append(Node(nid, n.kind, n.title + note(node_envs[nid], all_envs),
                              [line + note(line_envs[(nid, line)], node_envs[nid]) for line in n.lines], n.chaos))
    out_edges = sorted(
        Edge(e.src, e.dst, e.kind, (e.label + note(envs, [x for x in node_envs[e.src] if x in node_envs[e.dst]])).strip())
        for e, envs in edge_envs.items())
    return Graph(f"{catalog.metadata.name} mesh: {', '.join(all_envs)}", out_nodes, out_edges)


def node_id(kind: str, key: str = "") -> str:
    """The id of a catalog element's node: ``svc`` or ``ext`` and its catalog key, or the gateway."""
    return "gateway" if kind == "gateway" else _id(kind, key)


def mark_flows(graph: Graph, denied: dict[tuple[str, str], str],
               unintended: dict[tuple[str, str], str] | None = None) -> Graph:
    """The graph with the flows where the rendered mesh and the catalog disagree marked; each
    map goes from (source node id, destination node id) to a short reason.

    ``denied``: flows the catalog asks for that the mesh denies (or routes otherwise): their
    call or ingress edge becomes a ``denied`` edge carrying the reason. ``unintended``: flows
    the mesh allows that the catalog does not ask for: each is added as an ``unintended`` edge.
    An entry of ``denied`` without a catalog edge is added as ``unintended``; an entry naming a
    node the graph does not have is left out. The behaviour model that decides which flows
    disagree is not part of this module: its caller passes them in."""
    edges = []
    seen = set()
    for e in graph.edges:
        reason = denied.get((e.src, e.dst)) if e.kind in ("call", "ingress") else None
        edges.append(Edge(e.src, e.dst, "denied", f"{e.label} ✗ {reason}".strip()) if reason else e)
        seen.add((e.src, e.dst))
    ids = {n.id for n in graph.nodes}
    extra = {k: v for k, v in denied.items() if k not in seen}
    extra.update(unintended or {})
    edges += [Edge(src, dst, "unintended", f"✗ {reason}") for (src, dst), reason in extra.items()
              if src in ids and dst in ids]
    return Graph(graph.title, graph.nodes, sorted(edges))


_KIND_ORDER = {"mesh": 0, "gateway": 1, "svc": 2, "ver": 3, "ext": 4}


def _order(nid: str) -> tuple:
    return (_KIND_ORDER.get(nid.split("__")[0], 9), nid)


# --- Mermaid ------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _mermaid_label(text: str) -> str:
    """Text inside a quoted Mermaid label: entity codes for what Mermaid or Markdown would read."""
    text = _CONTROL.sub(" ", text)
    for ch, code in (("#", "#35;"), ("&", "#38;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;")):
        text = text.replace(ch, code)
    return text


_MM_SHAPES = {"mesh": ('["', '"]'), "gateway": ('{{"', '"}}'), "service": ('["', '"]'), "version": ('(["', '"])'),
              "external": ('[/"', '"/]')}
_MM_ARROWS = {"ingress": "==>", "version": "-->", "call": "-->", "ab": "-.->", "mirror": "-.->", "redirect": "-.->",
              "denied": "-.->", "unintended": "-.->"}
# a flow where the rendered mesh and the catalog disagree: dashed red (denied), dashed orange (unintended)
_MM_LINK_STYLES = {"denied": "stroke:#c0392b,stroke-width:2px,stroke-dasharray:6 4",
                   "unintended": "stroke:#d35400,stroke-width:2px,stroke-dasharray:2 3"}


def mermaid(graph: Graph) -> str:
    lines = ["flowchart LR"]
    for n in graph.nodes:
        open_, close = _MM_SHAPES[n.kind]
        label = "<br/>".join([f"<b>{_mermaid_label(n.title)}</b>", *(_mermaid_label(x) for x in n.lines)])
        lines.append(f"  {n.id}{open_}{label}{close}")
    for e in graph.edges:
        arrow = _MM_ARROWS[e.kind]
        label = f'|"{_mermaid_label(e.label)}"|' if e.label else ""
        lines.append(f"  {e.src} {arrow}{label} {e.dst}")
    for kind, style in _MM_LINK_STYLES.items():
        marked = [str(i) for i, e in enumerate(graph.edges) if e.kind == kind]
        if marked:
            lines.append(f"  linkStyle {','.join(marked)} {style}")
    lines.append("  classDef chaos fill:#ffe4e1,stroke:#c0392b,stroke-width:2px")
    lines.append("  classDef external stroke-dasharray:4 3")
    lines.append("  classDef meta fill:#f4f4f4,stroke:#999")
    for cls, ids in (("chaos", [n.id for n in graph.nodes if n.chaos]),
                     ("external", [n.id for n in graph.nodes if n.kind == "external"]),
                     ("meta", [n.id for n in graph.nodes if n.kind == "mesh"])):
        if ids:
            lines.append(f"  class {','.join(ids)} {cls}")
    return "\n".join(lines) + "\n"


# --- Graphviz DOT -------------------------------------------------------------------------------


def _dot_string(*lines: str) -> str:
    """A DOT double-quoted string of ``lines`` (joined by DOT's \\n): backslashes doubled, so
    no \\N, \\G or \\l escape of Graphviz applies, and quotes escaped."""
    esc = [_CONTROL.sub(" ", t).replace("\\", "\\\\").replace('"', '\\"') for t in lines]
    return '"' + "\\n".join(esc) + '"'


_DOT_SHAPES = {"mesh": "note", "gateway": "hexagon", "service": "box", "version": "ellipse", "external": "parallelogram"}
_DOT_EDGES = {"ingress": 'penwidth=2', "version": 'arrowhead=empty', "call": '', "ab": 'style=dashed',
              "mirror": 'style=dotted', "redirect": 'style=dashed, color="#2471a3"',
              "denied": 'style=dashed, color="#c0392b", fontcolor="#c0392b", penwidth=2',
              "unintended": 'style=dotted, color="#d35400", fontcolor="#d35400", penwidth=2'}


def dot(graph: Graph) -> str:
    out = ["digraph mesh {",
           f"  label={_dot_string(graph.title)};",
           '  labelloc=t; rankdir=LR; fontname="Helvetica";',
           '  node [fontname="Helvetica", fontsize=11, style="rounded,filled", fillcolor="#ffffff"];',
           '  edge [fontname="Helvetica", fontsize=10];']
    for n in graph.nodes:
        attrs = [f"label={_dot_string(n.title, *n.lines)}", f"shape={_DOT_SHAPES[n.kind]}"]
        if n.chaos:
            attrs.append('color="#c0392b", fillcolor="#ffe4e1", penwidth=2')
        if n.kind == "external":
            attrs.append('style="dashed"')
        if n.kind == "mesh":
            attrs.append('fillcolor="#f4f4f4"')
        out.append(f"  {_dot_string(n.id)} [{', '.join(attrs)}];")
    for e in graph.edges:
        attrs = [a for a in (_DOT_EDGES[e.kind], f"label={_dot_string(e.label)}" if e.label else "") if a]
        out.append(f"  {_dot_string(e.src)} -> {_dot_string(e.dst)}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    out.append("}")
    return "\n".join(out) + "\n"


def graph_text(source: Catalog | Mesh, env: str | None = None, fmt: str = "mermaid",
               disputes: tuple[dict, dict] | None = None) -> str:
    """The mesh graph of a catalog (``env``: one environment) as Mermaid or DOT text.
    ``disputes``: (denied, unintended) flows to mark (``mark_flows``)."""
    catalog = source.catalog if isinstance(source, Mesh) else source
    if env is not None and env not in catalog.environments:
        raise UnknownEnvironment(f"unknown environment {env!r}; the catalog has {', '.join(sorted(catalog.environments))}")
    g = build_graph(source, env)
    if disputes is not None:
        g = mark_flows(g, *disputes)
    return mermaid(g) if fmt == "mermaid" else dot(g)


def readme_graph(text: str | None) -> str:
    """The Mermaid diagram of a chart README ('' when there is none)."""
    if not text or "```mermaid\n" not in text:
        return ""
    return text.split("```mermaid\n", 1)[1].split("```", 1)[0]
