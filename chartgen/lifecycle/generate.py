"""``chartgen generate``: catalog → chart, helmfile.yaml and values/, written safely.

This module reads the previous output (version state, user-owned values files) and hands
the final plan to the writer; everything it renders comes from pure functions.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from . import versioning
from ..base import naming
from ..catalog.model import Catalog
from .changeset import Changeset
from ..base.schema_validators import compiled_validator
from ..base.errors import CatalogError, ChartgenError, Problem, RenderError, ToolError
from ..chart.gatewayapi import CRD_CHART, build_crd_chart, uses_gateway_api
from ..releases.gitops import TOOLS, check_or_raise, export_files
from ..releases.helmfile import GENERATED_DIR, build_generated_values, build_helmfile, build_release_values, dump_helmfile
from ..catalog.mesh import Mesh, resolve
from ..chart.render import GENERATED, ChartBody, ChartMeta, build_chart, chart_body, changelog_text
from ..base.reading import FileError, decode, display, file_error, leftover_temps, nesting_problem, refuse_linked_dirs
from ..base.toolchain import Tool, run
from ..releases.userfiles import ValuesFileError, merge_user_values
from ..catalog.edit import write_atomic
from ..catalog.validate import load_catalog
from ..chart.values import chart_name, mesh_values
from ..chart.values_schema import VALUES_SCHEMA
from ..base.version import __version__
from ..base.writer import WriteResult, locked, replace_file, write_plan

STATE_FILE = ".chartgen-state.json"
USER_VALUES_HEADER = (
    "Values for one helmfile release. chartgen generated this file once; it is yours now.\n"
    "Keys marked `# chartgen` are rewritten by `chartgen generate`; everything else\n"
    "(your keys, comments and order) is kept."
)


@dataclass(frozen=True)
class Options:
    version: str | None = None  # force this chart version
    chart_mirror: str | None = None  # pull every remote chart from this repo / OCI registry
    mesh_chart: str | None = None  # the published mesh chart (repo/chart or oci://…) instead of the local dir
    mesh_version: str | None = None
    # build the GitOps exports (and CRD-check them); lint reads none of them, so its plan skips
    # them. A plan without them lacks files generate writes: never write or compare it.
    gitops: bool = True
    force: bool = False  # replace files chartgen did not write (writer.check_ours)
    # check the generated values against the chart's schema while planning; a caller that
    # plans with False runs ``validate_values`` itself (lint and verify: while helm renders)
    validate_values: bool = True


@dataclass
class Outcome:
    catalog: Catalog
    chart_dir: str
    version: str
    previous_version: str | None
    changes: list[versioning.Change]
    files: dict[str, str]
    owned_dirs: tuple[str, ...]
    result: WriteResult = field(default_factory=WriteResult)
    changeset: Changeset = field(default_factory=Changeset)  # check / preview: what generate would change
    notes: list[str] = field(default_factory=list)  # what the run recovered or cleaned up, for the user
    merged: tuple[str, ...] = ()  # the user's values files: chartgen's keys merged in, the user's kept

    release: str | None = None  # the last release the version is computed against

    @property
    def stale(self) -> list[str]:
        """The paths that generate would write or delete (check / preview)."""
        return self.changeset.paths

    @property
    def bump(self) -> str:
        return versioning.LEVEL_NAMES[versioning.level_of(self.changes)] if self.changes else "none"

    def version_line(self) -> str | None:
        """'charts/x: 0.1.0 → 0.2.0 (minor)', or None when neither version nor changes moved."""
        since = f" since release {self.release}" if self.release and self.release != self.previous_version else ""
        if self.version != self.previous_version:
            if self.release and self.version == self.release:
                return f"{self.chart_dir}: {self.previous_version} → {self.version} (back to the release: no changes since)"
            return f"{self.chart_dir}: {self.previous_version or 'new'} → {self.version} ({self.bump}{since})"
        if self.changes and since:
            return f"{self.chart_dir}: {self.version} ({self.bump}{since}; its changes updated)"
        return None


def _state_text(state: dict) -> str:
    """The state file: one line per top-level key and per environment of the model, so
    that reviews show what moved; each line is compact JSON (the C encoder)."""
    def enc(value) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def model(value: dict, pad: str) -> str:
        envs = [f"{pad}  {enc(env)}: {enc(value[env])}" for env in sorted(value)]
        return "{\n" + ",\n".join(envs) + f"\n{pad} }}"

    lines = []
    for key in sorted(state):
        if key == "model":
            lines.append(f'"model": {model(state["model"], "")}')
        elif key == "release" and isinstance(state[key].get("model"), dict):
            rel = state[key]
            inner = [f"  {enc(k)}: {model(rel[k], '  ') if k == 'model' else enc(rel[k])}" for k in sorted(rel)]
            lines.append('"release": {\n' + ",\n".join(inner) + "\n }")
        else:
            lines.append(f"{enc(key)}: {enc(state[key])}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _state_problem(path: Path) -> tuple[dict | None, str | None]:
    """(the state, None), (None, None) when there is none, or (None, what is wrong with it)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise file_error(exc, path, "read the chart's state file") from None
    try:
        state = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"is corrupt ({str(exc).splitlines()[0]})"
    if not isinstance(state, dict):
        return None, "is corrupt (not a JSON object)"
    version = state.get("version")
    history = state.get("history")
    if not isinstance(version, str) or versioning.highest(version) is None:
        return None, f"is corrupt (no valid version: {version!r})"
    if not isinstance(history, list) or not all(isinstance(h, dict) and isinstance(h.get("version"), str)
                                                 and isinstance(h.get("changes"), list)
                                                 and all(versioning.is_record(c) for c in h["changes"]) for h in history):
        return None, "is corrupt (its history is not a list of releases)"
    if not isinstance(state.get("model"), dict):
        return None, "is corrupt (no model to compare the catalog with)"
    return state, None


def _read_state(path: Path) -> dict | None:
    """The state file as it is (None when missing or unreadable)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _chart_version(chart_root: Path) -> str | None:
    """The ``version:`` of the chart's Chart.yaml (chartgen writes it as a top-level line)."""
    try:
        text = (chart_root / "Chart.yaml").read_bytes().decode("utf-8", "replace")
    except OSError:
        return None
    m = re.search(r"(?m)^version:[ \t]*['\"]?([^'\"\s#]+)", text)
    return m.group(1) if m and versioning.highest(m.group(1)) else None


def _previous_state(chart_root: Path) -> tuple[dict | None, list[str]]:
    """The previous release of the chart: its state file, checked against ``Chart.yaml`` and
    ``CHANGELOG.md`` so that the version never moves backwards. A missing or corrupt state
    file beside an existing chart is recovered from those two files (``model`` None: the
    changes since cannot be itemised). Returns (state or None, notes for the user)."""
    path = chart_root / STATE_FILE
    state, problem = _state_problem(path)
    chart_version = _chart_version(chart_root)
    try:
        log = versioning.parse_changelog((chart_root / "CHANGELOG.md").read_bytes().decode("utf-8", "replace"))
    except OSError:
        log = []
    logged = log[0]["version"] if log else None
    notes: list[str] = []
    if state is not None:
        ahead = versioning.highest(chart_version, logged)
        if ahead and versioning.parse_version(ahead) > versioning.parse_version(state["version"]):
            notes.append(f"{display(path)} records version {state['version']}, but the chart is already at {ahead}; "
                         f"continuing from {ahead} (a chart version never moves backwards)")
            state = {**state, "version": ahead}
            if not any(h["version"] == ahead for h in state["history"]):
                state["history"] = [h for h in log if versioning.parse_version(h["version"]) >
                                    versioning.parse_version(state["history"][0]["version"] if state["history"]
                                                            else "0.0.0")] + state["history"]
        return state, notes
    version = versioning.highest(chart_version, logged)
    if version is None:
        if problem:  # no chart to recover from: say so, and start as a new chart
            notes.append(f"{display(path)} {problem}, and there is no chart version to recover; starting a new chart")
        return None, notes
    what = problem or "is missing"
    notes.append(f"{display(path)} {what}; recovered version {version} and {len(log)} changelog release(s) from "
                 f"Chart.yaml and CHANGELOG.md")
    return {"version": version, "history": log, "model": None, "fingerprint": None}, notes


