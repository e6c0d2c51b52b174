"""The project as ``chartgen generate`` would write it, rendered per environment with the
real helm, exactly as the helmfile layers the values.

``Project`` holds the planned files in memory (nothing is written to the project);
``render`` writes them into a scratch directory and runs ``helm template`` there.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import re
import tempfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from ..catalog.model import Catalog
from ..base.errors import ChartgenError, UnknownEnvironment
from ..catalog.validate import parse_catalog, read_catalog_text
from .generate import Options, plan, validate_values
from ..catalog.mesh import EnvView, Mesh, resolve
from ..base.toolchain import Running, Tool, find_tool, start
from ..chart.values import chart_name
from ..base.writer import scratch_file
from ..base import yamlout
from ..base.yamlsrc import LimitError, check_limits, safe_load_all_bounded, safe_load_bounded

KUBE_VERSION = "1.33.0"  # --kube-version of helm template and the schema version of the checks
GATEWAY_CHART_DEFAULT_PORTS = (15021, 80, 443)  # the Istio gateway chart's service.ports
class ManifestLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Reads rendered manifests as the Kubernetes clients do (Go's YAML): a plain ``1e-05`` is
    a number there, where YAML 1.1 (PyYAML) sees a string."""


ManifestLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))

_ENV_EXPR = re.compile(r"\{\{-?\s*\.Environment\.Name\s*-?\}\}")
_SOURCE = re.compile(r"^# Source: (\S+)")


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    chart: str
    values: tuple  # entries of the release's `values:` (paths or inline maps)


@dataclass
class Doc:
    """One rendered object, with where it came from."""

    obj: dict
    source: str  # template path relative to the project root ("" if unknown)
    start: int  # first line of the document in the rendered file (1-based)
    end: int

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def api(self) -> str:
        return str(self.obj.get("apiVersion", ""))

    @property
    def meta(self) -> dict:
        m = self.obj.get("metadata")
        return m if isinstance(m, dict) else {}

    @property
    def name(self) -> str:
        return str(self.meta.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.meta.get("namespace") or "")

    @property
    def spec(self) -> dict:
        s = self.obj.get("spec")
        return s if isinstance(s, dict) else {}


@dataclass
class Rendered:
    """One environment: the rendered objects and the values around them."""

    env: str
    view: EnvView
    text: str
    docs: list[Doc]
    mesh_values: dict
    gateway_values: dict | None  # None: the helmfile has no values for the gateway release
    istiod_values: dict | None
    gateway_namespace: str
    known_namespaces: set[str] = field(default_factory=set)
    parsed: bool = True  # False: ``docs`` not read yet (``assemble(parse=False)``; see ``parsed``)


def deep_merge(base: Any, upper: Any) -> Any:
    """helm's values merge: maps merge key by key, anything else replaces; null deletes."""
    if isinstance(base, dict) and isinstance(upper, dict):
        out = dict(base)
        for key, value in upper.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = deep_merge(out.get(key), value)
        return out
    return upper


def load_yaml_text(text: str, file: str = "<values file>") -> dict:
    """A values document, read within the catalog reader's YAML limits (chartgen.base.yamlsrc)."""
    try:
        data = safe_load_bounded(text, file) if text else None
    except LimitError as exc:
        raise ChartgenError(exc.problem.format()) from None
    return data if isinstance(data, dict) else {}


