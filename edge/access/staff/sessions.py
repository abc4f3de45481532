"""A staff sign-in on a terminal, as the store document keeps it. Pure.

A terminal fails over between the store's nodes, so its employee's session must be good on
each of them: it is a register of the store document, `staff_session:<SHA-256 of the
token>` (the token itself is kept nowhere), holding `{"employee", "terminal",
"started_at", "expires_at", "employee_stamp", "ended_at"}`. A session is good only

- on the terminal that started it (`terminal`, a terminal's id),
- until `expires_at` (SESSION_LIFETIME after the sign-in) and until signed out (`ended_at`),
- while the employee's register is the one it started under (`employee_stamp`): any change
  of the employee on any node (name, role, PIN, removal) ends their sessions.

A session's register is written once at sign-in and once at sign-out, and dropped for good
(no removal left behind) by the first sign-in or sign-out after it expired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from edge.access.staff.employees import Employee

KIND = "staff_session"  # the store document's registers of staff sessions
TOKEN_PREFIX = "pes_"
SESSION_LIFETIME = dt.timedelta(hours=16)  # a double shift, and no longer


@dataclass(frozen=True, slots=True)
class StaffSession:
    """An employee signed in on a terminal."""

    token_hash: str
    employee: Employee
    terminal: str  # the id of the terminal it is bound to
    started_at: str
    expires_at: str


def stamp(moment: dt.datetime) -> str:
    """A moment as the store document keeps it: ISO 8601 in UTC, to the second."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def key(token_hash: str) -> str:
    """The store document's register of the session whose token hashes to `token_hash`."""
    return f"{KIND}:{token_hash}"


def record(employee_id: str, terminal_id: str, employee_stamp: str, now: dt.datetime) -> dict:
    """The store document's value of a session starting `now`."""
    return {
        "employee": employee_id,
        "terminal": terminal_id,
        "started_at": stamp(now),
        "expires_at": stamp(now + SESSION_LIFETIME),
        "employee_stamp": employee_stamp,
        "ended_at": None,
    }


def ended(value: dict, now: dt.datetime) -> dict:
    """The value of the session `value`, signed out `now`."""
    return {**value, "ended_at": stamp(now)}


def expiry(value: object) -> dt.datetime | None:
    """When the session `value` expires, or None if it is not a session's value."""
    if not isinstance(value, dict) or not isinstance(value.get("expires_at"), str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value["expires_at"])
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def refusal(value: object, terminal_id: str, now: dt.datetime) -> str | None:
    """Why the session `value` is no good on terminal `terminal_id` at `now` (None: good as
    far as the session itself goes; the employee's register is checked by the caller)."""
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), str) for k in ("employee", "terminal", "employee_stamp")
    ):
        return "this Employee-Session is unknown here (sign in again)"
    if value.get("ended_at") is not None:
        return "this Employee-Session was signed out"
    until = expiry(value)
    if until is None or until <= now:
        return "this Employee-Session has expired: sign in again"
    if value["terminal"] != terminal_id:
        return "this Employee-Session belongs to another terminal: sign in on this one"
    return None


def expired_keys(sessions: dict[str, object], now: dt.datetime) -> list[str]:
    """The registers (by key) of the sessions among `sessions` (token hash -> value) that
    expired before `now`, or that no node would write: nobody can use them any more."""
    return [
        key(token_hash)
        for token_hash, value in sessions.items()
        if (until := expiry(value)) is None or until <= now
    ]
