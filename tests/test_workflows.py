"""The workflows as library calls (no CLI, no subprocess of chartgen): each returns a result
object that says what it did or would do, and the one changeset type behind every "what
would change" (diff, generate --check, canary --dry-run, publish's staleness check)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from chartgen.lifecycle import canary
from chartgen.lifecycle.changeset import CHANGED, NEW, REMOVED, Changeset
from chartgen.base.errors import CatalogError, ChartgenError
from chartgen.lifecycle.generate import Options, check, export, generate, preview
from chartgen.base.reading import FileError
from conftest import ROOT

CHART = "charts/bytefreezer-mesh"


@pytest.fixture
def tree(generated) -> Path:
    """A generated tree of the repository's catalog, this test's own copy."""
    return generated


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _edit(root: Path, old: str, new: str) -> None:
    path = root / "catalog.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- the changeset -----------------------------------------------------------------------------


def test_changeset_kinds_texts_stat_and_diff(tmp_path):
    (tmp_path / "owned").mkdir()
    (tmp_path / "owned" / "same.txt").write_text("same\n")
    (tmp_path / "owned" / "old.txt").write_text("a\nb\n")
    (tmp_path / "owned" / "gone.txt").write_text("bye\n")
    (tmp_path / "owned" / "bin.txt").write_bytes(b"\xff\xfe")
    (tmp_path / "owned" / "state.json").write_text("{}\n")
    (tmp_path / "elsewhere.txt").write_text("not owned\n")
    files = {"owned/same.txt": "same\n", "owned/old.txt": "a\nc", "owned/new.txt": "n\n", "owned/bin.txt": "t\n",
             "owned/state.json": '{"v": 1}\n'}
    changes = Changeset.between(tmp_path, files, ("owned",), quiet=("state.json",))
    assert changes.stat() == [("changed", "owned/bin.txt"), ("removed", "owned/gone.txt"), ("new", "owned/new.txt"),
                              ("changed", "owned/old.txt"), ("changed", "owned/state.json")]
    assert changes.added == ["owned/new.txt"] and changes.removed == ["owned/gone.txt"]
    assert changes.binary == ["owned/bin.txt"]
    assert changes.get("owned/gone.txt").before == "bye\n" and changes.get("owned/gone.txt").after is None
    assert changes.get("owned/new.txt").before is None
    assert changes.stat_lines()[1] == "  removed: owned/gone.txt"
    diff = changes.unified_diff(binary_note="; replaced")
    assert ("Binary files a/owned/bin.txt and b/owned/bin.txt differ (a/owned/bin.txt is not UTF-8 text; replaced)\n"
            in diff)
    assert "--- a/owned/old.txt\n+++ b/owned/old.txt\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n" in diff  # a newline added to c
    assert "-bye\n" in diff and "+n\n" in diff
    assert "state.json" not in diff  # quiet: in the stat, not in the diff
    assert changes.under("owned").paths == changes.paths and not changes.under("own")
    assert not Changeset.between(tmp_path, {"owned/same.txt": "same\n"})


def test_changeset_unreadable_file_is_stale_or_an_error(tmp_path):
    (tmp_path / "a.txt").mkdir()  # a directory where a file should be: it cannot be read
    assert Changeset.between(tmp_path, {"a.txt": "x\n"}).paths == ["a.txt"]
    with pytest.raises(FileError):
        Changeset.between(tmp_path, {"a.txt": "x\n"}, strict=True)


def test_changeset_of_a_text_and_its_graph_diff():
    assert not Changeset.of_text("catalog.yaml", "a\n", "a\n")
    edit = Changeset.of_text("catalog.yaml", "a\nb\n", "a\nc\n")
    assert [c.kind for c in edit] == [CHANGED]
    assert edit.unified_diff().startswith("--- a/catalog.yaml\n+++ b/catalog.yaml\n")
    readme = "# x\n```mermaid\n{}```\n"
    graph = Changeset.of_text("README.md", readme.format("a --> b\n"), readme.format("a --> c\n"))
    assert graph.graph_diff("README.md") == ["--- a/graph.mmd\n", "+++ b/graph.mmd\n", "@@ -1 +1 @@\n", "-a --> b\n",
                                             "+a --> c\n"]
    assert graph.graph_diff("other/README.md") == []
    assert Changeset.of_text("x", None, "y").changes[0].kind == NEW
    assert Changeset.of_text("x", "y", None).changes[0].kind == REMOVED


# --- generate, check, preview, export ----------------------------------------------------------


def test_generate_then_check_and_preview_see_nothing(tree):
    assert generate(tree / "catalog.yaml").result.changed == []
    outcome = check(tree / "catalog.yaml")
    assert not outcome.changeset and outcome.stale == [] and outcome.version == "0.1.0"
    assert not preview(tree / "catalog.yaml").changeset


def test_check_and_preview_report_the_same_change_and_write_nothing(tree):
    _edit(tree, "    timeout: 60s\n", "    timeout: 90s\n")
    before = _files(tree)
    checked, previewed = check(tree / "catalog.yaml"), preview(tree / "catalog.yaml")
    assert _files(tree) == before
    assert checked.stale == previewed.stale
    assert f"{CHART}/values.yaml" in previewed.stale and f"{CHART}/.chartgen-state.json" in previewed.stale
    assert previewed.version_line() == f"{CHART}: 0.1.0 → 0.1.1 (patch)"
    assert [c.text for c in previewed.changes] == ["receiver: timeout 60s → 90s"]
    diff = previewed.changeset.unified_diff()
    assert "-    timeout: 60s\n" in diff and "+    timeout: 90s\n" in diff
    assert ".chartgen-state.json" not in diff
    written = generate(tree / "catalog.yaml")
    assert written.result.changed == previewed.stale and written.version == "0.1.1"
    assert not check(tree / "catalog.yaml").changeset


def test_preview_lists_removed_and_undecodable_files(tree):
    (tree / CHART / "templates" / "stray.yaml").write_text("kind: Stray\n")
    (tree / CHART / "README.md").write_bytes(b"\xff\xfe")
    changes = preview(tree / "catalog.yaml").changeset
    assert changes.stat() == [("changed", f"{CHART}/README.md"), ("removed", f"{CHART}/templates/stray.yaml")]
    assert changes.binary == [f"{CHART}/README.md"]
    assert changes.graph_diff(f"{CHART}/README.md")[0] == "--- a/graph.mmd\n"  # the whole graph is new


def test_export_check_is_a_changeset(tree):
    shutil.rmtree(tree / "gitops" / "flux", ignore_errors=True)
    outcome = export(tree / "catalog.yaml", "flux", check=True, options=Options())
    assert outcome.stale and all(p.startswith("gitops/flux/") for p in outcome.stale)
    assert {c.kind for c in outcome.changeset} == {NEW}
    export(tree / "catalog.yaml", "flux")
    assert not export(tree / "catalog.yaml", "flux", check=True).changeset


def test_publish_refuses_a_stale_chart(tree):
    from chartgen.lifecycle.publish import ChartNotGenerated, chart_dir_for

    assert chart_dir_for(tree / "catalog.yaml") == tree / CHART
    (tree / CHART / "values.yaml").unlink()
    with pytest.raises(ChartNotGenerated, match=r"out of date .*\(1 file\(s\), e\.g\. charts/bytefreezer-mesh/values"):
        chart_dir_for(tree / "catalog.yaml")


# --- canary ------------------------------------------------------------------------------------


def test_canary_status_rows():
    status = canary.status(ROOT / "catalog.yaml")
    proxy = next(r for r in status.rows if r.service == "proxy")
    assert proxy.env == "dev,prod" and proxy.weights == {"v1": 90, "v2": 10} and proxy.step == "1/4 (10%)"
    assert status.to_dict()["services"][0]["service"] == status.rows[0].service
    assert [r.env for r in canary.status(ROOT / "catalog.yaml", "prod").rows if r.service == "proxy"] == ["prod"]
    with pytest.raises(ChartgenError, match="unknown environment 'staging'"):
        canary.status(ROOT / "catalog.yaml", "staging")


def test_promote_dry_run_previews_and_writes_nothing(tree):
    before = _files(tree)
    change = canary.promote(tree / "catalog.yaml", "proxy", dry_run=True)
    assert _files(tree) == before
    assert change.changed and change.old == {"v1": 90, "v2": 10} and change.new == {"v1": 75, "v2": 25}
    assert change.summary == "proxy: v1 90% / v2 10% → v1 75% / v2 25%, step 2/4 (25%)"
    assert "+    weights: {v1: 75, v2: 25}" in change.catalog_diff.unified_diff()
    assert change.outcome.version == "0.1.1" and f"{CHART}/values.yaml" in change.outcome.stale
    assert change.outcome.result.changed == []


def test_promote_writes_the_catalog_and_regenerates(tree):
    change = canary.promote(tree / "catalog.yaml", "proxy", env="prod")
    assert change.where == "environments.prod.services.proxy.weights"
    assert "weights: {v1: 75, v2: 25}" in (tree / "catalog.yaml").read_text()
    assert change.outcome.version == "0.1.1" and "values/bytefreezer-mesh/prod.yaml" in change.outcome.result.changed
    assert not check(tree / "catalog.yaml").changeset  # catalog and outputs in step


def _yes(envs):
    assert envs == ["prod"]  # the production environment that follows the service's weights
    return True


def test_rollback_twice_and_set_weights(tree):
    assert canary.rollback(tree / "catalog.yaml", "proxy", confirm_production=_yes).new == {"v1": 100, "v2": 0}
    again = canary.rollback(tree / "catalog.yaml", "proxy")
    assert not again.changed and again.outcome is None and not again.catalog_diff
    assert canary.set_weights(tree / "catalog.yaml", "proxy", {"v1": 60, "v2": 40},
                              confirm_production=_yes).note == ", step off-plan (40%)"
    with pytest.raises(canary.UnknownVersion, match="unknown version 'v3' of service 'proxy'"):
        canary.set_weights(tree / "catalog.yaml", "proxy", {"v1": 60, "v3": 40})
    with pytest.raises(ChartgenError, match="did you mean 'proxy'"):
        canary.promote(tree / "catalog.yaml", "proxi")


def test_a_change_that_would_move_an_unnamed_production_environment_needs_a_confirmation(tree):
    """prod follows services.proxy.weights: changing them without env moves prod too; without
    a confirmation (not interactive) that is refused and nothing is written."""
    catalog = tree / "catalog.yaml"
    before = _files(tree)
    for call in (lambda **kw: canary.promote(catalog, "proxy", **kw), lambda **kw: canary.rollback(catalog, "proxy", **kw),
                 lambda **kw: canary.set_weights(catalog, "proxy", {"v1": 50, "v2": 50}, **kw)):
        with pytest.raises(canary.ProductionNotNamed) as raised:
            call()
        assert raised.value.environments == ["prod"] and raised.value.exit_code == 2
        assert "production environment(s) prod" in str(raised.value) and "--env" in str(raised.value)
        with pytest.raises(canary.ProductionNotNamed):
            call(confirm_production=lambda envs: False)
        assert _files(tree) == before
    warned = []
    preview = canary.promote(catalog, "proxy", dry_run=True, warn=warned.append)
    assert preview.changed and _files(tree) == before and "production environment(s) prod" in warned[0]
    # naming an environment moves only that one: no question asked, even for prod
    assert canary.promote(catalog, "proxy", env="dev").new == {"v1": 75, "v2": 25}
    assert canary.promote(catalog, "proxy", env="prod").new == {"v1": 75, "v2": 25}
    # now neither environment follows the service's weights: changing them moves none
    assert canary.set_weights(catalog, "proxy", {"v1": 80, "v2": 20}).changed


def test_a_failed_regeneration_restores_the_catalog(tree, monkeypatch):
    import chartgen.lifecycle.generate

    text = (tree / "catalog.yaml").read_text()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(chartgen.lifecycle.generate, "generate_locked", fail)  # where regenerate_edited looks it up
    with pytest.raises(OSError) as raised:
        canary.promote(tree / "catalog.yaml", "proxy", confirm_production=_yes)
    assert raised.value.catalog_restored is True
    assert (tree / "catalog.yaml").read_text() == text


def test_a_failed_regeneration_puts_back_the_catalog_and_the_files_the_edit_removed(tree, monkeypatch):
    """What an Istio upgrade step does when it drops a release: the values files it removed come
    back with the catalog's text when generate fails."""
    import chartgen.lifecycle.generate

    catalog = tree / "catalog.yaml"
    text = catalog.read_text()
    removed = tree / "values" / "gone" / "common.yaml"
    catalog.write_text(text + "# edited\n")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(chartgen.lifecycle.generate, "generate_locked", fail)
    with pytest.raises(OSError) as raised:
        chartgen.lifecycle.generate.regenerate_edited(catalog, tree, text, {removed: b"mine: 1\n"})
    assert raised.value.catalog_restored is True
    assert catalog.read_text() == text and removed.read_bytes() == b"mine: 1\n"


