"""Issue 24, second pass: the user cache directory itself reached through a link (an
``XDG_CACHE_HOME`` in a shared directory where someone else made ``chartgen`` a link into
the user's files). Nothing is read through the link and nothing is written through it: a
file of the same name at the link's target is never replaced."""

from __future__ import annotations

import os
from pathlib import Path

from chartgen.base import usercache


def test_a_cache_directory_that_is_a_link_is_neither_read_nor_written(tmp_path, monkeypatch):
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    target = tmp_path / "project"
    target.mkdir()
    mine = target / "cel-verdicts.json"
    mine.write_text("my own file\n")
    (xdg / "chartgen").symlink_to(target)
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    path = usercache.cache_dir() / "cel-verdicts.json"
    assert usercache.save(path, "p", "k", [1]) is False
    assert mine.read_text() == "my own file\n"
    assert sorted(p.name for p in target.iterdir()) == ["cel-verdicts.json"]
    assert usercache.save(usercache.cache_dir() / "sub" / "crds.json", "p", "k", [1]) is False
    assert not (target / "sub").exists()


def test_a_cache_directory_below_a_link_still_works_when_the_link_is_the_users(tmp_path, monkeypatch):
    # XDG_CACHE_HOME itself may be a link the user made (a cache on another disk): the
    # chartgen directory inside it is a real directory of the user's, so it is used
    real = tmp_path / "disk"
    real.mkdir()
    os.symlink(real, tmp_path / "xdg")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = usercache.cache_dir() / "sub" / "thing.json"
    assert usercache.save(path, "p", "k", [1]) is True
    assert usercache.load(path, "p", "k") == [1]
    assert (real / "chartgen" / "sub" / "thing.json").is_file()


def test_a_subdirectory_that_is_a_link_is_not_written_through(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = usercache.cache_dir()
    root.mkdir(parents=True, mode=0o700)
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "crds.json").write_text("mine\n")
    (root / "istio-base-1").symlink_to(target)
    assert usercache.save(root / "istio-base-1" / "crds.json", "p", "k", [1]) is False
    assert (target / "crds.json").read_text() == "mine\n"
