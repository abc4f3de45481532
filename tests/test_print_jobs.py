"""The print job store on a real SQLite file: every change is read back, and a change the
database reports as made but did not keep (seen with a full disk) is a storage error the
printer worker retries, never a job silently left half-done."""

from __future__ import annotations

import sqlite3

import pytest

from edge.print_jobs import ChangeNotKept, JobStore

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