def test_an_edit_that_breaks_the_catalog_is_refused(tree):
    catalog = tree / "catalog.yaml"
    text = catalog.read_text()
    with pytest.raises(canary.InvalidEdit) as raised:  # v9 is no version of proxy
        canary.change_weights(catalog, "proxy", lambda spec: ({"v1": 100, "v9": 0}, ""))
    assert {p.rule for p in raised.value.problems} == {"unknown-version"}
    assert catalog.read_text() == text
    _edit(tree, "      candidate: v2", "      candidate: v1")  # stable == candidate: invalid before any edit
    with pytest.raises(CatalogError) as raised:
        canary.set_weights(catalog, "proxy", {"v1": 50, "v2": 50})
    assert not isinstance(raised.value, canary.InvalidEdit)


# --- the error guard ---------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["init", "/proc/nope/x.yaml"], ["schema", "--check", "/proc/nope/x.json"],
                                  ["generate", "-c", "/proc/nope/catalog.yaml"], ["diff", "-c", "/proc/nope/c.yaml"],
                                  ["canary", "status", "-c", "/proc/nope/c.yaml"]])
def test_every_command_reports_errors_without_a_traceback(args):
    from chartgen.cli import cli

    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output and r.stderr.strip()
    assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit)


def test_an_error_outside_a_commands_own_guard_is_still_one_line(monkeypatch):
    import chartgen.commands.canary as command
    from chartgen.cli import cli

    def boom(text):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(command, "parse_weights", boom)  # runs before the command's own guard
    r = CliRunner().invoke(cli, ["canary", "set", "proxy", "--weights", "v1=100"])
    assert r.exit_code == 1
    assert r.stderr == "internal error: RuntimeError: unexpected (run with --debug for the traceback)\n"
    r = CliRunner().invoke(cli, ["--debug", "canary", "set", "proxy", "--weights", "v1=100"])
    assert r.exit_code == 1 and "Traceback" in r.stderr


