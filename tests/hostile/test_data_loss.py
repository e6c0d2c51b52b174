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
