"""Issue 24, second pass: the generated bootstrap scripts (``gitops/{argocd,flux}/bootstrap/
<env>.sh``). Every catalog string that reaches a script is either refused by validation or
arrives at ``kubectl`` as the literal argument it was: each script is checked with ``bash -n``
and then executed with a stub ``kubectl`` on PATH that records its argv (no cluster), in a
directory where a ``pwned`` file would show a payload ran."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import run_cli

pytestmark = pytest.mark.integration  # runs bash

# legal kube context names (the schema only bars Go template delimiters and line breaks)
HOSTILE_CONTEXTS = [
    "$(touch pwned)",
    "`touch pwned`",
    "a'b; touch pwned; echo 'c",
    'a"b"$(touch pwned)"',
    "ctx; touch pwned",
    "*",
    "ctx * ? [a] ~ $HOME ${IFS}touch${IFS}pwned",
    "-n; touch pwned #",
    "ctx\\",
    "%s %(context)s",
]

# kubectl stub: one line per call, the arguments separated by NUL, ended by a newline marker;
# "get" fails so every create path runs, and the TLS Secret is reported missing
STUB = """#!/bin/sh
for a in "$@"; do printf '%s\\0' "$a" >> "$KUBECTL_LOG"; done
printf '\\n--end--\\n' >> "$KUBECTL_LOG"
case " $* " in *" get secret shop-tls "*) [ -n "${HAVE_TLS:-}" ] || exit 1 ;; *" get "*) exit 1 ;; esac
exit 0
"""


def _catalog(context: str) -> dict:
    return {
        "apiVersion": "chartgen.io/v1", "kind": "ServiceCatalog",
        "metadata": {"name": "shop", "domain": "shop.example"},
        "environments": {
            "prod": {"production": True, "gateway": {"https": True, "credentialName": "shop-tls"},
                     "kubeContext": context, "kialiAnonymous": False},
        },
        "services": {"web": {"ports": [{"name": "http", "port": 8080}], "expose": {"paths": ["/"]}}},
        "gitops": {"repoURL": "https://git.example.com/shop.git", "revision": "main", "argocd": {"clusters": {"prod": {"server": "https://10.0.0.1:6443"}}}, "flux": {}},
    }


def _calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    calls = []
    for chunk in log.read_bytes().split(b"\n--end--\n"):
        if chunk:
            calls.append([a.decode() for a in chunk.split(b"\0")[:-1]])
    return calls


def _run_and_check(script: Path, shell: str, env: dict, log: Path, context: str) -> None:
    """Run ``script`` with ``shell`` and check what the kubectl stub was given."""
    have_tls = env["HAVE_TLS"]
    p = subprocess.run([shell, str(script)], cwd=log.parent, env=env, capture_output=True, text=True, timeout=60)
    if have_tls:
        assert p.returncode == 0, (p.stdout, p.stderr)
    else:
        assert p.returncode == 1 and "missing TLS secret" in p.stderr, (p.stdout, p.stderr)
    calls = _calls(log)
    # every call made through k() carries the context as one literal argument
    cluster_calls = [c for c in calls if c[:1] == ["--context"]]
    assert all(c[1] == context for c in cluster_calls), calls
    assert ["--context", context, "create", "namespace", "istio-system"] in calls
    assert any(c[0:2] == ["--context", context] and c[-3:] == ["get", "secret", "shop-tls"] for c in calls)
    argo_calls = [c for c in calls if c[:1] != ["--context"]]
    if have_tls and script.parent.parent.name == "argocd":
        assert argo_calls == [
            ["-n", "argocd", "patch", "configmap", "argocd-cm", "--type", "merge", "--patch-file",
             "gitops/argocd/bootstrap/argocd-cm-health.yaml"],
            ["-n", "argocd", "apply", "-f", "gitops/argocd/bootstrap/prod.yaml"]], argo_calls
    else:
        assert argo_calls == [], argo_calls


@pytest.mark.parametrize("context", HOSTILE_CONTEXTS)
def test_hostile_kube_context_reaches_kubectl_verbatim(tmp_path, context):
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(_catalog(context)))
    r = run_cli("generate", cwd=tmp_path)
    assert r.returncode == 0, (r.stdout, r.stderr)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "kubectl").write_text(STUB)
    (bindir / "kubectl").chmod(0o755)
    scripts = sorted(tmp_path.glob("gitops/*/bootstrap/*.sh"))
    assert {s.parent.parent.name for s in scripts} == {"argocd", "flux"}
    bash = shutil.which("bash")
    for script in scripts:
        assert subprocess.run([bash, "-n", str(script)], capture_output=True).returncode == 0, script
        log = tmp_path / f"{script.parent.parent.name}.log"
        env = {"PATH": f"{bindir}:{os.environ['PATH']}", "KUBECTL_LOG": str(log), "HOME": str(tmp_path)}
        for shell, have_tls in ((bash, ""), (shutil.which("sh"), ""), (bash, "1")):
            log.unlink(missing_ok=True)
            _run_and_check(script, shell, {**env, "HAVE_TLS": have_tls}, log, context)
        assert not list(tmp_path.rglob("pwned*")), script
