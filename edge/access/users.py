"""The manager UI's users, kept in the store document, and their sign-in sessions, kept in
this node's `node.db`.

A user (`user:<name>` in the store document: role, salted scrypt hash, when added) may sign
in on every node of the store; one added, removed or given a new password on any node is so
on every node once the write reaches it. Passwords are stored only as scrypt hashes with a
salt of their own. A session belongs to the node it was started on (a browser's cookie is
per node) and keeps the stamp of the user's register it was started under: a change of
the user anywhere (password, role, removal) moves that stamp, which signs the session out.
A session's token is kept only as its SHA-256 hash (it is random and long, so a fast hash
is enough). SQLite's errors come out as StorageError. The hashing is edge/access/hashes.py's,
which the employees' PINs share.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from edge.access import node_db
from edge.access.hashes import NOBODY_HASH, hash_password, password_matches
from edge.config.registers import Entry
from edge.config.store_document import StoreDocument
from edge.runtime.errors import EdgeError

ROLES = ("manager", "technician")
KIND = "user"  # the store document's registers of users: user:<name>
MIN_PASSWORD = 8
MAX_NAME = 64
SESSION_LIFETIME = dt.timedelta(hours=12)


class UserError(EdgeError):
    """Root of the errors of managing UI users."""


class InvalidUser(UserError):
    """A name, role or password does not meet the rules."""


class UnknownUser(UserError):
    """No user has this name."""


class UserExists(UserError):
    """A user with this name exists already."""


@dataclass(frozen=True, slots=True)
class User:
    """Someone who may sign in to the manager UI."""

    name: str
    role: str
    created_at: str

    @property
    def manager(self) -> bool:
        return self.role == "manager"

    @property
    def label(self) -> str:
        """How the order log and print jobs record this user as the author of a write."""
        return f"{self.name} (web UI)"


@dataclass(slots=True)
class Session:
    """A signed-in browser: its user, the CSRF token its forms carry, and pending flashes."""

    token_hash: str
    user: User
    csrf_token: str
    expires_at: str
    flashes: list[dict] = field(default_factory=list)


def check_name(name: object) -> str:
    """A user name as given (stripped), or InvalidUser."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidUser(f"a user name must be 1-{MAX_NAME} characters")
    if not name.isprintable():
        raise InvalidUser("a user name must be printable text")
    return name.strip()


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidUser(f"a password must have at least {MIN_PASSWORD} characters")
    return password


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_record(role: str, password: str, created_at: str) -> dict:
    """The store document's value for a user (the password hashed: slow, ~50 ms)."""
    if role not in ROLES:
        raise InvalidUser(f"role must be one of {', '.join(ROLES)}")
    return {"role": role, "password_hash": hash_password(check_password(password)),
            "created_at": created_at}  # fmt: skip


def read_user(name: str, entry: Entry | None) -> tuple[User, str] | None:
    """(user, password hash) from a store document register, or None if it is not one."""
    value = entry.value if entry is not None else None
    if not isinstance(value, dict):
        return None
    role, stored, created_at = (value.get(k) for k in ("role", "password_hash", "created_at"))
    if role not in ROLES or not isinstance(stored, str) or not isinstance(created_at, str):
        return None
    return User(name, role, created_at), stored


def users_of(document: StoreDocument) -> list[User]:
    """Every user the store document holds, by name."""
    found = [read_user(name, entry) for name, entry in document.group(KIND).items()]
    return sorted((f[0] for f in found if f is not None), key=lambda user: user.name)


def changed_password(name: str, entry: Entry | None, password: str) -> dict:
    """The value that gives user `name` a new password; raises UnknownUser."""
    read = read_user(name, entry)
    if read is None:
        raise UnknownUser(f"no user named {name!r}")
    return user_record(read[0].role, password, read[0].created_at)


def new_user(name: str, role: str, password: str, entry: Entry | None, now: dt.datetime) -> dict:
    """The value that adds user `name`; raises InvalidUser or UserExists."""
    name = check_name(name)
    if read_user(name, entry) is not None:
        raise UserExists(f"a user named {name!r} exists already")
    return user_record(role, password, _stamp(now))


