"""Reading a store file from outside the daemon that owns it (`posedge doctor`, the
command line): nothing is created, changed or migrated, and a busy file is waited for at
most PEEK_TIMEOUT seconds. SQLite's errors come out as StoreUnavailable or StoreCorrupt."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sync.compaction import check_codec, decompress
from sync.sqlite import connect, unavailable
from sync.store import SCHEMA

PEEK_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class StorePeek:
    """What a look at a store file shows, for `posedge doctor`."""

    newest_document: float | None  # when the newest document was registered
    link_contacts: dict[str, float]  # link -> when it last acknowledged anything


def peek(path: Path) -> StorePeek:
    """Read a store file without creating or changing it; raises StoreUnavailable (no such
    file, or one this user cannot read) or StoreCorrupt."""
    try:
        conn = connect(path, SCHEMA, read_only=True, timeout=PEEK_TIMEOUT)
        try:
            (newest,) = conn.execute("SELECT max(created_at) FROM documents").fetchone()
            contacts = conn.execute(
                "SELECT link, max(updated_at) FROM link_progress GROUP BY link"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise unavailable(path, "read the store", exc) from exc
    return StorePeek(newest, dict(contacts))


def registered(path: Path, kind: str) -> list[str]:
    """The guids of the documents of `kind` in a store file, read without creating or
    changing it ([] if there is no file); raises StoreUnavailable."""
    if not path.exists():
        return []
    try:
        conn = connect(path, SCHEMA, read_only=True, timeout=PEEK_TIMEOUT)
        try:
            rows = conn.execute("SELECT guid FROM documents WHERE kind = ?", (kind,)).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise unavailable(path, f"list the {kind} documents", exc) from exc
    return [row[0] for row in rows]


def read_updates(path: Path, guid: str) -> list[bytes]:
    """The updates of document `guid` in a store file (snapshot first), read without
    creating or changing it; [] if the file or the document is not there. Raises
    StoreUnavailable or StoreCorrupt."""
    if not path.exists():
        return []
    try:
        conn = connect(path, SCHEMA, read_only=True, timeout=PEEK_TIMEOUT)
        try:
            snapshot = conn.execute(
                "SELECT codec, data FROM snapshots WHERE guid = ?", (guid,)
            ).fetchone()
            tail = conn.execute(
                "SELECT data FROM updates WHERE guid = ? ORDER BY seq", (guid,)
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise unavailable(path, f"read {guid!r}", exc) from exc
    updates = [row[0] for row in tail]
    if snapshot is None:
        return updates
    check_codec(path, guid, snapshot[0])
    return [decompress(path, guid, snapshot[1]), *updates]
