"""Issue 24, data loss: links inside the project, files chartgen did not write, line endings
and BOMs of edited catalogs, chart repository indexes, ``init`` through links. Each scenario
is run as a user would (``chartgen …`` in a copy of the repository's generated project) and
asserts that the user's files are what they were."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import run_cli


def _tree(root: Path) -> dict[str, bytes]:
    """Every regular file below ``root`` (links not followed) and its bytes."""
    out = {}
    for dirpath, _dirs, names in os.walk(root, followlinks=False):
        for name in names:
            p = Path(dirpath) / name
            if not p.is_symlink() and name != ".chartgen.lock":
                out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def _one_line_refusal(r, *fragments):
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --- 1. links inside the project to a directory chartgen owns ---------------------------------

LINKS = [  # (the owned directory replaced by a link, where it points, the command)
    ("gitops/argocd", "..", ("export", "argocd")),
    ("gitops/argocd", "../values", ("export", "argocd")),
    ("gitops/argocd", "../values", ("generate",)),
    ("values/prometheus/generated", "../..", ("generate",)),
    ("charts/bytefreezer-mesh", "..", ("generate",)),
    ("charts/bytefreezer-mesh", "../values", ("generate",)),
]


@pytest.mark.parametrize("owned,target,args", LINKS, ids=[f"{o}->{t}:{a[0]}" for o, t, a in LINKS])
def test_an_owned_directory_linked_inside_the_project_is_refused(generated, owned, target, args):
    # a user edit that is not committed anywhere: it must survive
    (generated / "catalog.yaml").write_text((generated / "catalog.yaml").read_text(encoding="utf-8")
                                            + "# my uncommitted note\n", encoding="utf-8")
    shutil.rmtree(generated / owned)
    (generated / owned).symlink_to(target, target_is_directory=True)
    before = _tree(generated)
    _one_line_refusal(run_cli(*args, cwd=generated), f"refusing to write {owned}/", f"{owned} is a symbolic link",
                      "nothing was changed")
    assert _tree(generated) == before
    assert (generated / owned).is_symlink()


def test_a_directory_on_the_way_to_an_owned_one_is_refused_too(generated):
    shutil.move(generated / "values", generated / "real-values")
    (generated / "values").symlink_to("real-values", target_is_directory=True)
    before = _tree(generated)
    _one_line_refusal(run_cli("generate", cwd=generated), "values is a symbolic link", "nothing was changed")
    assert _tree(generated) == before


def test_export_out_that_is_a_link_is_refused(generated):
    (generated / "elsewhere").symlink_to("values", target_is_directory=True)
    before = _tree(generated)
    _one_line_refusal(run_cli("export", "argocd", "--out", "elsewhere", cwd=generated),
                      "refusing to export to elsewhere: it is a symbolic link")
    assert _tree(generated) == before


def test_a_link_inside_an_owned_directory_is_removed_never_what_it_names(generated):
    chart = generated / "charts" / "bytefreezer-mesh"
    (chart / "templates" / "mine").symlink_to("../../../values", target_is_directory=True)
    (chart / "extra.yaml").symlink_to("../../catalog.yaml")
    catalog = (generated / "catalog.yaml").read_bytes()
    values = _tree(generated / "values")
    r = run_cli("generate", cwd=generated)
    assert r.returncode == 0, r.stderr
    assert "removed 2" in r.stdout
    assert not os.path.lexists(chart / "templates" / "mine") and not os.path.lexists(chart / "extra.yaml")
    assert (generated / "catalog.yaml").read_bytes() == catalog and _tree(generated / "values") == values


def test_a_link_out_of_the_project_inside_an_owned_directory_is_removed_itself(generated, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "precious.yaml").write_text("keep: me\n", encoding="utf-8")
    flux = generated / "gitops" / "flux"
    (flux / "elsewhere").symlink_to(outside, target_is_directory=True)
    (flux / "one.yaml").symlink_to(outside / "precious.yaml")
    r = run_cli("generate", cwd=generated)
    assert r.returncode == 0, r.stderr
    assert not os.path.lexists(flux / "elsewhere") and not os.path.lexists(flux / "one.yaml")
    assert (outside / "precious.yaml").read_text(encoding="utf-8") == "keep: me\n"


def test_a_chart_file_that_is_a_link_is_replaced_not_written_through(generated):
    chart = generated / "charts" / "bytefreezer-mesh"
    notes = chart / "templates" / "NOTES.txt"
    text = notes.read_bytes()
    notes.unlink()
    notes.symlink_to("../../../catalog.yaml")
    catalog = (generated / "catalog.yaml").read_bytes()
    r = run_cli("generate", cwd=generated)
    assert r.returncode == 0, r.stderr
    assert not notes.is_symlink() and notes.read_bytes() == text
    assert (generated / "catalog.yaml").read_bytes() == catalog


# --- 2. chartgen never replaces a file it did not write without --force -----------------------


def test_export_out_never_replaces_a_users_file_without_force(generated):
    (generated / "dev").mkdir()
    mine = generated / "dev" / "kiali.yaml"
    mine.write_text("mine: 1\n", encoding="utf-8")
    before = _tree(generated)
    _one_line_refusal(run_cli("export", "argocd", "--out", ".", cwd=generated),
                      "refusing to replace dev/kiali.yaml: chartgen did not write it", "--force", "nothing was changed")
    assert _tree(generated) == before
    r = run_cli("export", "argocd", "--out", ".", "--force", cwd=generated)
    assert r.returncode == 0, r.stderr
    assert mine.read_text(encoding="utf-8").startswith("# Generated by chartgen")
    # its own files it replaces without being asked
    mine.write_text(mine.read_text(encoding="utf-8") + "# a note\n", encoding="utf-8")
    r = run_cli("export", "argocd", "--out", ".", cwd=generated)
    assert r.returncode == 0, r.stderr
    assert "# a note" not in mine.read_text(encoding="utf-8")


def test_generate_never_replaces_a_users_helmfile_but_merges_a_users_values_file(generated):
    (generated / "helmfile.yaml").write_text("releases: []  # mine\n", encoding="utf-8")
    _one_line_refusal(run_cli("generate", cwd=generated), "refusing to replace helmfile.yaml: chartgen did not write it")
    assert (generated / "helmfile.yaml").read_text(encoding="utf-8") == "releases: []  # mine\n"
    assert run_cli("generate", "--force", cwd=generated).returncode == 0
    # a values file the user wrote by hand has chartgen's keys merged in, the user's kept
    dev = generated / "values" / "kiali" / "dev.yaml"
    dev.write_text("mine: 1\n", encoding="utf-8")
    r = run_cli("generate", cwd=generated)
    assert r.returncode == 0, r.stderr
    assert dev.read_text(encoding="utf-8").startswith("mine: 1\n") and "# chartgen" in dev.read_text(encoding="utf-8")


def test_graph_never_overwrites_the_catalog_it_reads_even_with_force(generated):
    catalog = (generated / "catalog.yaml").read_bytes()
    for extra in ((), ("--force",)):
        _one_line_refusal(run_cli("graph", "-o", "catalog.yaml", *extra, cwd=generated), "it is the catalog being read")
        assert (generated / "catalog.yaml").read_bytes() == catalog
    (generated / "alias.yaml").symlink_to("catalog.yaml")
    _one_line_refusal(run_cli("graph", "-o", "alias.yaml", "--force", cwd=generated), "it is the catalog being read")
    assert (generated / "catalog.yaml").read_bytes() == catalog


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph_replaces_its_own_drawing_and_nothing_else_without_force(generated, fmt):
    notes = generated / "notes.txt"
    notes.write_text("my notes\n", encoding="utf-8")
    _one_line_refusal(run_cli("graph", "--format", fmt, "-o", "notes.txt", cwd=generated),
                      "refusing to replace notes.txt: it is not a drawing of chartgen graph")
    # a file chartgen wrote that is not a drawing is not replaced by one either
    helmfile = (generated / "helmfile.yaml").read_bytes()
    _one_line_refusal(run_cli("graph", "--format", fmt, "-o", "helmfile.yaml", cwd=generated),
                      "refusing to replace helmfile.yaml: it is not a drawing of chartgen graph")
    assert (generated / "helmfile.yaml").read_bytes() == helmfile
    assert notes.read_text(encoding="utf-8") == "my notes\n"
    out = generated / f"mesh.{fmt}"
    for _ in range(2):  # the second run replaces the first's drawing: it carries chartgen's mark
        r = run_cli("graph", "--format", fmt, "-o", out.name, cwd=generated)
        assert r.returncode == 0, r.stderr
    stdout = run_cli("graph", "--format", fmt, cwd=generated).stdout
    drawn = out.read_text(encoding="utf-8").splitlines(keepends=True)
    mark = [line for line in drawn if "Generated by chartgen graph" in line]
    assert len(mark) == 1 and mark[0].lstrip().startswith("%%" if fmt == "mermaid" else "//")
    assert "".join(line for line in drawn if line not in mark) == stdout  # the drawing, as on stdout
    if fmt == "mermaid":
        assert drawn[0] == stdout.splitlines(keepends=True)[0]  # the diagram type comes first
    assert run_cli("graph", "--format", fmt, "-o", "notes.txt", "--force", cwd=generated).returncode == 0


def test_graph_marks_svg_and_png_where_their_readers_ignore_it():
    import struct
    import xml.etree.ElementTree as ET
    import zlib

    from chartgen.graph.drawing import marked
    from chartgen.base.provenance import is_chartgens

    svg = b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>\n'
    out = marked(svg, "svg")
    assert is_chartgens(out) and ET.fromstring(out).tag.endswith("svg")

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b""))
    out = marked(png, "png")
    assert is_chartgens(out)
    pos, kinds = 8, []
    while pos < len(out):  # every chunk's length and CRC hold
        (length,), kind = struct.unpack(">I", out[pos:pos + 4]), out[pos + 4:pos + 8]
        body = out[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", out[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body) & 0xFFFFFFFF
        kinds.append(kind)
        pos += 12 + length
    assert kinds == [b"IHDR", b"tEXt", b"IDAT", b"IEND"]


# --- 3. catalog edits keep line endings, the byte-order mark and blank lines ------------------

EDITS = [("canary", "promote", "proxy", "--env", "prod"), ("canary", "rollback", "proxy", "--env", "dev"),
         ("canary", "set", "proxy", "--weights", "v1=60,v2=40", "--env", "prod")]


def _edited(root: Path, data: bytes, args) -> bytes:
    (root / "catalog.yaml").write_bytes(data)
    r = run_cli(*args, cwd=root)
    assert r.returncode == 0, r.stderr
    return (root / "catalog.yaml").read_bytes()


@pytest.mark.parametrize("args", EDITS, ids=[a[1] for a in EDITS])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no-bom", "bom"])
def test_a_crlf_catalog_stays_crlf_through_every_edit(generated, tmp_path, args, bom):
    lf = (generated / "catalog.yaml").read_bytes()
    assert b"\r" not in lf and b"\n\n" in lf  # blank lines to keep
    lf_copy = tmp_path / "lf"
    shutil.copytree(generated, lf_copy, symlinks=True)
    expected = _edited(lf_copy, lf, args)
    assert expected != lf  # the edit changed the weights
    got = _edited(generated, bom + lf.replace(b"\n", b"\r\n"), args)
    assert got == bom + expected.replace(b"\n", b"\r\n")


def test_an_edit_keeps_mixed_line_endings_line_by_line(generated):
    lines = (generated / "catalog.yaml").read_bytes().split(b"\n")
    mixed = b"".join(line + (b"\r\n" if i % 3 == 0 else b"\n") for i, line in enumerate(lines[:-1]))
    got = _edited(generated, mixed, EDITS[2])
    before, after = mixed.splitlines(keepends=True), got.splitlines(keepends=True)
    import difflib

    ops = [op for op in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes() if op[0] != "equal"]
    # the edit only adds (or replaces) the weights; every other line keeps its bytes, its own ending included
    assert ops and all(b"weights" in line for _, _, _, j1, j2 in ops for line in after[j1:j2])
    for op, i1, i2, j1, j2 in ops:
        assert op in ("insert", "replace") and i2 - i1 <= 1
        if op == "replace" and j2 - j1 == 1:  # a line changed in place keeps its own ending
            assert before[i1].endswith(b"\r\n") == after[j1].endswith(b"\r\n")


def test_keep_layout_brings_back_blank_lines_the_emitter_dropped():
    from chartgen.catalog.edit import keep_layout

    original = "\ufeffa: 1\r\n\r\n\r\nb: {x: 1}\r\n\r\nc: 3"
    assert keep_layout(original, "a: 1\nb: {x: 2}\nc: 3") == "\ufeffa: 1\r\n\r\n\r\nb: {x: 2}\r\n\r\nc: 3"
    assert keep_layout("a: 1\n", "a: 1\nb: 2\n") == "a: 1\nb: 2\n"


# --- 4. publish to a chart repository keeps what it does not own ------------------------------

FOREIGN_INDEX = """\
# the team's chart repository: do not remove this comment
apiVersion: v1
serverInfo:
  contextPath: /charts
