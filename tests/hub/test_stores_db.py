"""The hub's register of stores (`stores.db`): an unversioned file is upgraded keeping its
stores and tokens, a newer one is refused naming it, and SQLite's errors come out as
StoreUnavailable."""

from __future__ import annotations

import sqlite3

import pytest

from sync.errors import SchemaTooNew, StoreUnavailable
from sync.hub.tokens import SCHEMA, HubStores
from tests.support.sqlite_files import too_new, unversioned, version_of


def test_an_unversioned_stores_db_is_upgraded_keeping_stores_and_tokens(tmp_path):
    path = tmp_path / "stores.db"
    token = HubStores(path).add("bk-0042", "Burger Kitchen 42")
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT * FROM stores").fetchall()
    conn.close()
    path.unlink()
    unversioned(path, SCHEMA, *[("INSERT INTO stores VALUES (?, ?, ?, ?, ?, ?)", r) for r in rows])
    stores = HubStores(path)
    assert [s.store_id for s in stores.list()] == ["bk-0042"]
    assert stores.store_of(token) == "bk-0042"
    assert version_of(path) == SCHEMA.version == 1


def test_a_stores_db_newer_than_this_posedge_is_refused_naming_the_file(tmp_path):
    path = too_new(tmp_path / "stores.db", SCHEMA)
    with pytest.raises(SchemaTooNew, match="newer") as refused:
        HubStores(path)
    assert str(path) in str(refused.value)


def test_sqlite_errors_of_stores_db_come_out_as_store_unavailable(tmp_path):
    path = tmp_path / "stores.db"
    stores = HubStores(path)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE stores")
    conn.close()
    for call in (stores.list, lambda: stores.add("bk-0042"), lambda: stores.store_of("ph_x")):
        with pytest.raises(StoreUnavailable, match="no such table") as failed:
            call()
        assert str(path) in str(failed.value)
        assert isinstance(failed.value.__cause__, sqlite3.Error)
