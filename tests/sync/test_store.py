"""The document store and the replica's write path, on real SQLite files."""

from __future__ import annotations

import asyncio
import os
import sqlite3

import pytest
from pycrdt import Doc, Map

from sync.errors import (
    DocumentClosed,
    InvalidUpdate,
    StoreCorrupt,
    StoreUnavailable,
    UnknownDocument,
)
from sync.replica import Replica
from sync.store import SCHEMA, DocStore
from sync.store_file import peek
from tests.support.disk import fill
from tests.support.doc_store import GUID, OTHER, Author, content, opened, query, settings_of
from tests.support.sqlite_files import too_new, unversioned, version_of

# -- durability ----------------------------------------------------------------------------


async def test_append_is_committed_before_it_returns_and_survives_reopen(db):
    author = Author()
    async with opened(db) as store:
        await store.register(GUID, "orders")
        seq = await store.append(GUID, author.put("A-001", "burger"))
        # Another connection sees it at once: the transaction committed before the answer.
        assert query(db, f"SELECT seq FROM updates WHERE guid = '{GUID}'") == [(seq,)]
        seq2 = await store.append(GUID, author.put("A-002", "fries"))
    assert seq2 > seq
    async with opened(db) as store:
        assert content(await store.load(GUID)) == {"A-001": "burger", "A-002": "fries"}


async def test_store_runs_in_wal_mode_with_synchronous_full(db):
    async with opened(db) as store:
        assert query(db, "PRAGMA journal_mode") == [("wal",)]
        settings = await settings_of(store)
    assert settings == {"journal_mode": "wal", "synchronous": "full"}


async def test_concurrent_appends_are_group_committed_in_order(db):
    author = Author()
    updates = [author.put(f"order-{i:03d}", i) for i in range(200)]
    async with opened(db) as store:
        await store.register(GUID, "orders")
        commits_before = store.commits
        seqs = await asyncio.gather(*(store.append(GUID, update) for update in updates))
        commits = store.commits - commits_before
    assert len(set(seqs)) == len(updates)
    assert seqs == sorted(seqs)  # in the order the appends were made
    assert 1 <= commits < len(updates), f"{len(updates)} appends took {commits} commits"
    async with opened(db) as store:
        assert content(await store.load(GUID)) == {f"order-{i:03d}": i for i in range(200)}


# -- registry and link progress ------------------------------------------------------------


async def test_register_is_idempotent_and_survives_reopen(db):
    async with opened(db) as store:
        first = await store.register(GUID, "orders", {"business_date": "2026-11-20"})
        again = await store.register(GUID, "catalog", {"other": True})
        assert again == first
        assert [d.guid for d in store.documents()] == [GUID]
    assert query(db, "SELECT count(*) FROM documents") == [(1,)]
    async with opened(db) as store:
        assert store.document(GUID) == first
        assert store.documents("orders") == [first]
        assert store.documents("catalog") == []


@pytest.mark.parametrize(
    "operation",
    ["append", "load", "compact", "close_document", "updates_since", "save_link_progress"],
)
async def test_unknown_document_raises_unknown_document(db, operation):
    calls = {
        "append": lambda s: s.append(OTHER, b"\x00\x00"),
        "load": lambda s: s.load(OTHER),
        "compact": lambda s: s.compact(OTHER),
        "close_document": lambda s: s.close_document(OTHER),
        "updates_since": lambda s: s.updates_since(OTHER, 0),
        "save_link_progress": lambda s: s.save_link_progress("hub", OTHER, b"\x00", 1),
    }
    async with opened(db) as store:
        await store.register(GUID, "orders")
        with pytest.raises(UnknownDocument, match=OTHER):
            await calls[operation](store)
        with pytest.raises(UnknownDocument):
            store.document(OTHER)
        assert query(db, "SELECT count(*) FROM updates") == [(0,)]


async def test_closed_document_refuses_appends_and_keeps_its_content(db):
    author = Author()
    async with opened(db) as store:
        await store.register(GUID, "orders")
        await store.register(OTHER, "orders")
        await store.append(GUID, author.put("A-001", "burger"))
        before = await store.load(GUID)
        info = await store.close_document(GUID)
        assert info.closed
        assert await store.close_document(GUID) == info  # closing twice is one close
        with pytest.raises(DocumentClosed):
            await store.append(GUID, author.put("A-002", "late"))
        assert await store.load(GUID) == before
        await store.append(OTHER, Author().put("B-001", "open day"))  # others still write
    async with opened(db) as store:
        assert store.document(GUID).closed
        assert not store.document(OTHER).closed
        with pytest.raises(DocumentClosed):
            await store.append(GUID, author.updates[-1])
        assert content(await store.load(GUID)) == {"A-001": "burger"}


