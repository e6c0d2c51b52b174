"""The one tool runner (``chartgen.base.toolchain.run``/``start``) and the one ``ToolError``: real
processes that fail, print, hang or are missing, and the messages the user gets for them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from chartgen.base import toolchain
from chartgen.cli import cli
from chartgen.base.errors import ChartgenError, ToolError, ToolNotFound, failure_detail
from chartgen.base.toolchain import Tool, find_tool, run, start

pytestmark = pytest.mark.integration  # runs real processes


def _script(path: Path, body: str) -> Tool:
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(0o755)
    return Tool("helm", str(path), "option")


HELM_FAILURE = """echo 'walk.go:74: found symbolic link in path' >&2
echo 'Error: values don'"'"'t meet the specifications of the schema(s):' >&2
echo 'mesh:' >&2
echo "- at '/services': got string, want object" >&2
echo >&2
echo 'Use --debug flag to render out invalid YAML' >&2
echo 'partial output'
exit 3"""


def test_a_failing_tool_raises_one_error_with_its_command_exit_code_and_stderr(tmp_path):
    tool = _script(tmp_path / "helm", HELM_FAILURE)
    with pytest.raises(ToolError) as info:
        run(tool, "template", "mesh", "./chart", what="helm template for environment dev")
    err = info.value
    assert isinstance(err, ChartgenError) and err.exit_code == 1
    assert err.command == (str(tmp_path / "helm"), "template", "mesh", "./chart")
    assert err.returncode == 3
    assert "found symbolic link" in err.stderr and "Use --debug" in err.stderr  # all of it, for --debug
    # the message: what ran, its exit code and helm's own error paragraph, without its noise
    assert str(err) == ("helm template for environment dev exited 3: values don't meet the specifications of "
                        "the schema(s):\nmesh:\n- at '/services': got string, want object")
    assert err.detail.startswith("values don't meet")


def test_a_tool_without_an_error_line_is_reported_by_its_last_line(tmp_path):
    tool = _script(tmp_path / "helm", "echo starting >&2; echo 'no such chart: base' >&2; exit 1")
    with pytest.raises(ToolError, match=r"^helm pull exited 1: no such chart: base$"):
        run(tool, "pull", "base")
    silent = _script(tmp_path / "quiet", "exit 4")
    with pytest.raises(ToolError, match=r"^helm exited 4$") as info:
        run(silent, "--flag")
    assert info.value.returncode == 4 and info.value.stderr == ""


def test_without_check_the_exit_code_is_the_callers_answer(tmp_path):
    tool = _script(tmp_path / "helm", "echo 'Error: not found' >&2; exit 1")
    proc = run(tool, "pull", "x", check=False)
    assert proc.returncode == 1 and failure_detail(proc.stderr, proc.stdout) == "not found"


def test_the_tool_gets_the_tool_environment_the_extra_variables_and_no_stdin(tmp_path):
    tool = _script(tmp_path / "helm", 'echo "$HELMFILE_UPGRADE_NOTICE_DISABLED $HELM_CACHE_HOME"; cat; echo end')
    proc = run(tool, "env", env={"HELM_CACHE_HOME": tmp_path / "cache"})  # `cat` must not wait for a terminal
    assert proc.stdout == f"1 {tmp_path / 'cache'}\nend\n"
    assert run(tool, "env", input="from stdin\n").stdout.splitlines()[1] == "from stdin"


def test_a_tool_that_hangs_is_stopped_after_its_time(tmp_path, monkeypatch):
    monkeypatch.setitem(toolchain.TIMEOUTS, "helm", 0.5)
    tool = _script(tmp_path / "helm", "echo 'pulling' >&2; exec sleep 30")
    began = time.monotonic()
    with pytest.raises(ToolError) as info:
        run(tool, "pull", "base")
    assert time.monotonic() - began < 10
    assert str(info.value) == "helm pull timed out after 0.5s"
    assert info.value.returncode is None and info.value.command[1:] == ("pull", "base")

    running = start(tool, "pull", "base", what="helm pull of istio/base")
    with pytest.raises(ToolError, match=r"^helm pull of istio/base timed out after 0\.5s$"):
        running.wait()
    assert running.proc.poll() is not None  # killed, not left behind


def test_a_started_tool_reads_its_stdin_and_reports_like_run(tmp_path):
    tool = _script(tmp_path / "helm", "while read line; do echo \"got $line\"; done; echo 'Error: bad input' >&2; exit 2")
    running = start(tool, "read", stdin=True)
    running.proc.stdin.write("a\nb\n")
    running.proc.stdin.close()
    running.proc.stdin = None
    with pytest.raises(ToolError, match=r"^helm read exited 2: bad input$") as info:
        running.wait()
    assert info.value.returncode == 2
    again = start(tool, "read")  # stdin closed: it reads nothing and ends
    assert again.wait(check=False).stdout == ""


def test_a_missing_or_unusable_binary_is_one_tool_error(tmp_path):
    with pytest.raises(ToolError, match=r"^cannot run .*/absent: No such file or directory$") as info:
        run(Tool("helm", str(tmp_path / "absent"), "option"), "version")
    assert info.value.returncode is None
    plain = tmp_path / "not-executable"
    plain.write_text("#!/bin/sh\nexit 0\n")
    with pytest.raises(ToolError, match=r"^cannot run .*/not-executable: Permission denied$"):
        run(Tool("helm", str(plain), "option"), "version")
    with pytest.raises(ToolError) as found:  # a lookup that finds nothing is the same error type
        find_tool("helm", str(tmp_path / "absent"))
    assert isinstance(found.value, ToolNotFound) and "does not exist" in str(found.value)


def _graph(args: list[str], tmp_path: Path):
    catalog = Path(__file__).resolve().parent.parent / "catalog.yaml"
    return CliRunner().invoke(cli, ["graph", "-c", str(catalog), "-o", str(tmp_path / "mesh.svg"), *args])


def test_the_user_gets_one_line_and_exit_1_for_a_failing_a_hanging_and_a_missing_tool(tmp_path, monkeypatch):
    failing = _script(tmp_path / "dot", "echo 'Error: <stdin>: syntax error in line 1 near x' >&2; exit 1")
    res = _graph(["--format", "svg", "--dot", failing.path], tmp_path)
    assert res.exit_code == 1
    assert res.output == "error: dot -Tsvg exited 1: <stdin>: syntax error in line 1 near x\n"

    monkeypatch.setitem(toolchain.TIMEOUTS, "dot", 0.5)
    hanging = _script(tmp_path / "slow-dot", "exec sleep 30")
    res = _graph(["--format", "png", "--dot", hanging.path], tmp_path)
    assert (res.exit_code, res.output) == (1, "error: dot -Tpng timed out after 0.5s\n")

    res = _graph(["--format", "svg", "--dot", str(tmp_path / "no-dot")], tmp_path)
    assert res.exit_code == 1 and res.output.count("\n") == 1
    assert res.output.startswith("error: --format svg needs Graphviz: dot: option=") and "does not exist" in res.output
    assert not (tmp_path / "mesh.svg").exists()
