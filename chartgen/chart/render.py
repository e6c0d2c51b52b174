"""Catalog → the plan of generated files ({relative path: text}). Pure functions.

Jinja2 writes the chart's own files (README, values.yaml comments); the Go templates are
copied under a header naming their source, with their define names prefixed by the chart's
name (Helm's define names are global across a chart and its subcharts); data files
(Chart.yaml, JSON, helmfile.yaml) are serialised data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
import yaml

from ..base import yamlout
from ..catalog.model import Catalog
from ..graph.diagram import build_graph, mermaid
from ..catalog.mesh import Mesh, resolve
from ..base.provenance import GENERATED, copy_header
from .values import chart_name, mesh_values, path_label
from .values_schema import VALUES_SCHEMA, describe
from ..base.version import __version__

CHART_SOURCE = "chartgen/chart/static"  # the chart files copied from the package, in chartgen's tree
VALUES_SCHEMA_SOURCE = "chartgen/chart/values_model.py"
TEMPLATE_PREFIX = "chartgen"  # the prefix of every define name in the package's templates


@dataclass(frozen=True)
class ChartMeta:
    """What a version of the chart adds to its body: the version, the changes since the last
    release (``lifecycle.Change`` records, for Artifact Hub) and the changelog."""

    version: str = "0.1.0"
    changes: tuple = ()
    changelog: str = ""


@dataclass(frozen=True)
class ChartBody:
    """Everything of the chart that does not depend on its version, computed once per run:
    the environment-neutral values, the files written as they are, and what the README
    shows besides the version."""

    values: dict
    files: dict[str, str]
    readme: dict  # the README template's context, all but the chart's metadata


def dump_yaml_fast(data: Any) -> str:
    """Like dump_yaml, with libyaml's emitter where PyYAML has it (large files)."""
    return yamlout.dump_fast(data)


def dump_yaml(data: Any) -> str:
    return yamlout.dump(data)


@lru_cache(maxsize=1)
def _jinja() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("chartgen", "chart/files"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        variable_start_string="[[", variable_end_string="]]",
        block_start_string="[%", block_end_string="%]",
        trim_blocks=True, lstrip_blocks=True,
    )


def _chart_source_root():
    return resources.files("chartgen") / "chart" / "static"


def _chart_source_files() -> list[tuple[str, str]]:
    """(path in the chart, text) of every file copied from the package, sorted by path."""
    out: list[tuple[str, str]] = []

    def walk(node, prefix):
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            elif not child.name.endswith((".pyc",)):
                out.append((rel, child.read_text(encoding="utf-8")))

    walk(_chart_source_root(), "")
    return out


def define_pattern(files: list[tuple[str, str]]) -> re.Pattern:
    """The names the package's templates define (``chartgen.<name>``), wherever they are
    written (define, include, template, comments); other ``chartgen.`` text (labels such as
    ``chartgen.io/paths``, module names) does not match."""
    names = sorted({m for rel, text in files if rel.startswith("templates/")
                    for m in re.findall(r'define\s+"' + TEMPLATE_PREFIX + r'\.(\w+)"', text)},
                   key=lambda n: (-len(n), n))
    return re.compile(r"\b" + TEMPLATE_PREFIX + r"\.(" + "|".join(names) + r")\b")


@lru_cache(maxsize=8)
def static_chart_files(prefix: str = TEMPLATE_PREFIX) -> tuple[tuple[str, str], ...]:
    """The chart files copied from the package (Go templates, dashboards), sorted by path,
    each under the header of a generated copy; in the Go templates, every define name
    ``chartgen.<name>`` becomes ``<prefix>.<name>``."""
    files = _chart_source_files()
    pattern = define_pattern(files)
    out: list[tuple[str, str]] = []
    for rel, text in files:
        how = ""
        if rel.startswith("templates/") and prefix != TEMPLATE_PREFIX:
            renamed = pattern.sub(lambda m: f"{prefix}.{m.group(1)}", text)
            if renamed != text:
                text, how = renamed, f'define names prefixed "{prefix}." instead of "{TEMPLATE_PREFIX}."'
        out.append((rel, copy_header(rel, text, f"{CHART_SOURCE}/{rel}", how)))
    return tuple(out)