async def test_link_progress_round_trips_and_survives_reopen(db):
    async with opened(db) as store:
        await store.register(GUID, "orders")
        assert await store.link_progress("hub", GUID) is None
        await store.save_link_progress("hub", GUID, b"\x01\x02\x03", 5)
        await store.save_link_progress("hub", GUID, b"\x01\x02\x07", 9)  # newer wins
        await store.save_link_progress("peer-b", GUID, b"\x04", 2)
        saved = await store.link_progress("hub", GUID)
    assert (saved.link, saved.guid, saved.state_vector, saved.acked_seq) == (
        "hub",
        GUID,
        b"\x01\x02\x07",
        9,
    )
    async with opened(db) as store:
        assert await store.link_progress("hub", GUID) == saved
        peer = await store.link_progress("peer-b", GUID)
        assert (peer.state_vector, peer.acked_seq) == (b"\x04", 2)
        assert await store.link_progress("peer-c", GUID) is None


async def test_the_newest_seq_of_a_document_survives_compaction_and_reopen(db):
    author = Author()
    async with opened(db) as store:
        await store.register(GUID, "orders")
        await store.register(OTHER, "orders")
        assert await store.last_seq_of(GUID) == 0
        for item in ("burger", "fries", "soda"):
            newest = await store.append(GUID, author.put(item, 1))
        await store.compact(GUID)
        assert await store.last_seq_of(GUID) == newest
    async with opened(db) as store:
        assert await store.last_seq_of(GUID) == newest  # from the snapshot alone
        newer = await store.append(GUID, author.put("shake", 1))
        assert newer > newest and await store.last_seq_of(GUID) == newer
        assert await store.last_seq_of(OTHER) == 0


# -- the replica's remote updates ----------------------------------------------------------


def write_order(doc: Doc) -> None:
    doc.get("orders", type=Map)["A-001"] = "burger"


def _valid_update() -> bytes:
    return Author().put("R-001", "x" * 40)


def _corrupt() -> bytes:
    update = _valid_update()
    return _undecodable(update[:11] + b"\xff" * 9 + update[20:])


def _undecodable(update: bytes) -> bytes:
    with pytest.raises(ValueError):  # a corruption Yjs can detect, or the case means nothing
        Doc().apply_update(update)
    return update


BAD_UPDATES = {
    "corrupt": _corrupt,
    "truncated": lambda: _undecodable(_valid_update()[:-10]),
    "empty": lambda: _undecodable(b""),
    "garbage": lambda: _undecodable(b"not a yjs update, just some text"),
    "str": lambda: "\x01\x01\x00",
    "none": lambda: None,
    "int": lambda: 42,
    "list": lambda: [1, 1, 0],
}


@pytest.mark.parametrize("kind", list(BAD_UPDATES))
async def test_replica_refuses_invalid_update_and_touches_nothing(db, kind):
    async with opened(db) as store:
        replica = Replica(store)
        doc = await replica.create(GUID, "orders")
        await replica.transact(GUID, write_order)
        stored = await store.load(GUID)
        state, data = doc.get_state(), doc.get("orders", type=Map).to_py()
        with pytest.raises(InvalidUpdate):
            await replica.apply_update(GUID, BAD_UPDATES[kind](), "peer-b")
        assert await store.load(GUID) == stored
        assert replica.loaded(GUID) is doc
        assert (doc.get_state(), doc.get("orders", type=Map).to_py()) == (state, data)
        # The document still takes good updates afterwards.
        assert await replica.apply_update(GUID, _valid_update(), "peer-b")
        assert len(await store.load(GUID)) == len(stored) + 1


async def test_replica_refuses_update_for_unknown_document(db):
    async with opened(db) as store:
        replica = Replica(store)
        with pytest.raises(UnknownDocument):
            await replica.apply_update(GUID, _valid_update(), "peer-b")
        assert store.documents() == []


async def test_replica_stores_a_repeated_remote_update_once(db):
    remote = Author()
    update = remote.put("R-001", "from peer b")
    async with opened(db) as store:
        replica = Replica(store)
        await replica.create(GUID, "orders")
        assert await replica.apply_update(GUID, update, "peer-b") is True
        stored = await store.load(GUID)
        assert await replica.apply_update(GUID, update, "peer-c") is False
        assert await store.load(GUID) == stored
    async with opened(db) as store:
        assert content(await store.load(GUID)) == {"R-001": "from peer b"}


# -- a full disk ---------------------------------------------------------------------------


async def append_until_full(store: DocStore, author: Author, acked: list[bytes]) -> str:
    """Append big updates until one fails; keep those acknowledged; return the error."""
    for i in range(100):
        update = author.put(f"big{i}", os.urandom(2048).hex())
        try:
            await store.append(GUID, update)
        except StoreUnavailable as exc:
            return str(exc)
        acked.append(update)
    raise AssertionError("100 appends of 4 KiB fit on a full 512 KiB disk")