def chart_options(catalog: Catalog, chart_dir: str, options: Options = Options()) -> dict:
    """Where the releases' charts come from: the catalog's helmfile settings, each
    overridden by its CLI flag for this run (helmfile.yaml and the exports share them)."""
    for flag, value, problem in (("--chart-mirror", options.chart_mirror, naming.chart_mirror_problem),
                                 ("--mesh-chart", options.mesh_chart, naming.mesh_chart_problem)):
        if value is not None and problem(value):
            raise ChartgenError(f"{flag}: {problem(value)}")
    if options.mesh_version is not None and not naming.is_version(options.mesh_version):
        raise ChartgenError(f"--mesh-version: expected a version such as 1.2.3, got {options.mesh_version!r}")
    hf = catalog.helmfile
    return {"chart_dir": f"./{chart_dir}", "chart_mirror": options.chart_mirror or hf.chartMirror,
            "mesh_chart": options.mesh_chart or hf.meshChart, "mesh_version": options.mesh_version or hf.meshVersion}


def committed_state(chart_dir: Path, on_disk: dict | None) -> dict | None:
    """The state of the chart as last committed: the state file at git's HEAD. Outside a git
    work tree (or without git) the state on disk stands for it; inside one, a state file that
    HEAD does not have means nothing was committed yet."""
    try:
        proc = run(Tool("git", "git", "path"), "-C", str(chart_dir), "show", f"HEAD:./{STATE_FILE}",
                   env={"GIT_OPTIONAL_LOCKS": "0"}, check=False, text=False)
    except ToolError:  # no git, or it hung
        return on_disk
    if proc.returncode == 0:
        try:
            return json.loads(proc.stdout.decode("utf-8"))
        except ValueError:
            return None
    if not chart_dir.is_dir() or b"not a git repository" in proc.stderr or b"dubious ownership" in proc.stderr:
        return on_disk
    return None


def record_release(chart_dir: str | Path, version: str | None = None) -> str | None:
    """Record the chart's current version as released (``chartgen package`` / ``publish``):
    later versions are computed against it. Returns the version, None without a state.
    With ``version`` (what was packaged), nothing is recorded unless the chart is still at
    it. Call it holding the output root's lock, so no ``generate`` writes the state meanwhile."""
    chart_dir = Path(chart_dir)
    path = chart_dir / STATE_FILE
    state = _read_state(path)
    current = versioning.Release.of(state)
    if current is None or (version is not None and current.version != version):
        return None
    if state.get("release") != current.record():
        state["release"] = current.record()
        replace_file(path, _state_text(state))
    return current.version


def _differs(path: Path, text: str) -> bool:
    try:
        return path.read_bytes() != text.encode("utf-8")
    except OSError:
        return True


@dataclass(frozen=True)
class Versioning:
    """The chart's version for this run and the records behind it."""

    previous: str | None  # the version in the state file (None: a new chart)
    recorded: versioning.Release | None  # the release recorded by package/publish
    release: versioning.Release | None  # the last release, the version is computed against it
    decision: versioning.Decision
    fingerprint: str
    model: dict
    history: list[dict]
    build: versioning.Build = versioning.Build()

    def state(self) -> dict:
        state = {"fingerprint": self.fingerprint, "history": self.history, "model": self.model,
                 "version": self.decision.version, **self.build.record()}
        if self.recorded is not None:
            state["release"] = self.recorded.record()
        return state

    def meta(self) -> ChartMeta:
        current = tuple(versioning.Change.of(c) for c in self.history[0]["changes"]) if self.history else ()
        return ChartMeta(version=self.decision.version, changes=current,
                         changelog=versioning.changelog_markdown(self.history))


# The chart's files by part (versioning.PARTS); Chart.yaml's fields are recorded instead, and
# CHANGELOG.md is the history itself.
def _part(rel: str) -> str | None:
    if rel.startswith(("templates/", "dashboards/")):
        return "templates"
    if rel == "values.schema.json":
        return "schema"
    if rel in ("README.md", "values.yaml", ".helmignore"):
        return "docs"
    return None


