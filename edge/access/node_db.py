"""`node.db`: the node's own access records, and the one owner of the file's schema.

It holds the pairing codes (pairing_codes.py), the join codes for new nodes of the store
(join_codes.py), the manager UI's sessions on this node (users.py), and the changes the
CLI hands the running daemon for the store document (outbox.py). Terminals and users
live in the store document; the tables that held them before (version 2) are emptied into
it once, on upgrade (outbox.py).
The daemon and the CLI's commands both open it, each operation on a short-lived connection
of its own; every connection brings the file to the current version first. SQLite's errors
come out as StorageError.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from edge.runtime.storage import storage_errors
from sync.sqlite import FULL, Schema, connect

_STEP_1 = """
CREATE TABLE IF NOT EXISTS terminals (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS pairing_codes (
    code_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE TABLE IF NOT EXISTS join_codes (
    code TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ui_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ui_sessions (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES ui_users (name) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    flashes TEXT NOT NULL DEFAULT '[]'
);
"""

# Codes are kept as keys, never as they were typed: join codes by their scrypt key (the
# codes that live at the upgrade are dropped; they last ten minutes), pairing codes with
# the key that proves the store CA to a terminal that has the code (edge/access/pairing.py).
_STEP_2 = """
DROP TABLE join_codes;
CREATE TABLE join_codes (
    salt BLOB PRIMARY KEY,
    code_key BLOB NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
ALTER TABLE pairing_codes ADD COLUMN proof_salt BLOB;
ALTER TABLE pairing_codes ADD COLUMN proof_key BLOB;
"""

# Users and terminals move to the store document: sessions no longer refer to a row of
# ui_users but keep the stamp of the user's register they began under (sessions of before
# are dropped: their users sign in again); the CLI's changes wait in store_outbox.
_STEP_3 = """
DROP TABLE ui_sessions;
CREATE TABLE ui_sessions (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    user_stamp TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    flashes TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE store_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    queued_at TEXT NOT NULL
);
"""

SCHEMA = Schema(FULL, steps=(_STEP_1, _STEP_2, _STEP_3), foreign_keys=True)
"""node.db: version 1 is the tables of node.db files made before versions were kept;
version 2 keeps codes as keys; version 3 hands users and terminals to the store document."""


@contextlib.contextmanager
def connection(path: Path, doing: str) -> Iterator[sqlite3.Connection]:
    """A connection to node.db for one operation (`doing`), closed after it (sqlite3's own
    `with` only commits); SQLite's errors in the block come out as StorageError."""
    with storage_errors(path, doing):
        conn = connect(path, SCHEMA)
        try:
            yield conn
        finally:
            conn.close()


def prepare(path: Path) -> None:
    """Make node.db at `path`, or bring it to the current version; raises StorageError."""
    with connection(path, "open the node's access records"):
        pass


def reader(path: Path) -> sqlite3.Connection:
    """A connection to node.db to keep for reading; raises StorageError."""
    with storage_errors(path, "open the node's access records"):
        return connect(path, SCHEMA)
