"""The devices a node drives and the kitchen routing, from the `[devices.*]` and `[stations]`
tables: the node's own devices from its configuration file, the store's network devices and
stations from the store document (store_settings.py). Pure logic: parsing and validation.

```toml
[devices.kitchen]                      # a receipt or kitchen printer
kind = "printer"
url = "tcp://10.0.0.31:9100"
backup = "front"                       # another printer that takes its jobs ...
failover_after = 15                    # ... once it has been unusable this many seconds

[devices.till]                         # a cash drawer on the front printer's kick port
kind = "drawer"
printer = "front"

[stations]                             # catalog station -> a printer of the store
grill = "kitchen"
```

A serial, USB or file device belongs to the node it is plugged into; a network device and
every station belong to the store. A station may name a printer of any node: the node that
drives that printer prints its tickets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from escpos import capabilities

from drivers.device_url import DeviceUrl, parse_device_url
from drivers.errors import BadDeviceUrl
from edge.runtime.errors import ConfigError

DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
KINDS = ("printer", "drawer", "display", "bump_bar")


@dataclass(frozen=True, slots=True)
class PrinterConfig:
    id: str
    name: str
    url: DeviceUrl
    profile: str
    width: int
    backup: str | None
    failover_after: float


@dataclass(frozen=True, slots=True)
class DrawerConfig:
    """A drawer kicked through `printer`'s drawer port, or a serial drawer at `url`."""

    id: str
    name: str
    printer: str | None
    pin: int
    url: DeviceUrl | None
    open_bytes: bytes


@dataclass(frozen=True, slots=True)
class DisplayConfig:
    """A customer line display; shows orders written by terminals named `follows`."""

    id: str
    name: str
    url: DeviceUrl
    follows: str | None


@dataclass(frozen=True, slots=True)
class BumpBarConfig:
    id: str
    name: str
    url: DeviceUrl
    station: str


@dataclass(frozen=True, slots=True)
class DeviceSettings:
    """Every device this node knows (its own and the store's), by id, and which printer each
    station's tickets go to (a printer of another node, too)."""

    printers: dict[str, PrinterConfig] = field(default_factory=dict)
    drawers: dict[str, DrawerConfig] = field(default_factory=dict)
    displays: dict[str, DisplayConfig] = field(default_factory=dict)
    bump_bars: dict[str, BumpBarConfig] = field(default_factory=dict)
    stations: dict[str, str] = field(default_factory=dict)
    network: dict[str, str] = field(default_factory=dict)  # the store's device -> preferred node

    def names(self) -> dict[str, str]:
        """Device id -> human name, for every device."""
        groups = (self.printers, self.drawers, self.displays, self.bump_bars)
        return {device_id: d.name for group in groups for device_id, d in group.items()}


class _Table:
    """One `[devices.ID]` table being read: takes keys, and complains about the rest."""

    def __init__(self, source: str, device_id: str, table: dict) -> None:
        self.source = source
        self.prefix = f"devices.{device_id}"
        self.table = dict(table)

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.source, f"{self.prefix}.{key}", reason)

    def take(self, key: str, kind: type, default: object = ..., check: Callable | None = None):
        if key not in self.table:
            if default is ...:
                raise self.error(key, "is required")
            return default
        value = self.table.pop(key)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.error(key, f"must be {kind.__name__}, not {type(value).__name__} {value!r}")
        problem = check(value) if check else None
        if problem:
            raise self.error(key, f"{problem} (got {value!r})")
        return value

    def url(self, key: str = "url", *, required: bool = True) -> DeviceUrl | None:
        text = self.take(key, str, ... if required else None)
        if text is None:
            return None
        try:
            return parse_device_url(text)
        except BadDeviceUrl as exc:
            raise self.error(key, str(exc)) from None

    def finish(self) -> None:
        if self.table:
            key = sorted(self.table)[0]
            raise self.error(key, "unknown setting; see docs/devices.md")


def _kind(value: str) -> str | None:
    return None if value in KINDS else f"must be one of {', '.join(KINDS)}"


def _profile(value: str) -> str | None:
    if value in capabilities.CAPABILITIES["profiles"]:
        return None
    return "is not a python-escpos printer profile (e.g. TM-T88V, TM-T20II, TM-T88IV, default)"


