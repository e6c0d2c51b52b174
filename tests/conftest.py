"""Shared fixtures. `pytest --update-golden` rewrites golden files (review the diff)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
    from chartgen.toolchain import ToolNotFound, find_tool

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


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `chartgen` process."""
    return subprocess.run([sys.executable, "-m", "chartgen", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


UPSTREAM_ENV = "CHARTGEN_UPSTREAM_CHARTS"


@pytest.fixture(scope="session")
def upstream_charts() -> Path:
    """The directory of a chart repository holding the real upstream charts at the pinned
    versions (``index.yaml`` plus archives), named by $CHARTGEN_UPSTREAM_CHARTS. CI sets it;
    without it the tests that need the real charts are skipped with a one-line reason."""
    value = os.environ.get(UPSTREAM_ENV)
    if not value:
        pytest.skip(f"${UPSTREAM_ENV} is not set (a chart repository of the real upstream charts)")
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
    from chartgen.toolchain import ToolNotFound, find_tool

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
