"""Join codes kept in `node.db`, so that `posedge join-code` (a process of its own) can make
a code the running daemon then accepts. Each is valid ten minutes, once; at most four live
at a time. The codes are kept as they are (the join exchange derives its keys from them),
in a file only the daemon's user can read. SQLite's errors come out as StorageError.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from edge.access import node_db
from sync.membership.join import (
    CODE_ALPHABET,
    CODE_LENGTH,
    CODE_TTL,
    MAX_LIVE_CODES,
    normalize_code,
)


class StoredJoinCodes:
    """The live join codes of this node (the interface of sync.membership.join.JoinCodes)."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock

    @contextlib.contextmanager
    def _connect(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A node.db connection for one operation, with the expired codes gone."""
        with node_db.connection(self.path, doing) as conn:
            conn.execute("DELETE FROM join_codes WHERE expires_at <= ?", (self._clock(),))
            yield conn

    def create(self) -> str:
        """A new code, formatted XXXX-XXXX; the oldest live code goes beyond four."""
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        with self._connect("make a join code") as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "DELETE FROM join_codes WHERE code NOT IN "
                "(SELECT code FROM join_codes ORDER BY expires_at DESC LIMIT ?)",
                (MAX_LIVE_CODES - 1,),
            )
            conn.execute(
                "INSERT INTO join_codes (code, expires_at) VALUES (?, ?)",
                (raw, self._clock() + CODE_TTL),
            )
            conn.execute("COMMIT")
        return f"{raw[:4]}-{raw[4:]}"

    def live(self) -> list[str]:
        """The codes still valid (normalized, without the dash)."""
        with self._connect("read the join codes") as conn:
            return [row[0] for row in conn.execute("SELECT code FROM join_codes")]

    def expiries(self) -> dict[str, float]:
        """The codes still valid (normalized) and when each expires (seconds since the epoch)."""
        with self._connect("read the join codes") as conn:
            return dict(conn.execute("SELECT code, expires_at FROM join_codes ORDER BY expires_at"))

    def burn(self, code: str) -> bool:
        """Use `code` up; False if it was not live."""
        raw = normalize_code(code)
        if raw is None:
            return False
        with self._connect("use up a join code") as conn:
            return conn.execute("DELETE FROM join_codes WHERE code = ?", (raw,)).rowcount == 1