annotations:
  owner: platform-team
entries:
  other-chart:
  - name: other-chart
    version: 1.2.3
    digest: 0000000000000000000000000000000000000000000000000000000000000000
    urls: [other-chart-1.2.3.tgz]   # served by another team
generated: "2024-01-01T00:00:00Z"
"""


def _publish(root: Path, repo: Path, helm: str, helm_env: dict):
    return run_cli("publish", "--to", str(repo), "--helm", helm, cwd=root, env=helm_env)


def _chart_version(root: Path) -> str:
    import yaml

    return str(yaml.safe_load((root / "charts" / "bytefreezer-mesh" / "Chart.yaml").read_text())["version"])


def test_publish_keeps_index_keys_entries_and_comments_it_does_not_own(generated, tmp_path, helm, helm_env):
    import subprocess

    import yaml

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "index.yaml").write_text(FOREIGN_INDEX, encoding="utf-8")
    r = _publish(generated, repo, helm, helm_env)
    assert r.returncode == 0, r.stderr
    text = (repo / "index.yaml").read_text(encoding="utf-8")
    assert "# the team's chart repository: do not remove this comment" in text and "# served by another team" in text
    index = yaml.safe_load(text)
    assert index["serverInfo"] == {"contextPath": "/charts"} and index["annotations"] == {"owner": "platform-team"}
    assert index["entries"]["other-chart"][0]["urls"] == ["other-chart-1.2.3.tgz"]
    mine = index["entries"]["bytefreezer-mesh"]
    assert [e["version"] for e in mine] == [_chart_version(generated)] and len(mine[0]["digest"]) == 64
    assert index["generated"] != "2024-01-01T00:00:00Z"
    # helm reads the merged index (strictly: unknown fields are errors): both charts are listed
    again = tmp_path / "again"
    again.mkdir()
    check = subprocess.run([helm, "repo", "index", str(again), "--merge", str(repo / "index.yaml")], env=helm_env,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert set(yaml.safe_load((again / "index.yaml").read_text())["entries"]) == {"other-chart", "bytefreezer-mesh"}


def test_publish_refuses_a_listed_version_without_a_digest(generated, tmp_path, helm, helm_env):
    repo = tmp_path / "repo"
    repo.mkdir()
    version = _chart_version(generated)
    index = (f"apiVersion: v1\nentries:\n  bytefreezer-mesh:\n  - name: bytefreezer-mesh\n    version: {version}\n"
             f"    urls: [https://elsewhere.example/bytefreezer-mesh-{version}.tgz]\n")
    (repo / "index.yaml").write_text(index, encoding="utf-8")
    _one_line_refusal(_publish(generated, repo, helm, helm_env), f"bytefreezer-mesh {version} is already listed",
                      "without a digest")
    assert (repo / "index.yaml").read_text(encoding="utf-8") == index
    assert sorted(p.name for p in repo.iterdir() if p.name != ".chartgen.lock") == ["index.yaml"]


# --- 5. init never writes through a link out of the project -----------------------------------


@pytest.mark.parametrize("name", ["catalog.yaml", ".gitignore"])
@pytest.mark.parametrize("dangling", [True, False], ids=["dangling", "existing"])
def test_init_never_writes_through_a_link_out_of_the_project(tmp_path, name, dangling):
    project, outside = tmp_path / "project", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    victim = outside / "victim"
    if not dangling:
        victim.write_text("theirs\n", encoding="utf-8")
    (project / name).symlink_to(victim)
    for extra in ((), ("--force",)):
        _one_line_refusal(run_cli("init", "catalog.yaml", *extra, cwd=project), f"refusing to write {name}",
                          "symbolic link", "nothing was changed")
        assert sorted(p.name for p in outside.iterdir()) == ([] if dangling else ["victim"])
        assert dangling or victim.read_text(encoding="utf-8") == "theirs\n"
        assert sorted(p.name for p in project.iterdir()) == [name]


def test_init_writes_through_a_link_inside_the_project(tmp_path):
    (tmp_path / "shared.gitignore").write_text("*.log\n", encoding="utf-8")
    (tmp_path / ".gitignore").symlink_to("shared.gitignore")
    r = run_cli("init", "catalog.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / ".gitignore").is_symlink() and ".chartgen.lock" in (tmp_path / "shared.gitignore").read_text()


def test_a_values_file_linked_to_the_catalog_or_another_output_is_refused(generated):
    dev = generated / "values" / "kiali" / "dev.yaml"
    for target in ("../../catalog.yaml", "common.yaml", "../grafana/dev.yaml"):
        dev.unlink()
        dev.symlink_to(target)
        (generated / "catalog.yaml").write_text((generated / "catalog.yaml").read_text(encoding="utf-8")
                                                + "# a change\n", encoding="utf-8")
        before = _tree(generated)
        _one_line_refusal(run_cli("generate", "--force", cwd=generated), "refusing to write values/kiali/dev.yaml: it "
                          f"is a symbolic link to {target}", "nothing was changed")
        assert _tree(generated) == before


def test_an_index_chartgen_cannot_edit_faithfully_is_refused():
    from chartgen.lifecycle.publish import PublishError, merge_index

    new = "apiVersion: v1\nentries:\n  c:\n  - {name: c, version: 1.0.0, digest: ab}\ngenerated: y\n"
    with pytest.raises(PublishError, match=r'cannot be edited: found duplicate key "entries".*\(line 3\)'):
        merge_index("apiVersion: v1\nentries: {}\nentries: {}\n", new, "c")
    merged = merge_index("\ufeff# keep\r\napiVersion: v1\r\n", new, "c")
    assert merged.startswith("\ufeff# keep\r\napiVersion: v1\r\n") and "    digest: ab\r\n" in merged


def test_package_never_follows_a_link_planted_in_the_chart(generated, tmp_path, helm, helm_env, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the chart\n", encoding="utf-8")
    (generated / "charts" / "bytefreezer-mesh" / "templates" / "leak.yaml").symlink_to(secret)
    # the command refuses a chart that generate would change (the link is not generate's)
    _one_line_refusal(run_cli("package", "--dest", str(tmp_path / "dist"), "--helm", helm, cwd=generated, env=helm_env),
                      "templates/leak.yaml")
    # and the library call, which has no staleness check, never packages what a link names
    from chartgen.lifecycle.publish import PublishError, package_chart

    for key, value in helm_env.items():
        if key.startswith("HELM_"):
            monkeypatch.setenv(key, value)
    with pytest.raises(PublishError, match="templates/leak.yaml is a symbolic link"):
        package_chart(generated / "charts" / "bytefreezer-mesh", tmp_path / "dist", helm=helm)
    assert not list((tmp_path / "dist").glob("*.tgz"))
