"""Idempotent POSTs: a request retried with the same `Idempotency-Key` gets the first answer.

The first answer to each (terminal, key) is kept in `requests.db` for `retention` and replayed,
byte for byte, with `Idempotent-Replayed: true`, to any retry of the same request; a
different request under a used key is refused (422). A retry that arrives while the first
attempt is still running waits for its answer. Answers that did not change anything
durable (5xx, 429) are not kept, so their retry runs again. A route whose answer shows a
secret (SECRET_ANSWERS: a pairing code) refuses the header, so that no copy of the secret is
kept; the record's body is compressed (deflate): an order's answer to some 30 %.

The record of an answer is written behind it, in batches, after the order log has committed
the change. If the node dies before the record is written (or it cannot be), the retry runs
again, and the
order book, given the same key, derives the same ids and finds its own earlier write (see
edge/orders/ids.py): a retry never makes a second order, line or payment.

SQLite's errors in opening the file or reading an answer back come out as StorageError.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import sqlite3
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
from aiohttp import web

from edge.http.context import TERMINAL
from edge.http.problems import Problem, problem_for
from edge.runtime.storage import storage_errors
from sync.sqlite import NORMAL, Schema, connect_async

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
DEFAULT_RETENTION = 24 * 3600.0
SWEEP_EVERY = 1000  # records written between deletions of expired ones
DEFAULT_RECENT = 4096  # answers kept in memory for fast replay
KEY_FORMAT = re.compile(r"[\x21-\x7e]{1,128}")
REQUEST_KEY = web.RequestKey("request_key", str)  # "<terminal id>:<Idempotency-Key>"

_STEP_1 = """
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

_STEP_2 = """
ALTER TABLE idempotency ADD COLUMN encoding TEXT NOT NULL DEFAULT 'identity';
DELETE FROM idempotency WHERE CAST(body AS TEXT) LIKE '{"code":%';
"""

SCHEMA = Schema(NORMAL, steps=(_STEP_1, _STEP_2))
"""requests.db: version 1 is the table of requests.db files made before versions were kept;
version 2 says how each body is kept (`identity` as it was, `deflate` from then on) and
drops the kept answers that showed a pairing code. NORMAL: a record lost to a power cut
only makes its retry run again (see above)."""

_KEPT_HEADERS = ("Location", "Preference-Applied")
SECRET_ANSWERS = frozenset(
    {("POST", "/api/v1/terminals/pairing-codes"), ("POST", "/api/v1/staff/sign-in")}
)
"""Routes whose answer shows a secret that the node keeps only as a hash (a pairing code,
a staff session's token)."""


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    content_type: str  # the whole header, charset included: a client decodes text by it
    headers: dict[str, str]
    body: bytes

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            body=self.body,
            headers={
                **self.headers,
                "Content-Type": self.content_type,
                "Idempotent-Replayed": "true",
            },
        )


class IdempotencyStore:
    """First answers to keyed requests: the latest in memory, all of them in SQLite.

    Records are written behind the answers, in batches, by a writer task the store owns:
    a retry within the last `recent` answers is served from memory, an older one from the
    file. `close` writes what is still pending.
    """

    def __init__(
        self, conn: aiosqlite.Connection, path: Path, retention: float, recent: int
    ) -> None:
        self._conn = conn
        self._path = path
        self._retention = retention
        self._recent_size = recent
        self._fingerprints: dict[tuple[str, str], bytes] = {}
        self._recent: OrderedDict[tuple[str, str], StoredAnswer] = OrderedDict()
        self._running: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._unwritten: list[tuple] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._written = 0
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, path: Path, *, retention: float = DEFAULT_RETENTION, recent: int = DEFAULT_RECENT
    ) -> IdempotencyStore:
        """Open (creating) the file of answers, forgetting those older than `retention`."""
        with storage_errors(path, "open the answers to keyed requests"):
            conn = await connect_async(path, SCHEMA)
            try:
                store = cls(conn, path, retention, recent)
                await store._sweep()
                for scope, key, fingerprint in await conn.execute_fetchall(
                    "SELECT scope, key, fingerprint FROM idempotency"
                ):
                    store._fingerprints[(scope, key)] = fingerprint
            except BaseException:
                await conn.close()
                raise
        store._writer = asyncio.create_task(store._write_loop(), name="idempotency-writer")
        return store

    async def close(self) -> None:
        """Write the pending records and close the file (safe to call twice)."""
        self._closing = True
        self._wakeup.set()
        if self._writer is not None:
            await self._writer
            self._writer = None
            await self._conn.close()

    async def _write_loop(self) -> None:
        while not (self._closing and not self._unwritten):
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._unwritten = self._unwritten, []
            if not batch:
                continue
            try:
                await self._conn.executemany(
                    "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch
                )
                self._written += len(batch)
                if self._written >= SWEEP_EVERY:
                    self._written = 0
                    await self._sweep()
            except sqlite3.Error as exc:  # the changes are made; only their replay is lost
                log.warning("could not record %d answers to keyed requests: %s", len(batch), exc)

    async def _sweep(self) -> None:
        cutoff = time.time() - self._retention
        for scope, key in await self._conn.execute_fetchall(
            "DELETE FROM idempotency WHERE created_at < ? RETURNING scope, key", (cutoff,)
        ):
            self._fingerprints.pop((scope, key), None)

    async def _stored(self, ident: tuple[str, str]) -> StoredAnswer | None:
        answer = self._recent.get(ident)
        if answer is not None:
            return answer
        with storage_errors(self._path, "read the answer to a keyed request"):
            rows = await self._conn.execute_fetchall(
                "SELECT status, content_type, headers, body, encoding FROM idempotency "
                "WHERE scope = ? AND key = ?",
                ident,
            )
        if not rows:
            return None  # not written (yet, or ever): the retry runs again
        status, content_type, headers, body, encoding = rows[0]
        if encoding == "deflate":
            body = zlib.decompress(body)
        return StoredAnswer(status, content_type, json.loads(headers), body)

    def _keep(self, ident: tuple[str, str], fingerprint: bytes, answer: StoredAnswer) -> None:
        self._fingerprints[ident] = fingerprint
        self._recent[ident] = answer
        while len(self._recent) > self._recent_size:
            self._recent.popitem(last=False)
        self._unwritten.append(
            (
                *ident,
                fingerprint,
                answer.status,
                answer.content_type,
                json.dumps(answer.headers),
                zlib.compress(answer.body),
                time.time(),
                "deflate",
            )
        )
        self._wakeup.set()

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
            stored = await self._stored(ident)
            if stored is not None:
                return stored.response()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._running[ident] = done
        try:
            try:
                response = await run()
            except Exception as exc:
                response = problem_for(exc).response()
            answer = _keepable(response)
            if answer is not None:
                self._keep(ident, fingerprint, answer)
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
        response.headers.get("Content-Type", response.content_type),
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
    if (request.method, request.match_info.route.resource.canonical) in SECRET_ANSWERS:
        raise Problem(
            400,
            "idempotency-key-refused",
            "This route takes no Idempotency-Key",
            "its answer shows a secret, and no copy of it is kept to replay; send the request "
            "without the header (a retry makes a new one, and the unused one expires)",
        )
    scope = request[TERMINAL].id
    body = await request.read()
    fingerprint = hashlib.sha256(
        b"\0".join((request.method.encode(), request.path_qs.encode(), body))
    ).digest()
    request[REQUEST_KEY] = f"{scope}:{key}"
    store = request.app[IDEMPOTENCY]
    return await store.answer(scope, key, fingerprint, lambda: handler(request))
