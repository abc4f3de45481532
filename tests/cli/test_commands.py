"""The registry of `posedge` commands: exactly the documented ones, each with a working --help."""

import os
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


def test_what_posedge_creates_is_its_users_alone_whatever_the_umask(tmp_path):
    state = tmp_path / "state"
    for command in (["init"], ["join-code"], ["pair", "Till 2", "--manager"]):
        result = subprocess.run(
            [*POSEDGE, *command, "--state-dir", str(state)],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=lambda: os.umask(0o022),  # what a shell gives a command run by hand
        )
        assert result.returncode == 0, (command, result.stderr)
    made = [state, *state.rglob("*")]
    assert {p.name for p in made} >= {"state", "trust", "ca.key", "node.key", "node.db"}
    loose = {str(p.relative_to(tmp_path)): oct(p.stat().st_mode & 0o777) for p in made}
    # certificates are public (inside a directory of 0700 all the same); all else is private
    wanted = {
        name: "0o700"
        if (tmp_path / name).is_dir()
        else "0o644"
        if name.endswith(".pem")
        else "0o600"
        for name in loose
    }
    assert loose == wanted