class Project:
    """The catalog and every file ``chartgen generate`` would write, in memory."""

    def __init__(self, catalog: Catalog | Mesh, files: dict[str, str], catalog_file: str = "catalog.yaml",
                 notes: list[str] | None = None, source_map=None, root: Path | None = None):
        self.mesh = resolve(catalog)  # the catalog resolved once, shared with the plan
        self.catalog = self.mesh.catalog
        self.root = root  # the directory of the catalog (where the user's helmfile.yaml is), if known
        self.source_map = source_map  # positions in the catalog file (chartgen.base.yamlsrc.SourceMap), optional
        self.files = dict(files)
        self.catalog_file = catalog_file
        self.chart_name = chart_name(self.catalog)
        self.chart_dir = f"charts/{self.chart_name}"
        self.notes: list[str] = list(notes or [])
        self.pending_checks: list = []  # what ``run_pending_checks`` runs (while helm renders)

    @classmethod
    def from_catalog(cls, catalog: Catalog, root: Path, catalog_file: str = "catalog.yaml", source_map=None,
                     defer_checks: bool = False) -> Project:
        """Plan the output like ``chartgen generate`` (reading the user's values files under ``root``),
        without the GitOps exports: no lint check reads them, and building them costs a CRD check.
        ``defer_checks``: the generated values are checked against the chart's schema by
        ``render_texts`` while helm renders, instead of now (the same check and error)."""
        mesh = resolve(catalog)
        project = cls(mesh, plan(mesh, root, Options(gitops=False, validate_values=not defer_checks)).files,
                      catalog_file, [], source_map, root)
        if defer_checks:
            project.pending_checks.append(lambda: validate_values(mesh))
        return project

    def run_pending_checks(self) -> None:
        """The checks of the plan left for later (``from_catalog(defer_checks=True)``), once."""
        while self.pending_checks:
            self.pending_checks.pop(0)()

    @classmethod
    def load(cls, catalog_path: Path, envs=()) -> Project:
        """The catalog at ``catalog_path`` read and checked (unreadable: one located line; invalid:
        every problem, as a CatalogError) and planned, with its source positions; ``envs``, when
        given, must all be environments of the catalog (UnknownEnvironment otherwise)."""
        catalog_path = Path(catalog_path)
        catalog, smap = parse_catalog(read_catalog_text(catalog_path), str(catalog_path))
        unknown = [e for e in envs if e not in catalog.environments]
        if unknown:
            raise UnknownEnvironment(f"unknown environment {', '.join(map(repr, unknown))}; the catalog has "
                                     f"{', '.join(sorted(catalog.environments))}")
        return cls.from_catalog(catalog, catalog_path.resolve().parent, catalog_file=catalog_path.name,
                                source_map=smap, defer_checks=True)

    # --- the helmfile ------------------------------------------------------------------------

    @cached_property
    def releases(self) -> list[Release]:
        text = self.files.get("helmfile.yaml")
        if not text:
            return []
        out = []
        try:
            parts = safe_load_all_bounded(text, "helmfile.yaml")
        except LimitError as exc:
            self.notes.append(f"helmfile.yaml is not plain YAML ({exc.problem.message}); using the default layering")
            return []
        for part in parts:
            for r in (part or {}).get("releases") or [] if isinstance(part, dict) else []:
                if isinstance(r, dict) and r.get("name"):
                    out.append(Release(str(r["name"]), str(r.get("namespace") or ""), str(r.get("chart") or ""),
                                       tuple(r.get("values") or ())))
        return out

    def _release(self, *, name: str | None = None, chart_suffix: str | None = None) -> Release | None:
        for r in self.releases:
            if name is not None and r.name == name:
                return r
        for r in self.releases:
            if chart_suffix is not None and r.chart.rstrip("/").endswith(chart_suffix):
                return r
        return None

    @cached_property
    def mesh_release(self) -> Release:
        r = self._release(chart_suffix=self.chart_dir) or self._release(name=self.chart_name)
        if r is not None:
            return r
        return Release(self.chart_name, "istio-system", f"./{self.chart_dir}",
                       (f"values/{self.chart_name}/common.yaml", f"values/{self.chart_name}/{{{{ .Environment.Name }}}}.yaml"))

    @cached_property
    def gateway_release(self) -> Release | None:
        return self._release(name=self.catalog.istio.gatewayRelease)

    @cached_property
    def istiod_release(self) -> Release | None:
        return self._release(name="istiod") or self._release(chart_suffix="/istiod")

    def gateway_namespace(self) -> str:
        r = self.gateway_release
        return (r.namespace if r and r.namespace else None) or self.catalog.istio.gatewayRelease

    def values_layers(self, release: Release | None, env: str, default_dir: str | None = None) -> list[tuple[str, dict]]:
        """The values of ``release`` in ``env`` as (path, data) in helmfile order.

        Without a release, ``values/<default_dir>/common.yaml`` and ``<env>.yaml`` when present."""
        entries: tuple = release.values if release else (
            (f"values/{default_dir}/common.yaml", f"values/{default_dir}/{env}.yaml") if default_dir else ())
        layers = []
        for i, entry in enumerate(entries):
            if isinstance(entry, dict):
                layers.append((f"<inline values[{i}]>", entry))
                continue
            path = _ENV_EXPR.sub(env, str(entry))
            path = path[2:] if path.startswith("./") else path
            if "{{" in path or path.endswith(".gotmpl"):
                self.notes.append(f"{release.name if release else default_dir}: values entry {entry!r} is a template; skipped")
                continue
            if path in self.files:
                layers.append((path, load_yaml_text(self.files[path], path)))
        return layers

    def merged_values(self, release: Release | None, env: str, default_dir: str | None = None) -> dict | None:
        layers = self.values_layers(release, env, default_dir)
        if not layers:
            return None
        merged: dict = {}
        for _, data in layers:
            merged = deep_merge(merged, data)
        return merged

    def environments(self) -> list[str]:
        return [v.name for v in self.mesh.views]


