"""``chartgen generate``: catalog → chart, helmfile.yaml and values/, written safely.

This module reads the previous output (version state, user-owned values files) and hands
the final plan to the writer; everything it renders comes from pure functions.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path

from . import lifecycle, naming
from .catalog import Catalog
from .errors import ChartgenError, RenderError
from .render import GENERATED, ChartMeta, build_chart, chart_body, changelog_text
from .validate import load_catalog
from .values import chart_name, chart_values, mesh_env_values
from .values_schema import VALUES_SCHEMA
from .writer import WriteResult, locked, stale_paths, write_plan

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


@dataclass
class Outcome:
    catalog: Catalog
    chart_dir: str
    version: str
    previous_version: str | None
    changes: list[lifecycle.Change]
    files: dict[str, str]
    owned_dirs: tuple[str, ...]
    result: WriteResult = field(default_factory=WriteResult)
    stale: list[str] = field(default_factory=list)

    release: str | None = None  # the last release the version is computed against

    @property
    def bump(self) -> str:
        return lifecycle.LEVEL_NAMES[lifecycle.level_of(self.changes)] if self.changes else "none"

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


def _read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def committed_state(chart_dir: Path, on_disk: dict | None) -> dict | None:
    """The state of the chart as last committed: the state file at git's HEAD. Outside a git
    work tree (or without git) the state on disk stands for it; inside one, a state file that
    HEAD does not have means nothing was committed yet."""
    import subprocess

    try:
        proc = subprocess.run(["git", "-C", str(chart_dir), "show", f"HEAD:./{STATE_FILE}"], capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=30, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return on_disk
    if proc.returncode == 0:
        try:
            return json.loads(proc.stdout.decode("utf-8"))
        except ValueError:
            return None
    if not chart_dir.is_dir() or b"not a git repository" in proc.stderr or b"dubious ownership" in proc.stderr:
        return on_disk
    return None


def record_release(chart_dir: str | Path) -> str | None:
    """Record the chart's current version as released (``chartgen package`` / ``publish``):
    later versions are computed against it. Returns the version, None without a state."""
    import tempfile

    chart_dir = Path(chart_dir)
    path = chart_dir / STATE_FILE
    state = _read_state(path)
    current = lifecycle.Release.of(state)
    if current is None:
        return None
    if state.get("release") != current.record():
        state["release"] = current.record()
        fd, tmp = tempfile.mkstemp(dir=chart_dir, prefix=".chartgen-state.", suffix=".chartgen-tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(_state_text(state))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return current.version


def plan(catalog: Catalog, root: Path, options: Options = Options()) -> Outcome:
    """Compute every output file (reads the previous output, writes nothing)."""
    from .helmfile import GENERATED_DIR, build_generated_values, build_helmfile, build_release_values, dump_helmfile
    from .gatewayapi import CRD_CHART, build_crd_chart, uses_gateway_api
    from .userfiles import merge_user_values

    name = chart_name(catalog)
    chart_dir = f"charts/{name}"
    body = chart_body(catalog)
    probe = build_chart(catalog, ChartMeta(version="0.0.0"), body)
    # the environments' values are part of what a release of the chart means
    probe["(environment values)"] = json.dumps(mesh_env_values(catalog), sort_keys=True)
    fp = lifecycle.fingerprint(probe)
    state = _read_state(root / chart_dir / STATE_FILE)
    snapshot = lifecycle.model_snapshot(catalog)
    previous = state.get("version") if state else None
    recorded = lifecycle.Release.of(state.get("release")) if state else None
    release = lifecycle.last_release(recorded, lifecycle.Release.of(committed_state(root / chart_dir, state)))
    try:
        version, changes = lifecycle.next_version(release, snapshot, fp, options.version)
    except lifecycle.ReleaseError as exc:
        raise ChartgenError(str(exc)) from None
    except ValueError as exc:
        raise ChartgenError(f"--version: {exc}") from None
    history = lifecycle.history_since(list(state.get("history", [])) if state else [], release, version, changes)
    current_changes = tuple(history[0]["changes"]) if history else ()
    meta = ChartMeta(version=version, changes=current_changes, changelog=lifecycle.changelog_markdown(history))
    chart_files = build_chart(catalog, meta, body)
    new_state = {"fingerprint": fp, "history": history, "model": snapshot, "version": version}
    if recorded is not None:
        new_state["release"] = recorded.record()
    chart_files[STATE_FILE] = _state_text(new_state)
    _validate_values(catalog)

    files = {f"{chart_dir}/{rel}": text for rel, text in chart_files.items()}
    hf = catalog.helmfile  # the catalog's settings; a CLI flag overrides each for this run
    for flag, value, problem in (("--chart-mirror", options.chart_mirror, naming.chart_mirror_problem),
                                 ("--mesh-chart", options.mesh_chart, naming.mesh_chart_problem)):
        if value is not None and problem(value):
            raise ChartgenError(f"{flag}: {problem(value)}")
    if options.mesh_version is not None and not naming.SEMVER.fullmatch(options.mesh_version):
        raise ChartgenError(f"--mesh-version: expected a version such as 1.2.3, got {options.mesh_version!r}")
    docs = build_helmfile(catalog, chart_dir=f"./{chart_dir}",
                          chart_mirror=options.chart_mirror or hf.chartMirror,
                          mesh_chart=options.mesh_chart or hf.meshChart,
                          mesh_version=options.mesh_version or hf.meshVersion)
    files["helmfile.yaml"] = dump_helmfile(docs)
    owned_dirs = [chart_dir, f"charts/{CRD_CHART}"]  # the CRD chart goes when no environment needs it
    if uses_gateway_api(catalog):
        files.update({f"charts/{CRD_CHART}/{rel}": text for rel, text in build_crd_chart(catalog).items()})
    for rel, data in build_generated_values(catalog).items():
        # JSON is YAML too, and its C encoder keeps thousands of alert rules cheap to write
        files[f"values/{rel}"] = f"# {GENERATED}\n" + json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        owned = f"values/{rel.split('/')[0]}/{GENERATED_DIR}"
        if owned not in owned_dirs:
            owned_dirs.append(owned)
    for rel, data in sorted(build_release_values(catalog).items()):
        path = root / "values" / rel
        existing = path.read_text(encoding="utf-8") if path.exists() else None
        files[f"values/{rel}"] = merge_user_values(existing, data, header=USER_VALUES_HEADER)
    return Outcome(catalog=catalog, chart_dir=chart_dir, version=version, previous_version=previous,
                   changes=changes, files=dict(sorted(files.items())), owned_dirs=tuple(owned_dirs),
                   release=release.version if release else None)


@lru_cache(maxsize=1)
def _values_validator():
    """The values schema compiled to Python by fastjsonschema. Compiling costs more than a
    whole no-op run of a small catalog, so the compiled code object is kept in the user's
    cache directory, keyed by the schema, fastjsonschema's version and Python's."""
    import hashlib
    import marshal
    import os
    import sys
    import tempfile

    import fastjsonschema

    key = hashlib.sha256("\0".join((json.dumps(VALUES_SCHEMA, sort_keys=True), fastjsonschema.VERSION,
                                     sys.version)).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chartgen"
    path = cache / f"values-validator-{key}.marshal"
    code = None
    try:
        code = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        code = compile(fastjsonschema.compile_to_code(VALUES_SCHEMA), "<chartgen values validator>", "exec")
        try:
            cache.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(marshal.dumps(code))
            os.replace(tmp, path)
        except OSError:  # no writable cache: fine, compiled in memory
            pass
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - fastjsonschema's own generated validator
    return namespace["validate"]


def _validate_values(catalog: Catalog) -> None:
    """The generated values must satisfy the chart's own schema in every environment
    (a guard against generator bugs; fastjsonschema compiles the schema to Python, which
    keeps this cheap for large meshes)."""
    import fastjsonschema

    from .mesh import env_views

    validate = _values_validator()
    for view in [None, *env_views(catalog)]:
        try:
            validate(chart_values(catalog, view))
        except fastjsonschema.JsonSchemaException as exc:
            where = view.name if view else "values.yaml"
            raise RenderError(f"generated values for {where} break the chart schema: {exc.message}") from None


def generate(catalog_path: str | Path = "catalog.yaml", out: str | Path | None = None, *, check: bool = False,
             options: Options = Options(), wait_message=None, before_commit=None) -> Outcome:
    """Validate the catalog and write (or with ``check``, compare) every output."""
    catalog_path = Path(catalog_path)
    catalog = load_catalog(catalog_path)
    root = Path(out) if out is not None else catalog_path.resolve().parent
    if check:
        outcome = plan(catalog, root, options)
        to_write, to_delete = stale_paths(root, outcome.files, outcome.owned_dirs)
        outcome.stale = sorted(to_write + to_delete)
        return outcome
    with locked(root, wait_message=wait_message):
        outcome = plan(catalog, root, options)
        outcome.result = write_plan(root, outcome.files, outcome.owned_dirs, before_commit=before_commit)
    return outcome


def preview(catalog_path: str | Path, out: str | Path | None = None, options: Options = Options()) -> tuple[Outcome, dict[str, str | None]]:
    """What generate would write: the outcome and, per changed path, the current text (None if new)."""
    catalog_path = Path(catalog_path)
    catalog = load_catalog(catalog_path)
    root = Path(out) if out is not None else catalog_path.resolve().parent
    outcome = plan(catalog, root, options)
    to_write, to_delete = stale_paths(root, outcome.files, outcome.owned_dirs)
    old: dict[str, str | None] = {}
    for rel in to_write + to_delete:
        p = root / rel
        old[rel] = p.read_text(encoding="utf-8") if p.exists() else None
    outcome.stale = sorted(old)
    return outcome, old


__all__ = ["Options", "Outcome", "generate", "plan", "preview", "changelog_text"]
