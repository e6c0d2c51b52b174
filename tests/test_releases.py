"""Versions that mean releases: the chart version is computed against the last release (the
committed state, or the version recorded by `chartgen package` / `publish`), so the edits
between two releases make one bump and one changelog entry of their net changes."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from chartgen.lifecycle import versioning as lifecycle
from chartgen.lifecycle.versioning import (ADDED, CHANGED, MAJOR, MINOR, PATCH, REMOVED, TEMPLATE_REVISION, TEMPLATE_REVISIONS,
                                 Build, Change, Release)
from conftest import ROOT, run_cli

CHART = "charts/bytefreezer-mesh"


# --- the pure model ------------------------------------------------------------------------------


def _model(ports):
    svc = {"enabled": True, "ports": ports, "expose": {"enabled": False}, "weights": {}}
    return {"dev": {"services": {"api": svc}}}


def test_a_port_renamed_with_the_same_number_and_protocol_is_not_a_removal():
    old = _model([{"name": "http", "number": 8080, "protocol": "HTTP"}])
    new = _model([{"name": "http-api", "number": 8080, "protocol": "HTTP"}])
    assert lifecycle.compare(old, new) == [
        Change(PATCH, "dev: api: port http renamed to http-api (8080/HTTP)", CHANGED, "dev: api")]
    other = _model([{"name": "grpc", "number": 8080, "protocol": "GRPC"}])
    assert lifecycle.level_of(lifecycle.compare(old, other)) == MAJOR


def _two_envs(**services):
    return {env: {"services": dict(services), "gateway": {"name": "gw"}} for env in ("dev", "prod")}


def _svc(**over):
    return {"enabled": True, "ports": [{"name": "http", "number": 80, "protocol": "HTTP"}],
            "expose": {"enabled": True, "host": "api", "paths": ["/api"], "gatewayPort": 0}, "weights": {}, **over}


def test_changes_are_records_with_kind_level_and_subject():
    old = _two_envs(api=_svc(), web=_svc())
    new = _two_envs(api=_svc(expose={"enabled": True, "host": "api", "paths": ["/v1"], "gatewayPort": 0},
                             note="was removed from the docs"),
                    jobs=_svc())
    new["dev"]["gateway"] = {"name": "gw", "extra": 1}
    got = {c.text: (c.kind, c.level, c.subject) for c in lifecycle.compare(old, new)}
    assert got == {
        "api: path /api removed": (REMOVED, MAJOR, "api"),
        "web: removed": (REMOVED, MAJOR, "web"),
        "api: path /v1 added": (ADDED, MINOR, "api"),
        "jobs: added": (ADDED, MINOR, "jobs"),
        "dev: gateway.extra added (1)": (ADDED, MINOR, "dev: gateway.extra"),
        # prose that reads like a removal is still a setting that was added: the record says so
        "api: note added (was removed from the docs)": (ADDED, MINOR, "api"),
    }
    changed = lifecycle.compare(_two_envs(api=_svc(note="added")), _two_envs(api=_svc(note="removed")))
    assert [(c.text, c.kind) for c in changed] == [("api: note added → removed", CHANGED)]


def test_a_new_calls_edge_is_minor_and_a_removed_one_major():
    """An edge is access: granting it is an addition (minor), revoking it breaks calls that
    worked (major), as a path added or removed; reordering the list changes nothing."""
    old = _two_envs(api=_svc(calls=["db", "cache"]))
    added = lifecycle.compare(old, _two_envs(api=_svc(calls=["db", "cache", "queue"])))
    assert [(c.text, c.kind, c.level, c.subject) for c in added] == [
        ("api: may call queue (access granted)", ADDED, MINOR, "api")]
    removed = lifecycle.compare(old, _two_envs(api=_svc(calls=["db"])))
    assert [(c.text, c.kind, c.level) for c in removed] == [("api: may no longer call cache (access removed)", REMOVED, MAJOR)]
    assert lifecycle.compare(old, _two_envs(api=_svc(calls=["cache", "db"]))) == []
    assert lifecycle.next_version(Release("0.3.4", old, "a"), _two_envs(api=_svc(calls=["db", "cache", "q"])), "b")[0] == "0.4.0"
    only_prod = _two_envs(api=_svc(calls=["db", "cache"]))
    only_prod["prod"]["services"]["api"] = _svc(calls=["db"])
    assert [c.text for c in lifecycle.compare(old, only_prod)] == ["prod: api: may no longer call cache (access removed)"]


def test_a_disabled_service_still_has_its_settings_compared():
    old = _two_envs(api=_svc(enabled=False, timeout="1s"))
    new = _two_envs(api=_svc(enabled=False, timeout="2s"))
    assert [c.text for c in lifecycle.compare(old, new)] == ["api: timeout 1s → 2s"]
    assert lifecycle.compare({"dev": {"services": {}}}, {"dev": {"services": {"api": _svc(enabled=False)}}}) == []


def test_records_round_trip_and_old_text_lines_keep_their_words():
    change = Change(MAJOR, "api: removed", REMOVED, "api")
    assert change.record() == {"kind": "removed", "level": "major", "subject": "api", "text": "api: removed"}
    assert Change.of(change.record()) == change
    assert lifecycle.is_record(change.record()) and lifecycle.is_record("api: port http (80) added")
    assert not lifecycle.is_record({**change.record(), "kind": "renamed"})
    assert not lifecycle.is_record({"text": "no kind"})
    # a line of an older state file (or of CHANGELOG.md) has only its text
    assert [(c.kind, c.level) for c in map(Change.of, ["initial version", "api: port http (80) removed",
                                                       "api: path /x added", "chart templates updated"])] == [
        (ADDED, None), (REMOVED, None), (ADDED, None), (CHANGED, None)]


def test_next_version_is_against_the_release():
    release = Release("1.2.0", _model([{"name": "http", "number": 80, "protocol": "HTTP"}]), "fp-1", _BUILD)
    same = release.model
    assert lifecycle.next_version(release, same, "fp-1") == ("1.2.0", [])
    more = _model([{"name": "http", "number": 80, "protocol": "HTTP"}, {"name": "grpc", "number": 90, "protocol": "GRPC"}])
    version, changes = lifecycle.next_version(release, more, "fp-2", build=_BUILD)
    assert version == "1.3.0" and [c.level for c in changes] == [MINOR]
    assert lifecycle.next_version(None, more, "fp-2") == ("0.1.0", [Change(MINOR, "initial version", ADDED, "chart")])
    with pytest.raises(lifecycle.ReleaseError, match="never go backwards"):
        lifecycle.next_version(release, more, "fp-2", forced="1.1.9")
    with pytest.raises(lifecycle.ReleaseError, match="never reused"):
        lifecycle.next_version(release, more, "fp-2", forced="1.2.0")
    assert lifecycle.next_version(release, more, "fp-2", forced="2.0.0")[0] == "2.0.0"


PORT = [{"name": "http", "number": 80, "protocol": "HTTP"}]


@pytest.mark.parametrize("release, fp, forced, kw, want", [
    # a new chart
    (None, "fp", None, {}, ("0.1.0", ["initial version"], None)),
    (None, "fp", "1.0.0", {}, ("1.0.0", ["initial version"], None)),
    # nothing changed since the release
    (Release("1.2.0", _model(PORT), "fp"), "fp", None, {}, ("1.2.0", [], None)),
    # only the templates changed, rendering the same objects: a patch that says so
    (Release("1.2.0", _model(PORT), "fp", Build({"templates": "t1", "docs": "d"}, revision=TEMPLATE_REVISION)), "fp-2",
     None, {"build": Build({"templates": "t2", "docs": "d"}, revision=TEMPLATE_REVISION, generator="9.9.9")},
     ("1.2.1", ["regenerated by chartgen 9.9.9: templates changed; the rendered objects for the committed values are "
                f"unchanged (the templates render the same objects, template revision {TEMPLATE_REVISION})"], None)),
    # the same chart, a forced newer version
    (Release("1.2.0", _model(PORT), "fp"), "fp", "1.3.0", {}, ("1.3.0", ["version set to 1.3.0"], None)),
    # recovered without a model, chart on disk unchanged: the release stands
    (Release("1.2.0", None, None), "fp", None, {"model_lost": True, "unchanged": True}, ("1.2.0", [], None)),
    # recovered without a model, chart changed: a major release, said so
    (Release("1.2.0", None, None), "fp", None, {"model_lost": True},
     ("2.0.0", ["changes since 1.2.0 not itemised: the chart's state file was lost; review the diff of this release"],
      "a major release is the safe choice")),
    # ... or the forced version, with the same record
    (Release("1.2.0", None, None), "fp", "1.5.0", {"model_lost": True},
     ("1.5.0", ["changes since 1.2.0 not itemised: the chart's state file was lost; review the diff of this release"],
      None)),
])
def test_decide_version(release, fp, forced, kw, want):
    got = lifecycle.decide_version(release, _model(PORT), fp, forced, **kw)
    version, texts, note = want
    assert (got.version, [c.text for c in got.changes]) == (version, texts)
    assert (note is None and got.note is None) or (note and note in got.note)


_BUILD = Build({"templates": "t", "schema": "s", "docs": "d"},
               {"name": "x-mesh", "appVersion": "1.30.3", "description": "mesh"}, TEMPLATE_REVISION, "9.9.9")


def _rebuilt(**over) -> Build:
    return Build(**{"parts": _BUILD.parts, "chart": _BUILD.chart, "revision": _BUILD.revision,
                    "generator": _BUILD.generator, **over})


def _generator_texts(old: Build, new: Build, model_changed: bool = False) -> list[str]:
    return [c.text for c in lifecycle.generator_changes(old, new, model_changed)]


def test_a_template_revision_since_the_release_says_what_changes_in_the_rendered_objects():
    older = _rebuilt(revision=TEMPLATE_REVISION - 1)
    latest = TEMPLATE_REVISIONS[-1]
    want = f"chartgen 9.9.9, template revision {latest.number}: {latest.text}"
    assert _generator_texts(older, _rebuilt(parts={**_BUILD.parts, "templates": "t2"})) == [want]
    # with changes of the model, the revision is listed beside them
    assert _generator_texts(older, _rebuilt(parts={**_BUILD.parts, "templates": "t2"}), model_changed=True) == [want]
    # a release from before revisions were recorded counts as revision 1
    assert [c.text for c in lifecycle.generator_changes(Build(), _BUILD)] == [
        f"chartgen 9.9.9, template revision {r.number}: {r.text}" for r in TEMPLATE_REVISIONS[1:]]
    release = Release("0.2.14", _model(PORT), "fp")  # the state files written before this record
    version, changes = lifecycle.next_version(release, _model(PORT), "fp-2", build=_BUILD)
    # the release counts as revision 1: the bump is the highest level of the revisions since
    level = max(r.level for r in TEMPLATE_REVISIONS[1:])
    assert version == {lifecycle.PATCH: "0.2.15", lifecycle.MINOR: "0.3.0"}[level]
    assert want in [c.text for c in changes] and "chart templates updated" not in str(changes)


def test_only_the_generator_changed_says_which_chartgen_and_that_the_objects_are_unchanged():
    templates = _generator_texts(_BUILD, _rebuilt(parts={**_BUILD.parts, "templates": "t2"}, generator="1.4.0"))
    assert templates == [f"regenerated by chartgen 1.4.0: templates changed; the rendered objects for the committed "
                         f"values are unchanged (the templates render the same objects, template revision "
                         f"{TEMPLATE_REVISION})"]
    docs = _generator_texts(_BUILD, _rebuilt(parts={**_BUILD.parts, "docs": "d2", "schema": "s2"}))
    assert docs == [f"regenerated by chartgen 9.9.9: values.schema.json, README.md and values.yaml comments changed; "
                    f"the rendered objects for the committed values are unchanged (the templates and values are "
                    f"unchanged, template revision {TEMPLATE_REVISION})"]
    assert _generator_texts(_BUILD, _BUILD) == []
    # the model changed too: its lines say it, no claim about the objects is added
    assert _generator_texts(_BUILD, _rebuilt(parts={**_BUILD.parts, "templates": "t2"}), model_changed=True) == []
    # a release with a revision but no part fingerprints: not itemised, said so
    lost = _generator_texts(_rebuilt(parts=None), _BUILD)
    assert len(lost) == 1 and "not itemised" in lost[0] and "chartgen 9.9.9" in lost[0]


def test_chart_yaml_fields_are_itemised():
    new = _rebuilt(chart={**_BUILD.chart, "appVersion": "1.30.4", "description": "the shop's mesh"})
    assert _generator_texts(_BUILD, new) == [
        "Chart.yaml appVersion 1.30.3 → 1.30.4 (the app.kubernetes.io/version label of every object)",
        "Chart.yaml description mesh → the shop's mesh"]
    assert {c.level for c in lifecycle.generator_changes(_BUILD, new)} == {PATCH}


def test_builds_round_trip_through_the_state_file():
    record = Release("1.0.0", {}, "fp", _BUILD).record()
    assert record["templateRevision"] == TEMPLATE_REVISION and record["generator"] == "9.9.9"
    assert Release.of(record) == Release("1.0.0", {}, "fp", _BUILD)
    assert Release.of({"version": "1.0.0", "model": {}, "fingerprint": "fp"}).build == Build()
    assert Build.of({"templateRevision": True, "parts": "x"}) == Build()  # malformed: ignored


def test_decide_version_refuses_a_forced_version_at_or_below_the_release():
    for release in (Release("1.2.0", _model(PORT), "fp"), Release("1.2.0", None, None)):
        with pytest.raises(lifecycle.ReleaseError, match="never go backwards"):
            lifecycle.decide_version(release, _model(PORT), "fp-2", "1.1.0", model_lost=release.model is None)
        with pytest.raises(lifecycle.ReleaseError, match="never reused"):
            lifecycle.decide_version(release, _model(PORT), "fp-2", "1.2.0", model_lost=release.model is None)
    with pytest.raises(ValueError, match="semantic version"):
        lifecycle.decide_version(None, _model(PORT), "fp", "banana")


def test_history_keeps_releases_and_one_entry_for_the_unreleased_version():
    history = [{"version": "1.3.0", "changes": ["old draft"]}, {"version": "1.2.0", "changes": ["b"]},
               {"version": "1.1.0", "changes": ["a"]}]
    release = Release("1.2.0", {}, "fp")
    got = lifecycle.history_since(history, release, "1.2.1", [Change(PATCH, "c", CHANGED, "api")])
    assert got == [{"version": "1.2.1", "changes": [{"kind": "changed", "level": "patch", "subject": "api",
                                                     "text": "c"}]}, history[1], history[2]]
    assert lifecycle.history_since(history, release, "1.2.0", []) == history[1:]
    assert lifecycle.changelog_markdown(got) == "## 1.2.1\n\n- c\n\n## 1.2.0\n\n- b\n\n## 1.1.0\n\n- a\n"


def test_latest_release_wins():
    a, b = Release("0.3.0", None, None), Release("0.10.0", None, None)
    assert lifecycle.last_release(a, None, b) is b
    assert lifecycle.last_release(None, None) is None


def test_first_release_is_added_in_artifacthub(repo_copy):
    assert run_cli("generate", cwd=repo_copy).returncode == 0
    chart = yaml.safe_load((repo_copy / CHART / "Chart.yaml").read_text())
    assert yaml.safe_load(chart["annotations"]["artifacthub.io/changes"]) == [
        {"kind": "added", "description": "initial version"}]


# --- through git and the real command ------------------------------------------------------------


def git(root, *args):
    r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def repo(repo_copy):
    """A git repository holding the catalog and its generated output, committed: release 0.1.0."""
    git(repo_copy, "init", "-q")
    git(repo_copy, "config", "user.email", "ci@example.com")
    git(repo_copy, "config", "user.name", "CI")
    assert run_cli("generate", cwd=repo_copy).returncode == 0
    git(repo_copy, "add", "-A")
    git(repo_copy, "commit", "-qm", "release 0.1.0")
    return repo_copy


def edit(root, old, new):
    path = root / "catalog.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def version(root) -> str:
    return yaml.safe_load((root / CHART / "Chart.yaml").read_text())["version"]


def changelog(root) -> str:
    return (root / CHART / "CHANGELOG.md").read_text().split("\n", 3)[3]


RECEIVER_PORT = "      - {name: http, port: 3000, protocol: HTTP}\n"


@pytest.mark.integration
def test_edits_between_two_releases_make_one_bump(repo):
    gen = lambda: run_cli("generate", cwd=repo)  # noqa: E731
    edit(repo, "    timeout: 120s", "    timeout: 90s")  # piper: a setting (patch)
    assert gen().returncode == 0 and version(repo) == "0.1.1"
    r = gen()
    assert r.returncode == 0 and "nothing written" in r.stdout
    text = (repo / "catalog.yaml").read_text()
    assert RECEIVER_PORT in text
    edit(repo, RECEIVER_PORT, RECEIVER_PORT + "      - {name: grpc, port: 3001, protocol: GRPC}\n")  # minor
    r = gen()
    assert r.returncode == 0, r.stderr
    assert version(repo) == "0.2.0"  # one bump of the highest level, not 0.1.1 then 0.2.0
    assert "0.1.1 → 0.2.0 (minor since release 0.1.0)" in r.stdout
    log = changelog(repo)
    assert log.count("## ") == 2 and "## 0.2.0" in log and "## 0.1.1" not in log
    assert "piper: timeout 120s → 90s" in log and "receiver: port grpc (3001) added" in log
    # a further setting before the release joins the same entry, same version
    edit(repo, "    timeout: 90s", "    timeout: 100s")
    assert gen().returncode == 0 and version(repo) == "0.2.0"
    assert "piper: timeout 120s → 100s" in changelog(repo)
    assert run_cli("generate", "--check", cwd=repo).returncode == 0


@pytest.mark.integration
def test_a_change_and_its_revert_make_no_bump(repo):
    committed = (repo / CHART / "Chart.yaml").read_text()
    edit(repo, RECEIVER_PORT, RECEIVER_PORT + "      - {name: grpc, port: 3001, protocol: GRPC}\n")
    assert run_cli("generate", cwd=repo).returncode == 0 and version(repo) == "0.2.0"
    git(repo, "checkout", "-q", "catalog.yaml")
    r = run_cli("generate", cwd=repo)
    assert r.returncode == 0 and "0.2.0 → 0.1.0 (back to the release: no changes since)" in r.stdout
    assert (repo / CHART / "Chart.yaml").read_text() == committed
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.integration
def test_each_commit_is_a_release(repo):
    edit(repo, "    timeout: 120s", "    timeout: 90s")
    assert run_cli("generate", cwd=repo).returncode == 0 and version(repo) == "0.1.1"
    git(repo, "commit", "-qam", "release 0.1.1")
    edit(repo, "    timeout: 90s", "    timeout: 100s")
    assert run_cli("generate", cwd=repo).returncode == 0 and version(repo) == "0.1.2"
    assert changelog(repo).count("## ") == 3


@pytest.mark.integration
def test_package_records_the_release(repo, helm, tmp_path):
    """Packaged but not committed: the packaged version is a release, never reused."""
    edit(repo, "    timeout: 120s", "    timeout: 90s")
    assert run_cli("generate", cwd=repo).returncode == 0 and version(repo) == "0.1.1"
    env = {**__import__("os").environ, "CHARTGEN_HELM": helm}
    r = run_cli("package", "-d", str(tmp_path / "dist"), cwd=repo, env=env)
    assert r.returncode == 0, r.stderr
    state = json.loads((repo / CHART / ".chartgen-state.json").read_text())
    assert state["release"]["version"] == "0.1.1"
    assert run_cli("generate", "--check", cwd=repo).returncode == 0  # recording it is part of the output
    edit(repo, "    timeout: 90s", "    timeout: 100s")
    assert run_cli("generate", cwd=repo).returncode == 0
    assert version(repo) == "0.1.2"  # against the packaged 0.1.1, not the committed 0.1.0
    log = changelog(repo)
    assert "## 0.1.2\n\n- piper: timeout 90s → 100s" in log and "## 0.1.1\n\n- piper: timeout 120s → 90s" in log


def test_the_committed_bytefreezer_state_is_the_release():
    r = run_cli("generate", "--check", cwd=ROOT)
    assert r.returncode == 0, r.stderr


@pytest.mark.integration
def test_two_canary_steps_without_a_release_are_one_entry(repo):
    for _ in range(2):
        r = run_cli("canary", "promote", "proxy", "--env", "dev", cwd=repo)
        assert r.returncode == 0, r.stderr
    assert "0.1.1 (patch since release 0.1.0; its changes updated)" in r.stdout
    assert version(repo) == "0.1.1"
    log = changelog(repo)
    assert "## 0.1.1\n\n- dev: proxy: canary v2 10% → 50%\n" in log and log.count("## ") == 2


# --- the state file: change records, and older state files that kept only text -----------------------


def _state(root) -> dict:
    return json.loads((root / CHART / ".chartgen-state.json").read_text(encoding="utf-8"))


def test_the_state_file_records_changes_and_artifacthub_kinds_come_from_them(repo_copy):
    from chartgen.lifecycle.generate import generate

    generate(repo_copy / "catalog.yaml")
    assert _state(repo_copy)["history"] == [{"version": "0.1.0", "changes": [
        {"kind": "added", "level": "minor", "subject": "chart", "text": "initial version"}]}]
    edit(repo_copy, "    timeout: 120s", "    timeout: 90s")
    edit(repo_copy, "      - {name: http, port: 3000, protocol: HTTP}\n", "      - {name: web, port: 3000, protocol: HTTP}\n")
    assert generate(repo_copy / "catalog.yaml").version == "0.1.1"
    top = _state(repo_copy)["history"][0]
    assert top["changes"] == [
        {"kind": "changed", "level": "patch", "subject": "piper", "text": "piper: timeout 120s → 90s"},
        {"kind": "changed", "level": "patch", "subject": "receiver",
         "text": "receiver: port http renamed to web (3000/HTTP)"}]
    chart = yaml.safe_load((repo_copy / CHART / "Chart.yaml").read_text())
    assert yaml.safe_load(chart["annotations"]["artifacthub.io/changes"]) == [
        {"kind": c["kind"], "description": c["text"]} for c in top["changes"]]


def test_an_older_state_file_with_text_only_changes_is_read_without_loss(repo_copy):
    """A state file written before changes were records: its lines stay as they are, the
    changelog and Artifact Hub kinds read as before, and the next change is a record."""
    from chartgen.lifecycle.generate import generate

    generate(repo_copy / "catalog.yaml")
    edit(repo_copy, "    timeout: 120s", "    timeout: 90s")
    generate(repo_copy / "catalog.yaml")
    path = repo_copy / CHART / ".chartgen-state.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    # the older form: each change its text; a removal in words is a removal on Artifact Hub
    state["history"][0]["changes"] = ["piper: timeout 120s → 90s", "piper: port grpc (81) removed"]
    state["history"][1]["changes"] = ["initial version"]
    path.write_text(json.dumps(state), encoding="utf-8")
    outcome = generate(repo_copy / "catalog.yaml")  # the release 0.1.1 again, its record from the old file
    assert outcome.version == "0.1.1" and not outcome.changes
    assert _state(repo_copy)["history"] == state["history"]
    chart = yaml.safe_load((repo_copy / CHART / "Chart.yaml").read_text())
    assert yaml.safe_load(chart["annotations"]["artifacthub.io/changes"]) == [
        {"kind": "changed", "description": "piper: timeout 120s → 90s"},
        {"kind": "removed", "description": "piper: port grpc (81) removed"}]
    log = changelog(repo_copy)
    assert "## 0.1.1\n\n- piper: timeout 120s → 90s\n- piper: port grpc (81) removed\n" in log
    assert "## 0.1.0\n\n- initial version\n" in log
    # a commit-less edit: the new entry is a record, the released ones keep their text
    state["release"] = {"version": "0.1.1", "model": state["model"], "fingerprint": state["fingerprint"],
                        **{k: state[k] for k in ("parts", "chart", "templateRevision", "generator")}}
    path.write_text(json.dumps(state), encoding="utf-8")
    edit(repo_copy, "    timeout: 90s", "    timeout: 100s")
    assert generate(repo_copy / "catalog.yaml").version == "0.1.2"
    history = _state(repo_copy)["history"]
    assert history[0]["changes"] == [
        {"kind": "changed", "level": "patch", "subject": "piper", "text": "piper: timeout 90s → 100s"}]
    assert history[1:] == state["history"]


def test_a_change_record_of_unknown_kind_makes_the_state_file_corrupt(repo_copy):
    from chartgen.lifecycle.generate import generate

    generate(repo_copy / "catalog.yaml")
    path = repo_copy / CHART / ".chartgen-state.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    state["history"][0]["changes"][0]["kind"] = "renamed"
    path.write_text(json.dumps(state), encoding="utf-8")
    outcome = generate(repo_copy / "catalog.yaml")
    assert any("is corrupt (its history is not a list of releases)" in n for n in outcome.notes)
    assert outcome.version == "0.1.0"