def chart_fingerprint(mesh: Mesh, body: ChartBody) -> tuple[str, versioning.Build]:
    """What a release of the chart means: its files at a neutral version, and the
    environments' values; and what it was built from (each part's fingerprint, Chart.yaml's
    fields, the template revision, this chartgen's version)."""
    probe = build_chart(mesh, ChartMeta(version="0.0.0"), body)
    by_part: dict[str, dict[str, str]] = {}
    for rel, text in probe.items():
        part = _part(rel)
        if part is not None:
            by_part.setdefault(part, {})[rel] = text
    chart = {k: v for k, v in yaml.safe_load(probe["Chart.yaml"]).items() if k not in ("version", "annotations")}
    probe["(environment values)"] = json.dumps(mesh_values(mesh).overrides, sort_keys=True)
    build = versioning.Build(parts={part: versioning.fingerprint(files) for part, files in sorted(by_part.items())},
                              chart=chart, revision=versioning.TEMPLATE_REVISION, generator=__version__)
    return versioning.fingerprint(probe), build


def chart_version(mesh: Mesh, root: Path, chart_dir: str, body: ChartBody, state: dict | None,
                  forced: str | None = None) -> Versioning:
    """The chart's version against its last release (read from ``state``, the committed
    state and a recorded release); the decision itself is ``versioning.decide_version``."""
    fp, build = chart_fingerprint(mesh, body)
    snapshot = versioning.model_snapshot(mesh)
    recorded = versioning.Release.of(state.get("release")) if state else None
    release = versioning.last_release(recorded, versioning.Release.of(committed_state(root / chart_dir, state)))
    recovered = state is not None and state.get("model") is None  # rebuilt from Chart.yaml and CHANGELOG.md
    if release is None and recovered:
        release = versioning.Release.of(state)
    model_lost = recovered and release is not None and release.model is None
    unchanged = model_lost and forced in (None, release.version) and _same_chart_on_disk(
        mesh, root, chart_dir, body, release.version, versioning.history_since(state["history"], release,
                                                                                 release.version, []))
    try:
        decision = versioning.decide_version(release, snapshot, fp, forced, model_lost=model_lost, unchanged=unchanged,
                                            build=build)
    except versioning.ReleaseError as exc:
        raise ChartgenError(str(exc)) from None
    except ValueError as exc:
        raise ChartgenError(f"--version: {exc}") from None
    history = versioning.history_since(list(state.get("history", [])) if state else [], release, decision.version,
                                      decision.changes)
    return Versioning(previous=state.get("version") if state else None, recorded=recorded, release=release,
                      decision=decision, fingerprint=fp, model=snapshot, history=history, build=build)


def plan(source: Catalog | Mesh, root: Path, options: Options = Options()) -> Outcome:
    """Compute every output file (reads the previous output, writes nothing)."""
    mesh = resolve(source)  # once: every renderer below works from it
    catalog = mesh.catalog
    chart_dir = f"charts/{chart_name(catalog)}"
    body = chart_body(mesh)
    state, notes = _previous_state(root / chart_dir)
    v = chart_version(mesh, root, chart_dir, body, state, options.version)
    if v.decision.note:
        notes.append(v.decision.note)
    chart_files = build_chart(mesh, v.meta(), body)
    chart_files[STATE_FILE] = _state_text(v.state())
    if options.validate_values:
        validate_values(mesh)
    files = {f"{chart_dir}/{rel}": text for rel, text in chart_files.items()}
    owned_dirs = [chart_dir]
    merged = _mesh_files(mesh, root, chart_options(catalog, chart_dir, options), files, owned_dirs,
                         gitops=options.gitops)
    release = v.release.version if v.release else None
    return Outcome(catalog=catalog, chart_dir=chart_dir, version=v.decision.version, previous_version=v.previous,
                   changes=v.decision.changes, files=dict(sorted(files.items())), owned_dirs=tuple(owned_dirs),
                   notes=notes, release=release, merged=tuple(merged))


