"""The store document's contents as registers: each key holds the value of its latest write.

A Yjs map keeps, for two concurrent writes to one key, the write of the higher client id,
not the later one. So the store document never writes a value under its own key: every
write is a new entry of the root map `changes`, keyed by the writer's hybrid-logical-clock
stamp (unique: it ends with the node's name and a counter), whose value is the JSON text
`{"key": K, "value": V}`. The register K holds the V of the entry with the highest stamp
(the later write; between writes in the same millisecond, the node whose name sorts last).
A writer also deletes the entries it supersedes, so the map holds about one entry per key;
two concurrent writes both stay until the next write of the key, and the reader picks the
later. A removal is a write of `null`, kept, so that a write older than it, arriving late,
cannot bring the value back. Pure logic: plain contents in, values out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

CHANGES = "changes"  # the root map of the store document
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/\d{4,}/[^/]+")  # an HLC stamp


@dataclass(frozen=True, slots=True)
class Entry:
    """One register: its key, its value (None: removed) and the stamp of the write."""

    key: str
    value: object
    stamp: str


def decode(stamp: str, text: object) -> Entry | None:
    """The entry stored under `stamp`, or None if it is not one (kept, never trusted)."""
    if not isinstance(text, str) or not STAMP.fullmatch(stamp):
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("key"), str):
        return None
    return Entry(data["key"], data.get("value"), stamp)


def encode(key: str, value: object) -> str:
    """The text stored for a write of `value` to `key`."""
    return json.dumps({"key": key, "value": value}, separators=(",", ":"), ensure_ascii=False)


def latest(changes: dict) -> dict[str, Entry]:
    """Key -> its latest entry (removals included), from the plain contents of `changes`."""
    found: dict[str, Entry] = {}
    for stamp, text in changes.items():
        entry = decode(stamp, text)
        if entry is not None and (entry.key not in found or stamp > found[entry.key].stamp):
            found[entry.key] = entry
    return found


def superseded(changes: dict, keys: set[str]) -> list[str]:
    """The stamps of the entries of `keys` that a write of them now makes obsolete: all."""
    return [
        stamp
        for stamp, text in changes.items()
        if (entry := decode(stamp, text)) is not None and entry.key in keys
    ]


def group(registers: dict[str, Entry], kind: str) -> dict[str, Entry]:
    """The live registers of one kind (keys `kind:name`), by name; removed ones left out."""
    prefix = f"{kind}:"
    return {
        key.removeprefix(prefix): entry
        for key, entry in registers.items()
        if key.startswith(prefix) and entry.value is not None
    }


class Registers:
    """A snapshot of the store document's registers, read-only (the command line's view)."""

    def __init__(self, registers: dict[str, Entry]) -> None:
        self._registers = registers

    def entry(self, key: str) -> Entry | None:
        return self._registers.get(key)

    def value(self, key: str) -> object:
        entry = self._registers.get(key)
        return None if entry is None else entry.value

    def group(self, kind: str) -> dict[str, Entry]:
        return group(self._registers, kind)
