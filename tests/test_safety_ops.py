"""Safe operation under hostile conditions: every I/O or decoding failure is one clear line
(never a traceback or an `internal error`), concurrent catalog edits are never lost, aliased
catalog nodes are never edited behind the user's back.

Every case runs the real `chartgen` process. Permission and full-disk cases use real
mechanisms (a process without root's privileges through `setpriv`, a tiny tmpfs in a private
mount namespace through `unshare`); each first proves the mechanism really fails, and is
skipped with the reason when the machine cannot provide it."""

from __future__ import annotations

import codecs
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run_cli

CHART = "charts/bytefreezer-mesh"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def one_clear_line(r: subprocess.CompletedProcess, *needles: str) -> str:
    """The run failed with exit 1 and one `error:` line (plus the problem count of a located
    error) that contains every needle; no traceback, no internal error."""
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    # validate and lint report the catalog's problems on stdout (they are their report)
    stream = r.stderr if r.stderr.strip() else r.stdout
    assert "Traceback" not in r.stdout and "internal error" not in r.stdout, r.stdout
    lines = [line for line in stream.splitlines() if line and not line.endswith("problem found")]
    assert len(lines) == 1, (r.stdout, r.stderr)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# --- undecodable and too-deep inputs ---------------------------------------------------------

CATALOG = (ROOT / "catalog.yaml").read_text(encoding="utf-8")

UNDECODABLE = {
    "utf16-bom": (codecs.BOM_UTF16_LE + CATALOG.encode("utf-16-le"), "catalog.yaml:1:1: error: the catalog is UTF-16"),
    "utf16-no-bom": (CATALOG.encode("utf-16-le"), "error: the catalog looks like UTF-16"),
    "utf32-bom": (CATALOG.encode("utf-32"), "catalog.yaml:1:1: error: the catalog is UTF-32"),
    "latin1": ("# café\n".encode("latin-1") + CATALOG.encode(), "catalog.yaml:1:6: error: the catalog is not UTF-8: byte 0xe9"),
    "binary": (b"\x7fELF\x02\x01\x01\x00" + os.urandom(256), "catalog.yaml:1:8: error: the catalog holds binary data"),
    "flow-nesting-500": (("a: " + "[" * 500 + "]" * 500 + "\n").encode(), "catalog.yaml:1:67: error: nesting deeper than 64 levels"),
    "block-nesting-500": ("".join("  " * i + "k:\n" for i in range(500)).encode(), "error: nesting deeper than 64 levels"),
}


@pytest.mark.parametrize("case", sorted(UNDECODABLE))
@pytest.mark.parametrize("command", [["validate"], ["generate"], ["diff"], ["canary", "promote", "proxy"], ["lint"]])
def test_undecodable_or_deep_catalog_is_one_located_line(tmp_path, case, command):
    data, expected = UNDECODABLE[case]
    (tmp_path / "catalog.yaml").write_bytes(data)
    line = one_clear_line(run_cli(*command, cwd=tmp_path), expected)
    assert line.endswith("]")  # file:line:col: error: path: message [rule]
    assert sorted(p.name for p in tmp_path.iterdir()) in (["catalog.yaml"], [".chartgen.lock", "catalog.yaml"])


def test_invalid_user_values_file_is_named_with_its_real_line(generated):
    path = generated / "values" / "bytefreezer-mesh" / "prod.yaml"
    before = path.read_text(encoding="utf-8")
    broken = before + "extra:\n  a: 1\n   b: [unclosed\n"
    path.write_text(broken, encoding="utf-8")
    line_no = broken.splitlines().index("   b: [unclosed") + 1
    assert line_no > before.count("\n")  # past the header comment block that the merge strips
    line = one_clear_line(run_cli("generate", cwd=generated),
                          f"values/bytefreezer-mesh/prod.yaml:{line_no}:5: error: invalid YAML", "[user-values]")
    assert "<unicode string>" not in line
    assert path.read_text(encoding="utf-8") == broken  # never replaced


@pytest.mark.parametrize("content, expected", [
    (codecs.BOM_UTF16_LE + "a: 1\n".encode("utf-16-le"), "values/istiod/dev.yaml:1:1: error: the values file is UTF-16"),
    (b"- a list\n", "values/istiod/dev.yaml:1:1: error: a values file must hold a mapping"),
    (b"k: \xff\n", "values/istiod/dev.yaml:1:4: error: the values file is not UTF-8"),
])
def test_unreadable_user_values_file_is_located_and_kept(generated, content, expected):
    path = generated / "values" / "istiod" / "dev.yaml"
    path.write_bytes(content)
    one_clear_line(run_cli("generate", cwd=generated), expected)
    assert path.read_bytes() == content