class UserStore:
    """The store's UI users (in the store document) and this node's sessions (in node.db)."""

    def __init__(self, path: Path, document: StoreDocument) -> None:
        self.path = Path(path)
        self.document = document
        node_db.prepare(self.path)

    # -- users -------------------------------------------------------------------------

    async def add(self, name: str, role: str, password: str, *, now: dt.datetime) -> User:
        """A new user of every node; raises InvalidUser or UserExists."""
        name = check_name(name)
        key = f"{KIND}:{name}"
        value = await asyncio.to_thread(
            new_user, name, role, password, self.document.entry(key), now
        )
        await self.document.write({key: value})
        return User(name, role, value["created_at"])

    def users(self) -> list[User]:
        """Every user, by name."""
        return users_of(self.document)

    async def remove(self, name: str) -> None:
        """Remove a user on every node, which signs out their sessions; raises UnknownUser."""
        key = f"{KIND}:{name}"
        if read_user(name, self.document.entry(key)) is None:
            raise UnknownUser(f"no user named {name!r}")
        await self.document.write({key: None})

    async def set_password(self, name: str, password: str) -> None:
        """Change a user's password on every node, which signs out their sessions; raises
        UnknownUser."""
        key = f"{KIND}:{name}"
        value = await asyncio.to_thread(changed_password, name, self.document.entry(key), password)
        await self.document.write({key: value})

    def verify(self, name: str, password: str) -> User | None:
        """The user if `password` is theirs, else None. Slow on purpose (scrypt): call it
        from a worker thread."""
        read = read_user(name, self.document.entry(f"{KIND}:{name}"))
        if read is None:
            password_matches(password, NOBODY_HASH)
            return None
        return read[0] if password_matches(password, read[1]) else None

    # -- sessions ----------------------------------------------------------------------

    def start_session(self, user: User, *, now: dt.datetime) -> str:
        """A new session for `user`; returns its token (for the cookie, shown once)."""
        entry = self.document.entry(f"{KIND}:{user.name}")
        token = secrets.token_urlsafe(32)
        with node_db.connection(self.path, "start a session") as conn:
            conn.execute("DELETE FROM ui_sessions WHERE expires_at < ?", (_stamp(now),))
            conn.execute(
                "INSERT INTO ui_sessions (token_hash, user_name, user_stamp, csrf_token, "
                "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    _token_hash(token),
                    user.name,
                    entry.stamp if entry is not None else "",
                    secrets.token_urlsafe(32),
                    _stamp(now),
                    _stamp(now + SESSION_LIFETIME),
                ),
            )
        return token

    def session(self, token: str, *, now: dt.datetime) -> Session | None:
        """The live session with `token`, or None if unknown, expired, or its user changed
        since it started."""
        with node_db.connection(self.path, "look up a session") as conn:
            row = conn.execute(
                "SELECT token_hash, user_name, user_stamp, csrf_token, expires_at, flashes "
                "FROM ui_sessions WHERE token_hash = ? AND expires_at >= ?",
                (_token_hash(token), _stamp(now)),
            ).fetchone()
        if row is None:
            return None
        token_hash, name, user_stamp, csrf, expires_at, flashes = row
        entry = self.document.entry(f"{KIND}:{name}")
        read = read_user(name, entry)
        if read is None or entry is None or entry.stamp != user_stamp:
            return None
        return Session(token_hash, read[0], csrf, expires_at, json.loads(flashes))

    def end_session(self, session: Session) -> None:
        """Sign out: the session's token stops working (safe twice)."""
        with node_db.connection(self.path, "end a session") as conn:
            conn.execute("DELETE FROM ui_sessions WHERE token_hash = ?", (session.token_hash,))

    def save_flashes(self, session: Session) -> None:
        """Keep the session's pending messages for its next page."""
        with node_db.connection(self.path, "keep a session's messages") as conn:
            conn.execute(
                "UPDATE ui_sessions SET flashes = ? WHERE token_hash = ?",
                (json.dumps(session.flashes), session.token_hash),
            )
