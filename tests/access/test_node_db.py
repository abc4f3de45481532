"""node.db, the file of the pairing codes, join codes, UI sessions and the command line's
queued changes: an unversioned file (as every installed node has) is upgraded, its users and
terminals moved into the store document without losing a password or a token, a newer one
is refused naming it, and SQLite's errors come out as StorageError from each of its users."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from edge.access.join_codes import StoredJoinCodes
from edge.access.node_db import SCHEMA
from edge.access.outbox import QueuedStore, StoreOutbox
from edge.access.pairing_codes import PairingCodes, sha256
from edge.access.terminals import TerminalRegistry
from edge.access.users import UserStore, hash_password
from edge.runtime.errors import StorageError
from tests.support.sqlite_files import too_new, unversioned, version_of
from tests.support.store_documents import open_document

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
STAMP = "2026-11-20T12:00:00+00:00"
TOKEN = "pe_" + "k" * 43  # the token of the terminal paired before the upgrade


def _queued_store(tmp_path, path) -> QueuedStore:
    return QueuedStore(path, tmp_path / "orders.db", "s1/store")


async def test_an_unversioned_node_db_moves_its_users_and_terminals_into_the_store_document(
    tmp_path,
):
    path = unversioned(
        tmp_path / "node.db",
        SCHEMA,
        (
            "INSERT INTO terminals (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            ("t-0001", "Counter 1", "terminal", sha256(TOKEN), STAMP),
        ),
        ("INSERT INTO join_codes (code, expires_at) VALUES (?, ?)", ("ABCD2345", 2e9)),
        (
            "INSERT INTO ui_users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            ("ann", "manager", hash_password("correct horse"), STAMP),
        ),
    )
    async with open_document(tmp_path) as document:
        assert await StoreOutbox(path, document).upgrade() == 2
        terminals = TerminalRegistry(PairingCodes(path), document)
        users = UserStore(path, document)
        assert terminals.authenticate(TOKEN).name == "Counter 1"  # the same token
        assert users.verify("ann", "correct horse").manager  # the same password
        assert StoredJoinCodes(path, clock=lambda: NOW.timestamp()).live() == {}
        token = users.start_session(users.users()[0], now=NOW)
        await users.remove("ann")  # a change of the user signs their sessions out
        assert users.session(token, now=NOW) is None
        assert await StoreOutbox(path, document).upgrade() == 0  # once
        terminals.close()
    assert version_of(path) == SCHEMA.version == 3
    assert b"ABCD2345" not in _file_bytes(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM ui_users").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM terminals").fetchone() == (0,)


async def test_the_upgrade_leaves_what_the_store_document_has_already(tmp_path):
    path = unversioned(
        tmp_path / "node.db",
        SCHEMA,
        (
            "INSERT INTO ui_users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            ("ann", "manager", hash_password("old horse"), STAMP),
        ),
    )
    async with open_document(tmp_path) as document:
        await UserStore(path, document).add("ann", "manager", "new horse", now=NOW)
        assert await StoreOutbox(path, document).upgrade() == 0
        assert UserStore(path, document).verify("ann", "new horse") is not None


def test_a_node_db_newer_than_this_posedge_is_refused_naming_the_file(tmp_path):
    path = too_new(tmp_path / "node.db", SCHEMA)
    for open_one in (
        PairingCodes,
        lambda p: _queued_store(tmp_path, p),
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
        PairingCodes,
        lambda p: _queued_store(tmp_path, p),
        lambda p: StoredJoinCodes(p).create(),
    ):
        with pytest.raises(StorageError, match="not a database") as failed:
            call(garbage)
        assert isinstance(failed.value.cause, sqlite3.DatabaseError)
        assert failed.value.hint == "check the disk and permissions"


async def test_a_broken_node_db_under_a_running_node_is_a_storage_error(tmp_path):
    path = tmp_path / "node.db"
    async with open_document(tmp_path) as document:
        codes, join_codes = PairingCodes(path), StoredJoinCodes(path)
        users = UserStore(path, document)
        await users.add("ann", "manager", "correct horse", now=NOW)
        conn = sqlite3.connect(path)
        conn.executescript(
            "DROP TABLE pairing_codes; DROP TABLE join_codes; DROP TABLE ui_sessions;"
        )
        conn.close()
        for call in (
            lambda: codes.create_code("Till", "terminal", ttl=dt.timedelta(minutes=5), now=NOW),
            lambda: codes.use("ABCD-2345", now=NOW),
            join_codes.live,
            lambda: users.start_session(users.users()[0], now=NOW),
        ):
            with pytest.raises(StorageError, match="no such table") as failed:
                call()
            assert str(path) in str(failed.value)


def _file_bytes(path) -> bytes:
    """node.db and its write-ahead log, as bytes."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_pairing_and_join_codes_are_nowhere_in_node_db_as_made(tmp_path):
    path = tmp_path / "node.db"
    codes, join_codes = PairingCodes(path), StoredJoinCodes(path)
    pairing = codes.create_code("Till 2", "manager", ttl=dt.timedelta(minutes=5), now=NOW)
    joining = join_codes.create()
    kept = _file_bytes(path)
    for code in (pairing.code, joining):
        for form in (code, code.replace("-", ""), code.lower()):
            assert form.encode() not in kept, form
    assert len(join_codes.live()) == 1
    assert len(codes.ca_proofs(b"the store CA", now=NOW)) == 1
