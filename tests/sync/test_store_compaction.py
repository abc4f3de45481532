"""Compaction of the document store, on real SQLite files: one snapshot and the newer tail,
compaction in the background and alongside appends, and a worker process that dies with
the store's."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from sync.store import DocStore
from tests.support.doc_store import GUID, Author, content, opened, query
from tests.support.paths import ROOT

# -- compaction ----------------------------------------------------------------------------


async def test_compact_leaves_one_snapshot_and_the_newer_tail(db):
    author = Author()
    async with opened(db) as store:
        await store.register(GUID, "orders")
        for i in range(50):
            await store.append(GUID, author.put(f"k{i}", "x" * 20))
        rows_before = query(db, "SELECT count(*) FROM updates")[0][0]
        assert await store.compact(GUID) == 50
        newer = [author.put(f"late{i}", i) for i in range(3)]
        for update in newer:
            await store.append(GUID, update)
        loaded = await store.load(GUID)
        assert query(db, "SELECT count(*) FROM updates")[0][0] == 3 < rows_before
        assert query(db, "SELECT count(*) FROM snapshots")[0][0] == 1
    assert len(loaded) == 4
    assert loaded[1:] == newer
    assert content(loaded[:1]) == {f"k{i}": "x" * 20 for i in range(50)}
    assert content(loaded) == author.map.to_py()


async def test_compaction_stores_a_compressed_snapshot_and_frees_the_merged_pages(db):
    author = Author()
    async with opened(db) as store:
        await store.register(GUID, "orders")
        for i in range(400):
            await store.append(GUID, author.put(f"order-{i}", f"Classic Burger with cheese {i}"))
        raw_bytes = query(db, "SELECT sum(length(data)) FROM updates")[0][0]
        await store.compact(GUID)
        await store.checkpoint()
        ((codec, stored),) = query(db, "SELECT codec, length(data) FROM snapshots")
        free_pages = query(db, "PRAGMA freelist_count")[0][0]
        loaded = await store.load(GUID)
    assert codec == "zlib"
    assert stored < raw_bytes / 2
    assert free_pages == 0
    assert content(loaded) == author.map.to_py()


async def test_compact_of_an_empty_tail_changes_nothing(db):
    author = Author()
    async with opened(db) as store:
        await store.register(GUID, "orders")
        await store.append(GUID, author.put("k", 1))
        assert await store.compact(GUID) == 1
        before = await store.load(GUID)
        assert await store.compact(GUID) == 0
        assert await store.load(GUID) == before


async def test_store_compacts_by_itself_after_compact_after_updates(db):
    author = Author()
    async with opened(db, compact_after=10) as store:
        await store.register(GUID, "orders")
        for i in range(25):
            await store.append(GUID, author.put(f"k{i}", i))
        # The compactor runs in the background; wait for it, bounded.
        for _ in range(500):
            if len(await store.updates_since(GUID, 0)) < 10:
                break
            await asyncio.sleep(0.01)
        tail = await store.updates_since(GUID, 0)
        loaded = await store.load(GUID)
    assert len(tail) < 10
    assert query(db, "SELECT count(*) FROM snapshots")[0][0] == 1
    assert len(loaded) == 1 + len(tail)
    assert content(loaded) == {f"k{i}": i for i in range(25)}


async def test_compaction_concurrent_with_appends_loses_nothing(db):
    author = Author()
    updates = [author.put(f"k{i:03d}", i) for i in range(300)]
    async with opened(db, compact_after=7) as store:
        await store.register(GUID, "orders")

        async def append_in_waves() -> None:
            for start in range(0, len(updates), 20):
                await asyncio.gather(*(store.append(GUID, u) for u in updates[start : start + 20]))

        async def compact_repeatedly() -> None:
            for _ in range(40):
                await store.compact(GUID)
                await asyncio.sleep(0)

        await asyncio.gather(append_in_waves(), compact_repeatedly())
        assert content(await store.load(GUID)) == author.map.to_py()
    async with opened(db) as store:
        assert content(await store.load(GUID)) == {f"k{i:03d}": i for i in range(300)}


async def test_close_during_automatic_compaction_still_writes_pending_appends(tmp_path):
    # close() cancels the compactor; a compaction cut off mid-transaction must not leave
    # that transaction open, or the writer's final batch fails.
    for trial in range(12):
        path = tmp_path / f"trial{trial}.db"
        author = Author()
        updates = [author.put(f"k{i}", "x" * 100) for i in range(40)]
        store = await DocStore.open(path, compact_after=1)
        pending: list[asyncio.Task[int]] = []
        try:
            await store.register(GUID, "orders")
            for update in updates[:20]:
                await store.append(GUID, update)
            pending = [asyncio.create_task(store.append(GUID, u)) for u in updates[20:]]
            for _ in range(1 + trial % 6):
                await asyncio.sleep(0)  # the appends are queued; the compactor is busy
        finally:
            await store.close()
        results = await asyncio.gather(*pending, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        assert not failed, f"trial {trial}: {failed[0]}"
        async with opened(path) as store:
            assert content(await store.load(GUID)) == author.map.to_py(), f"trial {trial}"


COMPACTING_CHILD = """
import asyncio, sys
from pathlib import Path
from pycrdt import Doc, Map
from sync.store import DocStore

async def main():
    store = await DocStore.open(Path(sys.argv[1]))
    await store.register("g", "orders")
    doc = Doc()
    updates = []
    doc.observe(lambda event: updates.append(event.update))
    for i in range(20):
        doc.get("orders", type=Map)[f"k{i}"] = i
    for update in updates:
        await store.append("g", update)
    await store.compact("g")  # spawns the compaction worker
    print("compacted", flush=True)
    await asyncio.sleep(60)

if __name__ == "__main__":
    asyncio.run(main())
"""


def running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def test_compaction_worker_dies_when_the_daemon_is_killed(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(COMPACTING_CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "orders.db")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout.readline().strip() == "compacted"
        helpers = children(child.pid)
        assert helpers, "the compaction worker should be a child of the store's process"
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [pid for pid in helpers if running(pid)]
    assert not alive, f"helpers outlived the killed store process: {alive}"
