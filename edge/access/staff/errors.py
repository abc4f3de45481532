"""The staff's errors: one root, a subclass per refusal, each saying what to do."""

from __future__ import annotations

from edge.runtime.errors import EdgeError


class StaffError(EdgeError):
    """Root of the errors of managing employees, signing them in and punching the clock.

    `field`, when set, is the JSON pointer of the request field the error is about.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidEmployee(StaffError):
    """A name, role or PIN does not meet the rules."""


class UnknownEmployee(StaffError):
    """No employee of the store has this id (or name), or they were removed."""


class PinRefused(StaffError):
    """The employee is unknown or removed, or the PIN is not theirs."""


class SessionRefused(StaffError):
    """A staff session's token is unknown, ended, expired or of another terminal."""


class AlreadyClockedIn(StaffError):
    """The employee is on the clock already."""


class NotClockedIn(StaffError):
    """The employee is not on the clock."""
