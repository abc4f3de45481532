"""The SQLite opener, on real files: each migration step once and in order, each in a
transaction of its own; an unversioned file kept with its rows; a newer file refused; the
durability named is the one in force; a read-only look creates and changes nothing."""

from __future__ import annotations

import sqlite3

import pytest

from sync.errors import SchemaTooNew
from sync.sqlite import FULL, NORMAL, ROLLBACK_JOURNAL, Schema, connect, connect_async
from tests.support.sqlite_files import too_new, unversioned, version_of

STEP_1 = """
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL  -- where it prints; a ';' in a comment ends nothing
);
"""
STEP_2 = """
ALTER TABLE tickets ADD COLUMN bumped_at REAL;
CREATE INDEX tickets_by_station ON tickets (station);
"""
TWO_STEPS = Schema(FULL, steps=(STEP_1, STEP_2))


def rows(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute("SELECT * FROM tickets ORDER BY id").fetchall()


def test_a_new_file_gets_every_step_in_order(tmp_path):
    path = tmp_path / "kitchen.db"
    conn = connect(path, TWO_STEPS)
    try:
        conn.execute("INSERT INTO tickets (station, bumped_at) VALUES ('grill', 1.5)")
        assert rows(conn) == [(1, "grill", 1.5)]
    finally:
        conn.close()
    assert version_of(path) == 2


def test_an_unversioned_file_is_upgraded_keeping_its_rows(tmp_path):
    path = unversioned(
        tmp_path / "kitchen.db",
        TWO_STEPS,
        ("INSERT INTO tickets (station) VALUES (?)", ("grill",)),
        ("INSERT INTO tickets (station) VALUES (?)", ("bar",)),
    )
    conn = connect(path, TWO_STEPS)
    try:
        assert rows(conn) == [(1, "grill", None), (2, "bar", None)]
    finally:
        conn.close()
    assert version_of(path) == 2


def test_a_file_at_an_older_version_gets_only_the_steps_after_it(tmp_path):
    path = tmp_path / "kitchen.db"
    connect(path, Schema(FULL, steps=(STEP_1,))).close()
    assert version_of(path) == 1
    connect(path, TWO_STEPS).close()  # step 1 again would be harmless, step 2 twice fails
    connect(path, TWO_STEPS).close()
    assert version_of(path) == 2


def test_a_failing_step_is_undone_and_leaves_the_version_before_it(tmp_path):
    path = tmp_path / "kitchen.db"
    broken = Schema(FULL, steps=(STEP_1, STEP_2 + "INSERT INTO nowhere VALUES (1);\n"))
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        connect(path, broken)
    assert version_of(path) == 1
    conn = sqlite3.connect(path)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(tickets)")]
    finally:
        conn.close()
    assert columns == ["id", "station"]  # the ALTER before the failure was rolled back


def test_a_file_newer_than_the_code_is_refused_naming_it(tmp_path):
    path = too_new(tmp_path / "kitchen.db", TWO_STEPS)
    with pytest.raises(SchemaTooNew, match="newer") as refused:
        connect(path, TWO_STEPS)
    assert str(path) in str(refused.value)
    assert version_of(path) == 3
    with pytest.raises(SchemaTooNew):
        connect(path, TWO_STEPS, read_only=True)


@pytest.mark.parametrize(
    ("durability", "journal_mode", "synchronous"),
    [(FULL, "wal", 2), (NORMAL, "wal", 1), (ROLLBACK_JOURNAL, "delete", 2)],
)
def test_the_durability_named_is_in_force(tmp_path, durability, journal_mode, synchronous):
    conn = connect(tmp_path / "kitchen.db", Schema(durability, steps=(STEP_1,)))
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == journal_mode
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == synchronous
    finally:
        conn.close()


def test_foreign_keys_and_incremental_vacuum_when_the_schema_asks(tmp_path):
    schema = Schema(FULL, steps=(STEP_1,), foreign_keys=True, incremental_vacuum=True)
    conn = connect(tmp_path / "kitchen.db", schema)
    try:
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    finally:
        conn.close()


def test_a_read_only_look_creates_nothing_and_changes_nothing(tmp_path):
    missing = tmp_path / "missing.db"
    with pytest.raises(sqlite3.OperationalError):
        connect(missing, TWO_STEPS, read_only=True)
    assert list(tmp_path.iterdir()) == []
    old = unversioned(
        tmp_path / "old.db", TWO_STEPS, ("INSERT INTO tickets (station) VALUES (?)", ("grill",))
    )
    conn = connect(old, TWO_STEPS, read_only=True)
    try:
        assert rows(conn) == [(1, "grill")]  # as it is: not migrated
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("INSERT INTO tickets (station) VALUES ('bar')")
    finally:
        conn.close()
    assert version_of(old) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.db"]


async def test_an_aiosqlite_connection_is_opened_the_same_way(tmp_path):
    path = unversioned(
        tmp_path / "kitchen.db", TWO_STEPS, ("INSERT INTO tickets (station) VALUES (?)", ("bar",))
    )
    conn = await connect_async(path, TWO_STEPS)
    try:
        assert await conn.execute_fetchall("SELECT id, station, bumped_at FROM tickets") == [
            (1, "bar", None)
        ]
        assert await conn.execute_fetchall("PRAGMA journal_mode") == [("wal",)]
    finally:
        await conn.close()
    assert version_of(path) == 2
    with pytest.raises(SchemaTooNew):
        await connect_async(too_new(path, TWO_STEPS), TWO_STEPS)