@pytest.mark.integration
def test_package_and_publish_return_what_they_did(tree, tmp_path, helm):
    import json

    from chartgen.lifecycle.publish import package_catalog, publish_catalog

    pkg = package_catalog(tree / "catalog.yaml", dest=tmp_path / "dist", helm=helm)
    assert pkg.path == tmp_path / "dist" / f"bytefreezer-mesh-{pkg.version}.tgz" and pkg.path.is_file()
    state = json.loads((tree / CHART / ".chartgen-state.json").read_text())
    assert state["release"]["version"] == pkg.version
    first = publish_catalog(tree / "catalog.yaml", to=str(tmp_path / "repo"), helm=helm)
    assert first.changed and first.package.digest == pkg.digest  # reproducible: the same bytes
    again = publish_catalog(tree / "catalog.yaml", package=pkg.path, to=str(tmp_path / "repo"), helm=helm)
    assert not again.changed and again.target == first.target


# --- graph and init ----------------------------------------------------------------------------


def test_draw_returns_the_graph_text():
    from chartgen.base.errors import UnknownEnvironment
    from chartgen.graph.drawing import draw

    mermaid = draw(ROOT / "catalog.yaml").decode()
    assert mermaid.startswith("flowchart") and "proxy v2" in mermaid
    dot = draw(ROOT / "catalog.yaml", env="prod", fmt="dot").decode()
    assert dot.startswith("digraph mesh {") and "[dev]" not in dot
    with pytest.raises(UnknownEnvironment, match="unknown environment 'staging'; the catalog has dev, prod"):
        draw(ROOT / "catalog.yaml", env="staging")


