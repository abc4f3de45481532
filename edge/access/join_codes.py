"""Join codes kept in `node.db`, so that `posedge join-code` (a process of its own) can make
a code the running daemon then accepts. Each is valid ten minutes, once; at most four live
at a time. Only each code's key is kept (scrypt under a salt of its own, see
sync/membership/codes.py), never the code. SQLite's errors come out as StorageError.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from edge.access import node_db
from sync.membership.codes import CODE_TTL, MAX_LIVE_CODES, new_code, shown


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
        """A new code, formatted XXXX-XXXX; the oldest live code goes beyond four. Slow on
        purpose (scrypt, ~0.1 s): call it in a thread from an event loop."""
        raw, salt, key = new_code()
        with self._connect("make a join code") as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "DELETE FROM join_codes WHERE salt NOT IN "
                "(SELECT salt FROM join_codes ORDER BY expires_at DESC LIMIT ?)",
                (MAX_LIVE_CODES - 1,),
            )
            conn.execute(
                "INSERT INTO join_codes (salt, code_key, expires_at) VALUES (?, ?, ?)",
                (salt, key, self._clock() + CODE_TTL),
            )
            conn.execute("COMMIT")
        return shown(raw)

    def live(self) -> dict[bytes, bytes]:
        """The keys of the codes still valid, by salt."""
        with self._connect("read the join codes") as conn:
            return dict(conn.execute("SELECT salt, code_key FROM join_codes"))

    def expiries(self) -> dict[bytes, float]:
        """When each live code expires (seconds since the epoch), by salt, soonest first."""
        with self._connect("read the join codes") as conn:
            return dict(conn.execute("SELECT salt, expires_at FROM join_codes ORDER BY expires_at"))

    def burn(self, salt: bytes) -> bool:
        """Use the code of `salt` up; False if it was not live."""
        with self._connect("use up a join code") as conn:
            return conn.execute("DELETE FROM join_codes WHERE salt = ?", (salt,)).rowcount == 1
