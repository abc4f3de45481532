"""The `[devices.*]` and `[stations]` tables: what loads, and errors naming file and key."""

from pathlib import Path

import pytest

from edge.config.load import load
from edge.runtime.errors import ConfigError

GOOD = """
[receipt]
printer = "front"
header = ["12 Main St", "Tel 555-0100"]

[devices.kitchen]
kind = "printer"
name = "Kitchen printer"
url = "tcp://10.0.0.31:9100"
backup = "front"
failover_after = 20

[devices.front]
kind = "printer"
url = "serial:///dev/ttyUSB0?baudrate=38400"
profile = "TM-T20II"
width = 42

[devices.till]
kind = "drawer"
printer = "front"
pin = 5

[devices.pole]
kind = "display"
url = "serial:///dev/ttyUSB1?baudrate=9600"
follows = "Counter 1"

[devices.grill-bar]
kind = "bump_bar"
url = "file:///dev/ttyUSB2"
station = "grill"

[stations]
grill = "kitchen"
bar = "front"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "posedge.toml"
    path.write_text(text)
    return path


def test_devices_and_stations_load(tmp_path):
    config = load(write(tmp_path, GOOD))
    devices = config.devices
    kitchen = devices.printers["kitchen"]
    assert (kitchen.name, kitchen.url.host, kitchen.url.port) == (
        "Kitchen printer",
        "10.0.0.31",
        9100,
    )
    assert (kitchen.backup, kitchen.failover_after, kitchen.profile) == ("front", 20.0, "TM-T88V")
    front = devices.printers["front"]
    assert (front.url.path, front.url.serial.baudrate, front.width) == ("/dev/ttyUSB0", 38400, 42)
    assert (devices.drawers["till"].printer, devices.drawers["till"].pin) == ("front", 5)
    assert devices.displays["pole"].follows == "Counter 1"
    assert devices.bump_bars["grill-bar"].station == "grill"
    assert devices.stations == {"grill": "kitchen", "bar": "front"}
    assert config.receipt.header == ("12 Main St", "Tel 555-0100")
    assert config.receipt.printer == "front"


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        (('url = "tcp://10.0.0.31:9100"', 'url = "lpt://x"'), "devices.kitchen.url", "lpt"),
        (('url = "tcp://10.0.0.31:9100"', 'url = "tcp://:99999"'), "devices.kitchen.url", ""),
        (('kind = "drawer"', 'kind = "toaster"'), "devices.till.kind", "must be one of"),
        (('backup = "front"', 'backup = "nowhere"'), "devices.kitchen.backup", "another printer"),
        (('backup = "front"', 'backup = "kitchen"'), "devices.kitchen.backup", "another printer"),
        (('grill = "kitchen"', 'grill = "pole"'), "stations.grill", "must name a printer"),
        (('profile = "TM-T20II"', 'profile = "XP-58"'), "devices.front.profile", "profile"),
        (("width = 42", "width = 400"), "devices.front.width", "between"),
        (("pin = 5", "pin = 3"), "devices.till.pin", "2 or 5"),
        (('printer = "front"\npin', 'printer = "gone"\npin'), "devices.till.printer", "printer"),
        (('follows = "Counter 1"', 'colour = "red"'), "devices.pole.colour", "unknown setting"),
        (('station = "grill"', "station = 3"), "devices.grill-bar.station", "must be str"),
        (("[devices.pole]", "[devices.Pole]"), "devices.Pole", "lowercase"),
        (('printer = "front"\nheader', 'printer = "pole"\nheader'), "receipt.printer", "printer"),
        (("failover_after = 20", "failover_after = 0"), "devices.kitchen.failover_after", ""),
    ],
)
def test_a_bad_device_names_the_file_and_the_key(tmp_path, change, key, reason):
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.path == str(path)
    assert caught.value.key == key
    assert reason in caught.value.reason


def test_a_drawer_needs_a_printer_or_a_url_but_not_both(tmp_path):
    both = GOOD.replace(
        'printer = "front"\npin = 5', 'printer = "front"\nurl = "serial:///dev/ttyS0"'
    )
    with pytest.raises(ConfigError, match=r"devices\.till\.printer"):
        load(write(tmp_path, both))
    neither = GOOD.replace('printer = "front"\npin = 5', "pin = 5")
    with pytest.raises(ConfigError, match=r"devices\.till\.printer"):
        load(write(tmp_path, neither))
    serial = GOOD.replace(
        'printer = "front"\npin = 5', 'url = "serial:///dev/ttyS0"\nopen_byte = 1'
    )
    drawer = load(write(tmp_path, serial)).devices.drawers["till"]
    assert (drawer.printer, drawer.url.path, drawer.open_bytes) == (None, "/dev/ttyS0", b"\x01")


def test_a_receipt_logo_is_found_beside_the_file_or_named_missing(tmp_path):
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    config = load(write(tmp_path, GOOD.replace("[receipt]\n", '[receipt]\nlogo = "logo.png"\n')))
    assert config.receipt.logo == tmp_path / "logo.png"
    missing = GOOD.replace("[receipt]\n", '[receipt]\nlogo = "gone.png"\n')
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, missing))
    assert caught.value.key == "receipt.logo" and "gone.png" in caught.value.reason
