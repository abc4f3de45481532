"""Print jobs, durable in SQLite (`print.db`): a job is a row before anyone hears "queued".

A job holds its document (what to print, as JSON; the bytes are rendered at each attempt so
that a REPRINT, LATE or backup mark can be added) and moves through these states:

    queued -> sending -> printed
                |
                +-> queued again (the printer failed; `reprint` set if bytes may have gone out)

`sending` is committed before the first byte leaves, so a job found `sending` when the
daemon starts was interrupted mid-send: it goes back to the queue marked as a reprint, and
prints again with a visible REPRINT mark, never silently twice. A ticket whose fire is too
old to be of use is `skipped` (kept, visible, not printed). The `key` column makes a
retried request, or a kitchen fire seen twice, one job.

SQLite's errors come out as StorageError. `read_waiting` reads what waits in a print.db
without creating or changing it (`posedge doctor`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from edge.runtime.errors import StorageError
from edge.runtime.storage import storage_errors
from sync.sqlite import FULL, Schema, connect, connect_async

log = logging.getLogger(__name__)

STATES = ("queued", "sending", "printed", "skipped")
KEEP_DONE_SECONDS = 7 * 24 * 3600.0


class ChangeNotKept(StorageError, sqlite3.OperationalError):
    """print.db reported a change as made, but reading it back shows it is not there.

    Seen while the disk is full (SQLite 3.40, WAL, Python 3.11): an UPDATE returns with its
    row counted and no error, and the commit is gone. Every change is read back, and this
    is raised like any other storage failure, so the caller retries until it is kept."""


_STEP_1 = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    printer TEXT NOT NULL,
    requested_printer TEXT NOT NULL,
    order_id TEXT,
    document TEXT NOT NULL,
    state TEXT NOT NULL,
    reprint INTEGER NOT NULL DEFAULT 0,
    backup_for TEXT,
    created_at REAL NOT NULL,
    event_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    printed_at REAL,
    printed_marks TEXT,
    requested_by TEXT
);
CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs (printer, state, id);
CREATE INDEX IF NOT EXISTS jobs_order ON jobs (order_id);
"""

SCHEMA = Schema(FULL, steps=(_STEP_1,))
"""print.db: version 1 is the table of print.db files made before versions were kept."""

READ_TIMEOUT = 2.0
"""Seconds `read_waiting` waits while the daemon holds the file busy."""

_COLUMNS = (
    "id, key, kind, printer, requested_printer, order_id, document, state, reprint, "
    "backup_for, created_at, event_at, attempts, last_error, printed_at, printed_marks, "
    "requested_by"
)


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    key: str
    kind: str  # ticket, receipt, test
    printer: str  # the printer it is for now (a backup after failover)
    requested_printer: str
    order_id: str | None
    document: dict
    state: str
    reprint: bool  # the next copy printed carries a REPRINT mark
    backup_for: str | None  # name of the printer whose job this is, after failover
    created_at: float
    event_at: float  # what LATE is measured from: the fire for a ticket, else the request
    attempts: int
    last_error: str | None
    printed_at: float | None
    printed_marks: dict | None
    requested_by: str | None

    def to_dict(self) -> dict:
        """The job as the API shows it (without its document; times in ISO 8601, UTC)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "printer": self.printer,
            "requested_printer": self.requested_printer,
            "order_id": self.order_id,
            "reprint_pending": self.reprint and self.state == "queued",
            "backup_for": self.backup_for,
            "created_at": _instant(self.created_at),
            "attempts": self.attempts,
            "last_error": self.last_error,
            "printed_at": None if self.printed_at is None else _instant(self.printed_at),
            "printed_marks": self.printed_marks,
            "requested_by": self.requested_by,
        }


def _instant(seconds: float) -> str:
    """Unix time as the API writes times: ISO 8601 in UTC, to the second."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds")


def _job(row: sqlite3.Row | tuple) -> Job:
    (id_, key, kind, printer, requested, order_id, document, state, reprint, backup_for,
     created_at, event_at, attempts, last_error, printed_at, printed_marks, by) = row  # fmt: skip
    return Job(
        id_,
        key,
        kind,
        printer,
        requested,
        order_id,
        json.loads(document),
        state,
        bool(reprint),
        backup_for,
        created_at,
        event_at,
        attempts,
        last_error,
        printed_at,
        None if printed_marks is None else json.loads(printed_marks),
        by,
    )


@dataclass(frozen=True, slots=True)
class Waiting:
    """A printer's jobs not printed yet."""

    count: int
    oldest: float  # when the oldest was made
    last_error: str | None  # what the last try at the next one said


