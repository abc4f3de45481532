"""One-time pairing codes, kept in this node's `node.db`: a terminal redeems its code at the
node that made it (its token then works on every node of the store: terminals.py).

A manager creates a code for a named terminal (`posedge pair`, the UI, or the API with a
manager's token). Codes are stored only as SHA-256 hashes, so a copy of the file lets nobody
in. Each code also keeps a key (scrypt of the code under a salt of its own) with which the
node proves its store CA to whoever holds the code, before the code crosses the network
(`ca_proofs`, docs/api.md "Pairing over HTTPS"). SQLite's errors come out as StorageError.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from edge.access import node_db
from edge.runtime.errors import EdgeError
from sync.membership.codes import code_key

# A "kds" token belongs to a kitchen screen: it may only see tickets, bump and recall them.
ROLES = ("terminal", "manager", "kds")
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud or typed
CODE_LENGTH = 8  # 31^8 ≈ 2^40 codes, alive for minutes, with failed attempts rate-limited
PAIR_CONTEXT = b"posedge pair v1"  # what a pairing code's key is made under (not a join's)
MAX_PROOFS = 20  # live codes whose proofs `ca_proofs` gives, newest first
MAX_NAME = 64


class TerminalError(EdgeError):
    """Root of the errors of pairing and terminal management."""


class PairingRefused(TerminalError):
    """The pairing code is unknown, expired or already used."""


class InvalidTerminalName(TerminalError):
    """A terminal name must be 1-64 printable characters."""


@dataclass(frozen=True, slots=True)
class PairingCode:
    """A code to show once to whoever sets up the terminal."""

    code: str  # as displayed: XXXX-XXXX
    name: str
    role: str
    expires_at: dt.datetime


def sha256(secret: str) -> str:
    """How codes and tokens are kept: the hex SHA-256 of the text."""
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_code(text: str) -> str:
    """A code as typed (any case, with or without the dash or spaces) in canonical form."""
    return "".join(ch for ch in text.upper() if ch not in "- ")


def stamp(moment: dt.datetime) -> str:
    """A moment as node.db and the store document keep it: ISO 8601 in UTC, to the second."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def check_name(name: object) -> str:
    """A terminal name as given, or InvalidTerminalName."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidTerminalName(f"a terminal name must be 1-{MAX_NAME} characters")
    if not name.isprintable():
        raise InvalidTerminalName("a terminal name must be printable text")
    return name.strip()


class PairingCodes:
    """The pairing codes of this node, in its node.db (the CLI writes them too)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        node_db.prepare(self.path)

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
                "DELETE FROM pairing_codes WHERE expires_at < ?", (stamp(now - dt.timedelta(1)),)
            )
            conn.execute(
                "INSERT INTO pairing_codes (code_hash, name, role, created_at, expires_at, "
                "proof_salt, proof_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sha256(raw), name, role, stamp(now), stamp(expires), salt, key),
            )
        return PairingCode(f"{raw[:4]}-{raw[4:]}", name, role, expires)

    def ca_proofs(self, ca_pem: bytes, *, now: dt.datetime) -> list[tuple[bytes, bytes]]:
        """(salt, HMAC-SHA256 of `ca_pem` under the code's key) for each live pairing code,
        newest first: a terminal holding one of the codes checks the CA with it."""
        with node_db.connection(self.path, "read the pairing codes") as conn:
            rows = conn.execute(
                "SELECT proof_salt, proof_key FROM pairing_codes WHERE used_at IS NULL "
                "AND expires_at >= ? AND proof_key IS NOT NULL ORDER BY created_at DESC LIMIT ?",
                (stamp(now), MAX_PROOFS),
            ).fetchall()
        return [(salt, hmac.digest(key, ca_pem, "sha256")) for salt, key in rows]

    def use(
        self, code: str, *, now: dt.datetime, roles: tuple[str, ...] = ROLES
    ) -> tuple[str, str]:
        """Use up a pairing code; returns the (name, role) it was made for.

        Raises PairingRefused if the code is unknown, expired or used, or pairs a role not
        in `roles` (which leaves the code unused).
        """
        code_hash = sha256(normalize_code(code))
        with node_db.connection(self.path, "redeem a pairing code") as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT name, role, expires_at, used_at FROM pairing_codes WHERE code_hash = ?",
                    (code_hash,),
                ).fetchone()
                if row is None or row[3] is not None or row[2] < stamp(now):
                    raise PairingRefused("the pairing code is wrong, expired or already used")
                if row[1] not in roles:
                    raise PairingRefused(
                        f"a {row[1]} may not pair over plain HTTP on the LAN: pair over HTTPS "
                        "(docs/api.md, Pairing over HTTPS)"
                    )
                conn.execute(
                    "UPDATE pairing_codes SET used_at = ? WHERE code_hash = ?",
                    (stamp(now), code_hash),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return row[0], row[1]
