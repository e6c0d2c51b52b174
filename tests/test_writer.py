"""The writer's atomic write (chartgen/base/writer.py), which every command that writes uses:
staged beside the target, fsynced, the mode kept, renamed, the directory fsynced, and
nothing left behind when it fails."""

from __future__ import annotations

import os
import stat

import pytest

from chartgen.base import writer


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".chartgen-tmp"))


def test_replace_file_writes_the_content_and_keeps_the_mode(tmp_path):
    target = tmp_path / "values.yaml"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    writer.replace_file(target, "new ✓\n")
    assert target.read_text(encoding="utf-8") == "new ✓\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert _leftovers(tmp_path) == []


def test_a_new_file_is_0644_unless_the_caller_gives_a_mode(tmp_path):
    writer.replace_file(tmp_path / "a", b"x")
    writer.replace_file(tmp_path / "b", b"x", mode=0o600)
    (tmp_path / "c").write_bytes(b"old")
    os.chmod(tmp_path / "c", 0o644)
    writer.replace_file(tmp_path / "c", b"x", mode=0o600)  # the cache: private even over a wider file
    assert [stat.S_IMODE(os.stat(tmp_path / n).st_mode) for n in "abc"] == [0o644, 0o600, 0o600]


def test_the_file_and_its_directory_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def record(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(writer.os, "fsync", record)
    writer.replace_file(tmp_path / "f", "x")
    assert synced == [False, True]  # the staged file before the rename, the directory after it


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_while_staging_leaves_the_target_and_no_temporary_file(tmp_path, monkeypatch, failure):
    target = tmp_path / "catalog.yaml"
    target.write_text("kept\n")

    def fail(fd):
        raise failure

    monkeypatch.setattr(writer.os, "fsync", fail)
    with pytest.raises(type(failure)):
        writer.replace_file(target, "lost\n")
    assert target.read_text() == "kept\n"
    assert _leftovers(tmp_path) == []


def test_a_failed_rename_removes_the_staged_file(tmp_path, monkeypatch):
    target = tmp_path / "index.yaml"
    target.write_text("kept\n")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(writer.os, "replace", refuse)
    with pytest.raises(PermissionError):
        writer.replace_file(target, "lost\n")
    assert target.read_text() == "kept\n" and _leftovers(tmp_path) == []


def test_no_temporary_file_can_be_created_is_marked_as_staging(tmp_path):
    with pytest.raises(OSError) as err:
        writer.replace_file(tmp_path / "missing" / "f", "x")
    assert err.value.staging is True
    with pytest.raises(OSError) as err:
        with writer.staging_dir(tmp_path / "missing"):
            pass
    assert err.value.staging is True


def test_copy_file_is_atomic_and_a_missing_source_changes_nothing(tmp_path):
    src, target = tmp_path / "chart-1.0.0.tgz", tmp_path / "repo.tgz"
    src.write_bytes(b"\x1f\x8b archive")
    target.write_bytes(b"previous")
    writer.copy_file(src, target, mode=0o644)
    assert target.read_bytes() == b"\x1f\x8b archive"
    with pytest.raises(FileNotFoundError):
        writer.copy_file(tmp_path / "gone.tgz", target)
    assert target.read_bytes() == b"\x1f\x8b archive" and _leftovers(tmp_path) == []


def test_staging_dir_is_beside_the_targets_and_removed_even_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with writer.staging_dir(tmp_path) as stage:
            assert stage.parent == tmp_path and stage.name.startswith(".") and stage.name.endswith(".chartgen-tmp")
            writer.replace_file(stage / "index.yaml", "entries: {}\n")
            writer.move_into_place(stage / "index.yaml", tmp_path / "index.yaml")
            raise RuntimeError("helm repo index failed")
    assert (tmp_path / "index.yaml").read_text() == "entries: {}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["index.yaml"]
