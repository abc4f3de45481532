"""Paired terminals: one-time pairing codes, bearer tokens, revocation.

A manager creates a pairing code for a named terminal (`posedge pair`, or the API with a
manager's token); the terminal exchanges it once, before it expires, for a bearer token.
Codes and tokens are stored only as SHA-256 hashes in `node.db` in the state directory, so
a copy of that file lets nobody in. Each code also keeps a key (scrypt of the code under a
salt of its own) with which the node proves its store CA to whoever holds the code, before
the code crosses the network (`ca_proofs`, docs/api.md "Pairing over HTTPS").

Both the daemon and the CLI open this file. The daemon keeps the terminals it has seen in
memory and asks SQLite, at most every RECHECK seconds, whether anyone wrote the file since
(`PRAGMA data_version` on a connection its event loop keeps). Asking on every request cost
a sixth of the event loop under load: each SQLite call hands the interpreter lock to the
store's threads, and getting it back waits on them. So a revocation made through the API
takes effect on the next request, one made by the CLI in another process within RECHECK.
Writes open a short-lived connection of their own and may run in any thread. SQLite's errors
come out as StorageError.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from edge.access import node_db
from edge.runtime.errors import EdgeError
from edge.runtime.storage import storage_errors
from sync.membership.codes import code_key

# A "kds" token belongs to a kitchen screen: it may only see tickets, bump and recall them.
ROLES = ("terminal", "manager", "kds")
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud or typed
CODE_LENGTH = 8  # 31^8 ≈ 2^40 codes, alive for minutes, with failed attempts rate-limited
TOKEN_PREFIX = "pe_"
PAIR_CONTEXT = b"posedge pair v1"  # what a pairing code's key is made under (not a join's)
MAX_PROOFS = 20  # live codes whose proofs `ca_proofs` gives, newest first
RECHECK = 0.1  # seconds the daemon trusts its memory of node.db
MAX_NAME = 64


class TerminalError(EdgeError):
    """Root of the errors of pairing and terminal management."""


class PairingRefused(TerminalError):
    """The pairing code is unknown, expired or already used."""


class UnknownTerminal(TerminalError):
    """No terminal has this id or name."""


class InvalidTerminalName(TerminalError):
    """A terminal name must be 1-64 printable characters."""


@dataclass(frozen=True, slots=True)
class Terminal:
    """A paired terminal."""

    id: str
    name: str
    role: str
    created_at: str
    revoked_at: str | None = None

    @property
    def manager(self) -> bool:
        return self.role == "manager"

    @property
    def label(self) -> str:
        """How the order log records this terminal as the author of a write."""
        return f"{self.name} ({self.id})"

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True, slots=True)
class PairingCode:
    """A code to show once to whoever sets up the terminal."""

    code: str  # as displayed: XXXX-XXXX
    name: str
    role: str
    expires_at: dt.datetime


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_code(text: str) -> str:
    """A code as typed (any case, with or without the dash or spaces) in canonical form."""
    return "".join(ch for ch in text.upper() if ch not in "- ")


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def check_name(name: object) -> str:
    """A terminal name as given, or InvalidTerminalName."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidTerminalName(f"a terminal name must be 1-{MAX_NAME} characters")
    if not name.isprintable():
        raise InvalidTerminalName("a terminal name must be printable text")
    return name.strip()


def _terminal(row: tuple) -> Terminal:
    return Terminal(*row)


