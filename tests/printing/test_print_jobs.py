"""The print job store on a real SQLite file: every change is read back, and a change the
database reports as made but did not keep (seen with a full disk) is a storage error the
printer worker retries, never a job silently left half-done."""

from __future__ import annotations

import sqlite3

import pytest

from edge.printing.jobs import SCHEMA, ChangeNotKept, JobStore, Waiting, read_waiting
from edge.runtime.errors import StorageError
from tests.support.sqlite_files import too_new, unversioned, version_of

DOCUMENT = {"kind": "receipt", "order_id": "20261120-000000000001"}


@pytest.fixture
async def jobs(tmp_path):
    store = await JobStore.open(tmp_path / "print.db", now=0.0)
    try:
        yield store
    finally:
        await store.close()


async def lose_changes_to(jobs: JobStore, state: str) -> None:
    """Make the database drop every change of a job into `state`, as the full disk did."""
    await jobs._db.execute(
        f"CREATE TRIGGER lose AFTER UPDATE OF state ON jobs WHEN new.state = '{state}' "
        "BEGIN UPDATE jobs SET state = old.state, last_error = old.last_error WHERE id = new.id; "
        "END"
    )


async def test_a_job_moves_through_its_states(jobs):
    job, created = await jobs.add(
        key="r1", kind="receipt", printer="front", document=DOCUMENT, now=1.0
    )
    assert created and job.state == "queued"
    claimed = await jobs.claim_next("front")
    assert (claimed.id, claimed.state, claimed.attempts) == (job.id, "sending", 1)
    await jobs.requeue(job.id, error="paper out", reprint=True)
    assert (await jobs.get(job.id)).state == "queued"
    await jobs.claim_next("front")
    await jobs.mark_printed(job.id, now=2.0, marks={"reprint": True})
    assert (await jobs.get(job.id)).state == "printed"


async def test_a_jobs_times_show_in_iso_8601_utc_like_the_apis_other_times(jobs):
    job, _ = await jobs.add(
        key="r1", kind="receipt", printer="front", document=DOCUMENT, now=1_795_197_600.25
    )
    assert (job.to_dict()["created_at"], job.to_dict()["printed_at"]) == (
        "2026-11-20T18:00:00+00:00",
        None,
    )
    await jobs.claim_next("front")
    await jobs.mark_printed(job.id, now=1_795_197_607.9, marks={})
    assert (await jobs.get(job.id)).to_dict()["printed_at"] == "2026-11-20T18:00:07+00:00"


@pytest.mark.parametrize("state", ["printed", "queued", "skipped"])
async def test_a_change_not_kept_raises_a_storage_error(jobs, state):
    job, _ = await jobs.add(key="r1", kind="receipt", printer="front", document=DOCUMENT, now=1.0)
    await jobs.claim_next("front")
    await lose_changes_to(jobs, state)
    change = {
        "printed": lambda: jobs.mark_printed(job.id, now=2.0, marks={}),
        "queued": lambda: jobs.requeue(job.id, error="cut", reprint=True),
        "skipped": lambda: jobs.skip(job.id, error="too old"),
    }[state]
    with pytest.raises(ChangeNotKept, match="reads back") as caught:
        await change()
    assert isinstance(caught.value, sqlite3.Error)  # what the worker's retry loop catches
    assert (await jobs.get(job.id)).state == "sending"


# -- the file: its version, its errors, and a look from doctor -----------------------------

OLD_JOB = (
    "INSERT INTO jobs (key, kind, printer, requested_printer, document, state, created_at, "
    "event_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


async def test_an_unversioned_print_db_is_upgraded_keeping_its_jobs(tmp_path):
    path = unversioned(
        tmp_path / "print.db",
        SCHEMA,
        (OLD_JOB, ("r1", "receipt", "front", "front", '{"kind": "receipt"}', "queued", 1.0, 1.0)),
        (OLD_JOB, ("t1", "ticket", "grill", "grill", '{"kind": "ticket"}', "sending", 2.0, 2.0)),
    )
    store = await JobStore.open(path, now=3.0)
    try:
        jobs = {job.key: job for job in await store.jobs()}
    finally:
        await store.close()
    assert (jobs["r1"].state, jobs["r1"].document) == ("queued", {"kind": "receipt"})
    assert (jobs["t1"].state, jobs["t1"].reprint) == ("queued", True)  # caught mid-send
    assert version_of(path) == SCHEMA.version == 1


async def test_a_print_db_newer_than_this_posedge_is_refused_naming_the_file(tmp_path):
    path = too_new(tmp_path / "print.db", SCHEMA)
    with pytest.raises(StorageError, match="newer") as refused:
        await JobStore.open(path, now=0.0)
    assert refused.value.path == path and str(path) in str(refused.value)


async def test_sqlite_errors_of_print_db_come_out_as_storage_errors(tmp_path, jobs):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database, a till roll\n" * 200)
    with pytest.raises(StorageError, match="not a database") as refused:
        await JobStore.open(garbage, now=0.0)
    assert isinstance(refused.value.cause, sqlite3.DatabaseError)
    await jobs._db.execute("DROP TABLE jobs")
    for call in (
        lambda: jobs.add(key="r1", kind="receipt", printer="front", document=DOCUMENT, now=1.0),
        lambda: jobs.claim_next("front"),
        lambda: jobs.jobs(),
        lambda: jobs.waiting_counts(),
        lambda: jobs.mark_printed(1, now=1.0, marks={}),
        lambda: jobs.move_queued("front", "back", backup_for="front"),
    ):
        with pytest.raises(StorageError, match="no such table") as failed:
            await call()
        assert str(jobs.path) in str(failed.value)


async def test_read_waiting_reads_print_db_without_creating_or_changing_it(tmp_path, jobs):
    with pytest.raises(StorageError):
        read_waiting(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    job, _ = await jobs.add(key="r1", kind="receipt", printer="front", document=DOCUMENT, now=1.0)
    await jobs.add(key="r2", kind="receipt", printer="front", document=DOCUMENT, now=2.0)
    await jobs.claim_next("front")
    await jobs.requeue(job.id, error="paper out", reprint=False)
    await jobs.add(key="t1", kind="ticket", printer="grill", document=DOCUMENT, now=3.0)
    before = jobs.path.read_bytes()
    assert read_waiting(jobs.path) == {
        "front": Waiting(2, 1.0, "paper out"),
        "grill": Waiting(1, 3.0, None),
    }
    assert jobs.path.read_bytes() == before
