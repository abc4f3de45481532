"""An employee as the store document keeps them, and the rules of their fields. Pure.

`employee:<id>` holds `{"id", "name", "role", "pin_hash", "created_at"}`, or null once
removed; the id (`e-` and 6 hex digits) is never given again, so that what the order log
says an employee did keeps naming that one person. The PIN (4 to 8 digits) is kept only as
a salted scrypt hash (edge/access/hashes.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge.access.staff.errors import InvalidEmployee
from edge.access.staff.roles import ROLES

KIND = "employee"  # the store document's registers of employees: employee:<id>
ID = re.compile(r"e-[0-9a-f]{6}")
PIN = re.compile(r"[0-9]{4,8}")
MAX_NAME = 64


@dataclass(frozen=True, slots=True)
class Employee:
    """Someone who works in the store: their id, name, role and when they were added."""

    id: str
    name: str
    role: str
    created_at: str

    @property
    def manager(self) -> bool:
        return self.role == "manager"

    @property
    def label(self) -> str:
        """How the order log records this employee on what they do: `Sam (e-3fa2c1)`."""
        return f"{self.name} ({self.id})"

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role, "created_at": self.created_at}


def key(employee_id: str) -> str:
    """The store document's register of this employee."""
    return f"{KIND}:{employee_id}"


def check_name(name: object) -> str:
    """An employee's name as given (stripped), or InvalidEmployee."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise InvalidEmployee(f"a name must be 1-{MAX_NAME} characters", field="/name")
    if not name.isprintable():
        raise InvalidEmployee("a name must be printable text", field="/name")
    return name.strip()


def check_role(role: object) -> str:
    """One of ROLES, or InvalidEmployee."""
    if role not in ROLES:
        raise InvalidEmployee(f"role must be one of {', '.join(ROLES)}", field="/role")
    return str(role)


def check_pin(pin: object) -> str:
    """A PIN: a string of 4 to 8 digits (leading zeros count), or InvalidEmployee."""
    if not isinstance(pin, str) or not PIN.fullmatch(pin):
        raise InvalidEmployee('a PIN must be 4 to 8 digits, as a string ("0417")', field="/pin")
    return pin


def record(employee: Employee, pin_hash: str) -> dict:
    """The store document's value for `employee`."""
    return {**employee.to_dict(), "pin_hash": pin_hash}


def read_record(employee_id: str, value: object) -> tuple[Employee, str] | None:
    """(employee, PIN hash) from a store document value, or None if it is not one (a
    removal, or an entry in a shape no node writes)."""
    if not isinstance(value, dict) or not ID.fullmatch(employee_id):
        return None
    name, role, pin_hash, created_at = (
        value.get(k) for k in ("name", "role", "pin_hash", "created_at")
    )
    if not all(isinstance(v, str) for v in (name, pin_hash, created_at)) or role not in ROLES:
        return None
    return Employee(employee_id, name, role, created_at), pin_hash