def _mesh_files(mesh: Mesh, root: Path, chart_args: dict, files: dict[str, str], owned_dirs: list[str],
                gitops: bool = True) -> list[str]:
    """Add the files beside the chart (helmfile.yaml, the CRD chart, the GitOps exports unless
    ``gitops`` is false, the values files) to ``files``, and the directories chartgen owns to
    ``owned_dirs``. Returns the user's values files (merged, never replaced)."""
    files[HELMFILE] = dump_helmfile(build_helmfile(mesh, **chart_args))
    owned_dirs.append(f"charts/{CRD_CHART}")  # the CRD chart goes when no environment needs it
    if uses_gateway_api(mesh):
        files.update({f"charts/{CRD_CHART}/{rel}": text for rel, text in build_crd_chart(mesh).items()})
    if gitops and mesh.catalog.gitops is not None:
        _gitops_files(mesh, root, chart_args, files, owned_dirs)
    for rel, data in build_generated_values(mesh).items():
        # JSON is YAML too, and its C encoder keeps thousands of alert rules cheap to write
        files[f"values/{rel}"] = f"# {GENERATED}\n" + json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        owned = f"values/{rel.split('/')[0]}/{GENERATED_DIR}"
        if owned not in owned_dirs:
            owned_dirs.append(owned)
    merged = []
    for rel, data in sorted(build_release_values(mesh).items()):
        files[f"values/{rel}"] = _merge_user_file(root / "values" / rel, data)
        merged.append(f"values/{rel}")
    return merged


def _gitops_files(mesh: Mesh, root: Path, chart_args: dict, files: dict[str, str], owned_dirs: list[str]) -> None:
    for tool in TOOLS:
        if getattr(mesh.catalog.gitops, tool) is not None:
            exported = export_files(tool, mesh, out_dir=f"gitops/{tool}", check=False, **chart_args)
            # the CRD check costs about a second: only what would be written is checked
            check_or_raise(tool, {p: t for p, t in exported.items() if _differs(root / p, t)})
            files.update(exported)
            owned_dirs.append(f"gitops/{tool}")


def _same_chart_on_disk(mesh: Mesh, root: Path, chart_dir: str, body: ChartBody, version: str,
                        history: list[dict]) -> bool:
    """Whether the chart on disk is exactly what the catalog renders at ``version`` with
    ``history`` (the state file aside): then nothing changed since that release."""
    current = tuple(versioning.Change.of(c) for c in history[0]["changes"]) if history and history[0]["version"] == version else ()
    if not current:
        return False
    meta = ChartMeta(version=version, changes=current, changelog=versioning.changelog_markdown(history))
    for rel, text in build_chart(mesh, meta, body).items():
        try:
            if (root / chart_dir / rel).read_bytes() != text.encode("utf-8"):
                return False
        except OSError:
            return False
    return True


