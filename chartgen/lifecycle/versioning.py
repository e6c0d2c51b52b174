"""Chart versioning: a structured comparison of the old and new model decides the
semantic version bump and writes the changelog in reviewer's words. Pure functions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..base import naming
from ..catalog.model import Catalog
from ..catalog.mesh import Mesh, resolve
from ..catalog.revisions import control_plane
from ..chart.values import mesh_values, path_label
from ..base.version import __version__

MAJOR, MINOR, PATCH, NONE = 3, 2, 1, 0
LEVEL_NAMES = {MAJOR: "major", MINOR: "minor", PATCH: "patch", NONE: "none"}


ADDED, CHANGED, REMOVED = "added", "changed", "removed"  # Artifact Hub's change kinds


@dataclass(frozen=True)
class Change:
    """One change of the chart between two versions, as the state file records it: its
    ``kind`` (added, changed, removed), semver ``level``, ``subject`` (what changed: a
    service, an environment, a values key, the chart) and the changelog ``text``."""

    level: int | None  # None: a text-only line of an older state file or of CHANGELOG.md
    text: str
    kind: str = CHANGED
    subject: str = ""

    def record(self) -> dict:
        return {"kind": self.kind, "level": LEVEL_NAMES[self.level], "subject": self.subject, "text": self.text}

    @classmethod
    def of(cls, stored: str | dict) -> "Change":
        """A change as the state file holds it: a record, or the text alone (older state
        files and CHANGELOG.md keep only the text; its kind is then read from the words)."""
        if isinstance(stored, str):
            return cls(None, stored, _legacy_kind(stored))
        return cls(LEVEL_BY_NAME.get(stored.get("level")), stored["text"], stored["kind"], stored.get("subject", ""))


LEVEL_BY_NAME = {name: level for level, name in LEVEL_NAMES.items()}


def is_record(stored) -> bool:
    """Whether a stored change is well-formed: a text line, or a record with a known kind."""
    if isinstance(stored, str):
        return True
    return (isinstance(stored, dict) and isinstance(stored.get("text"), str) and stored.get("kind") in KINDS
            and stored.get("level") in LEVEL_BY_NAME and isinstance(stored.get("subject"), str))


KINDS = (ADDED, CHANGED, REMOVED)


def _legacy_kind(text: str) -> str:
    """The kind of a change recorded as text only, before changes were records."""
    if text == INITIAL:
        return ADDED
    if text.startswith(("removed", "REMOVED")) or " removed" in text:
        return REMOVED
    if text.startswith("added") or " added" in text:
        return ADDED
    return CHANGED


def model_snapshot(source: Catalog | Mesh) -> dict:
    """What the comparison looks at: every environment's effective values."""
    out = {}
    for view in resolve(source).views:
        values = dict(mesh_values(view.mesh).of(view))  # a copy: the values are shared
        # the canary candidate names the version in changelog lines ("canary v2 10% → 25%")
        values["_canary"] = {k: s.spec.canary.candidate for k, s in sorted(view.services.items()) if s.spec.canary}
        plane = _control_plane(view)
        if plane:
            values["controlPlane"] = plane
        out[view.name] = values
    return out


def _control_plane(view) -> dict | None:
    """The istiod revisions and tags of an environment (revisions form only), so that each
    step of an Istio upgrade has its changelog line ("controlPlane.tags.prod-stable 1-29-6 →
    1-30-3")."""
    cp = control_plane(view.catalog, view.name)
    if cp.legacy:
        return None
    return {"revisions": dict(cp.revisions), "tags": dict(cp.tags), "gateway": cp.gateway}


