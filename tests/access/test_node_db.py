"""node.db, the file of the terminals, join codes and UI users: an unversioned file (as every
installed node has) is upgraded with its rows, a newer one is refused naming it, and
SQLite's errors come out as StorageError from each of the three."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from edge.access.join_codes import StoredJoinCodes
from edge.access.node_db import SCHEMA
from edge.access.terminals import TerminalRegistry
from edge.access.users import UserStore, hash_password
from edge.runtime.errors import StorageError
from tests.support.sqlite_files import too_new, unversioned, version_of

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
STAMP = "2026-11-20T12:00:00+00:00"


def open_all(path):
    """The three users of node.db, each opened as the daemon and the CLI do."""
    return (
        TerminalRegistry(path),
        StoredJoinCodes(path, clock=lambda: NOW.timestamp()),
        UserStore(path),
    )


def test_an_unversioned_node_db_is_upgraded_keeping_its_rows(tmp_path):
    path = unversioned(
        tmp_path / "node.db",
        SCHEMA,
        (
            "INSERT INTO terminals (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            ("t-0001", "Counter 1", "terminal", "ab" * 32, STAMP),
        ),
        ("INSERT INTO join_codes (code, expires_at) VALUES (?, ?)", ("ABCD2345", 2e9)),
        (
            "INSERT INTO ui_users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            ("ann", "manager", hash_password("correct horse"), STAMP),
        ),
    )
    terminals, join_codes, users = open_all(path)
    try:
        assert [(t.id, t.name) for t in terminals.terminals()] == [("t-0001", "Counter 1")]
        assert join_codes.live() == {}  # a code kept as typed is not kept past the upgrade
        assert users.verify("ann", "correct horse").manager
        # The session table the upgrade kept still cascades from its user.
        token = users.start_session(users.users()[0], now=NOW)
        users.remove("ann")
        assert users.session(token, now=NOW) is None
    finally:
        terminals.close()
    assert version_of(path) == SCHEMA.version == 2
    assert b"ABCD2345" not in _file_bytes(path)


def test_a_node_db_newer_than_this_posedge_is_refused_naming_the_file(tmp_path):
    path = too_new(tmp_path / "node.db", SCHEMA)
    for open_one in (
        TerminalRegistry,
        UserStore,
        lambda p: StoredJoinCodes(p).live(),
    ):
        with pytest.raises(StorageError, match="newer") as refused:
            open_one(path)
        assert refused.value.path == path and str(path) in str(refused.value)
    assert version_of(path) == SCHEMA.version + 1


def test_sqlite_errors_of_node_db_come_out_as_storage_errors(tmp_path):
    garbage = tmp_path / "node.db"
    garbage.write_bytes(b"not a database, a menu\n" * 200)
    for call in (
        TerminalRegistry,
        UserStore,
        lambda p: StoredJoinCodes(p).create(),
    ):
        with pytest.raises(StorageError, match="not a database") as failed:
            call(garbage)
        assert isinstance(failed.value.cause, sqlite3.DatabaseError)
        assert failed.value.hint == "check the disk and permissions"


def test_a_broken_node_db_under_a_running_registry_is_a_storage_error(tmp_path):
    path = tmp_path / "node.db"
    terminals, join_codes, users = open_all(path)
    try:
        code = terminals.create_code("Counter 1", "terminal", ttl=dt.timedelta(minutes=5), now=NOW)
        _, token = terminals.redeem(code.code, now=NOW)
        conn = sqlite3.connect(path)
        conn.executescript("DROP TABLE terminals; DROP TABLE join_codes; DROP TABLE ui_users;")
        conn.close()
        terminals.recheck_now()
        for call in (
            lambda: terminals.authenticate(token),
            terminals.terminals,
            join_codes.live,
            users.users,
        ):
            with pytest.raises(StorageError, match="no such table") as failed:
                call()
            assert str(path) in str(failed.value)
    finally:
        terminals.close()


def _file_bytes(path) -> bytes:
    """node.db and its write-ahead log, as bytes."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_pairing_and_join_codes_are_nowhere_in_node_db_as_made(tmp_path):
    path = tmp_path / "node.db"
    terminals, join_codes, _ = open_all(path)
    try:
        pairing = terminals.create_code("Till 2", "manager", ttl=dt.timedelta(minutes=5), now=NOW)
        joining = join_codes.create()
        kept = _file_bytes(path)
        for code in (pairing.code, joining):
            for form in (code, code.replace("-", ""), code.lower()):
                assert form.encode() not in kept, form
        assert len(join_codes.live()) == 1
        assert len(terminals.ca_proofs(b"the store CA", now=NOW)) == 1
    finally:
        terminals.close()
