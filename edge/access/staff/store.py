"""The store's employees and their sign-in sessions, kept in the store document.

An employee added, changed or removed on any node is so on every node once the write
reaches it (the later of two edits of one employee wins whole, as for every register:
docs/store-document.md). Sessions are registers too (sessions.py), so a terminal that
fails over to another node stays signed in there. The command line edits employees through
the same class over its queued view of the document (edge/access/outbox.py QueuedStore).

Call it on the event loop; `verify` is slow on purpose (scrypt) and belongs in a worker
thread (asyncio.to_thread), and the writes that hash a PIN do so in one themselves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets

from edge.access.hashes import NOBODY_HASH, hash_password, password_matches
from edge.access.staff import sessions
from edge.access.staff.employees import (
    ID,
    KIND,
    Employee,
    check_name,
    check_pin,
    check_role,
    read_record,
)
from edge.access.staff.employees import key as employee_key
from edge.access.staff.employees import record as employee_record
from edge.access.staff.errors import SessionRefused, UnknownEmployee
from edge.access.staff.sessions import StaffSession
from edge.config.store_document import StoreDocument

SIGN_IN_REQUIRED = "setting:staff.sign_in_required"  # the store setting (edge/config/settings.py)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class EmployeeStore:
    """The store's employees and staff sessions, over the store document (or the command
    line's queued view of it, which answers `entry`, `group`, `value` and `write` alike)."""

    def __init__(self, document: StoreDocument) -> None:
        self.document = document

    # -- employees -----------------------------------------------------------------------

    def employees(self) -> list[Employee]:
        """Every employee of the store (removed ones left out), by name."""
        found = [read_record(i, entry.value) for i, entry in self.document.group(KIND).items()]
        return sorted((f[0] for f in found if f is not None), key=lambda e: (e.name, e.id))

    def employee(self, employee_id: str) -> Employee:
        """The employee with this id; raises UnknownEmployee."""
        return self._read(employee_id)[0]

    def find(self, which: str) -> Employee:
        """The employee with id `which`, or the one employee named `which` (any case);
        raises UnknownEmployee when none or several are."""
        if ID.fullmatch(which):
            return self.employee(which)
        named = [e for e in self.employees() if e.name.casefold() == which.strip().casefold()]
        if len(named) != 1:
            many = f"{len(named)} employees are named {which!r}: give an id" if named else ""
            raise UnknownEmployee(many or f"no employee has the id or name {which!r}")
        return named[0]

    def _read(self, employee_id: str) -> tuple[Employee, str]:
        entry = self.document.entry(employee_key(employee_id))
        found = read_record(employee_id, entry.value if entry is not None else None)
        if found is None:
            raise UnknownEmployee(f"no employee has the id {employee_id!r}")
        return found

    async def add(
        self, name: str, role: str, pin: str, *, now: dt.datetime, request_key: str | None = None
    ) -> Employee:
        """A new employee of every node; raises InvalidEmployee. With a `request_key` (a
        terminal's Idempotency-Key) its retry finds the employee its first attempt added."""
        name, role, pin = check_name(name), check_role(role), check_pin(pin)
        employee_id = self._new_id()
        if request_key is not None:
            derived = "e-" + _sha256(f"employee\0{request_key}")[:6]
            earlier = self.document.entry(employee_key(derived))
            if earlier is None:
                employee_id = derived
            elif (found := read_record(derived, earlier.value)) is not None and (
                found[0].name,
                found[0].role,
            ) == (name, role):
                return found[0]  # the retry of a request that added them
        employee = Employee(employee_id, name, role, sessions.stamp(now))
        pin_hash = await asyncio.to_thread(hash_password, pin)
        await self.document.write({employee_key(employee_id): employee_record(employee, pin_hash)})
        return employee

    def _new_id(self) -> str:
        """An id no employee of the store has had (removed ones keep theirs)."""
        while True:
            employee_id = f"e-{secrets.token_hex(3)}"
            if self.document.entry(employee_key(employee_id)) is None:
                return employee_id

    async def change(
        self,
        employee_id: str,
        *,
        name: str | None = None,
        role: str | None = None,
        pin: str | None = None,
    ) -> Employee:
        """Give an employee a new name, role or PIN (those given) on every node, which ends
        their sessions; raises UnknownEmployee or InvalidEmployee."""
        employee, pin_hash = self._read(employee_id)
        changed = Employee(
            employee.id,
            check_name(name) if name is not None else employee.name,
            check_role(role) if role is not None else employee.role,
            employee.created_at,
        )
        if pin is not None:
            pin_hash = await asyncio.to_thread(hash_password, check_pin(pin))
        await self.document.write({employee_key(employee_id): employee_record(changed, pin_hash)})
        return changed

    async def remove(self, employee_id: str) -> Employee:
        """Remove an employee on every node, which ends their sessions; raises
        UnknownEmployee. Their id is never given to anyone else."""
        employee = self.employee(employee_id)
        await self.document.write({employee_key(employee_id): None})
        return employee

    def verify(self, employee_id: str, pin: str) -> Employee | None:
        """The employee if `pin` is theirs, else None (unknown, removed, or another PIN).
        Slow on purpose (scrypt), as long for an unknown id: call it from a worker thread."""
        entry = self.document.entry(employee_key(employee_id))
        found = read_record(employee_id, entry.value if entry is not None else None)
        if found is None:
            password_matches(pin, NOBODY_HASH)
            return None
        return found[0] if password_matches(pin, found[1]) else None

    # -- sessions --------------------------------------------------------------------------

    async def start_session(
        self, employee: Employee, terminal_id: str, *, now: dt.datetime
    ) -> tuple[str, StaffSession]:
        """Sign `employee` in on the terminal `terminal_id`: the session's token (shown
        once: only its hash is kept) and the session. Drops the expired sessions' registers."""
        entry = self.document.entry(employee_key(employee.id))
        if entry is None or read_record(employee.id, entry.value) is None:
            raise UnknownEmployee(f"no employee has the id {employee.id!r}")
        token = sessions.TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_hash = _sha256(token)
        value = sessions.record(employee.id, terminal_id, entry.stamp, now)
        await self.document.write(
            {sessions.key(token_hash): value}, drop=self._expired_sessions(now)
        )
        return token, StaffSession(
            token_hash, employee, terminal_id, value["started_at"], value["expires_at"]
        )

    def check_session(self, token: str, *, terminal_id: str, now: dt.datetime) -> StaffSession:
        """The session of `token` on terminal `terminal_id`, good now; raises SessionRefused
        saying why not."""
        token_hash = _sha256(token) if token.startswith(sessions.TOKEN_PREFIX) else ""
        entry = self.document.entry(sessions.key(token_hash)) if token_hash else None
        value = entry.value if entry is not None else None
        why = sessions.refusal(value, terminal_id, now)
        if why is not None:
            raise SessionRefused(why)
        assert isinstance(value, dict)
        employee_entry = self.document.entry(employee_key(value["employee"]))
        found = read_record(
            value["employee"], employee_entry.value if employee_entry is not None else None
        )
        if found is None or employee_entry is None:
            raise SessionRefused("the employee of this Employee-Session was removed")
        if employee_entry.stamp != value["employee_stamp"]:
            raise SessionRefused(
                "the employee was changed since signing in (name, role or PIN): sign in again"
            )
        return StaffSession(
            token_hash, found[0], value["terminal"], value["started_at"], value["expires_at"]
        )

    async def end_session(self, session: StaffSession, *, now: dt.datetime) -> None:
        """Sign out: the session's token stops working on every node (safe twice)."""
        value = self.document.value(sessions.key(session.token_hash))
        if not isinstance(value, dict) or value.get("ended_at") is not None:
            return
        await self.document.write(
            {sessions.key(session.token_hash): sessions.ended(value, now)},
            drop=self._expired_sessions(now),
        )

    def _expired_sessions(self, now: dt.datetime) -> list[str]:
        found = {name: entry.value for name, entry in self.document.group(sessions.KIND).items()}
        return sessions.expired_keys(found, now)

    def session_count(self) -> int:
        """How many session registers the store document holds (expired ones included,
        until the next sign-in or sign-out drops them)."""
        return len(self.document.group(sessions.KIND))

    # -- the store's setting ---------------------------------------------------------------

    def sign_in_required(self) -> bool:
        """Whether cashier terminals must have an employee signed in to write orders (the
        store setting staff.sign_in_required; false unless set true)."""
        return self.document.value(SIGN_IN_REQUIRED) is True

    async def set_sign_in_required(self, required: bool) -> None:
        """Set staff.sign_in_required for every node of the store."""
        await self.document.write({SIGN_IN_REQUIRED: bool(required)})
