"""Database files as other versions of posedge left them, for the migration tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sync.sqlite import Schema


def unversioned(path: Path, schema: Schema, *rows: tuple[str, tuple]) -> Path:
    """A file as posedge made it before versions were kept: the tables of `schema`'s first
    step, user_version 0, and each (INSERT statement, values) of `rows` in it."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(schema.steps[0])
        with conn:
            for sql, values in rows:
                conn.execute(sql, values)
    finally:
        conn.close()
    assert version_of(path) == 0
    return path


def too_new(path: Path, schema: Schema) -> Path:
    """A file a newer posedge wrote: its version is one above what `schema` knows."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA user_version = {schema.version + 1}")
    finally:
        conn.close()
    return path


def version_of(path: Path) -> int:
    """The user_version of the file at `path`, read from a connection of its own."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