def test_diff_over_a_non_utf8_generated_file_says_binary_and_generate_replaces_it(generated):
    readme = generated / CHART / "README.md"
    readme.write_bytes(b"\xff\xfe\x00junk")
    r = run_cli("diff", "--no-color", cwd=generated)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert f"Binary files a/{CHART}/README.md and b/{CHART}/README.md differ" in r.stdout
    assert run_cli("generate", cwd=generated).returncode == 0
    assert "# bytefreezer-mesh" in readme.read_text(encoding="utf-8")


@pytest.mark.parametrize("args, expected", [
    (["init", "/proc/nope/x.yaml"], "error: cannot create the directory /proc/nope"),
    (["init", "/proc/version"], "error: /proc/version exists"),
    (["init", "/proc/self/x.yaml"], "error: cannot create a temporary file in /proc/self"),
    (["schema", "--check", "/proc/self/mem"], "error: cannot read the schema file /proc/self/mem"),
    (["generate", "-o", "/proc/nope"], "error: cannot create the output directory /proc/nope"),
    (["validate", "-c", "/proc/nope.yaml"], "/proc/nope.yaml: error: cannot read the catalog /proc/nope.yaml: no such file"),
])
def test_every_command_is_behind_the_error_guard(repo_copy, args, expected):
    if args[0] == "generate":
        args = args + ["-c", str(repo_copy / "catalog.yaml")]
    one_clear_line(run_cli(*args, cwd=repo_copy), expected)


@pytest.mark.integration  # a real pipe closed under the process
def test_version_piped_into_a_closed_reader_is_quiet(repo_copy):
    p = subprocess.Popen(f"{sys.executable} -m chartgen version | head -c 1 >/dev/null", shell=True, cwd=repo_copy,
                         stderr=subprocess.PIPE, text=True)
    _, err = p.communicate(timeout=60)
    assert "Traceback" not in err and "internal error" not in err, err


# --- permission errors and a full disk, for real -------------------------------------------------


def _nobody_or_skip(probe_dir: Path) -> list[str]:
    """The command prefix that runs a process as `nobody`, once proven: writing into
    ``probe_dir`` (made read-only) must really fail for that process."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("dropping privileges needs root and setpriv (util-linux)")
    os.chmod(probe_dir, 0o555)
    try:
        r = subprocess.run([*NOBODY, "touch", str(probe_dir / "probe")], capture_output=True)
    finally:
        os.chmod(probe_dir, 0o755)
    if r.returncode == 0:
        pytest.skip("setpriv did not drop the privilege to write")
    r = subprocess.run([*NOBODY, sys.executable, "-c", "import chartgen"], capture_output=True)
    if r.returncode != 0:
        pytest.skip("the unprivileged user cannot run chartgen from this checkout")
    return NOBODY


def _world(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        os.chmod(p, 0o777 if p.is_dir() else 0o666)


@pytest.fixture
def shared_copy():
    """A generated copy of the repo catalog in a directory every user can reach (pytest's
    own temporary directories are private to root)."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="chartgen-safety-"))
    os.chmod(base, 0o755)
    root = base / "project"
    root.mkdir()
    shutil.copy(ROOT / "catalog.yaml", root / "catalog.yaml")
    yield root
    for p in [base, *base.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            os.chmod(p, 0o755)
    shutil.rmtree(base)


@pytest.mark.integration  # a real process without root's privileges
def test_lock_in_an_unwritable_output_root(shared_copy):
    repo_copy = shared_copy
    as_nobody = _nobody_or_skip(repo_copy)
    os.chmod(repo_copy, 0o555)
    try:
        r = subprocess.run([*as_nobody, sys.executable, "-m", "chartgen", "generate"], cwd=repo_copy,
                           capture_output=True, text=True, timeout=120)
    finally:
        os.chmod(repo_copy, 0o755)
    one_clear_line(r, "cannot create the lock file", ".chartgen.lock", "permission denied")
    assert sorted(p.name for p in repo_copy.iterdir()) == ["catalog.yaml"]


@pytest.mark.integration  # a real process without root's privileges
def test_temp_file_in_an_unwritable_chart_directory(shared_copy):
    generated = shared_copy
    assert run_cli("generate", cwd=generated).returncode == 0
    as_nobody = _nobody_or_skip(generated)
    _world(generated)
    (generated / "catalog.yaml").write_text(CATALOG.replace("timeout: 60s", "timeout: 61s"), encoding="utf-8")
    before = {p: p.read_bytes() for p in generated.rglob("*") if p.is_file()}
    os.chmod(generated / CHART, 0o555)
    try:
        r = subprocess.run([*as_nobody, sys.executable, "-m", "chartgen", "generate"], cwd=generated,
                           capture_output=True, text=True, timeout=120)
    finally:
        os.chmod(generated / CHART, 0o777)
    one_clear_line(r, f"cannot create a temporary file in {CHART}", "nothing was changed")
    assert {p: p.read_bytes() for p in generated.rglob("*") if p.is_file()} == before


@pytest.mark.integration
def test_package_into_an_unwritable_dest(shared_copy):
    generated = shared_copy
    assert run_cli("generate", cwd=generated).returncode == 0
    as_nobody = _nobody_or_skip(generated)
    _world(generated)
    dest_parent = generated.parent / "dest"
    dest_parent.mkdir()
    os.chmod(dest_parent, 0o555)
    try:
        r = subprocess.run([*as_nobody, sys.executable, "-m", "chartgen", "package", "--dest", str(dest_parent / "dist")],
                           cwd=generated, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "HOME": str(generated)})
    finally:
        os.chmod(dest_parent, 0o755)
    one_clear_line(r, f"cannot create the directory {dest_parent / 'dist'}", "permission denied")


