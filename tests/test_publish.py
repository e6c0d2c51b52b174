"""`chartgen package` and `chartgen publish` against real servers on 127.0.0.1.

A static file server serves a classic chart repository; Debian's docker-registry is the OCI
registry; helm 4 installs from both (client-side dry run, no cluster); helmfile (with helm 3)
renders the mesh release from the published chart. Missing tools fail these tests.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run_cli

try:
    from helpers.servers import oci_registry, require_binary, static_server
except ImportError:  # tests/ imported as a package
    from tests.helpers.servers import oci_registry, require_binary, static_server

pytestmark = [pytest.mark.integration, pytest.mark.servers]

CHART = "bytefreezer-mesh"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(Path(directory).rglob("*")) if p.is_file() and p.name != ".chartgen.lock"}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    """helm's state in a temporary directory, shared by the module's helm calls."""
    base = tmp_path_factory.mktemp("helm-home")
    e = dict(os.environ)
    e.update(HELM_CONFIG_HOME=str(base / "config"), HELM_CACHE_HOME=str(base / "cache"),
             HELM_DATA_HOME=str(base / "data"), HELMFILE_UPGRADE_NOTICE_DISABLED="1")
    return e


def cli(env: dict, *args: str, cwd: Path | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    r = run_cli(*args, cwd=cwd, env=env)
    if ok:
        assert r.returncode == 0, f"chartgen {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r


def run(env: dict, *cmd: str, cwd: Path | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    if ok:
        assert r.returncode == 0, f"{' '.join(map(str, cmd))} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def chart_version(workspace: Path) -> str:
    return str(yaml.safe_load((workspace / "charts" / CHART / "Chart.yaml").read_text())["version"])


def change_proxy_timeout(catalog: Path, value: str) -> None:
    """services.proxy.timeout (15s in the default catalog) → ``value``: a patch-level change."""
    text = catalog.read_text(encoding="utf-8")
    new = re.sub(r"(?m)^(  proxy:\n(?:    .*\n)*?    timeout:) \S+$", rf"\1 {value}", text, count=1)
    assert new != text, "services.proxy.timeout was not found in the catalog"
    catalog.write_text(new, encoding="utf-8")


class Workspace:
    """A copy of the default catalog, generated twice: v1, then (timeout changed) v2."""

    def __init__(self, root: Path, env: dict):
        self.root = root
        self.catalog = root / "catalog.yaml"
        shutil.copy(ROOT / "catalog.yaml", self.catalog)
        cli(env, "generate", "-c", str(self.catalog))
        self.v1 = chart_version(root)
        cli(env, "package", "-c", str(self.catalog), "--dest", str(root / "dist-v1"))
        self.pkg1 = root / "dist-v1" / f"{CHART}-{self.v1}.tgz"
        change_proxy_timeout(self.catalog, "20s")
        cli(env, "generate", "-c", str(self.catalog))
        self.v2 = chart_version(root)
        cli(env, "package", "-c", str(self.catalog), "--dest", str(root / "dist-v2"))
        self.pkg2 = root / "dist-v2" / f"{CHART}-{self.v2}.tgz"
        assert self.v1 != self.v2 and self.pkg1.is_file() and self.pkg2.is_file()

    def impostor(self, helm: str, env: dict, version: str, dest: Path) -> Path:
        """A package of *different* content that claims ``version``."""
        src = dest / "src" / CHART
        shutil.copytree(self.root / "charts" / CHART, src)
        chart_yaml = src / "Chart.yaml"
        chart_yaml.write_text(re.sub(r"(?m)^version: .*$", f"version: {version}", chart_yaml.read_text()))
        with open(src / "values.yaml", "a", encoding="utf-8") as fh:
            fh.write("\n# not the released content\n")
        run(env, helm, "package", src, "--destination", dest)
        return dest / f"{CHART}-{version}.tgz"


@pytest.fixture(scope="module")
def ws(tmp_path_factory, env) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("ws"), env)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with oci_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


# --- classic chart repository ----------------------------------------------------------------

def test_repo_publish_twice_then_install_from_served_repo(tmp_path, env, helm):
    catalog = tmp_path / "catalog.yaml"
    shutil.copy(ROOT / "catalog.yaml", catalog)
    repo = tmp_path / "repo"
    with static_server(repo.parent, tmp_path) as base:  # serve tmp_path; the repo is /repo
        url = f"{base}/repo"
        cli(env, "generate", "-c", str(catalog))
        v1 = chart_version(tmp_path)
        r = cli(env, "publish", "-c", str(catalog), "--to", str(repo), "--url", url)
        assert f"published {CHART} {v1}" in r.stdout
        change_proxy_timeout(catalog, "20s")
        cli(env, "generate", "-c", str(catalog))
        v2 = chart_version(tmp_path)
        assert v2 != v1
        cli(env, "publish", "-c", str(catalog), "--to", str(repo), "--url", url)

        index = yaml.safe_load((repo / "index.yaml").read_text())
        listed = {e["version"]: e for e in index["entries"][CHART]}
        assert set(listed) == {v1, v2}, "the earlier version stays listed"
        assert listed[v2]["urls"] == [f"{url}/{CHART}-{v2}.tgz"]
        assert listed[v1]["digest"] == sha256(repo / f"{CHART}-{v1}.tgz")

        run(env, helm, "repo", "add", "meshrepo", url)
        out = run(env, helm, "search", "repo", f"meshrepo/{CHART}", "--versions", "-o", "yaml").stdout
        assert {e["version"] for e in yaml.safe_load(out)} == {v1, v2}

        pulled = tmp_path / "pulled"
        pulled.mkdir()
        run(env, helm, "pull", f"meshrepo/{CHART}", "--version", v1, "-d", pulled)
        assert sha256(pulled / f"{CHART}-{v1}.tgz") == listed[v1]["digest"]

        rendered = run(env, helm, "template", "mesh", f"meshrepo/{CHART}", "--version", v1,
                       "-n", "istio-system").stdout
        assert f"helm.sh/chart: {CHART}-{v1}" in rendered
        assert "timeout: 15s" in rendered and "timeout: 20s" not in rendered
        rendered2 = run(env, helm, "template", "mesh", f"meshrepo/{CHART}", "--version", v2,
                        "-n", "istio-system").stdout
        assert "timeout: 20s" in rendered2 and "timeout: 15s" not in rendered2

        inst = run(env, helm, "install", "mesh", f"meshrepo/{CHART}", "--version", v2,
                   "-n", "istio-system", "--dry-run=client").stdout
        assert "STATUS: pending-install" in inst
        assert f"helm.sh/chart: {CHART}-{v2}" in inst

        # Republishing the identical content is a no-op: not even the index is rewritten.
        before = snapshot(repo)
        r = cli(env, "publish", "-c", str(catalog), "--to", str(repo), "--url", url)
        assert "already published" in r.stdout
        assert snapshot(repo) == before


def test_repo_refuses_different_content_under_a_published_version(tmp_path, ws, env, helm):
    repo = tmp_path / "repo"
    cli(env, "publish", "--package", str(ws.pkg1), "--to", str(repo))
    entry = yaml.safe_load((repo / "index.yaml").read_text())["entries"][CHART][0]
    assert entry["urls"] == [f"{CHART}-{ws.v1}.tgz"], "without --url the index uses relative URLs"
    before = snapshot(repo)

    fake = ws.impostor(helm, env, ws.v1, tmp_path / "fake")
    r = cli(env, "publish", "--package", str(fake), "--to", str(repo), ok=False)
    assert r.returncode == 1
    assert f"{CHART} {ws.v1} is already published" in r.stderr
    assert "Traceback" not in r.stderr
    assert snapshot(repo) == before, "the repository is left intact"
    assert not list(repo.glob(".*chartgen-tmp")), "no staging directory is left behind"


# --- OCI registry ----------------------------------------------------------------------------

def test_oci_publish_pull_show_template(tmp_path, ws, env, helm, registry):
    ref = f"oci://{registry}/charts"
    r = cli(env, "publish", "-c", str(ws.catalog), "--to", ref, "--plain-http")
    assert f"published {CHART} {ws.v2} to {ref}/{CHART}" in r.stdout

    pulled = tmp_path / "pulled"
    pulled.mkdir()
    run(env, helm, "pull", f"{ref}/{CHART}", "--version", ws.v2, "--plain-http", "-d", pulled)
    assert sha256(pulled / f"{CHART}-{ws.v2}.tgz") == sha256(ws.pkg2), "the registry holds the reproducible bytes"
    shown = yaml.safe_load(run(env, helm, "show", "chart", f"{ref}/{CHART}", "--version", ws.v2, "--plain-http").stdout)
    assert shown["name"] == CHART and str(shown["version"]) == ws.v2
    rendered = run(env, helm, "template", "mesh", f"{ref}/{CHART}", "--version", ws.v2, "--plain-http",
                   "-n", "istio-system").stdout
    assert f"helm.sh/chart: {CHART}-{ws.v2}" in rendered

    r = cli(env, "publish", "-c", str(ws.catalog), "--to", ref, "--plain-http")
    assert "already published" in r.stdout


def test_oci_refuses_different_content_under_an_existing_tag(tmp_path, ws, env, helm, registry):
    ref = f"oci://{registry}/refusal"
    cli(env, "publish", "--package", str(ws.pkg1), "--to", ref, "--plain-http")
    fake = ws.impostor(helm, env, ws.v1, tmp_path / "fake")
    r = cli(env, "publish", "--package", str(fake), "--to", ref, "--plain-http", ok=False)
    assert r.returncode == 1
    assert "already exists with different content" in r.stderr
    assert "Traceback" not in r.stderr
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    run(env, helm, "pull", f"{ref}/{CHART}", "--version", ws.v1, "--plain-http", "-d", pulled)
    assert sha256(pulled / f"{CHART}-{ws.v1}.tgz") == sha256(ws.pkg1), "the published tag is unchanged"


def test_oci_without_plain_http_is_a_clear_error(ws, env, registry):
    r = cli(env, "publish", "--package", str(ws.pkg1), "--to", f"oci://{registry}/charts", ok=False)
    assert r.returncode == 1
    assert "--plain-http" in r.stderr and "Traceback" not in r.stderr


# --- signing ---------------------------------------------------------------------------------

@pytest.fixture
def gpg_home(tmp_path):
    gpg = require_binary("gpg", "apt-get install --no-install-recommends gnupg")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    genv = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run([gpg, "--batch", "--passphrase", "", "--quick-gen-key", "chartgen test <test@example.invalid>",
                    "ed25519", "sign", "never"], env=genv, check=True, capture_output=True, timeout=60)
    secring, pubring = tmp_path / "secring.gpg", tmp_path / "pubring.gpg"
    secring.write_bytes(subprocess.run([gpg, "--batch", "--export-secret-keys"], env=genv, check=True,
                                       capture_output=True, timeout=60).stdout)
    pubring.write_bytes(subprocess.run([gpg, "--batch", "--export"], env=genv, check=True,
                                       capture_output=True, timeout=60).stdout)
    yield home, secring, pubring
    gpgconf = shutil.which("gpgconf")
    if gpgconf:
        subprocess.run([gpgconf, "--kill", "gpg-agent"], env=genv, capture_output=True, timeout=30)


def test_signed_package_verifies_and_tampering_is_detected(tmp_path, ws, env, helm, gpg_home):
    home, secring, pubring = gpg_home
    dest = tmp_path / "signed"
    cli(env, "package", "-c", str(ws.catalog), "--dest", str(dest), "--sign", "--key", "chartgen test",
        "--keyring", str(secring))
    tgz = dest / f"{CHART}-{ws.v2}.tgz"
    assert (dest / f"{tgz.name}.prov").is_file()
    assert sha256(tgz) == sha256(ws.pkg2), "signing does not change the archive"
    out = run(env, helm, "verify", tgz, "--keyring", pubring).stdout
    assert "Signed by: chartgen test" in out

    # A tampered archive (one template changed, repacked) next to the original signature.
    tampered_dir = tmp_path / "tampered"
    tampered_dir.mkdir()
    tampered = tampered_dir / tgz.name
    with tarfile.open(tgz, "r:gz") as src, tarfile.open(tampered, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else None
            if m.name.endswith("values.yaml") and m.name.count("/") == 1:
                data += b"\n# tampered\n"
                m.size = len(data)
            dst.addfile(m, io.BytesIO(data) if data is not None else None)
    shutil.copy(f"{tgz}.prov", f"{tampered}.prov")
    bad = run(env, helm, "verify", tampered, "--keyring", pubring, ok=False)
    assert bad.returncode != 0
    assert "sha256 sum does not match" in bad.stderr


def test_sign_with_a_gnupg2_keybox_is_a_clear_error(tmp_path, ws, env, gpg_home):
    home, _, _ = gpg_home
    r = cli(env, "package", "-c", str(ws.catalog), "--dest", str(tmp_path / "d"), "--sign", "--key", "chartgen test",
            "--keyring", str(home / "pubring.kbx"), ok=False)
    assert r.returncode == 1
    assert "gpg --export-secret-keys > secring.gpg" in r.stderr and "Traceback" not in r.stderr


# --- reproducibility -------------------------------------------------------------------------

def test_package_is_byte_reproducible(tmp_path, ws, env):
    a, b = tmp_path / "a", tmp_path / "b"
    cli(env, "package", "-c", str(ws.catalog), "--dest", str(a))
    for p in (ws.root / "charts" / CHART).rglob("*"):  # new mtimes must not leak into the archive
        os.utime(p, (1_900_000_000, 1_900_000_000))
    cli(env, "package", "-c", str(ws.catalog), "--dest", str(b))
    name = f"{CHART}-{ws.v2}.tgz"
    assert (a / name).read_bytes() == (b / name).read_bytes()
    assert sha256(a / name) == sha256(ws.pkg2)
    with tarfile.open(a / name) as tar:
        assert {m.mtime for m in tar.getmembers()} == {315532800}
        assert not any(m.name.endswith(".chartgen-state.json") for m in tar.getmembers())


def test_package_refuses_a_stale_or_missing_chart(tmp_path, env):
    catalog = tmp_path / "catalog.yaml"
    shutil.copy(ROOT / "catalog.yaml", catalog)
    r = cli(env, "package", "-c", str(catalog), "--dest", str(tmp_path / "d"), ok=False)
    assert r.returncode == 1 and "run `chartgen generate" in r.stderr and "Traceback" not in r.stderr
    cli(env, "generate", "-c", str(catalog))
    change_proxy_timeout(catalog, "25s")
    r = cli(env, "package", "-c", str(catalog), "--dest", str(tmp_path / "d"), ok=False)
    assert r.returncode == 1 and "out of date" in r.stderr
    assert not (tmp_path / "d").exists() or not list((tmp_path / "d").iterdir())


# --- helmfile with the published chart -------------------------------------------------------

def _helmfile_path(root: Path) -> Path:
    for name in ("helmfile.yaml", "helmfile.yaml.gotmpl"):
        if (root / name).is_file():
            return root / name
    raise AssertionError("chartgen generate wrote no helmfile")


def render_mesh_release(env: dict, work: Path, chart_ref: str, version: str, helm3: str, helmfile_bin: str) -> str:
    """``helmfile template`` of only the release that installs ``chart_ref`` (after generate)."""
    helmfile = _helmfile_path(work)
    docs = [d for d in yaml.safe_load_all(re.sub(r"\{\{[^}]*\}\}", "x", helmfile.read_text())) if d]
    releases = [r for d in docs for r in d.get("releases") or [] if r.get("chart") == chart_ref]
    assert len(releases) == 1, f"no release installs {chart_ref}"
    assert str(releases[0].get("version")) == version
    envs = [name for d in docs for name in (d.get("environments") or {})]
    args = [helmfile_bin, "--helm-binary", helm3, "-f", helmfile.name]
    if envs and "default" not in envs:
        args += ["-e", envs[0]]
    # --skip-deps: the helmfile's other repositories are remote and unreachable offline.
    return run(env, *args, "template", "--skip-deps", "-l", f"name={releases[0]['name']}", cwd=work).stdout


def drop_gitops(catalog: Path) -> None:
    text = catalog.read_text(encoding="utf-8")
    start = text.index("\ngitops:\n")
    end = text.index("\n\n", start + 1)
    catalog.write_text(text[:start] + text[end:], encoding="utf-8")


def test_helmfile_renders_the_published_mesh_chart(tmp_path, ws, env, helm3, helmfile_bin):
    repo = tmp_path / "repo"
    cli(env, "publish", "--package", str(ws.pkg1), "--to", str(repo))
    cli(env, "publish", "--package", str(ws.pkg2), "--to", str(repo))
    with static_server(repo, tmp_path) as url:
        run(env, helm3, "repo", "add", "meshpub", url)
        work = tmp_path / "w"
        work.mkdir()
        shutil.copy(ws.catalog, work / "catalog.yaml")
        # a repository known only to this machine's helm: no GitOps export can name its URL
        drop_gitops(work / "catalog.yaml")
        # The older, published version, so the render cannot come from the local chart (v2).
        cli(env, "generate", "-c", str(work / "catalog.yaml"), "--mesh-chart", f"meshpub/{CHART}",
            "--mesh-version", ws.v1)
        out = render_mesh_release(env, work, f"meshpub/{CHART}", ws.v1, helm3, helmfile_bin)
    assert f"helm.sh/chart: {CHART}-{ws.v1}" in out
    assert f"helm.sh/chart: {CHART}-{ws.v2}" not in out
    assert "timeout: 15s" in out and "timeout: 20s" not in out


def test_helmfile_renders_the_mesh_chart_from_the_oci_registry(tmp_path, ws, env, helm3, helmfile_bin, registry):
    ref = f"oci://{registry}/helmfile"
    cli(env, "publish", "--package", str(ws.pkg1), "--to", ref, "--plain-http")
    work = tmp_path / "w"
    work.mkdir()
    shutil.copy(ws.catalog, work / "catalog.yaml")
    cli(env, "generate", "-c", str(work / "catalog.yaml"), "--mesh-chart", f"{ref}/{CHART}", "--mesh-version", ws.v1)
    # helm 3 falls back to plain HTTP for a registry on 127.0.0.1 by itself.
    out = render_mesh_release(env, work, f"{ref}/{CHART}", ws.v1, helm3, helmfile_bin)
    assert f"helm.sh/chart: {CHART}-{ws.v1}" in out
