"""Idempotent POSTs: a request retried with the same `Idempotency-Key` gets the first answer.

The first answer to each (terminal, key) is kept in `node.db` for `retention` and replayed,
byte for byte, with `Idempotent-Replayed: true`, to any retry of the same request; a
different request under a used key is refused (422). A retry that arrives while the first
attempt is still running waits for its answer. Answers that did not change anything
durable (5xx, 429) are not kept, so their retry runs again.

The record of an answer is written after the order log has committed the change. If the
node dies between the two (or the record cannot be written), the retry runs again, and the
order book, given the same key, derives the same ids and finds its own earlier write (see
edge/order_ids.py): a retry never makes a second order, line or payment.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
from aiohttp import web

from .context import TERMINAL
from .problems import Problem, problem_for

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
DEFAULT_RETENTION = 24 * 3600.0
SWEEP_EVERY = 1000  # inserts between deletions of expired records
KEY_FORMAT = re.compile(r"[\x21-\x7e]{1,128}")
REQUEST_KEY = web.RequestKey("request_key", str)  # "<terminal id>:<Idempotency-Key>"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    status INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
"""

_KEPT_HEADERS = ("Location",)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            body=self.body,
            content_type=self.content_type,
            headers={**self.headers, "Idempotent-Replayed": "true"},
        )


class IdempotencyStore:
    """First answers to keyed requests, in SQLite, with the keys held in memory."""

    def __init__(self, conn: aiosqlite.Connection, retention: float) -> None:
        self._conn = conn
        self._retention = retention
        self._fingerprints: dict[tuple[str, str], bytes] = {}
        self._running: dict[tuple[str, str], asyncio.Future[StoredAnswer | None]] = {}
        self._inserts = 0

    @classmethod
    async def open(cls, path: Path, *, retention: float = DEFAULT_RETENTION) -> IdempotencyStore:
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            # A record lost to a power cut only makes its retry run again (see above).
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA busy_timeout = 5000")
            await conn.executescript(_SCHEMA)
            store = cls(conn, retention)
            await store._sweep()
            for scope, key, fingerprint in await conn.execute_fetchall(
                "SELECT scope, key, fingerprint FROM idempotency"
            ):
                store._fingerprints[(scope, key)] = fingerprint
        except BaseException:
            await conn.close()
            raise
        return store

    async def close(self) -> None:
        await self._conn.close()

    async def _sweep(self) -> None:
        cutoff = time.time() - self._retention
        for scope, key in await self._conn.execute_fetchall(
            "DELETE FROM idempotency WHERE created_at < ? RETURNING scope, key", (cutoff,)
        ):
            self._fingerprints.pop((scope, key), None)

    async def _stored(self, scope: str, key: str) -> StoredAnswer | None:
        rows = await self._conn.execute_fetchall(
            "SELECT status, content_type, headers, body FROM idempotency "
            "WHERE scope = ? AND key = ?",
            (scope, key),
        )
        if not rows:
            return None
        status, content_type, headers, body = rows[0]
        return StoredAnswer(status, content_type, json.loads(headers), body)

    async def _keep(self, scope: str, key: str, fingerprint: bytes, answer: StoredAnswer) -> None:
        await self._conn.execute(
            "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                scope,
                key,
                fingerprint,
                answer.status,
                answer.content_type,
                json.dumps(answer.headers),
                answer.body,
                time.time(),
            ),
        )
        self._fingerprints[(scope, key)] = fingerprint
        self._inserts += 1
        if self._inserts % SWEEP_EVERY == 0:
            await self._sweep()

    async def answer(self, scope: str, key: str, fingerprint: bytes, run) -> web.Response:
        """The answer to the keyed request: replayed if known, else `run()`'s, kept."""
        ident = (scope, key)
        while (running := self._running.get(ident)) is not None:
            await asyncio.shield(running)
        known = self._fingerprints.get(ident)
        if known is not None:
            if known != fingerprint:
                raise Problem(
                    422,
                    "idempotency-key-reused",
                    "This Idempotency-Key was used for a different request",
                    "use a new key for a new request; reuse a key only to retry the same one",
                )
            stored = await self._stored(scope, key)
            if stored is not None:
                return stored.response()
        done: asyncio.Future[StoredAnswer | None] = asyncio.get_running_loop().create_future()
        self._running[ident] = done
        try:
            try:
                response = await run()
            except Exception as exc:
                response = problem_for(exc).response()
            answer = _keepable(response)
            if answer is not None:
                try:
                    await self._keep(scope, key, fingerprint, answer)
                except sqlite3.Error as exc:  # the change is made: answer it all the same
                    log.warning("could not record the answer to key %r: %s", key, exc)
            return response
        finally:
            del self._running[ident]
            done.set_result(None)


def _keepable(response: web.StreamResponse) -> StoredAnswer | None:
    if not isinstance(response, web.Response) or response.status >= 500:
        return None
    if response.status == 429 or response.body is None:
        return None
    return StoredAnswer(
        response.status,
        response.content_type,
        {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers},
        bytes(response.body),
    )


IDEMPOTENCY = web.AppKey("idempotency", IdempotencyStore)


@web.middleware
async def idempotency_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Give keyed POSTs of a terminal their first answer on every retry."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None or TERMINAL not in request:
        return await handler(request)
    if not KEY_FORMAT.fullmatch(key):
        raise Problem(
            400,
            "invalid-idempotency-key",
            "The Idempotency-Key header is malformed",
            "use 1-128 visible ASCII characters, e.g. a UUID",
        )
    scope = request[TERMINAL].id
    body = await request.read()
    fingerprint = hashlib.sha256(
        b"\0".join((request.method.encode(), request.path_qs.encode(), body))
    ).digest()
    request[REQUEST_KEY] = f"{scope}:{key}"
    store = request.app[IDEMPOTENCY]
    return await store.answer(scope, key, fingerprint, lambda: handler(request))