def _tiny_tmpfs_or_skip(mountpoint: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("a private tmpfs needs root and unshare (util-linux)")
    r = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=16k tmpfs {mountpoint} && "
                        f"dd if=/dev/zero of={mountpoint}/fill bs=1k count=64"], capture_output=True, text=True)
    if "No space left on device" not in r.stderr:
        pytest.skip(f"cannot mount a tiny tmpfs here ({r.stderr.strip()[:80]})")


@pytest.mark.integration  # a real process on a full tmpfs
def test_full_disk_is_one_line_and_leaves_nothing_staged(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    _tiny_tmpfs_or_skip(disk)
    script = (f"mount -t tmpfs -o size=96k tmpfs {disk} && cp {ROOT / 'catalog.yaml'} {disk}/ && "
              f"cd {disk} && {sys.executable} -m chartgen generate; rc=$?; "
              f"find {disk} -name '*.chartgen-tmp' | sed 's/^/LEFT: /'; exit $rc")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert "LEFT:" not in r.stdout, r.stdout
    one_clear_line(r, "cannot write", "no space left on the device; free some space and run again", "nothing was changed")


# --- publish ----------------------------------------------------------------------------------


@pytest.mark.integration
def test_publish_to_a_missing_parent_is_refused(generated, tmp_path):
    target = tmp_path / "typo" / "charts"
    one_clear_line(run_cli("publish", "--to", str(target), cwd=generated),
                   f"--to {target}: the parent directory {tmp_path / 'typo'} does not exist")
    assert not (tmp_path / "typo").exists()


@pytest.mark.integration
@pytest.mark.parametrize("content, expected", [
    (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), "index.yaml:1:8: the repository index holds binary data"),
    (codecs.BOM_UTF16_LE + "apiVersion: v1\n".encode("utf-16-le"), "index.yaml:1:1: the repository index is UTF-16"),
    (b"apiVersion: v1\nentries: [\n", "index.yaml:3:1: the repository index is not usable (invalid YAML"),
])
def test_publish_over_a_broken_index_is_one_line_and_changes_nothing(generated, tmp_path, content, expected):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "index.yaml").write_bytes(content)
    line = one_clear_line(run_cli("publish", "--to", str(repo), cwd=generated), expected)
    assert "move it away to start a new index" in line
    assert sorted(p.name for p in repo.iterdir()) == [".chartgen.lock", "index.yaml"]
    assert (repo / "index.yaml").read_bytes() == content


# --- catalog edits under the lock ---------------------------------------------------------------