async def five_paid_orders(store: DocStore, author: Author) -> list[bytes]:
    """Register the document and append five acknowledged updates; return them."""
    await store.register(GUID, "orders")
    acked = []
    for i in range(5):
        acked.append(author.put(f"A-{i:03d}", "paid"))
        await store.append(GUID, acked[-1])
    return acked


async def test_full_disk_fails_append_then_recovers_after_reload(small_disk):
    path = small_disk / "orders.db"
    author = Author()
    async with opened(path) as store:
        acked = await five_paid_orders(store, author)
        filler = fill(small_disk)
        message = await append_until_full(store, author, acked)
        assert "disk is full" in message and "free disk space" in message, message
        assert str(path) in message
        # The failed update is missing, so nothing built on it may be stored.
        with pytest.raises(StoreUnavailable, match="reload"):
            await store.append(GUID, author.put("after", "tiny"))
        filler.unlink()
        with pytest.raises(StoreUnavailable, match="reload"):
            await store.append(GUID, Author().put("after", "tiny"))
        assert content(await store.load(GUID)) == content(acked)  # loaded again: writable
        acked.append(Author().put("after", "space freed"))
        await store.append(GUID, acked[-1])
    async with opened(path) as store:
        loaded = content(await store.load(GUID))
    assert loaded == content(acked)
    assert loaded["after"] == "space freed" and "A-004" in loaded


async def test_store_opens_and_reads_on_a_full_disk(small_disk):
    path = small_disk / "orders.db"
    author = Author()
    async with opened(path) as store:
        acked = await five_paid_orders(store, author)
        fill(small_disk)
        await append_until_full(store, author, acked)
    async with opened(path) as store:
        assert content(await store.load(GUID)) == content(acked)


# -- lifecycle and a broken file -----------------------------------------------------------


async def test_close_writes_pending_appends_and_is_safe_twice(db):
    author = Author()
    updates = [author.put(f"k{i}", i) for i in range(30)]
    store = await DocStore.open(db)
    try:
        await store.register(GUID, "orders")
        pending = [asyncio.create_task(store.append(GUID, u)) for u in updates]
        await asyncio.sleep(0)  # queued, not yet written
        assert not any(task.done() for task in pending)
    finally:
        await store.close()
    await store.close()
    seqs = [task.result() for task in pending]
    assert len(set(seqs)) == len(updates)
    with pytest.raises(StoreUnavailable, match="closing"):
        await store.append(GUID, updates[0])
    async with opened(db) as store:
        assert content(await store.load(GUID)) == {f"k{i}": i for i in range(30)}


async def test_garbage_file_raises_store_corrupt_naming_the_path(db):
    db.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    with pytest.raises(StoreCorrupt) as caught:
        await DocStore.open(db)
    assert str(db) in str(caught.value)


async def test_newer_schema_raises_store_corrupt(db):
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreCorrupt, match="newer"):
        await DocStore.open(db)


# -- the file's version, and a look from doctor --------------------------------------------


async def test_an_unversioned_store_is_upgraded_keeping_its_documents_and_updates(db):
    update = Author().put("A-001", "burger")
    unversioned(
        db,
        SCHEMA,
        ("INSERT INTO documents (guid, kind, created_at) VALUES (?, ?, ?)", (GUID, "orders", 5.0)),
        ("INSERT INTO updates (guid, data) VALUES (?, ?)", (GUID, update)),
    )
    async with opened(db) as store:
        assert store.document(GUID).created_at == 5.0
        assert content(await store.load(GUID)) == {"A-001": "burger"}
        assert await store.last_seq_of(GUID) == 1
    assert version_of(db) == SCHEMA.version == 1


async def test_a_store_newer_than_this_posedge_is_refused_naming_the_file(db):
    too_new(db, SCHEMA)
    with pytest.raises(StoreCorrupt, match="newer") as refused:
        await DocStore.open(db)
    assert str(db) in str(refused.value)
    assert version_of(db) == SCHEMA.version + 1


async def test_peek_reads_a_store_without_creating_or_changing_it(db, tmp_path):
    with pytest.raises(StoreUnavailable, match="missing"):
        peek(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    async with opened(db) as store:
        await store.register(GUID, "orders")
        await store.save_link_progress("hub", GUID, b"\x00", 1)
        await store.save_link_progress("peer-b", GUID, b"\x00", 1)
        registered = store.document(GUID).created_at
        (hub,) = query(db, "SELECT updated_at FROM link_progress WHERE link = 'hub'")[0]
        before = db.read_bytes()
        seen = peek(db)  # while the store is open, as doctor looks at a running node's
        assert db.read_bytes() == before
    assert seen.newest_document == registered
    assert set(seen.link_contacts) == {"hub", "peer-b"} and seen.link_contacts["hub"] == hub
