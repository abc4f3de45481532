"""The store document's registers: the later write wins whatever the Yjs client ids, a
removal stays removed when an older write arrives late, superseded entries go, malformed
entries are ignored, a node whose clock is behind still writes above what it has seen, and
listeners hear what changed."""

from __future__ import annotations

import json

from pycrdt import Doc, Map

from edge.config.registers import CHANGES, latest
from tests.support.store_documents import open_document

T0 = 1_790_000_000_000


def entries(document) -> dict:
    doc = document.replica.loaded(document.guid)
    return dict(doc.get(CHANGES, type=Map).to_py())


async def test_the_later_write_wins_and_supersedes_the_earlier(tmp_path):
    async with open_document(tmp_path) as document:
        await document.write({"user:ann": {"role": "manager"}})
        await document.write({"user:ann": {"role": "technician"}})
        assert document.value("user:ann") == {"role": "technician"}
        assert len(entries(document)) == 1  # the first write's entry is gone


def _write(doc: Doc, stamp: str, key: str, value) -> bytes:
    with doc.transaction():
        doc.get(CHANGES, type=Map)[stamp] = json.dumps({"key": key, "value": value})
    return doc.get_update()


def test_concurrent_writes_converge_on_the_later_stamp_whatever_the_client_ids():
    early = "2026-12-02T10:00:00.000Z/0000/node-b"
    late = "2026-12-02T10:00:00.001Z/0000/node-a"
    for low, high in ((1, 2), (2, 1)):  # either node may have the higher client id
        a, b = Doc(client_id=low), Doc(client_id=high)
        from_a = _write(a, late, "setting:store.name", "Late")
        from_b = _write(b, early, "setting:store.name", "Early")
        a.apply_update(from_b)
        b.apply_update(from_a)
        for doc in (a, b):
            found = latest(doc.get(CHANGES, type=Map).to_py())
            assert found["setting:store.name"].value == "Late"


def test_a_removal_is_not_undone_by_an_older_write_arriving_late():
    removal = "2026-12-02T10:00:05.000Z/0000/node-a"
    older = "2026-12-02T10:00:01.000Z/0000/node-c"
    doc = Doc()
    _write(doc, removal, "user:tom", None)
    _write(doc, older, "user:tom", {"role": "manager"})
    assert latest(doc.get(CHANGES, type=Map).to_py())["user:tom"].value is None


def test_malformed_entries_are_ignored():
    good = "2026-12-02T10:00:00.000Z/0000/node-a"
    changes = {
        good: json.dumps({"key": "user:ann", "value": 1}),
        "zzzz-not-a-stamp": json.dumps({"key": "user:ann", "value": 2}),
        "2026-12-02T11:00:00.000Z/0000/node-b": "not json",
        "2026-12-02T12:00:00.000Z/0000/node-b": json.dumps(["no", "key"]),
        "2026-12-02T13:00:00.000Z/0000/node-b": "[" * 5000,
    }
    assert {k: e.value for k, e in latest(changes).items()} == {"user:ann": 1}


async def test_a_node_whose_clock_is_behind_still_writes_above_what_it_has_seen(tmp_path):
    async with open_document(tmp_path, node="node-a", wall_ms=lambda: T0 + 60_000) as ahead:
        await ahead.write({"setting:store.name": "Ahead"})
        update = ahead.replica.loaded(ahead.guid).get_update()
    (tmp_path / "b").mkdir()
    async with open_document(tmp_path / "b", node="node-b", wall_ms=lambda: T0) as behind:
        await behind.replica.apply_update(behind.guid, update, "peer node-a")
        await behind.write({"setting:store.name": "Later, by a slow clock"})
        assert behind.value("setting:store.name") == "Later, by a slow clock"


async def test_listeners_hear_which_keys_changed(tmp_path):
    async with open_document(tmp_path) as document:
        heard: list[set[str]] = []
        stop = document.subscribe(heard.append)
        await document.write({"user:ann": {"role": "manager"}, "node:node-a": {"api": []}})
        stop()
        await document.write({"user:ann": None})
        assert heard == [{"user:ann", "node:node-a"}]
        assert document.group("user") == {}
        assert document.entry("user:ann").value is None
