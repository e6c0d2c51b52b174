"""Stand-in Helm charts and a local chart repository for offline helmfile tests.

A stand-in chart has the name and version of a real chart, and one template: a ConfigMap
that holds the release name, namespace, chart and the values the release received
(``toYaml .Values``). Packaged and indexed into a directory, served by
``python3 -m http.server`` on 127.0.0.1, it stands in for the upstream repositories
through the helmfile's ``chart_mirror``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import yaml

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ printf "%s-standin" .Release.Name | trunc 63 | trimSuffix "-" }}
  namespace: {{ .Release.Namespace }}
  labels:
    standin: "true"
data:
  release: {{ .Release.Name | quote }}
  namespace: {{ .Release.Namespace | quote }}
  chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
  values.yaml: |
{{ toYaml .Values | indent 4 }}
"""


def helm_env(home: Path) -> dict:
    """Environment for helm/helmfile with helm's state kept under ``home``."""
    env = dict(os.environ)
    for var, sub in (("HELM_CONFIG_HOME", "config"), ("HELM_CACHE_HOME", "cache"), ("HELM_DATA_HOME", "data")):
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    env["HELMFILE_UPGRADE_NOTICE_DISABLED"] = "1"
    env.pop("HELMFILE_V1MODE", None)
    return env


def write_standin_chart(directory: Path, name: str, version: str, description: str = "stand-in chart") -> Path:
    """A chart directory ``directory/name`` that dumps its values into a ConfigMap."""
    chart = directory / name
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v2", "name": name, "version": version, "appVersion": version,
        "description": description, "type": "application",
    }, sort_keys=False), encoding="utf-8")
    (chart / "values.yaml").write_text("{}\n", encoding="utf-8")
    (chart / "templates" / "configmap.yaml").write_text(CONFIGMAP, encoding="utf-8")
    return chart


def build_chart_repo(repo_dir: Path, charts: list[tuple[str, str]], *, helm: str, env: dict, url: str) -> Path:
    """Package a stand-in for each (name, version) into ``repo_dir`` and index it for ``url``."""
    src = repo_dir.parent / (repo_dir.name + "-src")
    repo_dir.mkdir(parents=True, exist_ok=True)
    for name, version in charts:
        chart = write_standin_chart(src, name, version)
        subprocess.run([helm, "package", str(chart), "-d", str(repo_dir)], check=True, env=env,
                       capture_output=True, text=True)
    subprocess.run([helm, "repo", "index", str(repo_dir), "--url", url], check=True, env=env,
                   capture_output=True, text=True)
    return repo_dir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def http_server(directory: Path, port: int, timeout: float = 10.0):
    """Serve ``directory`` on 127.0.0.1:``port`` until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.yaml", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chart repository server on port {port} did not start")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def standin_configmaps(rendered: str) -> dict[str, dict]:
    """From ``helm(file) template`` output: release name → {namespace, chart, values}."""
    out = {}
    for doc in yaml.safe_load_all(rendered):
        if not isinstance(doc, dict) or doc.get("kind") != "ConfigMap":
            continue
        if (doc.get("metadata", {}).get("labels") or {}).get("standin") != "true":
            continue
        data = doc["data"]
        out[data["release"]] = {
            "namespace": data["namespace"],
            "chart": data["chart"],
            "values": yaml.safe_load(data["values.yaml"]) or {},
        }
    return out