class TerminalRegistry:
    """The terminals and pairing codes kept in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        node_db.prepare(self.path)
        self._reader: sqlite3.Connection | None = None
        self._seen: dict[str, Terminal] = {}  # token hash → live terminal
        self.last_seen: dict[str, float] = {}  # terminal id → when it last authenticated
        self._seen_version = -1
        self._checked_at = -RECHECK

    def close(self) -> None:
        """Close the reader connection (safe to call twice)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def create_code(
        self, name: str, role: str, *, ttl: dt.timedelta, now: dt.datetime
    ) -> PairingCode:
        """A new single-use pairing code for a terminal called `name` with `role`."""
        name = check_name(name)
        if role not in ROLES:
            raise TerminalError(f"role must be one of {', '.join(ROLES)}")
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        expires = now + ttl
        salt = os.urandom(16)
        key = code_key(raw, salt, PAIR_CONTEXT)  # ~0.1 s, as the terminal's own check costs
        with node_db.connection(self.path, "make a pairing code") as conn:
            conn.execute(
                "DELETE FROM pairing_codes WHERE expires_at < ?", (_stamp(now - dt.timedelta(1)),)
            )
            conn.execute(
                "INSERT INTO pairing_codes (code_hash, name, role, created_at, expires_at, "
                "proof_salt, proof_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_hash(raw), name, role, _stamp(now), _stamp(expires), salt, key),
            )
        return PairingCode(f"{raw[:4]}-{raw[4:]}", name, role, expires)

    def ca_proofs(self, ca_pem: bytes, *, now: dt.datetime) -> list[tuple[bytes, bytes]]:
        """(salt, HMAC-SHA256 of `ca_pem` under the code's key) for each live pairing code,
        newest first: a terminal holding one of the codes checks the CA with it."""
        with node_db.connection(self.path, "read the pairing codes") as conn:
            rows = conn.execute(
                "SELECT proof_salt, proof_key FROM pairing_codes WHERE used_at IS NULL "
                "AND expires_at >= ? AND proof_key IS NOT NULL ORDER BY created_at DESC LIMIT ?",
                (_stamp(now), MAX_PROOFS),
            ).fetchall()
        return [(salt, hmac.digest(key, ca_pem, "sha256")) for salt, key in rows]

    def redeem(
        self, code: str, *, now: dt.datetime, roles: tuple[str, ...] = ROLES
    ) -> tuple[Terminal, str]:
        """Exchange a pairing code for a new terminal and its bearer token (shown once).

        Raises PairingRefused if the code is unknown, expired or used, or pairs a role not
        in `roles` (which leaves the code unused).
        """
        code_hash = _hash(normalize_code(code))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with node_db.connection(self.path, "redeem a pairing code") as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT name, role, expires_at, used_at FROM pairing_codes WHERE code_hash = ?",
                    (code_hash,),
                ).fetchone()
                if row is None or row[3] is not None or row[2] < _stamp(now):
                    raise PairingRefused("the pairing code is wrong, expired or already used")
                if row[1] not in roles:
                    raise PairingRefused(
                        f"a {row[1]} may not pair over plain HTTP on the LAN: pair over HTTPS "
                        "(docs/api.md, Pairing over HTTPS)"
                    )
                conn.execute(
                    "UPDATE pairing_codes SET used_at = ? WHERE code_hash = ?",
                    (_stamp(now), code_hash),
                )
                terminal = Terminal(f"t-{secrets.token_hex(4)}", row[0], row[1], _stamp(now))
                conn.execute(
                    "INSERT INTO terminals (id, name, role, token_hash, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (terminal.id, terminal.name, terminal.role, _hash(token), terminal.created_at),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return terminal, token

    def authenticate(self, token: str) -> Terminal | None:
        """The live (unrevoked) terminal holding `token`, or None.

        Call it from one thread only (the daemon's event loop): it keeps a connection.
        """
        if not token.startswith(TOKEN_PREFIX):
            return None
        if self._reader is None:
            self._reader = node_db.reader(self.path)
        now = time.monotonic()
        token_hash = _hash(token)
        with storage_errors(self.path, "check a terminal's token"):
            if now - self._checked_at >= RECHECK:
                self._checked_at = now
                version = self._reader.execute("PRAGMA data_version").fetchone()[0]
                if version != self._seen_version:  # the file changed: forget what was seen
                    self._seen.clear()
                    self._seen_version = version
            terminal = self._seen.get(token_hash)
            if terminal is None:
                row = self._reader.execute(
                    "SELECT id, name, role, created_at, revoked_at FROM terminals "
                    "WHERE token_hash = ? AND revoked_at IS NULL",
                    (token_hash,),
                ).fetchone()
                if row is None:
                    return None
                terminal = self._seen[token_hash] = _terminal(row)
        self.last_seen[terminal.id] = time.time()  # in memory only: no write per request
        return terminal

    def recheck_now(self) -> None:
        """Make the next `authenticate` look at the file again (after a revocation)."""
        self._checked_at = -RECHECK

    def terminals(self) -> list[Terminal]:
        """Every terminal ever paired, revoked ones included, oldest first."""
        with node_db.connection(self.path, "list the terminals") as conn:
            rows = conn.execute(
                "SELECT id, name, role, created_at, revoked_at FROM terminals "
                "ORDER BY created_at, id"
            ).fetchall()
        return [_terminal(row) for row in rows]

    def revoke(self, which: str, *, now: dt.datetime) -> list[Terminal]:
        """Revoke the terminal with id `which`, or every live terminal named `which`.

        Returns the terminals revoked; raises UnknownTerminal if none matched.
        """
        with node_db.connection(self.path, f"revoke terminal {which}") as conn:
            rows = conn.execute(
                "UPDATE terminals SET revoked_at = ? "
                "WHERE (id = ? OR name = ?) AND revoked_at IS NULL "
                "RETURNING id, name, role, created_at, revoked_at",
                (_stamp(now), which, which),
            ).fetchall()
        if not rows:
            raise UnknownTerminal(f"no paired terminal with id or name {which!r}")
        return [_terminal(row) for row in rows]
