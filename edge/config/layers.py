"""A running node's configuration in two layers: its file, and the store's settings in the
store document laid over it (store_settings.py says which are which).

`move_from_file` moves the store's settings a node's file holds into the store document and
out of the file: on the first start after an upgrade, and whenever a field tech writes one
there (SIGHUP); the file keeps its comments and the rest as it was. `effective` is the
configuration the node runs on. The store document is edited from every node, so two edits
can each be valid and together not (a station routed to a printer another node removed at
the same moment): such an entry is left out, with an error in the log naming it, and the
rest applies.
"""

from __future__ import annotations

import asyncio
import logging
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import tomlkit
from tomlkit.toml_document import TOMLDocument

from edge.config.edit import Edit, add_store_part, read_document, remove_store_part, write_checked
from edge.config.load import load
from edge.config.model import Config
from edge.config.registers import Registers
from edge.config.store_document import KIND as STORE_KIND
from edge.config.store_document import StoreDocument, read_registers
from edge.config.store_settings import (
    DEVICE,
    OWNER,
    SETTING,
    STATION,
    StoreTables,
    from_registers,
    split,
)
from edge.runtime.errors import ConfigError
from sync.store_file import registered

log = logging.getLogger(__name__)

NODE = "node"  # the store document's node registers: what each node tells the others


def read_store(config: Config) -> Registers | None:
    """The store document of the node configured by `config`, read from its store file
    without changing anything (`posedge doctor`); None before the node has one."""
    found = registered(config.store_path, STORE_KIND)
    return Registers(read_registers(config.store_path, found[0])) if found else None


def read_effective(config: Config) -> Config:
    """The configuration a node loaded from its file (`config`) runs on, with the store's
    settings read from its store file without changing anything (`posedge doctor`)."""
    registers = read_store(config)
    if registers is None:
        return config
    return LayeredConfig(Path(config.source), registers, config.node.name).effective()


class LayeredConfig:
    """The configuration of the node named `node`, from its file at `path` and `document`
    (a StoreDocument, or a read-only view of one: registers.Registers)."""

    def __init__(self, path: Path, document: StoreDocument | Registers, node: str) -> None:
        self.path = path
        self.document = document
        self.node = node

    def store_tables(self) -> StoreTables:
        """The store's settings as the store document holds them now."""
        kinds = (SETTING, DEVICE, STATION, OWNER)
        return from_registers({kind: self.document.group(kind) for kind in kinds})

    def elsewhere(self) -> frozenset[str]:
        """The printers other nodes say are plugged into them."""
        found: set[str] = set()
        for name, entry in self.document.group(NODE).items():
            printers = entry.value.get("printers") if isinstance(entry.value, dict) else None
            if name != self.node and isinstance(printers, list):
                found.update(p for p in printers if isinstance(p, str))
        return frozenset(found)

    async def move_from_file(self) -> list[str]:
        """Move the store's settings found in the file into the store document, and out of
        the file; returns the keys moved. Raises ConfigError (the file unchanged)."""
        try:
            table = tomllib.loads(self.path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(str(self.path), "(file)", f"cannot read: {exc}") from None
        found, _ = split(table, self.node)
        if not found:
            return []
        now = self.store_tables()
        candidate = StoreTables(
            {**now.settings, **found.settings},
            {**now.devices, **found.devices},
            found.stations or now.stations,
            {**found.owners, **now.owners},  # a device keeps the node that prefers it
        )
        load(self.path, candidate, self.elsewhere())  # a bad one moves nothing (raises)
        changes = found.changes()
        await self.document.write(changes)  # first: a crash now leaves them in both
        doc = read_document(self.path)
        remove_store_part(found)(doc)
        write_checked(self.path, tomlkit.dumps(doc), self.store_tables(), self.elsewhere())
        moved = sorted(changes)
        log.warning(
            "moved the store's settings %s from %s into the store document: edit them in "
            "the manager UI of any node (docs/store-document.md)",
            ", ".join(moved),
            self.path,
        )
        return moved

    def effective(self) -> Config:
        """The configuration to run on: the file with the store's settings over it, less
        any store entry that does not load with the rest (logged). Raises ConfigError for
        a fault of the file itself."""
        tables = self.store_tables()
        elsewhere = self.elsewhere()
        while True:  # each pass returns, raises, or leaves one store entry out
            try:
                return load(self.path, tables, elsewhere)
            except ConfigError as exc:
                smaller = _without(tables, exc.key)
                if smaller is None:
                    raise
                log.error(
                    "the store's setting %s is left out: %s (edit it in the manager UI)",
                    exc.key,
                    exc.reason,
                    extra={"config_key": exc.key},
                )
                tables = smaller


def _without(tables: StoreTables, key: str) -> StoreTables | None:
    """`tables` without the entry that the configuration key `key` belongs to, or None if
    no store entry is at `key` (the fault is the file's)."""
    if key in tables.settings:
        return replace(tables, settings={k: v for k, v in tables.settings.items() if k != key})
    section, _, rest = key.partition(".")
    name = rest.partition(".")[0]
    if section == "devices" and name in tables.devices:
        return replace(tables, devices={k: v for k, v in tables.devices.items() if k != name})
    if section == "stations" and name in tables.stations:
        return replace(tables, stations={k: v for k, v in tables.stations.items() if k != name})
    return None


@dataclass(frozen=True, slots=True)
class Applied:
    """A change made: the configuration now, and the changed settings that wait for a
    restart (empty: everything applies now)."""

    config: Config
    restart: list[str]


class ConfigEditor:
    """The running node's configuration as the manager UI edits it: its file with the
    store's settings laid over it. A change's store part is written to the store document
    (every node applies it), the rest to the file (edit.py: checked, atomic, comments kept).

    `apply` drives the new configuration's live part and returns the changed settings that
    wait for a restart. Changes are made one at a time; call it on the event loop.
    """

    def __init__(
        self, layers: LayeredConfig, apply: Callable[[Config], Awaitable[list[str]]]
    ) -> None:
        self.layers = layers
        self.path = layers.path
        self.waiting: list[str] = []  # changed settings that wait for a restart
        self._apply = apply
        self._lock = asyncio.Lock()

    def _read(self) -> tuple[TOMLDocument, Config]:
        doc = read_document(self.path)
        add_store_part(self.layers.store_tables())(doc)
        return doc, self.layers.effective()

    async def read(self) -> tuple[TOMLDocument, Config]:
        """The file with the store's settings over it, and the configuration it makes;
        raises ConfigError."""
        return await asyncio.to_thread(self._read)

    async def change(self, *edits: Edit) -> Applied:
        """Make `edits`, check the result, write each part where it belongs and apply it;
        raises ConfigError (naming the file and the key) with nothing changed."""
        async with self._lock:
            layers = self.layers
            doc, _ = await asyncio.to_thread(self._read)
            for edit in edits:
                try:
                    edit(doc)
                except ConfigError as exc:
                    raise ConfigError(str(self.path), exc.key, exc.reason) from None
            store, _ = split(doc.unwrap(), layers.node)
            now = layers.store_tables()
            store = replace(
                store, owners={d: now.owners.get(d, layers.node) for d in store.devices}
            )
            remove_store_part(store)(doc)
            config = await asyncio.to_thread(
                write_checked, self.path, tomlkit.dumps(doc), store, layers.elsewhere()
            )
            changes = store.changes()
            changed = {k: v for k, v in changes.items() if layers.document.value(k) != v}
            gone = {k: None for k in now.changes() if k not in changes}
            if changed or gone:
                await layers.document.write({**changed, **gone})
            self.waiting = await self._apply(config)
        return Applied(config, list(self.waiting))