def fingerprint(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return h.hexdigest()


def parse_version(text: str) -> tuple[int, int, int]:
    m = naming.SEMVER.fullmatch(text or "")
    if not m:
        raise ValueError(f"expected a semantic version X.Y.Z, got {text!r}")
    if not naming.is_version(text):
        raise ValueError(f"expected a version helm can parse (each number at most {naming.MAX_VERSION_NUMBER}), "
                         f"got {text!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def bump(version: str, level: int) -> str:
    major, minor, patch = parse_version(version)
    if level == MAJOR:
        return f"{major + 1}.0.0"
    if level == MINOR:
        return f"{major}.{minor + 1}.0"
    if level == PATCH:
        return f"{major}.{minor}.{patch + 1}"
    return version


def checked_bump(version: str, level: int) -> str:
    """``bump``, refused (ReleaseError) when the next version is past what helm can parse."""
    out = bump(version, level)
    if not naming.is_version(out):
        raise ReleaseError(f"the chart version {version} cannot be raised: each number of a version helm "
                           f"can parse is at most {naming.MAX_VERSION_NUMBER}")
    return out


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if value == "":
        return "(none)"
    return str(value)


# --- comparing two model snapshots -----------------------------------------------------------------
#
# Each helper compares one concern of a service (or of an environment) and says what changed in
# records; ``compare`` puts the environments together.


def _presence(name: str, old: dict | None, new: dict | None) -> list[Change] | None:
    """A service that appears or goes (absent or disabled): that is its only change; None
    when it is in both snapshots, enabled or not in both (its settings are compared then)."""
    was, now = bool(old and old.get("enabled")), bool(new and new.get("enabled"))
    if was and not now:
        return [Change(MAJOR, f"{name}: removed", REMOVED, name)]
    if now and not was:
        return [Change(MINOR, f"{name}: added", ADDED, name)]
    return [] if old is None or new is None else None


def _port_changes(name: str, old: list[dict], new: list[dict]) -> list[Change]:
    oports = {p["name"]: p for p in old}
    nports = {p["name"]: p for p in new}
    removed, added = sorted(set(oports) - set(nports)), sorted(set(nports) - set(oports))
    out: list[Change] = []
    # a port renamed with the same number and protocol is the same port to every client
    for p in list(removed):
        same = [q for q in added if (nports[q]["number"], nports[q]["protocol"]) == (oports[p]["number"], oports[p]["protocol"])]
        if same:
            removed.remove(p)
            added.remove(same[0])
            out.append(Change(PATCH, f"{name}: port {p} renamed to {same[0]} ({oports[p]['number']}/{oports[p]['protocol']})",
                              CHANGED, name))
    out += [Change(MAJOR, f"{name}: port {p} ({oports[p]['number']}) removed", REMOVED, name) for p in removed]
    out += [Change(MINOR, f"{name}: port {p} ({nports[p]['number']}) added", ADDED, name) for p in added]
    for p in sorted(set(oports) & set(nports)):
        if oports[p] != nports[p]:
            # a new targetPort moves what the policies admit to another pod port: a break
            out.append(Change(MAJOR, f"{name}: port {p} {_port_text(oports[p])} → {_port_text(nports[p])}",
                              CHANGED, name))
    return out


def _port_text(port: dict) -> str:
    """``80/HTTP``, or ``80→8079/HTTP`` for a port whose pods listen on another port."""
    target = port.get("targetPort")
    return f"{port['number']}{'' if target is None else f'→{target}'}/{port['protocol']}"


def _expose_changes(name: str, oe: dict, ne: dict) -> list[Change]:
    if oe["enabled"] and not ne["enabled"]:
        return [Change(MAJOR, f"{name}: no longer exposed through the gateway", CHANGED, name)]
    if ne["enabled"] and not oe["enabled"]:
        return [Change(MINOR, f"{name}: exposed through the gateway as {ne['host']}", CHANGED, name)]
    if not oe["enabled"]:
        return []
    out: list[Change] = []
    if oe["host"] != ne["host"]:
        out.append(Change(MAJOR, f"{name}: host {oe['host']} → {ne['host']}", CHANGED, name))
    opaths, npaths = {path_label(p) for p in oe["paths"]}, {path_label(p) for p in ne["paths"]}
    out += [Change(MAJOR, f"{name}: path {path} removed", REMOVED, name) for path in sorted(opaths - npaths)]
    out += [Change(MINOR, f"{name}: path {path} added", ADDED, name) for path in sorted(npaths - opaths)]
    if oe["gatewayPort"] != ne["gatewayPort"]:
        out.append(Change(MAJOR, f"{name}: gateway port {oe['gatewayPort']} → {ne['gatewayPort']}", CHANGED, name))
    return out


def _calls_changes(name: str, old: list, new: list) -> list[Change]:
    """A ``calls`` edge is access: a new one admits the caller (AuthorizationPolicy,
    NetworkPolicy, Sidecar egress) and is an addition, minor like an added path; a removed one
    denies calls that worked under the release and is a removal, major like a removed path."""
    out = [Change(MAJOR, f"{name}: may no longer call {callee} (access removed)", REMOVED, name)
           for callee in sorted(set(old or []) - set(new or []))]
    out += [Change(MINOR, f"{name}: may call {callee} (access granted)", ADDED, name)
            for callee in sorted(set(new or []) - set(old or []))]
    return out


# compared by their own helpers; every other key of a service is compared leaf by leaf
_SERVICE_PARTS = ("enabled", "ports", "expose", "weights", "calls")


def _service_changes(name: str, old: dict | None, new: dict | None, candidate: str | None = None) -> list[Change]:
    presence = _presence(name, old, new)
    if presence is not None:
        return presence
    out = _port_changes(name, old["ports"], new["ports"]) + _expose_changes(name, old["expose"], new["expose"])
    out += _calls_changes(name, old.get("calls"), new.get("calls"))
    if old["weights"] != new["weights"]:
        out.append(Change(PATCH, f"{name}: {_weights_text(old['weights'], new['weights'], candidate)}", CHANGED, name))
    for key in sorted(set(old) | set(new)):
        if key not in _SERVICE_PARTS:
            out += _leaf_changes(f"{name}: ", key, old.get(key), new.get(key), subject=name)
    return out


def _weights_text(old: dict, new: dict, candidate: str | None = None) -> str:
    versions = sorted(set(old) | set(new))
    moved = [v for v in versions if old.get(v, 0) != new.get(v, 0)]
    # two versions trade traffic: name the one that had less ("canary v2 10% → 25%")
    if len(moved) == 2:
        v = candidate if candidate in moved else sorted(moved, key=lambda x: (old.get(x, 0), x))[0]
        return f"canary {v} {old.get(v, 0)}% → {new.get(v, 0)}%"
    return "weights " + ", ".join(f"{v} {old.get(v, 0)}% → {new.get(v, 0)}%" for v in moved)


def _leaf_changes(prefix: str, path: str, old, new, subject: str | None = None) -> list[Change]:
    """Changes of one values key, leaf by leaf; the subject is ``subject`` (a service) or,
    for a key of the chart itself, the key's path."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out += _leaf_changes(prefix, f"{path}.{key}", old.get(key), new.get(key), subject)
        return out
    about = subject if subject is not None else path
    if old is None:
        return [Change(MINOR, f"{prefix}{path} added ({_fmt(new)})", ADDED, about)]
    if new is None:
        return [Change(PATCH, f"{prefix}{path} removed (was {_fmt(old)})", REMOVED, about)]
    return [Change(PATCH, f"{prefix}{path} {_fmt(old)} → {_fmt(new)}", CHANGED, about)]


def _env_changes(o: dict, n: dict) -> list[Change]:
    """The changes within one environment present before and after."""
    changes: list[Change] = []
    for svc in sorted(set(o["services"]) | set(n["services"])):
        changes += _service_changes(svc, o["services"].get(svc), n["services"].get(svc), n.get("_canary", {}).get(svc))
    for key in sorted(set(o) | set(n)):
        if key not in ("services", "_canary"):
            changes += _leaf_changes("", key, o.get(key), n.get(key))
    return changes


def _in_env(env: str, change: Change) -> Change:
    """A change seen in one environment only: its text and subject name the environment."""
    return Change(change.level, f"{env}: {change.text}", change.kind, f"{env}: {change.subject}")


def compare(old: dict | None, new: dict) -> list[Change]:
    """Changes from the old snapshot to the new, deduplicated across environments."""
    if old is None:
        return [INITIAL_CHANGE]
    per_env: dict[str, list[Change]] = {}
    for env in sorted(set(old) | set(new)):
        if env not in new:
            per_env[env] = [Change(MAJOR, f"environment {env} removed", REMOVED, f"environment {env}")]
        elif env not in old:
            per_env[env] = [Change(MINOR, f"environment {env} added", ADDED, f"environment {env}")]
        else:
            per_env[env] = _env_changes(old[env], new[env])
    # a change seen in every environment is reported once, without the environment name
    envs = [e for e in per_env if e in old and e in new]
    common = set.intersection(*(set(per_env[e]) for e in envs)) if len(envs) > 1 else set()
    out: list[Change] = []
    seen: set[Change] = set()
    for env in sorted(per_env):
        for ch in per_env[env]:
            if ch in common:
                if ch not in seen:
                    seen.add(ch)
                    out.append(ch)
            else:
                out.append(ch if env not in old or env not in new else _in_env(env, ch))
    return sorted(out, key=lambda c: (-c.level, c.text))


def level_of(changes: list[Change]) -> int:
    return max((c.level for c in changes), default=NONE)


# --- what the generator changed ----------------------------------------------------------------
#
# The rendered objects are a function of the templates (and dashboards), the values (the model)
# and Chart.yaml's fields (name, appVersion: labels). With the model and Chart.yaml unchanged,
# the objects change only if the templates do; a template change that changes them has a
# template revision below, saying what, and the corpus test (tests/test_template_revisions.py)
# fails when the templates render other objects without a new revision.


@dataclass(frozen=True)
class TemplateRevision:
    number: int
    text: str  # what changes in the rendered objects, for the changelog
    level: int = PATCH


TEMPLATE_REVISIONS = (
    TemplateRevision(1, "the templates as they were before template revisions were recorded"),
    TemplateRevision(2, "the helm test Pod also fails on 403 (denied by an AuthorizationPolicy) and on 502, 503 "
                        "and 504 (no healthy upstream, reset, timeout), names why, and with gateway.jwt expects 403 "
                        "(env REQUIRE_JWT)"),
    TemplateRevision(3, "an exposed path written as a bare string is a whole-segment prefix (/api admits /api and "
                        "/api/..., no longer /apix): a VirtualService exact + prefix pair, a Gateway API PathPrefix "
                        "and gateway AuthorizationPolicy paths /api and /api/*; in ambient, calls into a namespace "
                        "with a waypoint are authorized at the waypoint (targetRefs to the Service or ServiceEntry) "
                        "and the NetworkPolicies admit the hops through the waypoint and ambient's kubelet probes",
                     MINOR),
    TemplateRevision(4, "a Gateway API Gateway carries networking.istio.io/service-type (gateway.serviceType), the "
                        "type of the Service Istio deploys for it; LoadBalancer as before unless the values say "
                        "otherwise"),
    TemplateRevision(5, "new values istio.namespaceRevisions (a namespace's revision tag or revision, over "
                        "istio.revision: its istio.io/rev label, and its waypoint's) and istio.gatewayRevision (the "
                        "istio.io/rev label of a Gateway API gateway), for Istio upgrades by revision and tag; with "
                        "them empty the objects are unchanged", MINOR),
    TemplateRevision(6, "the Grafana dashboard ConfigMap's $comment names the dashboard's new source in chartgen's "
                        "tree (chartgen/chart/static/dashboards/services.json); no other object changes"),
)
TEMPLATE_REVISION = TEMPLATE_REVISIONS[-1].number

# The parts of a chart fingerprinted on their own, and how a changelog line names them.
PARTS = {"templates": "templates", "schema": "values.schema.json", "docs": "README.md and values.yaml comments"}


def _chart_field_changes(old: dict, new: dict) -> list[Change]:
    out = []
    for key in sorted(set(old) | set(new)):
        for c in _leaf_changes("Chart.yaml ", key, old.get(key), new.get(key), "Chart.yaml"):
            label = " (the app.kubernetes.io/version label of every object)" if key == "appVersion" else ""
            out.append(Change(PATCH, c.text + label, c.kind, c.subject))
    return out


def generator_changes(old: Build, new: Build, model_changed: bool = False) -> list[Change]:
    """What changed in a chart beyond its model, between the release's build and this one:
    each template revision since the release's (what it changes in the rendered objects),
    Chart.yaml's fields, and, when nothing else changed, which chartgen regenerated which
    parts, with the rendered objects for the committed values unchanged."""
    generator, revision = new.generator or __version__, new.revision or TEMPLATE_REVISION
    since = old.revision or 1  # a release from before revisions were recorded: revision 1
    out = [Change(r.level, f"chartgen {generator}, template revision {r.number}: {r.text}", CHANGED, "templates")
           for r in TEMPLATE_REVISIONS if since < r.number <= revision]
    if old.chart is not None and new.chart is not None:
        out += _chart_field_changes(old.chart, new.chart)
    if out or model_changed:
        return out
    if old.parts is None or new.parts is None:
        return [Change(PATCH, f"regenerated by chartgen {generator} (template revision {revision}); the "
                              "release recorded no fingerprints of its parts, so what changed is not itemised: "
                              "review the diff", CHANGED, "chart")]
    moved = [name for part, name in PARTS.items() if old.parts.get(part) != new.parts.get(part)]
    if not moved:
        return []
    why = "the templates render the same objects" if "templates" in moved else "the templates and values are unchanged"
    return [Change(PATCH, f"regenerated by chartgen {generator}: {', '.join(moved)} changed; the rendered objects "
                          f"for the committed values are unchanged ({why}, template revision {revision})",
                   CHANGED, "chart")]


# --- releases ----------------------------------------------------------------------------------
#
# A release is a version someone could have installed: the one recorded when the chart was last
# packaged or published, or the one in the committed state. Every generate between two releases
# computes the version against the last release, so the edits in between make one bump of the
# level of their net changes, and a change followed by its revert makes none.

INITIAL = "initial version"
INITIAL_CHANGE = Change(MINOR, INITIAL, ADDED, "chart")  # the first version adds everything


@dataclass(frozen=True)
class Build:
    """What a chart was built from besides its model, as the state file records it: the
    fingerprint of each part of the chart (``PARTS``), its Chart.yaml fields (version and
    annotations aside), the template revision and the chartgen version that wrote it."""

    parts: dict | None = None
    chart: dict | None = None
    revision: int | None = None
    generator: str | None = None

    @classmethod
    def of(cls, state: dict) -> "Build":
        parts, chart, rev, gen = (state.get(k) for k in ("parts", "chart", "templateRevision", "generator"))
        return cls(parts if isinstance(parts, dict) else None, chart if isinstance(chart, dict) else None,
                   rev if isinstance(rev, int) and not isinstance(rev, bool) else None,
                   gen if isinstance(gen, str) else None)

    def record(self) -> dict:
        out = {"parts": self.parts, "chart": self.chart, "templateRevision": self.revision, "generator": self.generator}
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class Release:
    version: str
    model: dict | None
    fingerprint: str | None
    build: Build = Build()

    @classmethod
    def of(cls, state: dict | None) -> "Release | None":
        """The release a state (or a recorded ``release`` block) stands for, if well-formed."""
        if not isinstance(state, dict) or not isinstance(state.get("version"), str):
            return None
        try:
            parse_version(state["version"])
        except ValueError:
            return None
        model = state.get("model") if isinstance(state.get("model"), dict) else None
        fp = state.get("fingerprint") if isinstance(state.get("fingerprint"), str) else None
        return cls(state["version"], model, fp, Build.of(state))

    def record(self) -> dict:
        return {"fingerprint": self.fingerprint, "model": self.model, "version": self.version, **self.build.record()}


def last_release(*candidates: Release | None) -> Release | None:
    """The newest of the candidate releases (recorded by package/publish, committed)."""
    found = [c for c in candidates if c is not None]
    return max(found, key=lambda r: parse_version(r.version)) if found else None


def next_version(release: Release | None, model: dict, fingerprint: str, forced: str | None = None,
                 build: Build = Build()) -> tuple[str, list[Change]]:
    """The version of the chart for ``model`` and its net changes since ``release``.

    Unchanged since the release: the release's version, no changes. Otherwise the release's
    version bumped by the level of the net changes (or ``forced``, which must be newer): the
    model's, and what the generator changed (``build``: this run's, see ``generator_changes``)."""
    if release is None:
        changes = [INITIAL_CHANGE]
    elif release.fingerprint == fingerprint and forced in (None, release.version):
        return release.version, []
    else:
        changes = compare(release.model, model) if release.model is not None else [INITIAL_CHANGE]
        if release.model is not None and release.fingerprint != fingerprint:
            changes = sorted(changes + generator_changes(release.build, build, bool(changes)),
                             key=lambda c: (-c.level, c.text))
        if not changes:
            changes = [Change(PATCH, "chart templates updated" if release.fingerprint != fingerprint
                              else f"version set to {forced}", CHANGED, "chart")]
    if forced:
        wanted = parse_version(forced)  # ValueError: not a version
        if release and wanted < parse_version(release.version):
            raise ReleaseError(f"--version {forced} is lower than the released chart version {release.version}; "
                               "versions never go backwards")
        if release and wanted == parse_version(release.version):
            raise ReleaseError(f"--version {forced} is the released chart version, and the chart has changed; "
                               "a version is never reused for different content")
        return forced, changes
    if release is None:
        return "0.1.0", changes
    return checked_bump(release.version, level_of(changes)), changes


class ReleaseError(ValueError):
    """A forced version that would reuse or go below a release."""


@dataclass(frozen=True)
class Decision:
    """The chart's version for this run, its changes since the last release, and what the
    user should be told about the choice (None: nothing)."""

    version: str
    changes: list[Change]
    note: str | None = None


def decide_version(release: Release | None, model: dict, fingerprint: str, forced: str | None = None, *,
                   model_lost: bool = False, unchanged: bool = False, build: Build = Build()) -> Decision:
    """The one place the chart's version is decided (pure).

    ``release``: the last release (None: a new chart); ``model``: this run's model snapshot;
    ``fingerprint``: of the chart rendered at a neutral version; ``forced``: ``--version``;
    ``build``: the parts, Chart.yaml fields and template revision of this run's chart.
    ``model_lost``: the release was recovered from Chart.yaml and CHANGELOG.md without its
    model, so its changes cannot be itemised; ``unchanged`` then says whether the chart on
    disk is exactly what this catalog renders at the release. Raises ``ReleaseError`` for a
    forced version that reuses or goes below the release, ``ValueError`` for one that is not
    a version."""
    version, changes = next_version(release, model, fingerprint, forced, build)
    if release is None or release.model is not None or not model_lost:
        return Decision(version, changes)
    # the chart on disk tells whether there are changes; a major release is the safe level
    if forced in (None, release.version) and unchanged:
        return Decision(release.version, [])
    changes = [Change(MAJOR, f"changes since {release.version} not itemised: the chart's state file was lost; "
                             "review the diff of this release", CHANGED, "chart")]
    if forced:
        return Decision(version, changes)
    return Decision(checked_bump(release.version, MAJOR), changes,
                    f"the chart changed since {release.version}, and without its state file chartgen cannot tell "
                    "how: a major release is the safe choice (--version X.Y.Z picks another, higher one)")


def history_since(history: list[dict], release: Release | None, version: str, changes: list[Change]) -> list[dict]:
    """The changelog entries: one per release up to ``release``, then one for ``version`` with
    its net ``changes`` if it is not the release itself (unreleased entries are replaced)."""
    if release is None:
        kept: list[dict] = []
    else:
        top = parse_version(release.version)
        kept = [h for h in history if isinstance(h, dict) and _is_version(h.get("version"))
                and parse_version(h["version"]) <= top]
    if release is not None and version == release.version:
        return kept
    return [{"version": version, "changes": [c.record() for c in changes]}] + [h for h in kept if h["version"] != version]


def _is_version(text) -> bool:
    try:
        parse_version(text)
        return True
    except (ValueError, TypeError):
        return False


def changelog_markdown(history: list[dict]) -> str:
    parts = []
    for entry in history:
        parts.append(f"## {entry['version']}\n")
        parts += [f"- {Change.of(c).text}" for c in entry["changes"]]
        parts.append("")
    return "\n".join(parts)


def parse_changelog(text: str) -> list[dict]:
    """The history a chart's CHANGELOG.md records (``changelog_markdown`` read back):
    [{"version": "0.2.0", "changes": ["…", …]}, …], newest first; unknown lines are skipped.
    The changes are text only: kind, level and subject live in the state file."""
    history: list[dict] = []
    for line in text.splitlines():
        if line.startswith("## "):
            version = line[3:].strip()
            if naming.is_version(version):
                history.append({"version": version, "changes": []})
        elif line.startswith("- ") and history:
            history[-1]["changes"].append(line[2:])
    return history


def highest(*versions: str | None) -> str | None:
    """The highest of the valid semantic versions given (None if there is none)."""
    valid = [v for v in versions if v and naming.is_version(v)]
    return max(valid, key=parse_version) if valid else None
