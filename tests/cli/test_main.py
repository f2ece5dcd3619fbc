"""The `offerlab` group itself: its commands, help and version, and `validate` through it."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from offerlab import __version__
from offerlab.cli import main

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = (
    "validate",
    "analyze",
    "schema",
    "apply",
    "report",
    "status",
    "db",
    "keys",
    "bandits",
    "guardrails",
    "simulate",
    "serve",
    "demo",
    "power",
)


def listed_commands(help_text: str) -> set[str]:
    section = help_text.split("Commands:", 1)[1]
    return {match for match in re.findall(r"^  (\S+)", section, flags=re.MULTILINE)}


def test_help_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])

    assert result.exit_code == 0
    assert listed_commands(result.stdout) == set(COMMANDS)


@pytest.mark.parametrize(
    ("group", "subcommands"),
    [("db", {"upgrade"}), ("keys", {"create", "list", "revoke"}), ("bandits", {"update"})],
)
def test_group_help_lists_its_subcommands(group, subcommands):
    result = CliRunner().invoke(main, [group, "--help"])

    assert result.exit_code == 0
    assert listed_commands(result.stdout) == subcommands


def test_help_of_apply_and_report_documents_their_options():
    apply_help = CliRunner().invoke(main, ["apply", "--help"]).stdout
    report_help = CliRunner().invoke(main, ["report", "--help"]).stdout

    assert "--dry-run" in apply_help
    assert "[table|json|csv]" in report_help


def test_version_option_prints_the_package_version():
    result = CliRunner().invoke(main, ["--version"])

    assert result.exit_code == 0
    assert result.stdout == f"offerlab, version {__version__}\n"


def test_validate_the_examples_through_the_main_group():
    result = CliRunner().invoke(main, ["validate", str(ROOT / "experiments")])

    assert result.exit_code == 0, result.output
    assert result.stdout == "3 experiments OK\n"


def test_the_installed_console_script_and_python_m_agree():
    # Run from the repository root: the `platform/` folder must not shadow the stdlib there.
    script = str(Path(sysconfig.get_path("scripts")) / "offerlab")
    for command in ([script, "--help"], [sys.executable, "-m", "offerlab", "--help"]):
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert listed_commands(done.stdout) == set(COMMANDS)


def test_an_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(main, ["frobnicate"])

    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr
