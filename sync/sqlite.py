"""The one way the project opens a SQLite file: named durability, and a migration step per
schema version.

A `Schema` describes one kind of database file: its durability (how it trades speed for
surviving a crash or a power cut) and its migration steps, step N bringing
`PRAGMA user_version` from N-1 to N in one transaction. `connect` opens a file for use,
applying the durability and the steps it has not had yet; `connect_async` does the same
for an aiosqlite connection; `connect(..., read_only=True)` reads a file without creating
or changing it (`posedge doctor`).

Files made before versions were kept have user_version 0 and their tables: each schema's
step 1 creates its tables only where they do not exist, so such a file is upgraded with its
rows. A file whose version is newer than the code knows is refused (SchemaTooNew): what a
newer posedge wrote, an older one must not change.

Raises sqlite3.Error when SQLite fails (the caller wraps it in its package's storage error:
`hint` says what an operator can do, `unavailable` is sync's), SchemaTooNew, and
StoreUnavailable when SQLite refuses the journal mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from sync.errors import SchemaTooNew, StoreUnavailable

BUSY_TIMEOUT = 5.0
"""Seconds a connection waits for another one's write lock before failing."""


@dataclass(frozen=True, slots=True)
class Durability:
    """How a database file trades speed for surviving a crash or a power cut."""

    journal_mode: str | None  # None: SQLite's default, a rollback journal
    synchronous: str | None  # None: SQLite's default


FULL = Durability("WAL", "FULL")
"""A commit is on the disk when it returns: it survives kill -9 and a power cut."""

NORMAL = Durability("WAL", "NORMAL")
"""A commit survives kill -9; a power cut may lose the last ones, never the file."""

ROLLBACK_JOURNAL = Durability(None, None)
"""SQLite's defaults: a rollback journal, each commit synced."""


@dataclass(frozen=True, slots=True)
class Schema:
    """One kind of database file: its durability and its migration steps, oldest first."""

    durability: Durability
    steps: tuple[str, ...]  # steps[N - 1]: the SQL that brings user_version from N-1 to N
    foreign_keys: bool = False
    incremental_vacuum: bool = False  # auto_vacuum = INCREMENTAL, chosen as the file is made

    @property
    def version(self) -> int:
        """The user_version of a file that has had every step."""
        return len(self.steps)


def connect(
    path: Path,
    schema: Schema,
    *,
    read_only: bool = False,
    timeout: float = BUSY_TIMEOUT,
    isolation_level: str | None = None,
    same_thread: bool = True,
) -> sqlite3.Connection:
    """A connection to `path`, made (or upgraded) to `schema` with its durability in force.

    `read_only` opens an existing file as it is: nothing is created, set or migrated.
    `isolation_level` is sqlite3's (None: autocommit, each caller opens its transactions).
    `same_thread=False` lets another thread use the connection after this one.
    """
    if read_only:
        uri = f"{Path(path).absolute().as_uri()}?mode=ro"
        conn = sqlite3.connect(
            uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=same_thread
        )
    else:
        conn = sqlite3.connect(
            path, timeout=timeout, isolation_level=None, check_same_thread=same_thread
        )
    try:
        version = _user_version(conn)
        if version > schema.version:
            raise SchemaTooNew(
                f"{path} has schema version {version}, newer than this posedge "
                f"understands ({schema.version}); upgrade posedge"
            )
        if not read_only:
            _configure(conn, path, schema, new=version == 0)
            _migrate(conn, schema, version)
        conn.isolation_level = isolation_level
    except BaseException:
        conn.close()
        raise
    return conn


async def connect_async(path: Path, schema: Schema, **options: object) -> aiosqlite.Connection:
    """`connect` for the event loop: run on a worker thread, the connection is then handed to
    the thread of the aiosqlite connection returned (one uses it after the other)."""
    conn = await asyncio.to_thread(
        functools.partial(connect, path, schema, same_thread=False, **options)
    )
    # The connector cannot fail, so aiosqlite never stops its thread behind our back.
    return await aiosqlite.Connection(lambda: conn, iter_chunk_size=64)


def hint(exc: BaseException) -> str:
    """What an operator can do about a failed read or write of a database file."""
    return "free disk space" if "full" in str(exc).lower() else "check the disk and permissions"


def unavailable(path: Path, doing: str, exc: BaseException) -> StoreUnavailable:
    """The error of sync's code for what `exc` stopped it doing in the file at `path`."""
    return StoreUnavailable(f"could not {doing} in {path}: {exc} ({hint(exc)})")


async def rollback(conn: aiosqlite.Connection) -> None:
    """Roll back the open transaction; nothing happens if none is open or the connection
    is gone."""
    try:
        await conn.execute("ROLLBACK")
    except Exception:
        pass


def _user_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def _configure(conn: sqlite3.Connection, path: Path, schema: Schema, *, new: bool) -> None:
    if schema.incremental_vacuum and new:
        # Only a file without tables takes it, and only before its journal mode is set.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    durability = schema.durability
    if durability.journal_mode is not None:
        mode = conn.execute(f"PRAGMA journal_mode = {durability.journal_mode}").fetchone()[0]
        if str(mode).lower() != durability.journal_mode.lower():
            raise StoreUnavailable(
                f"{path}: SQLite refused {durability.journal_mode} mode (got {mode})"
            )
    if durability.synchronous is not None:
        conn.execute(f"PRAGMA synchronous = {durability.synchronous}")
    if schema.foreign_keys:
        conn.execute("PRAGMA foreign_keys = ON")


def _migrate(conn: sqlite3.Connection, schema: Schema, version: int) -> None:
    """Apply the steps after `version`, each in a transaction of its own. A file that is up
    to date is not written to, so it opens on a full disk."""
    for number, step in enumerate(schema.steps[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _user_version(conn) < number:  # (another process may have just applied it)
                for statement in _statements(step):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> Iterator[str]:
    """The statements of `script` one by one (`executescript` would commit before them)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        yield pending