def _spawn(args, cwd):
    return subprocess.Popen([sys.executable, "-m", "chartgen", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _weights(root: Path, *path) -> dict:
    node = yaml.safe_load((root / "catalog.yaml").read_text(encoding="utf-8"))
    for key in path:
        node = node[key]
    return node


@pytest.mark.integration  # real processes contending for the lock
@pytest.mark.parametrize("trial", range(3))
def test_concurrent_promote_and_set_are_both_kept(generated, trial):
    procs = [_spawn(["canary", "promote", "proxy", "--env", "dev"], generated),
             _spawn(["canary", "set", "proxy", "--env", "prod", "--weights", "v1=70,v2=30"], generated)]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert _weights(generated, "environments", "dev", "services", "proxy", "weights") == {"v1": 75, "v2": 25}
    assert _weights(generated, "environments", "prod", "services", "proxy", "weights") == {"v1": 70, "v2": 30}
    assert run_cli("generate", "--check", cwd=generated).returncode == 0
    chart = yaml.safe_load((generated / CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["version"] == "0.1.2"  # two reviewed steps, one release each


@pytest.mark.integration  # real processes contending for the lock
def test_five_concurrent_promotes_advance_five_steps(repo_copy):
    cat = repo_copy / "catalog.yaml"
    cat.write_text(CATALOG.replace("steps: [10, 25, 50, 100]", "steps: [10, 20, 30, 40, 50, 60, 100]"), encoding="utf-8")
    assert run_cli("generate", cwd=repo_copy).returncode == 0
    procs = [_spawn(["canary", "promote", "proxy", "--env", "dev"], repo_copy) for _ in range(5)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    reported = sorted(line.split("→")[1].split(",")[0].strip() for out, _ in results for line in out.splitlines()
                      if line.startswith("proxy (dev):"))
    assert reported == ["v1 40% / v2 60%", "v1 50% / v2 50%", "v1 60% / v2 40%", "v1 70% / v2 30%", "v1 80% / v2 20%"]
    assert _weights(repo_copy, "environments", "dev", "services", "proxy", "weights") == {"v1": 40, "v2": 60}
    assert yaml.safe_load((repo_copy / CHART / "Chart.yaml").read_text())["version"] == "0.1.5"
    assert run_cli("generate", "--check", cwd=repo_copy).returncode == 0


@pytest.mark.integration  # real processes contending for the lock
def test_promotes_past_the_last_step_fail_clearly(generated):
    procs = [_spawn(["canary", "promote", "proxy", "--env", "dev"], generated) for _ in range(5)]
    results = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 0, 0, 1, 1], results  # 10 → 25 → 50 → 100, then nothing left to promote
    for p, (out, err) in zip(procs, results):
        if p.returncode:
            assert "already at 100%" in err and "Traceback" not in err
    assert _weights(generated, "environments", "dev", "services", "proxy", "weights") == {"v1": 0, "v2": 100}


@pytest.mark.integration  # a real process waiting for the lock
def test_generate_reads_the_catalog_under_the_lock(generated):
    """A generate that starts while an edit holds the lock renders the edited catalog."""
    import fcntl

    fd = os.open(generated / ".chartgen.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        p = _spawn(["generate"], generated)
        import time

        time.sleep(1.0)
        (generated / "catalog.yaml").write_text(CATALOG.replace("timeout: 60s", "timeout: 75s"), encoding="utf-8")
    finally:
        os.close(fd)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert run_cli("generate", "--check", cwd=generated).returncode == 0


# --- aliased catalog nodes ---------------------------------------------------------------------

ALIASED = CATALOG.replace("    weights: {v1: 90, v2: 10}       # canary: 10 % to v2",
                          "    weights: &split {v1: 90, v2: 10}       # canary: 10 % to v2").replace(
    "  receiver:\n    description: Ingests data into ByteFreezer\n",
    "  receiver:\n    description: Ingests data into ByteFreezer\n"
    "    versions:\n      v1: {labels: {version: v1}}\n      v2: {labels: {version: v2}}\n    weights: *split\n")


@pytest.mark.parametrize("args, where", [
    (["canary", "promote", "proxy"], "services.proxy.weights: is shared through the YAML anchor &split"),
    (["canary", "rollback", "proxy"], "services.proxy.weights: is shared through the YAML anchor &split"),
    (["canary", "set", "receiver", "--weights", "v1=50,v2=50"], "services.receiver.weights: is shared through"),
])
def test_an_aliased_node_is_never_edited(repo_copy, args, where):
    cat = repo_copy / "catalog.yaml"
    cat.write_text(ALIASED, encoding="utf-8")
    lines = ALIASED.splitlines()
    anchor = next(i for i, line in enumerate(lines) if "&split" in line) + 1
    line = one_clear_line(run_cli(*args, cwd=repo_copy), where, f"(line {anchor})", "[aliased-node]")
    other = "services.receiver.weights" if "proxy" in args else "services.proxy.weights"
    assert f"with {other}" in line and "was not changed" in line
    assert line.startswith("catalog.yaml:")
    assert cat.read_text(encoding="utf-8") == ALIASED
    assert not (repo_copy / "charts").exists()


def test_an_aliased_environment_override_is_never_edited(repo_copy):
    data = yaml.safe_load(CATALOG)
    data["environments"]["prod"].setdefault("services", {})["proxy"] = {"weights": {"v1": 90, "v2": 10}}
    data["environments"]["staging"] = "ALIAS"
    data.pop("gitops", None)  # an aliased environment shares the cluster, which GitOps exports refuse
    dumped = yaml.safe_dump(data, sort_keys=False).replace("  prod:\n", "  prod: &prodenv\n", 1)
    dumped = dumped.replace("  staging: ALIAS\n", "  staging: *prodenv\n")
    (repo_copy / "catalog.yaml").write_text(dumped, encoding="utf-8")
    one_clear_line(run_cli("canary", "set", "proxy", "--env", "prod", "--weights", "v1=50,v2=50", cwd=repo_copy),
                   "environments.prod: is shared through the YAML anchor &prodenv", "with environments.staging")


# --- the chart version never moves backwards -------------------------------------------------

STATE = f"{CHART}/.chartgen-state.json"


def _version(root: Path) -> str:
    return str(yaml.safe_load((root / CHART / "Chart.yaml").read_text(encoding="utf-8"))["version"])


@pytest.fixture
def released(generated) -> Path:
    """The repo catalog generated, then released once more (0.1.1) with a changelog line."""
    (generated / "catalog.yaml").write_text(CATALOG.replace("timeout: 60s", "timeout: 61s"), encoding="utf-8")
    assert run_cli("generate", cwd=generated).returncode == 0
    assert _version(generated) == "0.1.1"
    return generated


@pytest.mark.parametrize("damage", ["delete", "garbage", "binary", "not-an-object", "no-version", "no-model"])
def test_a_lost_state_file_is_recovered_and_an_unchanged_chart_keeps_its_version(released, damage):
    state = released / STATE
    changelog = (released / CHART / "CHANGELOG.md").read_text(encoding="utf-8")
    original = json_state = state.read_text(encoding="utf-8")
    if damage == "delete":
        state.unlink()
    elif damage == "garbage":
        state.write_text("{garbage", encoding="utf-8")
    elif damage == "binary":
        state.write_bytes(b"\xff\xfe\x00\x01")
    elif damage == "not-an-object":
        state.write_text("[1, 2]", encoding="utf-8")
    elif damage == "no-version":
        state.write_text(json_state.replace('"version": "0.1.1"', '"version": "banana"'), encoding="utf-8")
    else:
        data = json.loads(json_state)
        del data["model"]
        state.write_text(json.dumps(data), encoding="utf-8")
    r = run_cli("generate", cwd=released)
    assert r.returncode == 0, r.stderr
    assert "recovered version 0.1.1 and 2 changelog release(s) from Chart.yaml and CHANGELOG.md" in r.stderr
    assert ("is missing" if damage == "delete" else "is corrupt") in r.stderr
    assert _version(released) == "0.1.1"
    assert (released / CHART / "CHANGELOG.md").read_text(encoding="utf-8") == changelog
    # rebuilt exactly, except that CHANGELOG.md keeps only the text of each change record
    rebuilt, before = json.loads(state.read_text(encoding="utf-8")), json.loads(original)
    for entry in before["history"]:
        entry["changes"] = [c["text"] for c in entry["changes"]]
    assert rebuilt == before
    assert run_cli("generate", "--check", cwd=released).returncode == 0


def test_a_lost_state_file_and_a_changed_catalog_is_a_major_release_keeping_the_history(released):
    (released / STATE).unlink()
    (released / "catalog.yaml").write_text(CATALOG.replace("timeout: 60s", "timeout: 62s"), encoding="utf-8")
    r = run_cli("generate", cwd=released)
    assert r.returncode == 0, r.stderr
    assert "a major release is the safe choice" in r.stderr
    assert _version(released) == "1.0.0"
    changelog = (released / CHART / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog.index("## 1.0.0") < changelog.index("## 0.1.1") < changelog.index("## 0.1.0")
    assert "- changes since 0.1.1 not itemised" in changelog and "initial version" in changelog
    # from here on the state is whole again: the next change is itemised
    (released / "catalog.yaml").write_text(CATALOG.replace("timeout: 60s", "timeout: 63s"), encoding="utf-8")
    r = run_cli("generate", cwd=released)
    assert "timeout 62s → 63s" in r.stdout and _version(released) == "1.0.1"


def test_a_lost_state_file_with_a_forced_version_uses_it_but_never_a_lower_one(released):
    (released / STATE).unlink()
    (released / "catalog.yaml").write_text(CATALOG.replace("timeout: 60s", "timeout: 62s"), encoding="utf-8")
    one_clear_line(run_cli("generate", "--version", "0.1.0", cwd=released),
                   "--version 0.1.0 is lower than the released chart version 0.1.1")
    r = run_cli("generate", "--version", "0.2.0", cwd=released)
    assert r.returncode == 0 and _version(released) == "0.2.0", r.stderr


@pytest.mark.parametrize("edit", ["lower", "much-lower"])
def test_a_state_version_below_the_chart_never_moves_it_backwards(released, edit):
    state = released / STATE
    text = state.read_text(encoding="utf-8")
    state.write_text(text.replace('"version": "0.1.1"', '"version": "0.1.0"' if edit == "lower" else '"version": "0.0.1"'),
                     encoding="utf-8")
    assert state.read_text(encoding="utf-8") != text
    r = run_cli("generate", cwd=released)
    assert r.returncode == 0 and "never moves backwards" in r.stderr, r.stderr
    assert _version(released) == "0.1.1"
    (released / "catalog.yaml").write_text(CATALOG.replace("timeout: 60s", "timeout: 62s"), encoding="utf-8")
    assert run_cli("generate", cwd=released).returncode == 0
    assert _version(released) == "0.1.2"


def test_a_corrupt_state_without_a_chart_starts_a_new_chart_and_says_so(repo_copy):
    (repo_copy / CHART).mkdir(parents=True)
    (repo_copy / STATE).write_text("{garbage", encoding="utf-8")
    r = run_cli("generate", cwd=repo_copy)
    assert r.returncode == 0 and "no chart version to recover; starting a new chart" in r.stderr, r.stderr
    assert _version(repo_copy) == "0.1.0"


# --- symbolic links and read-only files --------------------------------------------------------


def test_a_link_out_of_the_root_is_never_written_or_deleted_through(generated, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "precious.yaml").write_text("keep: me\n", encoding="utf-8")
    gen = generated / "values" / "prometheus" / "generated"
    shutil.rmtree(gen)
    gen.symlink_to(outside, target_is_directory=True)
    before = {p.name: p.read_bytes() for p in outside.iterdir()}
    line = one_clear_line(run_cli("generate", cwd=generated), "refusing to write values/prometheus/generated/",
                          f"is a symbolic link to {outside}", "nothing was changed")
    assert "outside the output root" in line
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before
    # the leftover stale files an outside directory holds are not deleted either
    (outside / "slo-rules-dev.yaml").write_text("x: 1\n", encoding="utf-8")
    (outside / "slo-rules-prod.yaml").write_text("x: 1\n", encoding="utf-8")
    one_clear_line(run_cli("generate", cwd=generated), "refusing to write values/prometheus/generated/")
    assert (outside / "precious.yaml").read_text(encoding="utf-8") == "keep: me\n"


def test_a_user_values_file_linked_out_of_the_root_is_refused(generated, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "prod.yaml"
    prod = generated / "values" / "bytefreezer-mesh" / "prod.yaml"
    shutil.move(prod, outside)
    prod.symlink_to(outside)
    before = outside.read_bytes()
    (generated / "catalog.yaml").write_text(CATALOG.replace("bytefreezer-prod-tls", "bytefreezer-prod-tls2"), encoding="utf-8")
    one_clear_line(run_cli("generate", cwd=generated), "refusing to write values/bytefreezer-mesh/prod.yaml",
                   f"symbolic link to {outside}")
    assert outside.read_bytes() == before and prod.is_symlink()


def test_a_user_values_file_linked_inside_the_root_is_written_through_and_stays_a_link(generated):
    shared = generated / "shared"
    shared.mkdir()
    prod = generated / "values" / "bytefreezer-mesh" / "prod.yaml"
    shutil.move(prod, shared / "prod.yaml")
    prod.symlink_to(Path("..") / ".." / "shared" / "prod.yaml")
    (shared / "prod.yaml").write_text((shared / "prod.yaml").read_text() + "mine: kept\n", encoding="utf-8")
    (generated / "catalog.yaml").write_text(CATALOG.replace("bytefreezer-prod-tls", "bytefreezer-prod-tls2"), encoding="utf-8")
    r = run_cli("generate", cwd=generated)
    assert r.returncode == 0, r.stderr
    assert prod.is_symlink()
    text = (shared / "prod.yaml").read_text(encoding="utf-8")
    assert "bytefreezer-prod-tls2" in text and "mine: kept" in text


def test_a_read_only_user_values_file_is_refused_never_replaced(generated):
    prod = generated / "values" / "bytefreezer-mesh" / "prod.yaml"
    before = prod.read_bytes()
    os.chmod(prod, 0o444)
    (generated / "catalog.yaml").write_text(CATALOG.replace("bytefreezer-prod-tls", "bytefreezer-prod-tls2"), encoding="utf-8")
    tree = {p: p.read_bytes() for p in generated.rglob("*") if p.is_file() and p.name != "catalog.yaml"}
    one_clear_line(run_cli("generate", cwd=generated), "refusing to replace values/bytefreezer-mesh/prod.yaml: it is "
                   "read-only (mode 0444)", "chmod u+w")
    assert {p: p.read_bytes() for p in generated.rglob("*") if p.is_file() and p.name != "catalog.yaml"} == tree
    assert prod.read_bytes() == before and (prod.stat().st_mode & 0o777) == 0o444


def test_a_read_only_or_linked_catalog_in_a_canary_edit(generated, tmp_path_factory):
    cat = generated / "catalog.yaml"
    os.chmod(cat, 0o444)
    one_clear_line(run_cli("canary", "promote", "proxy", "--env", "dev", cwd=generated),
                   "refusing to replace catalog.yaml: it is read-only")
    assert cat.read_text(encoding="utf-8") == CATALOG
    os.chmod(cat, 0o644)
    real = tmp_path_factory.mktemp("catalogs") / "mesh.yaml"
    shutil.move(cat, real)
    cat.symlink_to(real)
    r = run_cli("canary", "promote", "proxy", "--env", "dev", cwd=generated)
    assert r.returncode == 0, r.stderr
    assert cat.is_symlink() and "{v1: 75, v2: 25}" in real.read_text(encoding="utf-8")


# --- signals ------------------------------------------------------------------------------------


def _start_and_signal(root: Path, sig: int, args=("generate",)):
    """Start a real `chartgen generate` and send ``sig`` the moment it has staged its first
    temporary file (the window between rendering and renaming into place)."""
    import time

    chart = root / CHART
    p = _spawn(list(args), root)
    deadline = time.monotonic() + 120
    sent = False
    while p.poll() is None and time.monotonic() < deadline:
        try:
            if any(n.endswith(".chartgen-tmp") for n in os.listdir(chart)):
                p.send_signal(sig)
                sent = True
                break
        except FileNotFoundError:
            pass
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err, sent


def _outputs(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in (".chartgen.lock", "catalog.yaml")}


@pytest.mark.integration  # real signals to a real process
@pytest.mark.parametrize("sig_name", ["SIGTERM", "SIGINT"])
def test_a_signal_while_staging_removes_what_was_staged(repo_copy, sig_name):
    import signal

    sig = getattr(signal, sig_name)
    for _ in range(3):
        code, out, err, sent = _start_and_signal(repo_copy, sig)
        if sent:
            break
    else:
        pytest.skip("the run finished before a signal could be sent")
    assert "Traceback" not in err, err
    if code == 0:  # the signal landed after the last rename: a complete run
        assert run_cli("generate", "--check", cwd=repo_copy).returncode == 0
        return
    assert code == (143 if sig_name == "SIGTERM" else 130), (code, err)
    assert err.strip() in ("terminated; nothing was changed", "interrupted; nothing was changed",
                           "terminated; the files were already written", "interrupted; the files were already written")
    assert not list(repo_copy.rglob("*.chartgen-tmp"))
    if "nothing was changed" in err:
        assert _outputs(repo_copy) == {}


@pytest.mark.integration  # real signals to a real process
def test_sigterm_during_an_update_keeps_the_tree_old_or_new_never_mixed(generated):
    import signal

    old = _outputs(generated)
    (generated / "catalog.yaml").write_text(CATALOG.replace("timeout: 60s", "timeout: 61s"), encoding="utf-8")
    code, out, err, sent = _start_and_signal(generated, signal.SIGTERM)
    assert not list(generated.rglob("*.chartgen-tmp"))
    now = _outputs(generated)
    if code == 143 and "nothing was changed" in err:
        assert now == old
    else:
        assert run_cli("generate", "--check", cwd=generated).returncode == 0


@pytest.mark.integration  # real signals to a real process
def test_leftovers_of_a_killed_run_are_reported_then_removed(repo_copy):
    import signal

    for _ in range(5):
        code, out, err, sent = _start_and_signal(repo_copy, signal.SIGKILL)
        if sent and code == -signal.SIGKILL:
            break
    else:
        pytest.skip("the run finished before it could be killed")
    left = sorted(p.relative_to(repo_copy).as_posix() for p in repo_copy.rglob("*.chartgen-tmp"))
    assert left, "kill -9 while staging leaves temporary files"
    r = run_cli("generate", "--check", cwd=repo_copy)
    assert r.returncode == 1 and "temporary file left by an interrupted chartgen run" in r.stderr
    r = run_cli("generate", cwd=repo_copy)
    assert r.returncode == 0, r.stderr
    assert f"removed {len(left)} temporary file(s) left by an interrupted run" in r.stderr
    assert not list(repo_copy.rglob("*.chartgen-tmp"))
    assert run_cli("generate", "--check", cwd=repo_copy).returncode == 0


def test_a_leftover_from_a_killed_catalog_edit_is_removed_with_the_next_edit(generated):
    stray = generated / ".catalog.yaml.k2j4x9.chartgen-tmp"
    stray.write_text("half a catalog", encoding="utf-8")
    unrelated = generated / ".notes.chartgen-tmp.txt"
    unrelated.write_text("mine", encoding="utf-8")
    r = run_cli("canary", "promote", "proxy", "--env", "dev", cwd=generated)
    assert r.returncode == 0, r.stderr
    assert "removed 1 temporary file(s)" in r.stderr and not stray.exists() and unrelated.exists()


# --- every command behind the one error guard ----------------------------------------------------


def _commands_without_guard() -> list[str]:
    """Click commands (in chartgen.cli and chartgen.commands) whose body never calls the error
    guard: their failures would print tracebacks."""
    import ast

    missing = []
    for path in [ROOT / "chartgen" / "cli.py", *sorted((ROOT / "chartgen" / "commands").glob("*.py"))]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            decorators = [ast.unparse(d) for d in fn.decorator_list]
            if not any(".command(" in d or d.endswith(".command") for d in decorators):
                continue
            if any(".group(" in d for d in decorators):
                continue
            calls = {ast.unparse(c.func) for c in ast.walk(fn) if isinstance(c, ast.Call)}
            if not calls & {"run_guarded", "_guard"}:
                missing.append(f"{path.name}:{fn.name}")
    return missing


def test_every_command_calls_the_error_guard():
    assert _commands_without_guard() == []


@pytest.mark.integration
def test_package_waits_for_a_running_generate_and_records_what_it_packaged(generated, tmp_path):
    """`package` reads the chart and records the release under the output tree's lock: a
    generate in progress is waited for, never packaged half-written."""
    import fcntl
    import json
    import time

    fd = os.open(generated / ".chartgen.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        p = _spawn(["package", "--dest", str(tmp_path / "dist")], generated)
        first = p.stderr.readline()  # blocks until package reaches the lock (or ends)
        time.sleep(0.5)
        assert p.poll() is None and not (tmp_path / "dist").exists()
    finally:
        os.close(fd)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "another chartgen run is writing" in first, (first, out, err)
    state = json.loads((generated / STATE).read_text(encoding="utf-8"))
    assert state["release"]["version"] == _version(generated) == out.split()[2].rstrip(":")


@pytest.mark.integration
def test_publish_removes_the_staging_directory_of_a_killed_publish(generated, tmp_path):
    repo = tmp_path / "repo"
    (repo / ".k2j4x9.chartgen-tmp").mkdir(parents=True)
    (repo / ".k2j4x9.chartgen-tmp" / "index.yaml").write_text("half\n", encoding="utf-8")
    (repo / "notes.txt").write_text("mine\n", encoding="utf-8")
    r = run_cli("publish", "--to", str(repo), cwd=generated)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in repo.iterdir() if p.name != ".chartgen.lock") == \
        ["bytefreezer-mesh-0.1.0.tgz", "index.yaml", "notes.txt"]


def test_a_planted_lock_link_creates_nothing_outside(repo_copy, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "created-by-chartgen"
    (repo_copy / ".chartgen.lock").symlink_to(outside)
    one_clear_line(run_cli("generate", cwd=repo_copy), "refusing to use the lock file .chartgen.lock: it is a symbolic link")
    assert not outside.exists() and not (repo_copy / "charts").exists()


def test_leftovers_behind_a_link_out_of_the_root_are_not_touched(generated, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    theirs = outside / ".slo-rules-dev.yaml.abc123.chartgen-tmp"
    theirs.write_text("someone else's\n", encoding="utf-8")
    gen = generated / "values" / "prometheus" / "generated"
    shutil.rmtree(gen)
    gen.symlink_to(outside, target_is_directory=True)
    one_clear_line(run_cli("generate", cwd=generated), "refusing to write values/prometheus/generated/")
    assert theirs.read_text(encoding="utf-8") == "someone else's\n"


@pytest.mark.integration  # real signals to a real process
def test_sigterm_during_a_canary_edit_restores_the_catalog(generated):
    import signal

    old = _outputs(generated)
    for _ in range(3):
        code, out, err, sent = _start_and_signal(generated, signal.SIGTERM, ("canary", "promote", "proxy"))
        if sent and code == 143:
            break
        # the edit completed before the signal: start again from the original catalog
        (generated / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
        assert run_cli("generate", cwd=generated).returncode == 0
        old = _outputs(generated)
    else:
        pytest.skip("the edit finished before a signal could be sent")
    assert "Traceback" not in err, err
    assert not list(generated.rglob("*.chartgen-tmp"))
    if "nothing was changed" in err:
        assert "interrupted; catalog.yaml was restored" in err, err
        assert (generated / "catalog.yaml").read_text(encoding="utf-8") == CATALOG
        assert _outputs(generated) == old
    else:  # after the renames: catalog and chart moved together
        assert run_cli("generate", "--check", cwd=generated).returncode == 0
