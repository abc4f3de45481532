"""requests.db, the first answers to keyed requests: an unversioned file is upgraded and its
answers still replay, a newer one is refused naming it, SQLite's errors come out as
StorageError; and a StorageError anywhere is answered as the store being unavailable."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from aiohttp import web

from edge.http.idempotency import SCHEMA, IdempotencyStore
from edge.http.problems import Problem, problem_for
from edge.runtime.errors import StorageError
from tests.support.sqlite_files import too_new, unversioned, version_of

FINGERPRINT = b"\x01" * 32


async def never_run() -> web.Response:
    raise AssertionError("a kept answer must be replayed, not run again")


async def test_an_unversioned_requests_db_is_upgraded_and_its_answers_replay(tmp_path):
    path = unversioned(
        tmp_path / "requests.db",
        SCHEMA,
        (
            "INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "t-0001",
                "key-1",
                FINGERPRINT,
                201,
                "application/json",
                json.dumps({"Location": "/orders/A-001"}),
                b'{"id": "A-001"}',
                time.time(),
            ),
        ),
    )
    store = await IdempotencyStore.open(path)
    try:
        replayed = await store.answer("t-0001", "key-1", FINGERPRINT, never_run)
        with pytest.raises(Problem) as reused:
            await store.answer("t-0001", "key-1", b"\x02" * 32, never_run)
    finally:
        await store.close()
    assert (replayed.status, replayed.body) == (201, b'{"id": "A-001"}')
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.headers["Location"] == "/orders/A-001"
    assert reused.value.status == 422
    assert version_of(path) == SCHEMA.version == 1


async def test_a_requests_db_newer_than_this_posedge_is_refused_naming_the_file(tmp_path):
    path = too_new(tmp_path / "requests.db", SCHEMA)
    with pytest.raises(StorageError, match="newer") as refused:
        await IdempotencyStore.open(path)
    assert refused.value.path == path and str(path) in str(refused.value)


async def test_sqlite_errors_of_requests_db_come_out_as_storage_errors(tmp_path):
    garbage = tmp_path / "requests.db"
    garbage.write_bytes(b"not a database, a receipt\n" * 200)
    with pytest.raises(StorageError, match="not a database") as refused:
        await IdempotencyStore.open(garbage)
    assert isinstance(refused.value.cause, sqlite3.DatabaseError)
    assert str(garbage) in str(refused.value)


def test_a_storage_error_is_answered_503_store_unavailable_with_retry_after(tmp_path):
    error = StorageError(
        "record a print job",
        tmp_path / "print.db",
        sqlite3.OperationalError("database or disk is full"),
        "free disk space",
    )
    answer = problem_for(error)
    assert (answer.status, answer.slug) == (503, "store-unavailable")
    assert answer.headers == {"Retry-After": "5"}
    assert "disk is full" not in json.dumps(answer.body())  # the operator's log says why
