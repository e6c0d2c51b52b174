"""The CRDs of the Istio release the catalog pins, for the admission checks of ``lint``.

They come from that release's ``istio/base`` chart (``files/crd-all.gen.yaml``), pulled
with ``helm pull`` through the repository or mirror the generated helmfile uses for it, and
kept in the user's cache (``$XDG_CACHE_HOME/chartgen/istio-base-<version>-<source>/``, one
entry per version and repository or mirror, with the digest of the archive it came from).
An entry is used only when it passes ``usercache.load``'s checks and every CRD in it has the
shape the checks need; anything else is pulled again. When the chart cannot be had
(offline, no mirror), ``load`` says so in one line and lint runs the checks it can without
them.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..base.crdcheck import CRDSet
from ..base.errors import ToolError, ToolNotFound
from ..base.toolchain import Tool, find_tool, run
from ..base.usercache import cache_dir, load as load_entry, save as save_entry
from ..base.yamlsrc import LimitError, safe_load_all_bounded

CRD_FILE = "base/files/crd-all.gen.yaml"
MAX_CRD_BYTES = 64 * 1024 * 1024


@dataclass
class ChartSource:
    """Where the helmfile gets ``istio/base``: a chart repository URL or an OCI reference."""

    version: str
    repo_url: str | None  # https://… chart repository, or None
    oci_ref: str | None  # oci://host/path/base, or None
    problem: str | None = None  # why the helmfile could not be read (then neither is set)

    @property
    def key(self) -> str:
        """What a cached entry of these CRDs is for: the version and where the chart comes from."""
        return "\0".join((self.version, self.repo_url or "", self.oci_ref or ""))


@dataclass
class IstioCRDs:
    version: str
    crds: CRDSet | None
    note: str | None = None  # set when the CRDs could not be had: what was skipped, and why


def _helmfile_documents(project) -> tuple[list[dict], str | None]:
    """The documents of the helmfile.yaml beside the catalog when there is one (it may name a
    mirror given to ``generate --chart-mirror``), else of the one ``generate`` would write;
    and the located problem when it breaks the YAML limits or is not YAML."""
    text = project.files.get("helmfile.yaml") or ""
    root = getattr(project, "root", None)
    if root is not None:
        try:
            text = (Path(root) / "helmfile.yaml").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            pass
    try:
        return [p for p in safe_load_all_bounded(text, "helmfile.yaml") if isinstance(p, dict)], None
    except LimitError as exc:  # malformed, or past the YAML limits: no repository to pull from
        return [], exc.problem.format()


def _base_release(parts: list[dict]) -> dict | None:
    """The release that installs ``istio/base`` (by its name, or a chart ending in /base)."""
    for p in parts:
        for rel in p.get("releases") or []:
            if isinstance(rel, dict) and (rel.get("name") == "istio-base" or str(rel.get("chart") or "").endswith("/base")):
                return rel
    return None


def _source_of(chart: str, repos: dict[str, dict], version: str) -> ChartSource:
    """Where ``chart`` (``repo/chart`` or ``oci://…``) comes from, by the helmfile's repositories."""
    if chart.startswith("oci://"):
        return ChartSource(version, None, chart)
    repo_name, _, chart_name = chart.partition("/")
    repo = repos.get(repo_name)
    if repo is None or not repo.get("url"):
        return ChartSource(version, None, None)
    url = str(repo["url"]).rstrip("/")
    if repo.get("oci") or url.startswith("oci://"):
        return ChartSource(version, None, f"oci://{url.removeprefix('oci://')}/{chart_name}")
    return ChartSource(version, url, None)


def chart_source(project) -> ChartSource:
    """``istio/base`` as the project's helmfile installs it (version and repository)."""
    version = project.catalog.versions.istio
    parts, problem = _helmfile_documents(project)
    release = _base_release(parts)
    if release is None:
        return ChartSource(version, None, None, problem)
    repos = {str(r.get("name")): r for p in parts for r in p.get("repositories") or [] if isinstance(r, dict)}
    return _source_of(str(release.get("chart") or ""), repos, str(release.get("version") or version))


PURPOSE = "istio-base-crds"


def _entry(source: ChartSource) -> Path:
    where = hashlib.sha256(source.key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return cache_dir() / f"istio-base-{source.version}-{where}" / "crds.json"


def _is_schema_version(v) -> bool:
    return (isinstance(v, dict) and isinstance(v.get("name"), str) and bool(v["name"])
            and isinstance(v.get("served", True), bool) and isinstance(v.get("schema"), dict)
            and isinstance(v["schema"].get("openAPIV3Schema"), dict))


def _is_crd(doc) -> bool:
    """The shape every CRD the checks read has (anything else in a cache entry: it is rebuilt)."""
    if not (isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
            and str(doc.get("apiVersion", "")).startswith("apiextensions.k8s.io/")):
        return False
    spec = doc.get("spec")
    return (isinstance(spec, dict) and isinstance(spec.get("group"), str) and bool(spec["group"])
            and isinstance(spec.get("names"), dict) and isinstance(spec["names"].get("kind"), str)
            and spec.get("scope") in ("Namespaced", "Cluster")
            and isinstance(spec.get("versions"), list) and bool(spec["versions"])
            and all(_is_schema_version(v) for v in spec["versions"]))


def _read_cached(source: ChartSource) -> list | None:
    """The CRDs cached for ``source``, or None (none, or an entry that fails a check)."""
    data = load_entry(_entry(source), PURPOSE, source.key)
    if not (isinstance(data, dict) and isinstance(data.get("chartDigest"), str)
            and isinstance(data.get("crds"), list) and data["crds"] and all(_is_crd(d) for d in data["crds"])):
        return None
    return data["crds"]


def _store(source: ChartSource, docs: list, chart_digest: str) -> None:
    # no writable cache: the CRDs are used from memory
    save_entry(_entry(source), PURPOSE, source.key, {"chartDigest": chart_digest, "crds": docs})


def crds_from_chart(archive: Path) -> list:
    """The CRD documents of an ``istio/base`` chart archive."""
    with tarfile.open(archive, "r:gz") as tar:
        try:
            member = tar.getmember(CRD_FILE)
        except KeyError:
            raise ValueError(f"{archive.name} has no {CRD_FILE}") from None
        if not member.isfile() or member.size > MAX_CRD_BYTES:
            raise ValueError(f"{archive.name}: {CRD_FILE} is not a plain file of a sane size")
        text = tar.extractfile(member).read().decode("utf-8")
    try:
        docs = safe_load_all_bounded(text, f"{archive.name}:{CRD_FILE}")
    except LimitError as exc:
        raise ValueError(str(exc.problem.message) + f" ({archive.name}: {CRD_FILE})") from None
    crds = [d for d in docs if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]
    bad = [d for d in crds if not _is_crd(d)]
    if bad:
        name = (bad[0].get("metadata") or {}).get("name") if isinstance(bad[0].get("metadata"), dict) else None
        raise ValueError(f"{archive.name}: {CRD_FILE} holds a CustomResourceDefinition without the expected "
                         f"spec ({name or 'unnamed'})")
    return crds


def _digest_of(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _pull(source: ChartSource, helm: Tool, scratch: Path) -> Path:
    env = {"HELM_CONFIG_HOME": scratch / "config", "HELM_CACHE_HOME": scratch / "cache",
           "HELM_DATA_HOME": scratch / "data"}
    dest = scratch / "pulled"
    dest.mkdir(parents=True, exist_ok=True)
    if source.oci_ref:
        args = ["pull", source.oci_ref, "--version", source.version, "-d", str(dest)]
        if source.oci_ref.startswith(("oci://127.0.0.1", "oci://localhost")):
            args.append("--plain-http")
    else:
        args = ["pull", "base", "--repo", str(source.repo_url), "--version", source.version, "-d", str(dest)]
    run(helm, *args, env=env)
    archives = sorted(dest.glob("*.tgz"))
    if not archives:
        raise ValueError("helm pull produced no chart archive")
    return archives[0]


_LOADED: dict[str, CRDSet] = {}  # by ChartSource.key


def load(project, helm: str | None = None) -> IstioCRDs:
    """The Istio CRDs for ``project``: from memory, the cache, or ``helm pull`` of istio/base."""
    source = chart_source(project)
    version = source.version
    if source.key in _LOADED:
        return IstioCRDs(version, _LOADED[source.key])
    docs = _read_cached(source)
    if docs is None:
        skipped = "Istio CRD schema and CEL checks skipped"
        if source.problem:
            return IstioCRDs(version, None, f"{source.problem}; {skipped}")
        if not (source.repo_url or source.oci_ref):
            return IstioCRDs(version, None, f"the helmfile names no repository for istio/base {version}; {skipped}")
        try:
            tool = find_tool("helm", helm)
        except ToolNotFound as exc:
            return IstioCRDs(version, None, f"no helm to pull istio/base {version} ({exc}); {skipped}")
        with tempfile.TemporaryDirectory(prefix="chartgen-istio-base-") as tmp:
            try:
                archive = _pull(source, tool, Path(tmp))
                docs, digest = crds_from_chart(archive), _digest_of(archive)
            except (ToolError, ValueError, OSError, tarfile.TarError, RecursionError, MemoryError) as exc:
                where = source.oci_ref or source.repo_url
                reason = exc.detail if isinstance(exc, ToolError) else (str(exc) or exc.__class__.__name__)
                return IstioCRDs(version, None, f"istio/base {version} could not be pulled from {where} ({reason}); "
                                                f"{skipped}")
        if not docs:
            return IstioCRDs(version, None, f"istio/base {version} carries no CRDs; {skipped}")
        _store(source, docs, digest)
    crds = CRDSet.from_documents(docs)
    _LOADED[source.key] = crds
    return IstioCRDs(version, crds)