def _merge_user_file(path: Path, data: dict) -> str:
    """The user's values file at ``path`` with chartgen's keys merged in; a file that cannot be
    read or merged is a located problem, and is never replaced."""
    name = display(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = None
    except OSError as exc:
        raise file_error(exc, path, "read the values file") from None
    existing = decode(raw, name, "values file") if raw is not None else None
    try:
        return merge_user_values(existing, data, header=USER_VALUES_HEADER)
    except ValuesFileError as exc:
        raise CatalogError([Problem(name, exc.line, exc.col, "", f"{exc.message}; fix the file (chartgen keeps it as "
                                    "it is until it parses)", "user-values")]) from None
    except RecursionError:
        raise nesting_problem(name, "values file") from None


@lru_cache(maxsize=1)
def _values_validator():
    """The values schema compiled to Python by fastjsonschema (once per process)."""
    return compiled_validator(VALUES_SCHEMA, name="chartgen values validator")


def validate_values(mesh: Mesh) -> None:
    """The generated values must satisfy the chart's own schema in every environment
    (a guard against generator bugs; fastjsonschema compiles the schema to Python, which
    keeps this cheap for large meshes)."""
    import fastjsonschema  # start-up: about 40 ms; only compiling a schema (a cache miss) or its errors need it

    validate = _values_validator()
    for view in [None, *mesh.views]:
        try:
            validate(mesh_values(mesh).of(view))
        except fastjsonschema.JsonSchemaException as exc:
            where = view.name if view else "values.yaml"
            raise RenderError(f"generated values for {where} break the chart schema: {exc.message}") from None


def output_root(catalog_path: str | Path, out: str | Path | None = None) -> Path:
    """Where the outputs of the catalog go: ``out``, or the catalog's directory."""
    return Path(out) if out is not None else Path(catalog_path).resolve().parent


def generate(catalog_path: str | Path = "catalog.yaml", out: str | Path | None = None, *,
             options: Options = Options(), wait_message=None, before_commit=None) -> Outcome:
    """Validate the catalog and write every output; the outcome's ``result`` says what was
    written (``check`` writes nothing and says what would be).

    The catalog is read under the output tree's lock, so a run never writes a chart from a
    catalog that a concurrent edit (``chartgen canary``) has already replaced."""
    root = output_root(catalog_path, out)
    with locked(root, wait_message=wait_message):
        return generate_locked(Path(catalog_path), root, options, before_commit=before_commit)


def generate_locked(catalog_path: Path, root: Path, options: Options = Options(), *, before_commit=None) -> Outcome:
    """``generate`` for a caller that already holds the lock of ``root``."""
    outcome = plan(load_catalog(catalog_path), root, options)
    outcome.result = write_plan(root, outcome.files, outcome.owned_dirs, diff=Changeset.between,
                                before_commit=before_commit, merged=outcome.merged, force=options.force,
                                protect=(catalog_path,))
    if outcome.result.cleaned:
        outcome.notes.append(f"removed {len(outcome.result.cleaned)} temporary file(s) left by an interrupted "
                             f"run: {', '.join(outcome.result.cleaned)}")
    return outcome


def regenerate_edited(catalog_path: Path, root: Path, old_text: str, saved: dict[Path, bytes] | None = None) -> Outcome:
    """Regenerate after an in-place catalog edit (the caller holds the lock and has written the
    edit). On failure the catalog gets ``old_text`` back and each of ``saved`` its bytes, so
    catalog and tree stay in step, and the exception says so (``catalog_restored``); unless the
    run was interrupted after the tree was written, when both are in step already."""
    try:
        return generate_locked(catalog_path, root, Options())
    except BaseException as exc:
        if getattr(exc, "committed", False):
            raise
        write_atomic(catalog_path, old_text)
        for path, data in (saved or {}).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            replace_file(path, data)
        exc.catalog_restored = True
        raise


def check(catalog_path: str | Path = "catalog.yaml", out: str | Path | None = None,
          options: Options = Options()) -> Outcome:
    """Write nothing; the outcome's ``changeset`` is what ``generate`` would change (empty:
    the output is up to date), its notes name temporary files left by an interrupted run."""
    root = output_root(catalog_path, out)
    outcome = plan(load_catalog(catalog_path), root, options)
    outcome.changeset = changeset_of(outcome, root)
    dirs = {root} | {(root / rel).parent for rel in outcome.files}
    for path in leftover_temps(sorted(dirs)):
        outcome.notes.append(f"{path} is a temporary file left by an interrupted chartgen run; the next "
                             "`chartgen generate` removes it")
    return outcome


def preview(catalog_path: str | Path = "catalog.yaml", out: str | Path | None = None,
            options: Options = Options()) -> Outcome:
    """What generate would change, with the texts to show it (``outcome.changeset``: its
    unified diff, stat and graph diff). Writes nothing."""
    return preview_catalog(load_catalog(catalog_path), output_root(catalog_path, out), options)


def preview_catalog(catalog: Catalog, root: Path, options: Options = Options()) -> Outcome:
    """``preview`` of a catalog already loaded (an edit not yet written, as canary --dry-run)."""
    outcome = plan(catalog, root, options)
    outcome.changeset = changeset_of(outcome, root, strict=True)
    return outcome


def changeset_of(outcome: Outcome, root: Path, *, strict: bool = False) -> Changeset:
    """What writing ``outcome``'s files below ``root`` would change (the state file is listed,
    but its diff is left out: it is the chart's machine state); a note says when the change of
    helmfile.yaml is a chart mirror that only a one-off ``--chart-mirror`` had set."""
    changes = Changeset.between(root, outcome.files, outcome.owned_dirs, quiet=(STATE_FILE,), strict=strict)
    if HELMFILE in changes.paths:
        note = _one_off_mirror_note(outcome, root, changes.paths)
        if note:
            outcome.notes.append(note)
    return changes


HELMFILE = "helmfile.yaml"


def _disk_mirror(text: str) -> str | None:
    """The chart mirror a helmfile.yaml on disk pulls from (its repository "mirror"), or None."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError:
        return None
    for doc in docs:
        for repo in doc.get("repositories") or []:
            if isinstance(repo, dict) and repo.get("name") == "mirror" and isinstance(repo.get("url"), str):
                return ("oci://" if repo.get("oci") else "") + repo["url"]
    return None


def _one_off_mirror_note(outcome: Outcome, root: Path, changed: list[str]) -> str | None:
    """Why helmfile.yaml would change, when the file on disk is exactly what this catalog
    renders with a chart mirror the catalog does not name (a run with ``--chart-mirror``)."""
    try:
        on_disk = (root / HELMFILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # the changeset reports an unreadable file itself
        return None
    mirror = _disk_mirror(on_disk) if on_disk else None
    if not mirror or naming.chart_mirror_problem(mirror):
        return None
    args = {**chart_options(outcome.catalog, outcome.chart_dir), "chart_mirror": mirror}
    if outcome.files.get(HELMFILE) == on_disk or dump_helmfile(build_helmfile(outcome.catalog, **args)) != on_disk:
        return None
    what = HELMFILE + (" and the GitOps exports" if any(p.startswith("gitops/") for p in changed) else "")
    return (f"{what} pull every chart from the mirror {mirror} (a run with --chart-mirror), which the catalog "
            f"does not name: generate would put the upstream repositories back. To keep the mirror, set "
            f"helmfile.chartMirror: {mirror} in the catalog (or pass --chart-mirror to every run)")


@dataclass
class ExportOutcome:
    tool: str
    out_dir: str  # from the catalog's directory
    files: dict[str, str]
    result: WriteResult = field(default_factory=WriteResult)
    changeset: Changeset = field(default_factory=Changeset)  # check: what the export would change

    @property
    def stale(self) -> list[str]:
        return self.changeset.paths


# directories `generate` writes and prunes: an export inside them would be published with the
# chart (charts/, rendered under templates/), read beside the values, or pruned as stale
_GENERATED_DIRS = ("charts", "values", "gitops/argocd", "gitops/flux")


def _refuse_owned_out(tool: str, out_dir: str) -> None:
    inside = [d for d in _GENERATED_DIRS
              if out_dir.startswith(d + "/") or (out_dir == d and d != f"gitops/{tool}")]
    if inside:
        raise FileError(f"refusing to export to {out_dir}: `chartgen generate` writes {inside[0]}/ (give a "
                        f"directory of its own, such as the default gitops/{tool})")


def export(catalog_path: str | Path, tool: str, out: str | Path | None = None, *, envs: tuple[str, ...] = (),
           check: bool = False, options: Options = Options(), wait_message=None) -> ExportOutcome:
    """Write (or with ``check``, compare) one GitOps export of the catalog's releases.

    ``out`` (default ``gitops/<tool>`` beside the catalog) must lie inside the catalog's
    directory: the controllers read the values files from the same git repository. Stale
    files are removed only from the default directory of a full export, which chartgen owns
    (as ``generate`` does); a custom ``--out`` directory only ever gains or updates files."""

    catalog_path = Path(catalog_path)
    catalog = load_catalog(catalog_path)
    root = catalog_path.resolve().parent
    default = f"gitops/{tool}"
    if out is not None and os.path.islink(os.path.abspath(out)):
        raise FileError(f"refusing to export to {display(os.path.abspath(out))}: it is a symbolic link (to "
                        f"{os.readlink(os.path.abspath(out))}); give the directory itself")
    out_dir = default if out is None else Path(os.path.relpath(Path(out).resolve(), root)).as_posix()
    chart_dir = f"charts/{chart_name(catalog)}"
    _refuse_owned_out(tool, out_dir)
    files = export_files(tool, catalog, out_dir=out_dir, envs=list(envs) or None,
                         **chart_options(catalog, chart_dir, options))
    owned = (out_dir,) if out_dir == default and not envs else ()
    outcome = ExportOutcome(tool=tool, out_dir=out_dir, files=files)
    refuse_linked_dirs(root, (out_dir,) if out_dir != "." else (), files)
    if check:
        outcome.changeset = Changeset.between(root, files, owned)
        return outcome
    with locked(root, wait_message=wait_message):
        outcome.result = write_plan(root, files, owned, diff=Changeset.between, force=options.force,
                                    protect=(catalog_path,))
    return outcome


__all__ = ["ExportOutcome", "Options", "Outcome", "changeset_of", "check", "export", "generate", "generate_locked",
           "output_root", "regenerate_edited", "plan", "preview", "preview_catalog", "changelog_text"]
