"""Fixtures of the hostile corpus and its generated variants."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="session")
def tool_env(tmp_path_factory) -> tuple[dict, dict]:
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
