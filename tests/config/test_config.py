"""Configuration: defaults, validation naming file and key, the CLI's exit status, docs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config.load import from_values, load
from edge.config.model import KdsSettings, PrintSettings, ReceiptConfig, UpstreamConfig
from edge.config.settings import SETTINGS
from edge.runtime.errors import ConfigError
from tests.support.paths import ROOT

DOCS = ROOT / "docs" / "configuration.md"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "posedge.toml"
    path.write_text(text)
    return path


def test_a_full_file_loads_and_a_relative_state_dir_is_beside_it(tmp_path):
    path = write(
        tmp_path,
        """
[store]
id = "bk-0042"
timezone = "Europe/Paris"
rollover_hour = 5
[node]
name = "kitchen"
letter = "K"
[paths]
state_dir = "state"
[daemon]
shutdown_timeout = 3
""",
    )
    config = load(path)
    assert (config.store.id, config.store.timezone, config.store.rollover_hour) == (
        "bk-0042",
        "Europe/Paris",
        5,
    )
    assert (config.node.name, config.node.letter) == ("kitchen", "K")
    assert config.state_dir == tmp_path / "state"
    assert config.shutdown_timeout == 3.0
    assert config.store.name == "Demo Store"  # default kept


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[store]\nidd = 'x'\n", "store.idd", "unknown setting"),
        ("[stor]\nid = 'x'\n", "stor", "unknown table"),
        ("[store]\nrollover_hour = '4'\n", "store.rollover_hour", "must be an integer"),
        ("[store]\nrollover_hour = 27\n", "store.rollover_hour", "between 0 and 23"),
        ("[store]\nrollover_hour = true\n", "store.rollover_hour", "must be an integer"),
        ("[store]\ntimezone = 'Mars/Olympus'\n", "store.timezone", "IANA time zone"),
        ("[store]\nid = 'has space'\n", "store.id", "letters, digits"),
        ("[node]\nletter = 'ab'\n", "node.letter", "one capital letter"),
        ("[log]\nlevel = 'loud'\n", "log.level", "one of debug"),
        ("[daemon]\nshutdown_timeout = -1\n", "daemon.shutdown_timeout", "between"),
        ("[store\nid = 1", "(syntax)", "line 1"),
    ],
)
def test_bad_config_names_the_file_the_key_and_the_reason(tmp_path, text, key, reason):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load(path)
    error = raised.value
    assert (error.path, error.key) == (str(path), key)
    assert reason in error.reason
    assert str(error).startswith(f"{path}: {key}: ")


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.toml")


def test_posedge_run_exits_78_with_the_file_and_key_on_a_bad_config(tmp_path):
    path = write(tmp_path, "[node]\nletter = 7\n")
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli.main", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 78
    assert f"{path}: node.letter: must be a string, not int 7" in result.stderr


def test_defaults_are_valid():
    config = from_values({})
    assert config.source == "<defaults>"
    assert config.store_path.name == "orders.db"


def test_the_sections_built_without_values_have_the_tables_defaults():
    config = from_values({})
    assert PrintSettings() == config.print
    assert KdsSettings() == config.kds
    assert UpstreamConfig() == config.upstream
    receipt = config.receipt
    assert ReceiptConfig(receipt.printer, receipt.header, receipt.footer) == receipt


def test_every_setting_is_documented_with_its_default():
    text = DOCS.read_text()
    rows = dict(re.findall(r"^\| `([a-z_.]+)` \| \w+ \| `([^`]*)` \|", text, re.M))
    assert set(rows) == {s.key for s in SETTINGS}
    for setting in SETTINGS:
        default = setting.default
        shown = str(default).lower() if isinstance(default, bool) else repr(default)
        assert rows[setting.key] == shown.replace("'", '"'), setting.key  # as TOML writes it