def test_init_writes_the_starter_and_completes_the_gitignore(tmp_path):
    from chartgen.lifecycle import starter
    from chartgen.catalog.validate import load_catalog

    started = starter.init_catalog(tmp_path / "new" / "catalog.yaml")
    assert started.gitignore == tmp_path / "new" / ".gitignore"
    assert load_catalog(started.catalog).services  # the starter is a valid catalog
    with pytest.raises(ChartgenError, match="exists; use --force"):
        starter.init_catalog(started.catalog)
    assert starter.init_catalog(started.catalog, force=True).gitignore is None  # nothing missing any more
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / ".gitignore").write_text("/build/")
    assert starter.init_catalog(tmp_path / "old" / "c.yaml").gitignore is not None
    assert (tmp_path / "old" / ".gitignore").read_text() == "/build/\n\n# chartgen\n.chartgen.lock\n*.chartgen-tmp\n/dist/\n"


def test_lint_catalog_refuses_an_unknown_environment_before_rendering():
    from chartgen.analyzer import lint_catalog
    from chartgen.base.errors import UnknownEnvironment

    with pytest.raises(UnknownEnvironment, match="unknown environment 'staging'; the catalog has dev, prod"):
        lint_catalog(ROOT / "catalog.yaml", ["dev", "staging"])


@pytest.mark.integration
def test_lint_catalog_returns_the_findings(helm):
    from chartgen.analyzer import lint_catalog

    result = lint_catalog(ROOT / "catalog.yaml", ["prod"], scanner=False)
    assert not result.failed(strict=False)
    assert all(f.level != "error" for f in result.findings)
