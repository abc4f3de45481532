"""requests.db, the first answers to keyed requests: an unversioned file is upgraded and its
answers still replay, a newer one is refused naming it, SQLite's errors come out as
StorageError; a StorageError anywhere is answered as the store being unavailable; answers
are kept compressed, and no pairing code or token is ever kept."""

from __future__ import annotations

import json
import sqlite3
import time
import zlib

import pytest
from aiohttp import web

from edge.http.idempotency import SCHEMA, IdempotencyStore
from edge.http.problems import Problem, problem_for
from edge.runtime.errors import StorageError
from tests.support.api_node import Terminal, start_node
from tests.support.sqlite_files import too_new, unversioned, version_of

FINGERPRINT = b"\x01" * 32
OLD_ROW = "INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


async def never_run() -> web.Response:
    raise AssertionError("a kept answer must be replayed, not run again")


async def test_an_unversioned_requests_db_is_upgraded_and_its_answers_replay(tmp_path):
    code = b'{"code":"F3UA-DEZH","name":"Bar 2","role":"manager","expires_at":"2026-11-20"}'
    path = unversioned(
        tmp_path / "requests.db",
        SCHEMA,
        (
            OLD_ROW,
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
        (OLD_ROW, ("t-0001", "key-2", FINGERPRINT, 201, "application/json", "{}", code, 0)),
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
    assert version_of(path) == SCHEMA.version == 2
    with sqlite3.connect(path) as db:  # a pairing code kept by an older posedge is dropped
        assert db.execute("SELECT key FROM idempotency").fetchall() == [("key-1",)]


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


async def test_a_kept_answer_is_compressed_and_replays_byte_for_byte(tmp_path):
    order = {"id": "20261120-e97d280acdbc", "lines": [{"sku": "FRIES", "qty": 1}] * 40}
    body = json.dumps({"order": order, "line_id": "g3hr_-hy"}).encode()
    headers = {"Location": "/api/v1/orders/20261120-e97d280acdbc"}
    headers["Preference-Applied"] = "return=minimal"

    async def first() -> web.Response:
        return web.Response(status=201, body=body, content_type="application/json", headers=headers)

    path = tmp_path / "requests.db"
    store = await IdempotencyStore.open(path)
    try:
        await store.answer("t-0001", "key-1", FINGERPRINT, first)
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        [(kept, encoding)] = db.execute("SELECT body, encoding FROM idempotency").fetchall()
    assert encoding == "deflate" and len(kept) < len(body) / 4
    store = await IdempotencyStore.open(path, recent=0)  # read back from the file
    try:
        replayed = await store.answer("t-0001", "key-1", FINGERPRINT, never_run)
    finally:
        await store.close()
    assert (replayed.status, replayed.body) == (201, body)
    assert {name: replayed.headers[name] for name in headers} == headers


async def test_no_pairing_code_or_token_is_kept_in_requests_db(tmp_path, clock):
    """A keyed request for a pairing code is refused; a keyed pairing, with or without a
    token, is never kept: nothing in requests.db holds a code or a token."""
    node = await start_node(tmp_path / "n", clock)
    try:
        manager = Terminal(node, await node.pair("Office", manager=True))
        ask = {"name": "Bar 2", "role": "manager"}
        status, problem, _ = await manager.call(
            "POST", "/terminals/pairing-codes", ask, key="code-1"
        )
        assert (status, problem["type"]) == (400, "urn:posedge:problem:idempotency-key-refused")
        code = (await manager.post("/terminals/pairing-codes", ask))["code"]
        status, paired, _ = await manager.call("POST", "/pair", {"code": code}, key="pair-1")
        assert status == 201
        await manager.post("/orders", key="order-1")  # a keyed answer that is kept
    finally:
        await node.close()
    with sqlite3.connect(tmp_path / "n" / "requests.db") as db:
        rows = db.execute("SELECT key, body, encoding FROM idempotency").fetchall()
    assert [key for key, _, _ in rows] == ["order-1"]
    kept = b"".join(zlib.decompress(body) if enc == "deflate" else body for _, body, enc in rows)
    assert code.encode() not in kept and paired["token"].encode() not in kept