def _between(low: float, high: float) -> Callable[[float], str | None]:
    return lambda value: None if low <= value <= high else f"must be between {low} and {high}"


def _read_printer(t: _Table, device_id: str, name: str) -> PrinterConfig:
    return PrinterConfig(
        id=device_id,
        name=name,
        url=t.url(),
        profile=t.take("profile", str, "TM-T88V", _profile),
        width=t.take("width", int, 48, _between(24, 64)),
        backup=t.take("backup", str, None),
        failover_after=t.take("failover_after", float, 15.0, _between(1, 3600)),
    )


def _read_drawer(t: _Table, device_id: str, name: str) -> DrawerConfig:
    printer = t.take("printer", str, None)
    url = t.url(required=False)
    if (printer is None) == (url is None):
        raise t.error("printer", 'give either printer = "<printer id>" or url = "serial://…"')
    open_byte = t.take("open_byte", int, 7, _between(0, 255))
    return DrawerConfig(
        id=device_id,
        name=name,
        printer=printer,
        pin=t.take("pin", int, 2, lambda v: None if v in (2, 5) else "must be 2 or 5"),
        url=url,
        open_bytes=bytes([open_byte]),
    )


def _read_display(t: _Table, device_id: str, name: str) -> DisplayConfig:
    return DisplayConfig(device_id, name, t.url(), t.take("follows", str, None))


def _read_bump_bar(t: _Table, device_id: str, name: str) -> BumpBarConfig:
    return BumpBarConfig(device_id, name, t.url(), t.take("station", str))


_READERS = {
    "printer": _read_printer,
    "drawer": _read_drawer,
    "display": _read_display,
    "bump_bar": _read_bump_bar,
}


def parse_devices(
    devices: object, stations: object, source: str, elsewhere: frozenset[str] = frozenset()
) -> DeviceSettings:
    """DeviceSettings from the `devices` and `stations` tables, where stations may also name
    the printers of other nodes (`elsewhere`); raises ConfigError."""
    if not isinstance(devices, dict):
        raise ConfigError(source, "devices", "must be a table of [devices.<id>] tables")
    if not isinstance(stations, dict):
        raise ConfigError(source, "stations", 'must be a table such as grill = "kitchen"')
    found: dict[str, dict] = {kind: {} for kind in KINDS}
    for device_id, table in devices.items():
        if not DEVICE_ID.fullmatch(device_id):
            raise ConfigError(
                source, f"devices.{device_id}", "ids are 1-32 lowercase letters, digits, - or _"
            )
        if not isinstance(table, dict):
            raise ConfigError(source, f"devices.{device_id}", "must be a table")
        t = _Table(source, device_id, table)
        kind = t.take("kind", str, check=_kind)
        name = t.take("name", str, device_id.replace("_", " ").replace("-", " ").capitalize())
        found[kind][device_id] = _READERS[kind](t, device_id, name)
        t.finish()
    settings = DeviceSettings(
        printers=found["printer"],
        drawers=found["drawer"],
        displays=found["display"],
        bump_bars=found["bump_bar"],
        stations={},
    )
    _check_references(settings, source, elsewhere)
    printers = settings.printers.keys() | elsewhere
    known = ", ".join(sorted(printers)) or "none"
    for station, printer in stations.items():
        if not isinstance(printer, str) or printer not in printers:
            raise ConfigError(
                source,
                f"stations.{station}",
                f"must name a printer of the store ({known}), not {printer!r}",
            )
        settings.stations[station] = printer
    return settings


def _check_references(settings: DeviceSettings, source: str, elsewhere: frozenset[str]) -> None:
    printers = settings.printers
    for printer in printers.values():
        if printer.backup is not None and (
            printer.backup not in printers.keys() | elsewhere or printer.backup == printer.id
        ):
            known = ", ".join(sorted(printers.keys() | elsewhere - {printer.id})) or "none"
            raise ConfigError(
                source,
                f"devices.{printer.id}.backup",
                f"must name another printer of the store ({known})",
            )
    for drawer in settings.drawers.values():
        if drawer.printer is not None and drawer.printer not in printers:
            raise ConfigError(
                source, f"devices.{drawer.id}.printer", "must name a printer of this node"
            )
