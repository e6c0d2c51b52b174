"""Real servers on 127.0.0.1 for tests: a static file server (a classic chart repository) and
Debian's ``docker-registry`` (an OCI registry). Both bind to the loopback interface only, on a
free port, and are stopped when the context manager exits.

A missing ``docker-registry`` binary fails the test (it is not skipped).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def require_binary(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed ({hint}); these tests need it and are not skipped", pytrace=False)
    return path


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback only
                resp.read()
                return
        except urllib.error.HTTPError:
            return  # it answers
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer from {url} after {timeout:g}s: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _started(start, probe: str, attempts: int = 3) -> tuple[subprocess.Popen, int]:
    """Start a server on a free port and wait until it answers. The port is free when chosen
    but another process (a parallel test worker) may bind it first: a server that exits before
    answering is started again on another port."""
    for attempt in range(attempts):
        port = free_port()
        proc, log = start(port)
        try:
            _wait_http(f"http://{HOST}:{port}{probe}", proc, log)
            return proc, port
        except RuntimeError:
            exited = proc.poll() is not None  # it could not bind (a timeout is not retried)
            _stop(proc)
            if not exited or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def static_server(directory: Path, log_dir: Path):
    """Serve ``directory`` over HTTP on 127.0.0.1; yields the base URL (no trailing slash)."""
    def start(port: int) -> tuple[subprocess.Popen, Path]:
        log = Path(log_dir) / f"http-{port}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", HOST,
                                     "--directory", str(directory)],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        return proc, log

    proc, port = _started(start, "/")
    try:
        yield f"http://{HOST}:{port}"
    finally:
        _stop(proc)


REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: {host}:{port}
  secret: chartgen-tests-only
"""


@contextlib.contextmanager
def oci_registry(workdir: Path):
    """Run ``docker-registry serve`` with a loopback-only config; yields ``host:port``."""
    binary = require_binary("docker-registry", "apt-get install --no-install-recommends docker-registry")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    def start(port: int) -> tuple[subprocess.Popen, Path]:
        config = workdir / "config.yml"
        config.write_text(REGISTRY_CONFIG.format(root=workdir / "data", host=HOST, port=port), encoding="utf-8")
        log = workdir / f"registry-{port}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([binary, "serve", str(config)], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT)
        return proc, log

    proc, port = _started(start, "/v2/")
    try:
        yield f"{HOST}:{port}"
    finally:
        _stop(proc)
