"""Which settings are the store's and which the machine's, and the two put together.

The store's live in the store document (store_document.py): the store's name, time zone
and rollover, the receipt's header and footer, the KDS thresholds, whether terminals need an
employee signed in, the network devices (a `tcp://` printer, and a drawer kicked through
one), every station's printer, and which node prefers to drive each network device. The
rest is the machine's and stays in its TOML file: node name and letter, addresses and ports,
the state directory, print timings, the receipt printer and logo, and the devices plugged
into it (serial, USB, file).

A node's effective configuration is its file with the store's settings laid over it, read
by the same loader and checks as the file alone (`load.load(path, store=...)`). Pure logic:
tables in, tables out.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.config.registers import Entry

SETTINGS = (
    "store.name",
    "store.timezone",
    "store.rollover_hour",
    "receipt.header",
    "receipt.footer",
    "kds.warn_after",
    "kds.late_after",
    "staff.sign_in_required",
)
SETTING, DEVICE, STATION, OWNER = "setting", "device", "station", "owner"  # register kinds


@dataclass(frozen=True, slots=True)
class StoreTables:
    """The store's part of a configuration, shaped as the TOML file's tables."""

    settings: dict[str, object]  # "receipt.header" -> value
    devices: dict[str, dict]  # device id -> its [devices.<id>] table
    stations: dict[str, str]  # station -> printer id
    owners: dict[str, str]  # network device id -> the node that prefers to drive it

    def changes(self) -> dict[str, object]:
        """The store document's registers that say this."""
        return {
            **{f"{SETTING}:{key}": value for key, value in self.settings.items()},
            **{f"{DEVICE}:{key}": value for key, value in self.devices.items()},
            **{f"{STATION}:{key}": value for key, value in self.stations.items()},
            **{f"{OWNER}:{key}": value for key, value in self.owners.items()},
        }

    def __bool__(self) -> bool:
        return bool(self.settings or self.devices or self.stations or self.owners)


def from_registers(groups: dict[str, dict[str, Entry]]) -> StoreTables:
    """The store's tables from the store document's live registers, by kind."""

    def values(kind: str, wanted: type) -> dict:
        return {
            name: entry.value
            for name, entry in groups.get(kind, {}).items()
            if isinstance(entry.value, wanted)
        }

    settings = {k: v for k, v in values(SETTING, object).items() if k in SETTINGS}
    return StoreTables(settings, values(DEVICE, dict), values(STATION, str), values(OWNER, str))


def is_network_device(device_id: str, devices: dict[str, dict]) -> bool:
    """Whether `devices[device_id]` belongs to the store: a device at a `tcp://` URL, or a
    drawer kicked through a printer that is one."""
    table = devices.get(device_id)
    if not isinstance(table, dict):
        return False
    url = table.get("url")
    if isinstance(url, str) and url.startswith("tcp://"):
        return True
    printer = table.get("printer")
    return (
        table.get("kind") == "drawer"
        and isinstance(printer, str)
        and printer != device_id
        and is_network_device(printer, {k: v for k, v in devices.items() if k != device_id})
    )


def split(table: dict, node: str) -> tuple[StoreTables, dict]:
    """(the store's part, the machine's part) of a parsed TOML file; a network device found
    in a node's file is preferred by that node."""
    machine = {name: dict(v) if isinstance(v, dict) else v for name, v in table.items()}
    settings = {}
    for key in SETTINGS:
        section, _, name = key.partition(".")
        if isinstance(machine.get(section), dict) and name in machine[section]:
            settings[key] = machine[section].pop(name)
    for section in {key.partition(".")[0] for key in SETTINGS}:
        if machine.get(section) == {}:
            del machine[section]
    devices = machine.get("devices") if isinstance(machine.get("devices"), dict) else {}
    network = {d: t for d, t in devices.items() if is_network_device(d, devices)}
    for device_id in network:
        del devices[device_id]
    if "devices" in machine and not devices:
        del machine["devices"]
    stations = machine.pop("stations", None)
    stations = stations if isinstance(stations, dict) else {}
    owners = {d: node for d, t in network.items() if t.get("kind") == "printer"}
    return StoreTables(settings, network, stations, owners), machine


def lay_over(machine: dict, store: StoreTables) -> dict:
    """The machine's tables with the store's laid over them (the store's win)."""
    merged = {name: dict(v) if isinstance(v, dict) else v for name, v in machine.items()}
    for key, value in store.settings.items():
        section, _, name = key.partition(".")
        merged.setdefault(section, {})[name] = value
    if store.devices:
        merged["devices"] = {**merged.get("devices", {}), **store.devices}
    if store.stations:
        merged["stations"] = dict(store.stations)
    return merged