def chart_yaml(catalog: Catalog, meta: ChartMeta) -> str:
    md = catalog.metadata
    data: dict[str, Any] = {
        "apiVersion": "v2",
        "name": chart_name(catalog),
        "description": md.description,
        "type": "application",
        "version": meta.version,
        "appVersion": catalog.versions.istio,
        "kubeVersion": catalog.versions.kubernetes,
        "keywords": sorted(set(md.keywords) | {"istio", "service-mesh"}),
    }
    if md.home:
        data["home"] = md.home
    data["icon"] = md.icon
    if md.sources:
        data["sources"] = list(md.sources)
    if md.maintainers:
        data["maintainers"] = [m.model_dump(exclude_none=True) for m in md.maintainers]
    annotations = {
        "artifacthub.io/category": "networking",
        "artifacthub.io/prerelease": "false",
        "artifacthub.io/operator": "false",
        "artifacthub.io/containsSecurityUpdates": "false",
        "chartgen.io/generator-version": __version__,
    }
    if md.license:
        annotations["artifacthub.io/license"] = md.license
    if meta.changes:
        annotations["artifacthub.io/changes"] = dump_yaml(
            [{"kind": c.kind, "description": c.text} for c in meta.changes]
        )
    data["annotations"] = dict(sorted(annotations.items()))
    return f"# {GENERATED}\n" + dump_yaml(data)


def values_yaml(values: dict) -> str:
    """values.yaml with a `## @param` comment on every documented key."""
    docs = {path: (typ, desc) for path, typ, desc in describe()}
    docs = {p: d for p, d in docs.items() if p.count("<name>") <= 1 and not p.endswith("<name>")}
    lines = [f"# {GENERATED}", "# Environment-neutral defaults; values/<chart>/<env>.yaml holds each environment's overrides.", ""]
    _emit(values, "", 0, docs, lines, {})
    return "\n".join(lines) + "\n"


def _emit(node: dict, path: str, indent: int, docs: dict, lines: list[str], blocks: dict[tuple[str, str], str]):
    pad = "  " * indent
    for key, value in node.items():
        kpath = f"{path}.{key}" if path else key
        doc_path = kpath
        if doc_path not in docs and path.count(".") >= 1:
            # services.proxy.timeout -> services.<name>.timeout
            parts = kpath.split(".")
            doc_path = ".".join([parts[0], "<name>", *parts[2:]])
        if doc_path in docs:
            lines.append(f"{pad}## @param {kpath} {docs[doc_path][1]}".rstrip())
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{_key(key)}:")
            _emit(value, kpath, indent + 1, docs, lines, blocks)
        elif value == {} or value == []:
            lines.append(f"{pad}{_key(key)}: {'{}' if value == {} else '[]'}")
        elif _short_scalar(value):
            lines.append(f"{pad}{_key(key)}: {_scalar(type(value), value)}")
        elif isinstance(value, list) and all(_short_scalar(v) for v in value):
            lines.append(f"{pad}{_key(key)}:")
            lines.extend(f"{pad}- {_scalar(type(v), v)}" for v in value)
        else:
            lines.extend(f"{pad}{line}" for line in _block(key, value, blocks).split("\n"))


def _block(key: str, value, blocks: dict[tuple[str, str], str]) -> str:
    """``key: value`` as PyYAML writes it at the left margin. Services repeat the same port
    lists, fault rules and retry policies: each distinct one (by its repr, which tells 1 from
    True and '1') is written once per values.yaml."""
    memo = (key, repr(value))
    text = blocks.get(memo)
    if text is None:
        text = blocks[memo] = dump_yaml_fast({key: value}).rstrip("\n")
    return text


def _short_scalar(v) -> bool:
    return isinstance(v, (int, float, bool)) or v is None or (isinstance(v, str) and "\n" not in v and len(v) < 100)


@lru_cache(maxsize=65536)
def _scalar(_type: type, value) -> str:
    """A one-line scalar exactly as PyYAML writes it (cached: meshes repeat values).
    The type is part of the key, since True == 1 for the cache."""
    return dump_yaml_fast({"k": value})[3:].rstrip("\n")


