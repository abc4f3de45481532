"""The staff on a terminal's requests: the employee signed in (`Employee-Session`), a
manager's approval of one request (`Manager-Approval: <employee id>:<PIN>`), and the store's
rule that cashier terminals write orders only with someone signed in. docs/staff.md.

Runs after the terminal's own authentication (edge/http/auth.py), so the terminal is known;
what it finds is set on the request (edge/http/context.py STAFF_SESSION, APPROVER), where
`actor(request)` and `require(request, action)` read it. Every PIN typed at a terminal is
checked by the PinGuard: off the event loop (scrypt), throttled per employee and per
terminal, and each refusal logged naming both.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

from aiohttp import web

from edge.access.staff.employees import Employee
from edge.access.staff.errors import PinRefused, SessionRefused
from edge.access.staff.store import EmployeeStore
from edge.access.terminals import Terminal
from edge.http.context import APPROVER, STAFF_SESSION, TERMINAL, context
from edge.http.problems import Problem
from edge.runtime.logs import LogLimiter
from sync.membership.throttle import AttemptThrottle

log = logging.getLogger(__name__)

SESSION_HEADER = "Employee-Session"
APPROVAL_HEADER = "Manager-Approval"
APPROVAL = re.compile(r"(e-[0-9a-f]{6}):([0-9]{4,8})")
# signing in and out take a stale session without complaint: the terminal is replacing it
SESSION_OPTIONAL = frozenset(
    {("POST", "/api/v1/staff/sign-in"), ("POST", "/api/v1/staff/sign-out")}
)
PER_EMPLOYEE, PER_TERMINAL, IN_ALL, WINDOW = 5, 10, 100, 60.0  # failed PINs per WINDOW s
CHALLENGE = {"WWW-Authenticate": 'Employee-Session realm="posedge"'}


class PinGuard:
    """Checks the PINs typed at terminals: in a worker thread (scrypt, ~50 ms), at most
    PER_EMPLOYEE failures per employee and PER_TERMINAL per terminal (IN_ALL on this node)
    in WINDOW seconds, every refusal logged with the terminal and the employee."""

    def __init__(self, staff: EmployeeStore, *, clock: Callable[[], float] = time.monotonic):
        self.staff = staff
        self._employees = AttemptThrottle(
            per_address=PER_EMPLOYEE, total=IN_ALL, window=WINDOW, clock=clock
        )
        self._terminals = AttemptThrottle(
            per_address=PER_TERMINAL, total=IN_ALL, window=WINDOW, clock=clock
        )
        self._refusals = LogLimiter(log, clock=clock)

    async def check(
        self, terminal: Terminal, employee_id: str, pin: str, *, doing: str
    ) -> Employee:
        """The employee `employee_id` if `pin` is theirs, for `doing` (what the PIN is
        typed for, as the log says it); raises a 429 Problem when this employee or this
        terminal failed too often lately (nothing checked), or PinRefused."""
        where = f"terminal {terminal.name!r} ({terminal.id})"
        wait = max(
            self._employees.retry_after(employee_id) or 0,
            self._terminals.retry_after(terminal.id) or 0,
        )
        if wait:
            self._refusals.warning(
                f"held {terminal.id} {employee_id}",
                "PIN of employee %s at %s for %s held back: too many wrong PINs (for %d s)",
                employee_id, where, doing, wait,
            )  # fmt: skip
            raise Problem(
                429,
                "too-many-attempts",
                "Too many wrong PINs",
                f"too many wrong PINs for {employee_id} or at this terminal lately; "
                f"try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        # counted now, before the slow check, so that a burst at once is held to the limit
        self._employees.failed(employee_id)
        self._terminals.failed(terminal.id)
        found = await asyncio.to_thread(self.staff.verify, employee_id, pin)
        if found is None:
            self._refusals.warning(
                f"refused {terminal.id} {employee_id}",
                "PIN of employee %s refused at %s for %s: wrong PIN, or no such employee",
                employee_id, where, doing,
            )  # fmt: skip
            raise PinRefused(f"wrong PIN for {employee_id}, or no such employee")
        self._employees.forgive(employee_id)
        self._terminals.forgive(terminal.id)
        return found


PIN_GUARD = web.AppKey("pin_guard", PinGuard)


def session_refusal(detail: str) -> Problem:
    """The 401 of a request whose Employee-Session is no good."""
    return Problem(
        401, "employee-session-refused", "The employee's session is not valid", detail,
        headers=CHALLENGE,
    )  # fmt: skip


def writes_orders(request: web.Request) -> bool:
    """Whether the request opens or changes an order (a POST under /api/v1/orders)."""
    path = request.path
    return request.method == "POST" and (
        path == "/api/v1/orders" or path.startswith("/api/v1/orders/")
    )


@web.middleware
async def staff_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Find the employee signed in and the manager approving, for a terminal's request; a
    cashier terminal's order write without anyone signed in is refused where the store
    requires a sign-in (staff.sign_in_required)."""
    who = request.get(TERMINAL)
    if who is None:  # an open route, or the manager UI: no terminal, no staff
        return await handler(request)
    ctx = context(request)
    route = (request.method, request.match_info.route.resource.canonical)
    token = request.headers.get(SESSION_HEADER)
    if token is not None:
        try:
            request[STAFF_SESSION] = ctx.staff.check_session(
                token.strip(), terminal_id=who.id, now=ctx.now()
            )
        except SessionRefused as exc:
            if route not in SESSION_OPTIONAL:
                raise session_refusal(str(exc)) from None
    approval = request.headers.get(APPROVAL_HEADER)
    if approval is not None:
        request[APPROVER] = await _approver(request, who, approval.strip())
    if (
        who.role == "terminal"
        and STAFF_SESSION not in request
        and writes_orders(request)
        and ctx.staff.sign_in_required()
    ):
        raise Problem(
            401,
            "sign-in-required",
            "An employee must be signed in on this terminal",
            "this store requires an employee signed in to ring up orders: "
            "POST /api/v1/staff/sign-in, then send its token as Employee-Session",
            headers=CHALLENGE,
        )
    return await handler(request)


async def _approver(request: web.Request, who: Terminal, approval: str) -> Employee:
    """The manager whose PIN the Manager-Approval header carries; raises a 400 when it is
    malformed, PinRefused, a 429 when throttled, a 403 when the PIN is not a manager's."""
    found = APPROVAL.fullmatch(approval)
    if found is None:
        raise Problem(
            400,
            "invalid-approval",
            "The Manager-Approval header is malformed",
            "send Manager-Approval: <manager's employee id>:<PIN>, e.g. e-3fa2c1:4821",
        )
    employee_id, pin = found.groups()
    doing = f"approving {request.method} {request.path}"
    approver = await request.app[PIN_GUARD].check(who, employee_id, pin, doing=doing)
    if not approver.manager:
        raise Problem(
            403,
            "manager-required",
            "Only a manager may do this",
            f"{approver.name} is a {approver.role}, not a manager: only a manager's PIN "
            "approves a request",
        )
    return approver
