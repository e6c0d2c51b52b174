"""Chart versioning: a structured comparison of the old and new model decides the
semantic version bump and writes the changelog in reviewer's words. Pure functions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from . import naming
from .catalog import Catalog
from .mesh import env_views
from .values import chart_values, path_label

MAJOR, MINOR, PATCH, NONE = 3, 2, 1, 0
LEVEL_NAMES = {MAJOR: "major", MINOR: "minor", PATCH: "patch", NONE: "none"}


@dataclass(frozen=True)
class Change:
    level: int
    text: str


def model_snapshot(catalog: Catalog) -> dict:
    """What the comparison looks at: every environment's effective values."""
    out = {}
    for view in env_views(catalog):
        values = dict(chart_values(catalog, view))  # a copy: chart_values is shared
        # the canary candidate names the version in changelog lines ("canary v2 10% → 25%")
        values["_canary"] = {k: s.spec.canary.candidate for k, s in sorted(view.services.items()) if s.spec.canary}
        out[view.name] = values
    return out


def fingerprint(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return h.hexdigest()


def parse_version(text: str) -> tuple[int, int, int]:
    m = naming.SEMVER.fullmatch(text or "")
    if not m:
        raise ValueError(f"expected a semantic version X.Y.Z, got {text!r}")
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


def _service_changes(name: str, old: dict, new: dict, candidate: str | None = None) -> list[Change]:
    out: list[Change] = []
    if old.get("enabled") and not new.get("enabled"):
        return [Change(MAJOR, f"{name}: removed")]
    if not old.get("enabled") and new.get("enabled"):
        return [Change(MINOR, f"{name}: added")]
    oports = {p["name"]: p for p in old["ports"]}
    nports = {p["name"]: p for p in new["ports"]}
    removed, added = sorted(set(oports) - set(nports)), sorted(set(nports) - set(oports))
    # a port renamed with the same number and protocol is the same port to every client
    for p in list(removed):
        same = [q for q in added if (nports[q]["number"], nports[q]["protocol"]) == (oports[p]["number"], oports[p]["protocol"])]
        if same:
            removed.remove(p)
            added.remove(same[0])
            out.append(Change(PATCH, f"{name}: port {p} renamed to {same[0]} ({oports[p]['number']}/{oports[p]['protocol']})"))
    for p in removed:
        out.append(Change(MAJOR, f"{name}: port {p} ({oports[p]['number']}) removed"))
    for p in added:
        out.append(Change(MINOR, f"{name}: port {p} ({nports[p]['number']}) added"))
    for p in sorted(set(oports) & set(nports)):
        if oports[p] != nports[p]:
            out.append(Change(MAJOR, f"{name}: port {p} {oports[p]['number']}/{oports[p]['protocol']} → "
                                     f"{nports[p]['number']}/{nports[p]['protocol']}"))
    oe, ne = old["expose"], new["expose"]
    if oe["enabled"] and not ne["enabled"]:
        out.append(Change(MAJOR, f"{name}: no longer exposed through the gateway"))
    elif ne["enabled"] and not oe["enabled"]:
        out.append(Change(MINOR, f"{name}: exposed through the gateway as {ne['host']}"))
    elif oe["enabled"]:
        if oe["host"] != ne["host"]:
            out.append(Change(MAJOR, f"{name}: host {oe['host']} → {ne['host']}"))
        opaths, npaths = {path_label(p) for p in oe["paths"]}, {path_label(p) for p in ne["paths"]}
        for path in sorted(opaths - npaths):
            out.append(Change(MAJOR, f"{name}: path {path} removed"))
        for path in sorted(npaths - opaths):
            out.append(Change(MINOR, f"{name}: path {path} added"))
        if oe["gatewayPort"] != ne["gatewayPort"]:
            out.append(Change(MAJOR, f"{name}: gateway port {oe['gatewayPort']} → {ne['gatewayPort']}"))
    if old["weights"] != new["weights"]:
        out.append(Change(PATCH, f"{name}: {_weights_text(old['weights'], new['weights'], candidate)}"))
    for key in sorted(set(old) | set(new)):
        if key in ("enabled", "ports", "expose", "weights"):
            continue
        out += _leaf_changes(f"{name}: ", key, old.get(key), new.get(key))
    return out


def _weights_text(old: dict, new: dict, candidate: str | None = None) -> str:
    versions = sorted(set(old) | set(new))
    moved = [v for v in versions if old.get(v, 0) != new.get(v, 0)]
    # two versions trade traffic: name the one that had less ("canary v2 10% → 25%")
    if len(moved) == 2:
        v = candidate if candidate in moved else sorted(moved, key=lambda x: (old.get(x, 0), x))[0]
        return f"canary {v} {old.get(v, 0)}% → {new.get(v, 0)}%"
    return "weights " + ", ".join(f"{v} {old.get(v, 0)}% → {new.get(v, 0)}%" for v in moved)


def _leaf_changes(prefix: str, path: str, old, new) -> list[Change]:
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out += _leaf_changes(prefix, f"{path}.{key}", old.get(key), new.get(key))
        return out
    if old is None:
        return [Change(MINOR, f"{prefix}{path} added ({_fmt(new)})")]
    if new is None:
        return [Change(PATCH, f"{prefix}{path} removed (was {_fmt(old)})")]
    return [Change(PATCH, f"{prefix}{path} {_fmt(old)} → {_fmt(new)}")]


def compare(old: dict | None, new: dict) -> list[Change]:
    """Changes from the old snapshot to the new, deduplicated across environments."""
    if old is None:
        return [Change(MINOR, INITIAL)]
    per_env: dict[str, list[Change]] = {}
    for env in sorted(set(old) | set(new)):
        if env not in new:
            per_env[env] = [Change(MAJOR, f"environment {env} removed")]
            continue
        if env not in old:
            per_env[env] = [Change(MINOR, f"environment {env} added")]
            continue
        o, n = old[env], new[env]
        changes: list[Change] = []
        for svc in sorted(set(o["services"]) | set(n["services"])):
            os_, ns_ = o["services"].get(svc), n["services"].get(svc)
            if os_ is None:
                if ns_["enabled"]:
                    changes.append(Change(MINOR, f"{svc}: added"))
            elif ns_ is None:
                if os_["enabled"]:
                    changes.append(Change(MAJOR, f"{svc}: removed"))
            else:
                changes += _service_changes(svc, os_, ns_, n.get("_canary", {}).get(svc))
        for key in sorted(set(o) | set(n)):
            if key not in ("services", "_canary"):
                changes += _leaf_changes("", key, o.get(key), n.get(key))
        per_env[env] = changes
    # a change seen in every environment is reported once, without the environment name
    envs = [e for e in per_env if e in old and e in new]
    common = set.intersection(*(set(per_env[e]) for e in envs)) if envs else set()
    out: list[Change] = []
    seen = set()
    for env in sorted(per_env):
        for ch in per_env[env]:
            if ch in common and len(envs) > 1:
                if ch not in seen:
                    seen.add(ch)
                    out.append(ch)
            else:
                out.append(Change(ch.level, ch.text if ch.text.startswith("environment ") else f"{env}: {ch.text}"))
    return sorted(out, key=lambda c: (-c.level, c.text))


def level_of(changes: list[Change]) -> int:
    return max((c.level for c in changes), default=NONE)


# --- releases ----------------------------------------------------------------------------------
#
# A release is a version someone could have installed: the one recorded when the chart was last
# packaged or published, or the one in the committed state. Every generate between two releases
# computes the version against the last release, so the edits in between make one bump of the
# level of their net changes, and a change followed by its revert makes none.

INITIAL = "initial version"


@dataclass(frozen=True)
class Release:
    version: str
    model: dict | None
    fingerprint: str | None

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
        return cls(state["version"], model, fp)

    def record(self) -> dict:
        return {"fingerprint": self.fingerprint, "model": self.model, "version": self.version}


def last_release(*candidates: Release | None) -> Release | None:
    """The newest of the candidate releases (recorded by package/publish, committed)."""
    found = [c for c in candidates if c is not None]
    return max(found, key=lambda r: parse_version(r.version)) if found else None


def next_version(release: Release | None, model: dict, fingerprint: str, forced: str | None = None) -> tuple[str, list[Change]]:
    """The version of the chart for ``model`` and its net changes since ``release``.

    Unchanged since the release: the release's version, no changes. Otherwise the release's
    version bumped by the level of the net changes (or ``forced``, which must be newer)."""
    if release is None:
        changes = [Change(MINOR, INITIAL)]
    elif release.fingerprint == fingerprint and forced in (None, release.version):
        return release.version, []
    else:
        changes = compare(release.model, model) if release.model is not None else [Change(MINOR, INITIAL)]
        if not changes:
            changes = [Change(PATCH, "chart templates updated" if release.fingerprint != fingerprint
                              else f"version set to {forced}")]
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
    return bump(release.version, level_of(changes)), changes


class ReleaseError(ValueError):
    """A forced version that would reuse or go below a release."""


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
    return [{"version": version, "changes": [c.text for c in changes]}] + [h for h in kept if h["version"] != version]


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
        parts += [f"- {c}" for c in entry["changes"]]
        parts.append("")
    return "\n".join(parts)


def parse_changelog(text: str) -> list[dict]:
    """The history a chart's CHANGELOG.md records (``changelog_markdown`` read back):
    [{"version": "0.2.0", "changes": ["…", …]}, …], newest first; unknown lines are skipped."""
    history: list[dict] = []
    for line in text.splitlines():
        if line.startswith("## "):
            version = line[3:].strip()
            if naming.SEMVER.match(version):
                history.append({"version": version, "changes": []})
        elif line.startswith("- ") and history:
            history[-1]["changes"].append(line[2:])
    return history


def highest(*versions: str | None) -> str | None:
    """The highest of the valid semantic versions given (None if there is none)."""
    valid = [v for v in versions if v and naming.SEMVER.match(v)]
    return max(valid, key=parse_version) if valid else None