@lru_cache(maxsize=4096)
def _key(key: str) -> str:
    if key.replace("-", "").replace("_", "").isalnum() and not yamlout.ambiguous(key):
        return key
    return dump_yaml({key: 0})[: -len(": 0\n")]


def readme_context(mesh: Mesh, values: dict) -> dict:
    """What the README shows besides the chart's metadata (the services, the values table,
    the mesh graph): the costly part, computed once per run."""
    services = []
    for key, s in values["services"].items():
        ports = ", ".join(f"{p['number']}/{p['protocol']}" for p in s["ports"])
        exp = s["expose"]
        expose = f"`{exp['host']}.<hostSuffix>` {' '.join(path_label(p) for p in exp['paths'])}" if exp["enabled"] else "—"
        services.append({"key": key, "namespace": s["namespace"], "ports": ports, "expose": expose,
                         "calls": ", ".join(s["calls"]) or "—"})
    rows = [(path, typ, desc, _default_text(values, path)) for path, typ, desc in describe() if path.count("<name>") <= 1]
    return {"mesh": mesh.catalog.metadata.name, "envs": list(mesh.views), "services": services, "values_rows": rows,
            "mesh_graph": mermaid(build_graph(mesh))}


def readme(catalog: Catalog, body: ChartBody, meta: ChartMeta) -> str:
    chart = yaml.safe_load(chart_yaml(catalog, meta))
    return _jinja().get_template("README.md.j2").render(chart=chart, **body.readme)


_NO_DEFAULT = object()


def _lookup(node, parts: list[str]) -> list:
    """Every value at a dotted path of values.yaml; ``<name>`` matches each key."""
    if not parts:
        return [node]
    if not isinstance(node, dict):
        return []
    head, rest = parts[0], parts[1:]
    if head == "<name>":
        return [v for key in sorted(node) for v in _lookup(node[key], rest)]
    return _lookup(node[head], rest) if head in node else []


def _default_text(values: dict, path: str) -> str:
    """The Default column of the values table: the value in values.yaml, '(per entry)' when the
    services differ, '—' for a section (its keys have their own rows) or a key not set."""
    found = _lookup(values, path.split("."))
    if not found or all(isinstance(v, dict) and v for v in found):
        return "—"
    texts = {json.dumps(v, sort_keys=True, separators=(", ", ": "), ensure_ascii=False) for v in found}
    if len(texts) > 1:
        return "(per entry)"
    text = texts.pop()
    if len(text) > 60:
        text = text[:57] + "…"
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def changelog_text(catalog: Catalog, entries: str) -> str:
    head = f"<!-- {GENERATED} -->\n# Changelog of {chart_name(catalog)}\n\n"
    return head + (entries or "")


def chart_body(source: Catalog | Mesh) -> ChartBody:
    """The chart files that do not depend on the version (computed once per run)."""
    mesh = resolve(source)
    values = mesh_values(mesh).base
    files = {
        "values.yaml": values_yaml(values),
        "values.schema.json": copy_header("values.schema.json", json.dumps(VALUES_SCHEMA, indent=2) + "\n",
                                          VALUES_SCHEMA_SOURCE, "the values model, through chartgen/chart/values_contract.py"),
        ".helmignore": copy_header(".helmignore", _jinja().loader.get_source(_jinja(), "helmignore")[0],
                                   "chartgen/chart/files/helmignore"),
    }
    for rel, text in static_chart_files(chart_name(mesh.catalog)):
        files[rel] = text
    return ChartBody(values=values, files=files, readme=readme_context(mesh, values))


def build_chart(source: Catalog | Mesh, meta: ChartMeta, body: ChartBody | None = None) -> dict[str, str]:
    """The chart's files, relative to the chart directory."""
    mesh = resolve(source)
    catalog = mesh.catalog
    body = body or chart_body(mesh)
    files = dict(body.files)
    files.update({
        "Chart.yaml": chart_yaml(catalog, meta),
        "README.md": readme(catalog, body, meta),
        "CHANGELOG.md": changelog_text(catalog, meta.changelog),
    })
    return dict(sorted(files.items()))