# --- rendering ---------------------------------------------------------------------------------


_SEPARATOR = re.compile(r"^---[ \t]*$", re.M)
_SOURCE_LINE = re.compile(r"^# Source: (\S+)", re.M)


def _manifest_parser():
    """The fastest parser at hand for rendered manifests: yaml-rs (a YAML 1.2 parser, about
    8× PyYAML here), else PyYAML with the Go-YAML number rule. Both read ``1e-05`` as a
    number, as the Kubernetes clients do."""
    try:
        import yaml_rs  # optional: yaml-rs (the lint extra) may be missing
    except ImportError:
        return _bounded_manifest, yaml.YAMLError
    return yaml_rs.loads, (yaml_rs.YAMLDecodeError, ValueError)


def _bounded_manifest(chunk: str):
    """One rendered document with PyYAML, within the YAML limits (yaml-rs has its own)."""
    loader = ManifestLoader(chunk)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problem = check_limits(node, "helm output")
        if problem is not None:
            raise yaml.YAMLError(problem.message)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def split_documents(text: str, chart_parent: str) -> list[Doc]:
    """Parse helm's output into objects; ``source`` is relative to the project root."""
    parse, errors = _manifest_parser()
    docs: list[Doc] = []
    pos, line = 0, 1
    bounds = [(m.start(), m.end()) for m in _SEPARATOR.finditer(text)] + [(len(text), len(text))]
    for sep_start, sep_end in bounds:
        chunk = text[pos:sep_start]
        start = line
        newlines = chunk.count("\n")
        end = start + newlines - 1 if sep_start < len(text) else start + newlines
        if chunk.strip():
            try:
                obj = parse(chunk)
            except errors as exc:
                raise ChartgenError(f"helm output near line {start} is not YAML: {exc}") from None
            if isinstance(obj, dict):
                m = _SOURCE_LINE.search(chunk)
                docs.append(Doc(obj, f"{chart_parent}/{m.group(1)}" if m else "", start, end))
        line = start + newlines + (text.count("\n", sep_start, sep_end + 1) if sep_start < len(text) else 0)
        pos = sep_end + 1
    return docs


# Go's garbage collector target for the renders (Go's default: 100). helm template of 1,000
# services allocates heavily: at 200 it takes about 15 % less CPU for about 15 % more memory
# (4.1 s instead of 4.9 s, 300 MB instead of 260 MB; at 400, 3.8 s and 420 MB). The rendered
# objects are the same. A GOGC set by the user is kept.
HELM_GOGC = "200"


def _helm_env(scratch: Path) -> dict:
    """helm's own directories inside the scratch directory: no user repository or plugin
    configuration takes part in the render; Go's collector target ``HELM_GOGC`` unless set."""
    env = {"HELM_CONFIG_HOME": scratch / "helm" / "config", "HELM_CACHE_HOME": scratch / "helm" / "cache",
           "HELM_DATA_HOME": scratch / "helm" / "data"}
    if "GOGC" not in os.environ:
        env["GOGC"] = HELM_GOGC
    return env


def write_files(project: Project, scratch: Path) -> None:
    for rel, text in project.files.items():
        if rel.startswith((project.chart_dir + "/", "values/")):
            scratch_file(scratch / rel, text)


def start_helm(project: Project, env: str, scratch: Path, helm: Tool) -> Running:
    """``helm template`` of ``env`` started (``Running.wait`` collects it)."""
    release = project.mesh_release
    args = ["template", release.name, str(scratch / project.chart_dir), "-n", release.namespace or "istio-system"]
    for i, (path, data) in enumerate(project.values_layers(release, env, project.chart_name)):
        if path.startswith("<inline"):
            inline = scratch / "inline" / f"{env}-{i}.yaml"
            scratch_file(inline, yamlout.dump(data))
            args += ["-f", str(inline)]
        else:
            args += ["-f", str(scratch / path)]
    args += ["--kube-version", KUBE_VERSION]
    return start(helm, *args, what=f"helm template for environment {env}", env=_helm_env(scratch))


def render_texts(project: Project, envs: list[str], scratch: Path, helm: str | None = None,
                 meanwhile=None) -> dict[str, str]:
    """``helm template`` output per environment. helm runs as separate processes, every
    environment at once; while they render, this thread runs the project's pending checks and
    then ``meanwhile()`` (work that needs no rendered object), and threads collect helm's output.
    ``helm``: the binary (default: the lookup order of ``chartgen.base.toolchain``). A failure of
    either side stops the renders."""
    tool = find_tool("helm", helm)
    write_files(project, scratch)
    running: dict[str, Running] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(envs))) as pool:
        try:
            for env in envs:
                running[env] = start_helm(project, env, scratch, tool)
            waits = {env: pool.submit(r.wait) for env, r in running.items()}
            project.run_pending_checks()
            if meanwhile is not None:
                meanwhile()
            return {env: waits[env].result().stdout for env in envs}
        except BaseException:
            for r in running.values():
                r.kill()
            raise


