"""Changes to the node's configuration file, as the manager UI makes them.

The file is edited as a TOML document (tomlkit), so a field tech's comments and layout
survive. A change is checked by loading the whole new file with the daemon's own loader
(`config.load`) from a temporary file beside it; only then is that file fsynced and renamed
over the old one. A bad value names its key and leaves the file as it was; a crash leaves
the old file or the new one, never half of one.

The running node's editor (layers.py) edits the file with the store's settings laid over it,
and writes each part where it belongs.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import textwrap
from collections.abc import Callable
from pathlib import Path

import tomlkit
from tomlkit.items import Table
from tomlkit.toml_document import TOMLDocument

from edge.config.devices import BumpBarConfig, DeviceSettings, DisplayConfig, DrawerConfig
from edge.config.load import load
from edge.config.model import Config
from edge.config.store_settings import StoreTables
from edge.runtime.errors import ConfigError

Edit = Callable[[TOMLDocument], None]
"""A change to the parsed file, made in place; may raise ConfigError naming the key."""


def read_document(path: Path) -> TOMLDocument:
    """The file at `path` as an editable TOML document; raises ConfigError."""
    try:
        return tomlkit.parse(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), "(file)", f"cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, tomlkit.exceptions.ParseError) as exc:
        raise ConfigError(str(path), "(syntax)", str(exc)) from exc


def write_checked(
    path: Path,
    text: str,
    store: StoreTables | None = None,
    elsewhere: frozenset[str] = frozenset(),
) -> Config:
    """Replace the file at `path` with `text` if it loads as a valid configuration (with
    the `store`'s settings over it: load.load).

    Returns the new configuration; raises ConfigError (naming `path` and the key) and leaves
    the file untouched when it does not load. Blocking: run it in a thread.
    """
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.new")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _mode_of(path))
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        try:
            config = load(temp, store, elsewhere)
        except ConfigError as exc:
            raise ConfigError(str(path), exc.key, exc.reason) from None
        os.replace(temp, path)
    except OSError as exc:
        raise ConfigError(str(path), "(file)", f"cannot write: {exc.strerror or exc}") from exc
    finally:
        temp.unlink(missing_ok=True)
    _fsync_directory(path.parent)
    return dataclasses.replace(config, source=str(path))


def _mode_of(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o640


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- Edits ----------------------------------------------------------------------------------


def _table(doc: TOMLDocument | Table, name: str, *, super_table: bool = False) -> Table:
    if name not in doc:
        doc[name] = tomlkit.table(is_super_table=super_table or None)
    table = doc[name]
    if not isinstance(table, Table):
        raise ConfigError("", name, "must be a table")
    return table


def set_settings(values: dict[str, object]) -> Edit:
    """Set `section.key` settings; a value of None removes the key (its default applies)."""

    def edit(doc: TOMLDocument) -> None:
        for key, value in values.items():
            section, _, name = key.partition(".")
            table = _table(doc, section)
            if value is None:
                table.pop(name, None)
            else:
                table[name] = value

    return edit


def set_device(device_id: str, values: dict[str, object], *, stations: list[str] | None) -> Edit:
    """Set the keys of `[devices.<device_id>]` (None removes one; keys not named stay), and,
    for a printer, route exactly `stations` to it."""

    def edit(doc: TOMLDocument) -> None:
        devices = _table(doc, "devices", super_table=True)
        new = device_id not in devices
        if new:
            devices[device_id] = tomlkit.table()
        table = devices[device_id]
        for key, value in values.items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
        if new:
            table.add(tomlkit.nl())  # a blank line before whatever table follows
        if stations is not None:
            _route(doc, device_id, stations)

    return edit


def remove_device(device_id: str) -> Edit:
    """Remove `[devices.<device_id>]` and the stations routed to it."""

    def edit(doc: TOMLDocument) -> None:
        devices = _table(doc, "devices", super_table=True)
        if device_id not in devices:
            raise ConfigError("", f"devices.{device_id}", "no such device in the file")
        del devices[device_id]
        _route(doc, device_id, [])

    return edit


def _route(doc: TOMLDocument, printer_id: str, stations: list[str]) -> None:
    if "stations" not in doc and not stations:
        return
    table = _table(doc, "stations")
    for station, printer in list(table.items()):
        if printer == printer_id and station not in stations:
            del table[station]
    for station in stations:
        table[station] = printer_id


def add_store_part(store: StoreTables) -> Edit:
    """Lay the store's settings over the file's document (as the manager UI shows them)."""

    def edit(doc: TOMLDocument) -> None:
        set_settings(store.settings)(doc)
        for device_id, table in store.devices.items():
            set_device(device_id, table, stations=None)(doc)
        if store.stations:
            doc["stations"] = dict(store.stations)

    return edit


def remove_store_part(store: StoreTables) -> Edit:
    """Take the store's settings `store` names out of the file's document."""

    def edit(doc: TOMLDocument) -> None:
        for key in store.settings:
            section, _, name = key.partition(".")
            doc[section].pop(name, None)
            if not doc[section]:
                del doc[section]
        for device_id in store.devices:
            del doc["devices"][device_id]
        if "devices" in doc and not doc["devices"]:
            del doc["devices"]
        if "stations" in doc:
            del doc["stations"]

    return edit


def routed_stations(doc: TOMLDocument, printer_id: str) -> list[str]:
    """The stations the file routes to `printer_id`."""
    table = doc.get("stations") or {}
    return sorted(station for station, printer in table.items() if printer == printer_id)


# --- Serializing settings (the demo writes its devices into a file) -------------------------


def device_tables(settings: DeviceSettings) -> dict[str, dict]:
    """The `[devices.*]` tables that describe `settings`."""
    tables: dict[str, dict] = {}
    for printer in settings.printers.values():
        tables[printer.id] = {
            "kind": "printer",
            "name": printer.name,
            "url": printer.url.text,
            "profile": printer.profile,
            "width": printer.width,
            **({"backup": printer.backup} if printer.backup else {}),
            "failover_after": printer.failover_after,
        }
    for device in (*settings.drawers.values(), *settings.displays.values()):
        tables[device.id] = _serial_device_table(device)
    for bar in settings.bump_bars.values():
        tables[bar.id] = _serial_device_table(bar)
    return tables


def _serial_device_table(device: DrawerConfig | DisplayConfig | BumpBarConfig) -> dict:
    if isinstance(device, DrawerConfig):
        table: dict = {"kind": "drawer", "name": device.name, "pin": device.pin}
        if device.printer:
            table["printer"] = device.printer
        else:
            table |= {"url": str(device.url), "open_byte": device.open_bytes[0]}
        return table
    if isinstance(device, DisplayConfig):
        table = {"kind": "display", "name": device.name, "url": device.url.text}
        return table | ({"follows": device.follows} if device.follows else {})
    return {
        "kind": "bump_bar",
        "name": device.name,
        "url": device.url.text,
        "station": device.station,
    }


def configuration_text(values: dict[str, object], devices: DeviceSettings, note: str = "") -> str:
    """A configuration file with flat `section.key` values and `devices`, headed by `note`."""
    doc = tomlkit.document()
    for line in textwrap.wrap(note, 90):
        doc.add(tomlkit.comment(line))
    set_settings(values)(doc)
    for device_id, table in device_tables(devices).items():
        set_device(device_id, table, stations=None)(doc)
    if devices.stations:
        doc["stations"] = dict(devices.stations)
    return tomlkit.dumps(doc)