def read_waiting(path: Path) -> dict[str, Waiting]:
    """Printer id -> its jobs not printed yet, from the print.db at `path`, which is neither
    created nor changed; raises StorageError."""
    with storage_errors(path, "read the print jobs"):
        db = connect(path, SCHEMA, read_only=True, timeout=READ_TIMEOUT)
        try:
            rows = db.execute(
                "SELECT printer, count(*), min(created_at), "
                "(SELECT last_error FROM jobs AS j WHERE j.printer = jobs.printer "
                " AND state = 'queued' ORDER BY id LIMIT 1) "
                "FROM jobs WHERE state IN ('queued', 'sending') GROUP BY printer"
            ).fetchall()
        finally:
            db.close()
    return {printer: Waiting(count, oldest, error) for printer, count, oldest, error in rows}


class JobStore:
    """The print jobs of this node. One connection; every change commits before it returns.

    Every method raises StorageError when print.db fails (ChangeNotKept when it lost a change).
    """

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    @classmethod
    async def open(cls, path: Path, *, now: float) -> JobStore:
        """Open (creating) the job table; jobs caught mid-send go back to the queue as reprints."""
        with storage_errors(path, "open the print jobs"):
            db = await connect_async(path, SCHEMA)
            try:
                store = cls(db, path)
                await store.requeue_interrupted()
                await db.execute(
                    "DELETE FROM jobs WHERE state IN ('printed', 'skipped') AND created_at < ?",
                    (now - KEEP_DONE_SECONDS,),
                )
            except BaseException:
                await db.close()
                raise
        return store

    async def requeue_interrupted(self) -> int:
        """Put jobs caught mid-send (by a crash, or a reload that stopped their printer) back
        in the queue as reprints; returns how many. Call it while no worker runs."""
        with storage_errors(self.path, "requeue the interrupted print jobs"):
            cursor = await self._db.execute(
                "UPDATE jobs SET state = 'queued', reprint = 1, "
                "last_error = 'interrupted while sending' WHERE state = 'sending'"
            )
        if cursor.rowcount:
            log.warning(
                "%d print job(s) were interrupted while sending; they print again marked REPRINT",
                cursor.rowcount,
            )
        return cursor.rowcount

    async def close(self) -> None:
        """Close print.db."""
        await self._db.close()

    async def add(
        self,
        *,
        key: str,
        kind: str,
        printer: str,
        document: dict,
        now: float,
        event_at: float | None = None,
        order_id: str | None = None,
        requested_by: str | None = None,
        state: str = "queued",
        reprint: bool = False,
        last_error: str | None = None,
        backup_for: str | None = None,
    ) -> tuple[Job, bool]:
        """Record a job; returns it and whether it is new (an existing key returns the first).

        A job recorded as `sending` (handed straight to an idle printer) counts its first
        attempt.
        """
        with storage_errors(self.path, "record a print job"):
            cursor = await self._db.execute(
                "INSERT INTO jobs (key, kind, printer, requested_printer, order_id, document, "
                "state, created_at, event_at, requested_by, reprint, last_error, attempts, "
                "backup_for) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING "
                f"RETURNING {_COLUMNS}",
                (
                    key,
                    kind,
                    printer,
                    printer,
                    order_id,
                    json.dumps(document, separators=(",", ":"), ensure_ascii=False),
                    state,
                    now,
                    now if event_at is None else event_at,
                    requested_by,
                    int(reprint),
                    last_error,
                    int(state == "sending"),
                    backup_for,
                ),
            )
            row = await cursor.fetchone()
            await cursor.close()
        if row is not None:
            job = _job(row)
            await self._kept(job.id, "key", key)  # (a worker may claim it at once)
            return job, True
        job = await self.by_key(key)
        assert job is not None
        return job, False

    async def get(self, job_id: int) -> Job | None:
        """The job with id `job_id`, or None."""
        return await self._one(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))

    async def by_key(self, key: str) -> Job | None:
        """The job recorded under `key`, or None."""
        return await self._one(f"SELECT {_COLUMNS} FROM jobs WHERE key = ?", (key,))

    async def claim_next(self, printer: str) -> Job | None:
        """The oldest job waiting for `printer`, durably marked `sending` (before any byte
        of it leaves) with one more attempt counted."""
        job = await self._one(
            "UPDATE jobs SET state = 'sending', attempts = attempts + 1 WHERE id = "
            "(SELECT id FROM jobs WHERE printer = ? AND state = 'queued' ORDER BY id LIMIT 1) "
            f"RETURNING {_COLUMNS}",
            (printer,),
            doing="claim a print job",
        )
        if job is not None:
            await self._kept(job.id, "state", "sending")
        return job

    async def jobs(
        self,
        *,
        printer: str | None = None,
        state: str | None = None,
        order_id: str | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """The most recent jobs, newest first, filtered by any of printer, state and order."""
        where, args = [], []
        for column, value in (("printer", printer), ("state", state), ("order_id", order_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with storage_errors(self.path, "read the print jobs"):
            async with self._db.execute(
                f"SELECT {_COLUMNS} FROM jobs {clause} ORDER BY id DESC LIMIT ?", (*args, limit)
            ) as cursor:
                return [_job(row) async for row in cursor]

    async def waiting_counts(self) -> dict[tuple[str, str], int]:
        """(printer, state) -> number of jobs not yet printed."""
        with storage_errors(self.path, "count the print jobs"):
            async with self._db.execute(
                "SELECT printer, state, count(*) FROM jobs WHERE state IN ('queued', 'sending') "
                "GROUP BY printer, state"
            ) as cursor:
                return {(printer, state): count async for printer, state, count in cursor}

    async def mark_printed(self, job_id: int, *, now: float, marks: dict) -> None:
        """Record that job `job_id` is on paper, with the marks it carried."""
        with storage_errors(self.path, f"record print job {job_id} as printed"):
            await self._db.execute(
                "UPDATE jobs SET state = 'printed', printed_at = ?, printed_marks = ?, "
                "reprint = 0, last_error = NULL WHERE id = ?",
                (now, json.dumps(marks), job_id),
            )
        await self._kept(job_id, "state", "printed")

    async def requeue(self, job_id: int, *, error: str, reprint: bool) -> None:
        """Back to the queue after a failed attempt; `reprint` once bytes may have gone out."""
        with storage_errors(self.path, f"requeue print job {job_id}"):
            await self._db.execute(
                "UPDATE jobs SET state = 'queued', last_error = ?, reprint = max(reprint, ?) "
                "WHERE id = ?",
                (error, int(reprint), job_id),
            )
        await self._kept(job_id, "last_error", error)  # (a backup may claim it at once)

    async def skip(self, job_id: int, *, error: str) -> None:
        """Keep the job, visibly, without printing it."""
        with storage_errors(self.path, f"skip print job {job_id}"):
            await self._db.execute(
                "UPDATE jobs SET state = 'skipped', last_error = ? WHERE id = ?", (error, job_id)
            )
        await self._kept(job_id, "state", "skipped")

    async def skip_waiting(self, printer: str, *, error: str, backup_for: str | None = None) -> int:
        """Keep every job waiting for `printer` (only those standing in for `backup_for`,
        if given), visibly, without printing it (another node prints what the order log
        says); returns how many."""
        with storage_errors(self.path, f"hand over the print jobs of {printer}"):
            cursor = await self._db.execute(
                "UPDATE jobs SET state = 'skipped', last_error = ? "
                "WHERE printer = ? AND state = 'queued' AND (? IS NULL OR backup_for = ?)",
                (error, printer, backup_for, backup_for),
            )
        return cursor.rowcount

    async def move_queued(self, source: str, target: str, *, backup_for: str) -> int:
        """Hand every job waiting for printer `source` to `target`; returns how many."""
        with storage_errors(self.path, f"move the print jobs of {source} to {target}"):
            cursor = await self._db.execute(
                "UPDATE jobs SET printer = ?, backup_for = ? "
                "WHERE printer = ? AND state = 'queued'",
                (target, backup_for, source),
            )
        return cursor.rowcount

    async def _kept(self, job_id: int, column: str, value: str) -> None:
        """Raise ChangeNotKept unless job `job_id` reads back with `column` = `value` (a
        column no one else changes meanwhile)."""
        doing = f"record the {column} of print job {job_id}"
        with storage_errors(self.path, doing):
            async with self._db.execute(
                f"SELECT {column} FROM jobs WHERE id = ?", (job_id,)
            ) as cur:
                row = await cur.fetchone()
        if row is None or row[0] != value:
            found = "gone" if row is None else f"{column} {row[0]!r}"
            raise ChangeNotKept(
                doing,
                self.path,
                f"it reads back {found}, not {value!r}",
                "seen when the disk is full: free disk space",
            )

    async def _one(self, sql: str, args: tuple, *, doing: str = "read a print job") -> Job | None:
        with storage_errors(self.path, doing):
            async with self._db.execute(sql, args) as cursor:
                row = await cursor.fetchone()
        return None if row is None else _job(row)