def assemble(project: Project, texts: dict[str, str], parse: bool = True) -> dict[str, Rendered]:
    """Parse the rendered output and gather the values around each environment (``parse``
    False: the values only, no objects; for a caller whose workers parse: ``parsed``)."""
    views = {v.name: v for v in project.mesh.views}
    chart_parent = project.chart_dir.rsplit("/", 1)[0]
    out = {}
    for env, text in texts.items():
        docs = split_documents(text, chart_parent) if parse else []
        mesh_values = project.merged_values(project.mesh_release, env, project.chart_name) or {}
        gw_values = project.merged_values(project.gateway_release, env) if project.gateway_release else \
            project.merged_values(None, env, project.catalog.istio.gatewayRelease)
        istiod_values = project.merged_values(project.istiod_release, env) if project.istiod_release else \
            project.merged_values(None, env, "istiod")
        r = Rendered(env, views[env], text, docs, mesh_values, gw_values, istiod_values, project.gateway_namespace(),
                     parsed=parse)
        r.known_namespaces = _known_namespaces(project, r)
        out[env] = r
    return out


def parsed(project: Project, r: Rendered) -> Rendered:
    """``r`` with its objects: itself when ``assemble`` parsed it, else parsed now (a forked
    worker reads the parent's ``Rendered``: the values are gathered once, the objects parsed
    once, where they are checked)."""
    if r.parsed:
        return r
    docs = split_documents(r.text, project.chart_dir.rsplit("/", 1)[0])
    out = replace(r, docs=docs, parsed=True)
    out.known_namespaces = _known_namespaces(project, out)
    return out


def render(project: Project, envs: list[str], scratch: Path | None = None, helm: str | None = None) -> dict[str, Rendered]:
    """Render every environment and gather the values around it."""
    if scratch is not None:
        return assemble(project, render_texts(project, envs, scratch, helm))
    with tempfile.TemporaryDirectory(prefix="chartgen-lint-") as tmp:
        return assemble(project, render_texts(project, envs, Path(tmp), helm))


def _known_namespaces(project: Project, r: Rendered) -> set[str]:
    view = r.view
    known = {"istio-system", "kube-system", "default", r.gateway_namespace, view.namespace,
             project.catalog.observability.namespace}
    known |= {view.service_namespace(s) for s in view.enabled.values()}
    known |= {rel.namespace for rel in project.releases if rel.namespace}
    known |= {d.name for d in r.docs if d.kind == "Namespace"}
    return known


# --- environments in parallel --------------------------------------------------------------------

PARALLEL_BYTES = 2_000_000  # rendered output above which the environments are parsed and checked in parallel
_JOB: dict = {}  # what a forked worker reads (set before the fork, cleared after)


def in_forks(envs: list[str], texts: dict[str, str]) -> bool:
    """Whether to parse and check the environments in forked processes: a large render of
    several environments on a machine with several cores (the checks are CPU-bound Python)."""
    return (len(envs) > 1 and sum(len(t) for t in texts.values()) > PARALLEL_BYTES and (os.cpu_count() or 1) > 1
            and "fork" in multiprocessing.get_all_start_methods())


def fork_map(work, envs: list[str], **job) -> list:
    """``work(env)`` for each environment in a forked process each (at most one per core); the
    worker reads ``job`` through ``job_item``. The results in the order of ``envs``."""
    _JOB.update(job)
    try:
        with ProcessPoolExecutor(max_workers=min(len(envs), os.cpu_count() or 1),
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(work, envs))
    finally:
        _JOB.clear()


def job_item(name: str):
    return _JOB[name]


_KEPT: list = []  # what a forked worker built for its last environment (``keep_in_worker``)


def keep_in_worker(*objects) -> None:
    """What a forked worker built for its environment, kept until the process ends: it exits
    without freeing them one by one (about 0.2 s per environment at 1,000 services); a worker
    given another environment lets the previous one go."""
    _KEPT[:] = objects


@contextmanager
def gc_paused():
    """Python's cyclic garbage collector paused while a render is parsed and checked: those
    build hundreds of thousands of small objects and few cycles, and each collection walks all
    of them (at 1,000 services about a third of verify's and lint's time went to the collector).
    Reference counting still frees what is dropped; the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
