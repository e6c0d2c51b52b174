"""The README's helmfile commands, verbatim, with the project's tools on PATH.

``make setup`` puts helm 4 (as ``helm``), helm 3 (``helm3``) and helmfile 0.166 (behind a
wrapper that runs it with helm 3) into ``.tools/bin``. Every ``helmfile`` command of the
README runs here exactly as written, with ``.tools/bin`` first on PATH, in a tree generated
with ``--chart-mirror`` pointing at the real upstream charts on 127.0.0.1: the commands that
need no cluster (lint, template, list) must succeed; those that do (sync) must get as far as
the cluster, which here is a closed port, and fail there, never earlier (helmfile 0.166
driving helm 4 panics before it reaches the cluster).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.servers]

TOOLS_BIN = ROOT / ".tools" / "bin"
NO_CLUSTER = {"lint", "template", "list", "build"}
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: closed, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: nobody, user: {}}]
contexts:
%s
current-context: kind-bytefreezer-dev
"""


def readme_helmfile_commands() -> list[str]:
    """Every `helmfile …` line of the README's bash blocks, comments removed."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("helmfile "):
                out.append(line)
    return out


def test_readme_names_the_commands():
    commands = readme_helmfile_commands()
    verbs = {shlex.split(c)[-1] for c in commands}
    assert {"lint", "template", "list", "sync"} <= verbs
    assert "helmfile -e dev sync" in commands


@pytest.fixture(scope="module")
def tree(upstream_repo, tmp_path_factory, helm_env) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("readme")
    shutil.copy(ROOT / "catalog.yaml", root / "catalog.yaml")
    proc = run_cli("generate", "--chart-mirror", upstream_repo, cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert (TOOLS_BIN / "helmfile").is_file(), "run `make setup`"
    contexts = "\n".join(f"  - {{name: {c}, context: {{cluster: closed, user: nobody}}}}"
                         for c in ("kind-bytefreezer-dev", "bytefreezer-prod"))
    (root / "kubeconfig").write_text(KUBECONFIG % contexts, encoding="utf-8")
    (root / "kubeconfig").chmod(0o600)
    env = {k: v for k, v in helm_env.items() if not k.startswith(("HELMFILE_V1MODE", "CHARTGEN_"))}
    env.update(PATH=f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}", KUBECONFIG=str(root / "kubeconfig"))
    return root, env


@pytest.mark.parametrize("mode", ["default", "v1"])
@pytest.mark.parametrize("command", readme_helmfile_commands())
def test_readme_command_runs_verbatim(tree, command, mode):
    root, env = tree
    env = dict(env, **({"HELMFILE_V1MODE": "true"} if mode == "v1" else {}))
    proc = subprocess.run(shlex.split(command), cwd=root, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert "panic" not in output and "unknown flag: --client" not in output, output[-2000:]
    if shlex.split(command)[-1] in NO_CLUSTER:
        assert proc.returncode == 0, output[-2000:]
    else:
        assert proc.returncode != 0
        assert "Kubernetes cluster unreachable" in output and "127.0.0.1:9" in output, output[-2000:]


def test_project_helmfile_panics_with_helm_4_without_the_wrapper(tree):
    """Why the wrapper exists: the pinned helmfile itself, given helm 4, panics."""
    root, env = tree
    real = ROOT / ".tools" / "libexec" / "helmfile"
    proc = subprocess.run([str(real), "-b", str(TOOLS_BIN / "helm"), "-e", "dev", "list"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "unknown flag: --client" in proc.stdout + proc.stderr
