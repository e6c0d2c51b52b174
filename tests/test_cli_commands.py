"""Every command is registered one way: a module in chartgen/commands/ defining ``command``,
and one row in ``cli.COMMANDS`` (its module and its summary line of ``chartgen --help``)."""

from __future__ import annotations

import importlib
from pathlib import Path

import click
from click.testing import CliRunner

from chartgen.cli import COMMANDS, cli

COMMANDS_DIR = Path(__file__).resolve().parent.parent / "chartgen" / "commands"
SHARED = {"__init__", "common", "options"}  # the helpers every command module may use


def test_every_command_module_is_registered_and_every_row_has_its_module():
    modules = {p.stem for p in COMMANDS_DIR.glob("*.py")} - SHARED
    registered = {module.rsplit(".", 1)[1] for module, _ in COMMANDS.values()}
    assert modules == registered, "add a row to chartgen.cli.COMMANDS for each command module (and only for those)"


def test_each_summary_is_its_commands_own_first_sentence():
    for name, (module, summary) in COMMANDS.items():
        command = importlib.import_module(module).command
        assert isinstance(command, click.Command) and command.name == name, name
        if command.hidden:
            assert summary is None, f"cli.COMMANDS[{name!r}]: a hidden command has no summary (None)"
            continue
        assert command.get_short_help_str(limit=1000) == summary, \
            f"cli.COMMANDS[{name!r}]: the summary is the docstring's first sentence"


def test_help_lists_every_command_with_its_summary():
    out = CliRunner().invoke(cli, ["--help"], terminal_width=100).output
    listed = out.split("Commands:\n", 1)[1].splitlines()
    shown = sorted(name for name, (_, summary) in COMMANDS.items() if summary is not None)
    assert [line.split()[0] for line in listed if line.startswith("  ") and not line.startswith("   ")] == shown
    assert "  validate  Check the catalog and report every problem at once." in out


def test_an_unknown_command_is_a_usage_error():
    r = CliRunner().invoke(cli, ["nonsense"])
    assert r.exit_code == 2 and "No such command 'nonsense'" in r.output
