"""The registry of `posedge` commands: exactly the documented ones, each with a working --help."""

import re
import subprocess
import sys

import pytest

from edge.cli.main import COMMANDS
from tests.support.paths import ROOT

POSEDGE = [sys.executable, "-m", "edge.cli.main"]
NAMES = [command.name for command in COMMANDS]


def documented_commands() -> set[str]:
    """Every command the README and docs/ name in inline code as `posedge COMMAND ...`."""
    texts = [ROOT.joinpath("README.md").read_text()]
    texts += [page.read_text() for page in sorted(ROOT.joinpath("docs").glob("*.md"))]
    return {name for text in texts for name in re.findall(r"`posedge ([a-z][a-z-]*)", text)}


def test_the_registry_holds_exactly_the_documented_commands_once_each():
    assert len(NAMES) == len(set(NAMES))
    assert set(NAMES) == documented_commands()


@pytest.mark.parametrize("name", NAMES)
def test_each_command_prints_its_help_and_exits_0(name):
    result = subprocess.run([*POSEDGE, name, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: posedge {name} ")


def test_posedge_help_lists_every_command_in_the_registrys_order():
    result = subprocess.run([*POSEDGE, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^    ([a-z][a-z-]*)", result.stdout, re.M)
    assert listed == NAMES
