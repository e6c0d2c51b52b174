"""Shared fixtures. `pytest --update-golden` rewrites golden files (review the diff)."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# Fixtures that run an external binary or a server: a test using any of them belongs to the
# integration tier, whatever its module says. The fast tier is `pytest -m "not integration"`.
INTEGRATION_FIXTURES = frozenset({"helm", "helm3", "helmfile_bin", "upstream_charts",
                                  "upstream_repo"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


# The programs a fast-tier test may start, each a few milliseconds and present wherever the
# repository is: git (`generate` asks it for the committed state of the chart) and bash (the
# hostile corpus's setup scripts: symbolic links, modes).
FAST_TIER_PROGRAMS = frozenset({"git", "bash"})


@pytest.fixture(autouse=True)
def _fast_tier_starts_no_process(request, monkeypatch):
    """A test outside the integration tier that starts a process (a chartgen process, helm,
    a server's program…) fails and says so: the fast tier stays pure Python by construction,
    not by convention. Real processes belong to tests marked ``integration``."""
    if request.node.get_closest_marker("integration"):
        return
    real = subprocess.Popen._execute_child

    def guarded(self, args, *rest, **kwargs):
        argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
        if os.path.basename(os.fsdecode(argv[0])) in FAST_TIER_PROGRAMS:
            return real(self, args, *rest, **kwargs)
        command = " ".join(os.fsdecode(a) for a in argv)
        pytest.fail(f"this fast-tier test starts a process ({command[:160]}); run chartgen in-process "
                    "(run_cli) or mark the test integration", pytrace=False)

    monkeypatch.setattr(subprocess.Popen, "_execute_child", guarded)


# Each test process (each xdist worker) gets a chartgen user cache of its own, for the whole
# session: the suite never reads or writes the real ~/.cache/chartgen, and what one run left
# there (or another user wrote) cannot change its results.
_CACHE_HOME: str | None = None


def pytest_configure(config):
    global _CACHE_HOME
    import tempfile

    _CACHE_HOME = tempfile.mkdtemp(prefix="chartgen-test-cache-")
    os.environ["XDG_CACHE_HOME"] = _CACHE_HOME


def pytest_unconfigure(config):
    if _CACHE_HOME:
        shutil.rmtree(_CACHE_HOME, ignore_errors=True)


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files instead of comparing")


@pytest.fixture(scope="session")
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


@pytest.fixture
def golden(update_golden):
    """golden(path, actual): compare ``actual`` with the file at ``path`` (or rewrite it)."""

    def check(path: Path, actual: str):
        if update_golden or not path.exists():
            if not update_golden:
                pytest.fail(f"golden file {path} is missing; run pytest --update-golden and review it")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"output differs from {path.relative_to(ROOT)} (pytest --update-golden rewrites it)"

    return check


@pytest.fixture(scope="session")
def helm_env(tmp_path_factory) -> dict:
    """An environment that keeps helm's state out of $HOME."""
    base = tmp_path_factory.mktemp("helm-home")
    env = dict(os.environ)
    env.update(
        HELM_CONFIG_HOME=str(base / "config"),
        HELM_CACHE_HOME=str(base / "cache"),
        HELM_DATA_HOME=str(base / "data"),
        HELMFILE_UPGRADE_NOTICE_DISABLED="1",
    )
    return env


def _tool(name: str) -> str:
    from chartgen.base.toolchain import ToolNotFound, find_tool

    try:
        return find_tool(name, start=ROOT).path
    except ToolNotFound as exc:
        pytest.fail(f"{name} is required for this test and was not found ({exc}); run `make setup`")


@pytest.fixture(scope="session")
def helm() -> str:
    return _tool("helm")


@pytest.fixture(scope="session")
def helm3() -> str:
    return _tool("helm3")


@pytest.fixture(scope="session")
def helmfile_bin() -> str:
    return _tool("helmfile")


@pytest.fixture
def repo_copy(tmp_path) -> Path:
    """A copy of the repository's catalog in a fresh directory (outputs go there)."""
    shutil.copy(ROOT / "catalog.yaml", tmp_path / "catalog.yaml")
    return tmp_path


@pytest.fixture(scope="session")
def generated_once(tmp_path_factory) -> Path:
    """The repository's catalog generated once per test process (each xdist worker has its
    own). Never modify it: take a copy through `generated`."""
    from chartgen.lifecycle.generate import generate

    root = tmp_path_factory.mktemp("generated-once")
    shutil.copy(ROOT / "catalog.yaml", root / "catalog.yaml")
    generate(root / "catalog.yaml")
    return root


@pytest.fixture
def generated(generated_once, tmp_path) -> Path:
    """A private copy of the repository's catalog and its generated outputs (as after a first
    `chartgen generate`), in a fresh directory."""
    root = tmp_path / "project"
    shutil.copytree(generated_once, root, symlinks=True)
    return root


class CliTimeout(BaseException):
    """A run of `run_cli` over its time limit (a BaseException: no error guard catches it)."""


@contextlib.contextmanager
def _limited(timeout: float | None, memory: int | None):
    """What a child process's limits would do, for a run in this process: SIGALRM after
    ``timeout`` seconds; at most ``memory`` more bytes of address space (RLIMIT_AS)."""
    old_handler = old_as = None
    if timeout:
        def expire(signum, frame):
            raise CliTimeout(f"did not finish within {timeout}s")

        old_handler = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    if memory:
        old_as = resource.getrlimit(resource.RLIMIT_AS)
        in_use = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (in_use + memory, old_as[1]))
    try:
        yield
    finally:
        if old_as is not None:
            resource.setrlimit(resource.RLIMIT_AS, old_as)
        if old_handler is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None,
            timeout: float | None = 300, memory: int | None = None) -> subprocess.CompletedProcess:
    """Run ``chartgen *args`` in this process (click's test runner) and return what the real
    process would: its exit code, stdout and stderr. ``cwd`` and ``env`` (the whole
    environment, as for subprocess) hold for the run only; an exception that escapes the
    error guard is printed as the interpreter would (a traceback, exit 1). ``timeout``
    (seconds) fails the test; ``memory`` (bytes) limits what the run may allocate, and
    running out is the MemoryError a limited process would meet. Tests about the process
    itself (signals, locks between processes, pipes, start-up) use `run_cli_process` and are
    integration tests."""
    from click.testing import CliRunner

    from chartgen.cli import cli

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        try:
            with _limited(timeout, memory):
                result = CliRunner().invoke(cli, list(args), input=input, prog_name="chartgen")
        except CliTimeout as exc:
            pytest.fail(f"chartgen {' '.join(args)} {exc}", pytrace=False)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["chartgen", *args], result.exit_code, result.stdout, stderr)


def run_cli_process(*args: str, cwd: Path | None = None, env: dict | None = None,
                    input: str | None = None) -> subprocess.CompletedProcess:
    """Run the real `python -m chartgen` process (integration tier)."""
    return subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=cwd, env=env, input=input,
                          capture_output=True, text=True, timeout=300)


UPSTREAM_ENV = "CHARTGEN_UPSTREAM_CHARTS"


def skip_or_fail_without_upstream(reason: str):
    """Skip a test that needs the real upstream charts, or fail it under CI (``CI=true``):
    there a missing input is a failure, never a skip."""
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"{reason}; CI runs every test (set it, see .ci/run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def upstream_charts() -> Path:
    """The directory of a chart repository holding the real upstream charts at the pinned
    versions (``index.yaml`` plus archives), named by $CHARTGEN_UPSTREAM_CHARTS. CI sets it;
    without it the tests that need the real charts are skipped with a one-line reason, except
    under CI (``CI=true``), where they fail."""
    value = os.environ.get(UPSTREAM_ENV)
    if not value:
        skip_or_fail_without_upstream(f"${UPSTREAM_ENV} is not set (a chart repository of the real upstream charts)")
    path = Path(value)
    if not (path / "index.yaml").is_file():
        pytest.fail(f"${UPSTREAM_ENV}={value} holds no index.yaml", pytrace=False)
    return path


@pytest.fixture(scope="session")
def upstream_repo(upstream_charts, tmp_path_factory):
    """The real upstream charts served as a chart repository on 127.0.0.1; yields its URL."""
    from helpers.servers import static_server

    with static_server(upstream_charts, tmp_path_factory.mktemp("upstream-log")) as url:
        yield url


@pytest.fixture(scope="session")
def tool_env(tmp_path_factory) -> tuple[dict, dict]:
    """(helm, helm3 and helmfile paths, an environment keeping helm's state in a temporary
    directory) for the hostile corpus and its generated variants. It lives here, not in a
    ``tests/hostile/conftest.py``: a second module named ``conftest`` would shadow this one for
    every ``from conftest import …`` in a whole-suite run."""
    from chartgen.base.toolchain import ToolNotFound, find_tool

    tools = {}
    for name in ("helm", "helm3", "helmfile"):
        try:
            tools[name] = find_tool(name, start=ROOT).path
        except ToolNotFound as exc:
            pytest.fail(f"{name} is required and was not found ({exc}); run `make setup`")
    base = tmp_path_factory.mktemp("hostile-helm")
    env = dict(os.environ, HELM_CONFIG_HOME=str(base / "config"), HELM_CACHE_HOME=str(base / "cache"),
               HELM_DATA_HOME=str(base / "data"), HELMFILE_UPGRADE_NOTICE_DISABLED="1")
    return tools, env
