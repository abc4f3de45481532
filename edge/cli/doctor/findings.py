"""What a doctor check found: a verdict (ok, warning, problem) and what to do about it."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

VERDICTS = ("ok", "warning", "problem")
EXIT_CODES = {"ok": 0, "warning": 1, "problem": 2}
SERVICE_USER = "posedge"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's outcome: what was found and, unless all is well, what to do."""

    id: str
    verdict: str  # ok, warning or problem
    found: str
    todo: str | None = None


def ok(id_: str, found: str) -> Finding:
    return Finding(id_, "ok", found)


def warning(id_: str, found: str, todo: str) -> Finding:
    return Finding(id_, "warning", found, todo)


def problem(id_: str, found: str, todo: str) -> Finding:
    return Finding(id_, "problem", found, todo)


def worst(findings: list[Finding]) -> str:
    """The most serious verdict among `findings` ("ok" when there are none)."""
    return max((f.verdict for f in findings), key=VERDICTS.index, default="ok")


def exit_code(findings: list[Finding]) -> int:
    return EXIT_CODES[worst(findings)]


@dataclass(frozen=True, slots=True)
class ServiceUser:
    """The user whose access the checks judge: the service's, by default."""

    name: str
    uid: int
    gids: frozenset[int]

    @classmethod
    def named(cls, name: str) -> ServiceUser:
        """Raises KeyError when there is no such user."""
        entry = pwd.getpwnam(name)
        return cls(name, entry.pw_uid, frozenset(os.getgrouplist(name, entry.pw_gid)))


def default_user() -> str:
    """The service user when it exists (the package made it), else whoever runs doctor."""
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return pwd.getpwuid(os.geteuid()).pw_name
    return SERVICE_USER
