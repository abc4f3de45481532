"""Paired terminals: bearer tokens that work on every node of the store, and revocation.

A terminal redeems a one-time pairing code (pairing_codes.py) at the node that made it, and
gets a bearer token. The terminal is written into the store document (`terminal:<id>`:
name, role, the token's SHA-256, when it was paired, when revoked), which replicates to
every node: the token works on each of them as soon as it has caught up, a node that was
offline included. A revocation made anywhere is a write of the same register with
`revoked_at` set; every node drops the token the moment the write reaches it, and its
sockets close at their next check (edge/http/websocket.py, TOKEN_RECHECK).

The registry keeps the live terminals by token hash in memory, rebuilt when the store
document's terminals change, so checking a token costs one hash and one lookup.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from dataclasses import dataclass

from edge.access.pairing_codes import (
    ROLES,
    PairingCodes,
    TerminalError,
    sha256,
    stamp,
)
from edge.config.store_document import StoreDocument

TOKEN_PREFIX = "pe_"
KIND = "terminal"  # the store document's registers of terminals: terminal:<id>


class UnknownTerminal(TerminalError):
    """No terminal has this id or name."""


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


def record(terminal: Terminal, token_hash: str) -> dict:
    """The store document's value for `terminal`."""
    return {**terminal.to_dict(), "token_hash": token_hash}


def read_record(terminal_id: str, value: object) -> tuple[Terminal, str] | None:
    """(terminal, token hash) from a store document value, or None if it is not one."""
    if not isinstance(value, dict):
        return None
    fields = (value.get(k) for k in ("name", "role", "created_at", "token_hash"))
    name, role, created_at, token_hash = fields
    revoked_at = value.get("revoked_at")
    if not all(isinstance(v, str) for v in (name, role, created_at, token_hash)):
        return None
    if role not in ROLES or not (revoked_at is None or isinstance(revoked_at, str)):
        return None
    return Terminal(terminal_id, name, role, created_at, revoked_at), token_hash


def terminals_of(document: StoreDocument) -> dict[str, tuple[Terminal, str]]:
    """Every terminal the store document holds (revoked ones too), by id."""
    found = {}
    for terminal_id, entry in document.group(KIND).items():
        read = read_record(terminal_id, entry.value)
        if read is not None:
            found[terminal_id] = read
    return found


def revocation(terminal: Terminal, token_hash: str, now: dt.datetime) -> dict:
    """The store document's value that revokes `terminal`."""
    revoked = Terminal(terminal.id, terminal.name, terminal.role, terminal.created_at, stamp(now))
    return record(revoked, token_hash)


def matching(found: dict[str, tuple[Terminal, str]], which: str) -> list[tuple[Terminal, str]]:
    """The live terminals with id `which`, or named `which`; raises UnknownTerminal."""
    hits = [(t, h) for t, h in found.values() if t.revoked_at is None and which in (t.id, t.name)]
    if not hits:
        raise UnknownTerminal(f"no paired terminal with id or name {which!r}")
    return hits


class TerminalRegistry:
    """The store's terminals as this node's daemon knows them, and its pairing codes."""

    def __init__(self, codes: PairingCodes, document: StoreDocument) -> None:
        self.codes = codes
        self.document = document
        self._live: dict[str, Terminal] = {}  # token hash -> live terminal
        self.last_seen: dict[str, float] = {}  # terminal id -> when it last authenticated
        self._unsubscribe = document.subscribe(self._changed)
        self._rebuild()

    def close(self) -> None:
        """Stop following the store document."""
        self._unsubscribe()

    def _changed(self, keys: set[str]) -> None:
        if any(key.startswith(f"{KIND}:") for key in keys):
            self._rebuild()

    def _rebuild(self) -> None:
        self._live = {
            token_hash: terminal
            for terminal, token_hash in terminals_of(self.document).values()
            if terminal.revoked_at is None
        }

    async def redeem(
        self, code: str, *, now: dt.datetime, roles: tuple[str, ...] = ROLES
    ) -> tuple[Terminal, str]:
        """Exchange a pairing code for a new terminal and its bearer token (shown once).

        Raises PairingRefused (pairing_codes.PairingCodes.use).
        """
        name, role = await asyncio.to_thread(self.codes.use, code, now=now, roles=roles)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        terminal = Terminal(f"t-{secrets.token_hex(4)}", name, role, stamp(now))
        await self.document.write({f"{KIND}:{terminal.id}": record(terminal, sha256(token))})
        return terminal, token

    def authenticate(self, token: str) -> Terminal | None:
        """The live (unrevoked) terminal holding `token`, or None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        terminal = self._live.get(sha256(token))
        if terminal is not None:
            self.last_seen[terminal.id] = time.time()  # in memory only: no write per request
        return terminal

    def terminals(self) -> list[Terminal]:
        """Every terminal ever paired, revoked ones included, oldest first."""
        found = [terminal for terminal, _ in terminals_of(self.document).values()]
        return sorted(found, key=lambda t: (t.created_at, t.id))

    async def revoke(self, which: str, *, now: dt.datetime) -> list[Terminal]:
        """Revoke the terminal with id `which`, or every live terminal named `which`, on
        every node of the store. Returns those revoked; raises UnknownTerminal."""
        hits = matching(terminals_of(self.document), which)
        changes = {f"{KIND}:{t.id}": revocation(t, h, now) for t, h in hits}
        await self.document.write(changes)
        return [read_record(key.removeprefix(f"{KIND}:"), v)[0] for key, v in changes.items()]
