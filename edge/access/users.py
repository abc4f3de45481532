"""The manager UI's users and their sign-in sessions, kept in the node's `node.db`.

Passwords are stored only as scrypt hashes with a salt of their own; a session's token only
as its SHA-256 hash (the token is random and long, so a fast hash is enough), so a copy of
the file lets nobody in. Like the terminal registry, every operation opens a short-lived
connection: the CLI writes users from another process while the daemon runs. SQLite's
errors come out as StorageError.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from edge.access import node_db
from edge.runtime.errors import EdgeError

ROLES = ("manager", "technician")
MIN_PASSWORD = 8
MAX_NAME = 64
SESSION_LIFETIME = dt.timedelta(hours=12)
# scrypt at n=2^14, r=8 (16 MiB, ~50 ms here): the parameters are stored with each hash
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


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


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The stored form of a password: `scrypt$n$r$p$salt$hash`, hex encoded."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    """Whether `password` hashes to `stored` (compared in constant time)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


# Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_NOBODY_HASH = hash_password(secrets.token_hex(16))


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


class UserStore:
    """The UI's users and sessions in one SQLite file (the node's `node.db`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        node_db.prepare(self.path)

    # -- users -------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str, *, now: dt.datetime) -> User:
        """A new user; raises InvalidUser or UserExists."""
        name = check_name(name)
        if role not in ROLES:
            raise InvalidUser(f"role must be one of {', '.join(ROLES)}")
        user = User(name, role, _stamp(now))
        stored = hash_password(check_password(password))
        with node_db.connection(self.path, f"add user {name}") as conn:
            try:
                conn.execute(
                    "INSERT INTO ui_users (name, role, password_hash, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (name, role, stored, user.created_at),
                )
            except sqlite3.IntegrityError:
                raise UserExists(f"a user named {name!r} exists already") from None
        return user

    def users(self) -> list[User]:
        """Every user, by name."""
        with node_db.connection(self.path, "list the users") as conn:
            rows = conn.execute(
                "SELECT name, role, created_at FROM ui_users ORDER BY name"
            ).fetchall()
        return [User(*row) for row in rows]

    def remove(self, name: str) -> None:
        """Remove a user and sign out all their sessions; raises UnknownUser."""
        with node_db.connection(self.path, f"remove user {name}") as conn:
            if conn.execute("DELETE FROM ui_users WHERE name = ?", (name,)).rowcount == 0:
                raise UnknownUser(f"no user named {name!r}")

    def set_password(self, name: str, password: str) -> None:
        """Change a user's password and sign out all their sessions; raises UnknownUser."""
        stored = hash_password(check_password(password))
        with node_db.connection(self.path, f"change the password of {name}") as conn:
            updated = conn.execute(
                "UPDATE ui_users SET password_hash = ? WHERE name = ?", (stored, name)
            ).rowcount
            if updated == 0:
                raise UnknownUser(f"no user named {name!r}")
            conn.execute("DELETE FROM ui_sessions WHERE user_name = ?", (name,))

    def verify(self, name: str, password: str) -> User | None:
        """The user if `password` is theirs, else None. Slow on purpose (scrypt): call it
        from a worker thread."""
        with node_db.connection(self.path, "check a password") as conn:
            row = conn.execute(
                "SELECT name, role, created_at, password_hash FROM ui_users WHERE name = ?",
                (name,),
            ).fetchone()
        if row is None:
            password_matches(password, _NOBODY_HASH)
            return None
        return User(*row[:3]) if password_matches(password, row[3]) else None

    # -- sessions ----------------------------------------------------------------------

    def start_session(self, user: User, *, now: dt.datetime) -> str:
        """A new session for `user`; returns its token (for the cookie, shown once)."""
        token = secrets.token_urlsafe(32)
        with node_db.connection(self.path, "start a session") as conn:
            conn.execute("DELETE FROM ui_sessions WHERE expires_at < ?", (_stamp(now),))
            conn.execute(
                "INSERT INTO ui_sessions (token_hash, user_name, csrf_token, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?)",
                (
                    _token_hash(token),
                    user.name,
                    secrets.token_urlsafe(32),
                    _stamp(now),
                    _stamp(now + SESSION_LIFETIME),
                ),
            )
        return token

    def session(self, token: str, *, now: dt.datetime) -> Session | None:
        """The live session with `token`, or None if unknown or expired."""
        with node_db.connection(self.path, "look up a session") as conn:
            row = conn.execute(
                "SELECT s.token_hash, u.name, u.role, u.created_at, s.csrf_token, "
                "s.expires_at, s.flashes FROM ui_sessions s "
                "JOIN ui_users u ON u.name = s.user_name "
                "WHERE s.token_hash = ? AND s.expires_at >= ?",
                (_token_hash(token), _stamp(now)),
            ).fetchone()
        if row is None:
            return None
        return Session(row[0], User(*row[1:4]), row[4], row[5], json.loads(row[6]))

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
