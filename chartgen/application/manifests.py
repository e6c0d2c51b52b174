"""Reading an application's Kubernetes manifests: files, directories, ``-`` (stdin), multi-
document streams (``helm template``, ``kustomize build``) and ``kind: List`` (``kubectl get -o
yaml``), every object kept with its file and the line and column of each of its values.

Pure apart from ``read``, which reads the files; the YAML goes through ``yamlsrc`` (its
limits, its positions). Used by ``chartgen import`` and the workload checks.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..base import reading, yamlsrc
from ..base.errors import CatalogError, Problem

SUFFIXES = (".yaml", ".yml", ".json")
# The pod template of each workload kind (a CronJob's is deeper): its path in the object.
POD_TEMPLATE = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Rollout": ("spec", "template"),  # Argo Rollouts
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}
# The workloads a Service's selector may pick (Jobs and CronJobs serve no Service).
SERVED_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Rollout", "ReplicaSet", "Pod")


@dataclass(frozen=True, eq=False)
class Obj:
    """One Kubernetes object of a manifest, with where it came from."""

    data: dict
    file: str
    smap: yamlsrc.SourceMap
    base: tuple = ()  # its path in the document (("items", 3) for an item of a List)

    @property
    def kind(self) -> str:
        return str(self.data.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.data.get("apiVersion") or "")

    @property
    def meta(self) -> dict:
        m = self.data.get("metadata")
        return m if isinstance(m, dict) else {}

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or "")

    @property
    def namespace(self) -> str | None:
        ns = self.meta.get("namespace")
        return str(ns) if ns else None

    @property
    def ref(self) -> str:
        """``Deployment/details-v1`` (with its namespace when it has one)."""
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"

    def get(self, *path, default=None):
        node = self.data
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return default
        return node

    def pos(self, *path) -> tuple[int, int]:
        """The line and column of the value at ``path`` (or its nearest ancestor)."""
        return self.smap.value_pos(self.base + tuple(path))

    def key_pos(self, *path) -> tuple[int, int]:
        """The line and column of the key that holds ``path`` (for a list item: the item)."""
        return self.smap.key_pos(self.base + tuple(path))

    def where(self, *path) -> str:
        line, col = self.pos(*path)
        return f"{self.file}:{line}:{col}"

    # --- workloads --------------------------------------------------------------------------

    @property
    def template_path(self) -> tuple | None:
        return POD_TEMPLATE.get(self.kind)

    @property
    def pod_labels(self) -> dict[str, str]:
        path = self.template_path
        if path is None:
            return {}
        labels = self.get(*path, "metadata", "labels", default={}) or {}
        return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}

    @property
    def pod_annotations(self) -> dict[str, str]:
        path = self.template_path
        annotations = self.get(*(path or ()), "metadata", "annotations", default={}) or {}
        return {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {}

    @property
    def pod_spec_path(self) -> tuple:
        return (self.template_path or ()) + ("spec",)

    @property
    def pod_spec(self) -> dict:
        spec = self.get(*self.pod_spec_path, default={})
        return spec if isinstance(spec, dict) else {}

    @property
    def service_account(self) -> str:
        """The pods' ServiceAccount: ``serviceAccountName`` (or the deprecated
        ``serviceAccount``), else ``default``."""
        spec = self.pod_spec
        return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")

    def containers(self) -> list[tuple[int, dict]]:
        items = self.pod_spec.get("containers") or []
        return [(i, c) for i, c in enumerate(items) if isinstance(c, dict)]


@dataclass
class Manifests:
    """The objects read, in the order met, and the problems of the files that could not be."""

    objects: list[Obj] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def of_kind(self, *kinds: str) -> list[Obj]:
        return [o for o in self.objects if o.kind in kinds]

    def workloads(self) -> list[Obj]:
        """The workloads a Service may select, without those a controller owns (the ReplicaSets
        and Pods of a Deployment in ``kubectl get all -o yaml``): the owner stands for them."""
        return [o for o in self.of_kind(*SERVED_KINDS) if not o.meta.get("ownerReferences")]


def parse(text: str, file: str) -> Manifests:
    """The objects of one YAML stream (``file`` names it in positions)."""
    out = Manifests(files=[file])
    try:
        nodes = list(yaml.compose_all(text, Loader=yamlsrc._Loader))
    except yaml.YAMLError as exc:
        out.problems.append(yamlsrc._syntax_problem(exc, file))
        return out
    for node in nodes:
        if node is None:
            continue
        problem = yamlsrc.check_limits(node, file)
        if problem is not None:
            out.problems.append(problem)
            continue
        smap = yamlsrc.SourceMap(file)
        builder = yamlsrc._Builder(smap)
        try:
            data = builder.build(node, ())
        except yaml.constructor.ConstructorError as exc:
            out.problems.append(yamlsrc._constructor_problem(exc, file))
            continue
        out.problems += builder.problems
        _add(out, data, file, smap, ())
    return out


def _add(out: Manifests, data, file: str, smap: yamlsrc.SourceMap, base: tuple) -> None:
    if not isinstance(data, dict):
        return  # an empty document, or a comment-only one
    kind = data.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list):
        for i, item in enumerate(data["items"]):
            _add(out, item, file, smap, base + ("items", i))
        return
    if not isinstance(kind, str) or not kind:
        line, col = smap.value_pos(base)
        out.problems.append(Problem(file, line, col, "", "not a Kubernetes object (no kind); skipped",
                                    "manifest", level="warning"))
        return
    out.objects.append(Obj(data, file, smap, base))


def _files(arg: str) -> list[Path]:
    path = Path(arg)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    return [path]


def read(args: list[str], stdin=None) -> Manifests:
    """The objects of every file, directory (its ``.yaml``, ``.yml`` and ``.json`` files,
    recursively, in name order) and ``-`` (standard input) in ``args``. A file that cannot
    be read raises ``FileError``; a YAML problem is a located problem of the result."""
    out = Manifests()
    for arg in args:
        if arg == "-":
            text = (stdin or sys.stdin).read()
            parts = [parse(text, "<stdin>")]
        else:
            parts = [parse(reading.read_text(p, "manifest"), reading.display(p)) for p in _files(arg)]
        for part in parts:
            out.objects += part.objects
            out.problems += part.problems
            out.files += part.files
    return out


def require(manifests: Manifests) -> Manifests:
    """``manifests``, or CatalogError when a file had a YAML error (warnings pass)."""
    errors = [p for p in manifests.problems if p.level == "error"]
    if errors:
        raise CatalogError(errors)
    return manifests


# --- selectors ------------------------------------------------------------------------------


def selects(selector: dict, labels: dict) -> bool:
    """A Service selector (a label map) picks pods with ``labels``; an empty one picks none
    (a Service without a selector has its endpoints managed by hand)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def workload_selector(obj: Obj) -> dict[str, str]:
    """A workload's own label selector (``matchLabels``), else its pod labels (the
    ``extensions/v1beta1`` default)."""
    match = obj.get("spec", "selector", "matchLabels")
    if isinstance(match, dict) and match:
        return {str(k): str(v) for k, v in match.items()}
    return obj.pod_labels
