"""`/api/v1/staff`: an employee signs in and out on a terminal, who is signed in, and the
time clock (docs/staff.md)."""

from __future__ import annotations

from aiohttp import web

from edge.access.staff.employees import Employee, check_pin
from edge.access.staff.punches import TimeClock
from edge.access.staff.time_clock import TIME_CLOCK, hours_worked, read_punches
from edge.http.api.orders import json_response
from edge.http.bodies import json_body, known_query, query_date
from edge.http.context import STAFF_SESSION, context, employee, require, terminal
from edge.http.problems import invalid_input
from edge.http.staff_auth import PIN_GUARD

routes = web.RouteTableDef()


async def _typed_in(request: web.Request, body: dict, doing: str) -> Employee:
    """The employee whose id and PIN the body carries (`employee`, `pin`), checked."""
    employee_id, pin = body.get("employee"), body.get("pin")
    if not isinstance(employee_id, str) or not employee_id:
        raise invalid_input("employee must be an employee's id, e.g. e-3fa2c1", pointer="/employee")
    if pin is None:
        raise invalid_input("pin is required with employee", pointer="/pin")
    check_pin(pin)
    guard = request.app[PIN_GUARD]
    return await guard.check(terminal(request), employee_id, pin, doing=doing)


@routes.post("/api/v1/staff/sign-in")
async def sign_in(request: web.Request) -> web.Response:
    """Sign an employee in on this terminal with their PIN. Its answer is the one place the
    token shows, so it takes no Idempotency-Key (edge/http/idempotency.py SECRET_ANSWERS)."""
    body = await json_body(request, required=("employee", "pin"))
    who = await _typed_in(request, body, "signing in")
    ctx = context(request)
    token, session = await ctx.staff.start_session(who, terminal(request).id, now=ctx.now())
    return json_response(
        {"token": token, "employee": who.to_dict(), "expires_at": session.expires_at}, 201
    )


@routes.post("/api/v1/staff/sign-out")
async def sign_out(request: web.Request) -> web.Response:
    """End the session this request's Employee-Session names (nothing to end is fine)."""
    await json_body(request)
    session = request.get(STAFF_SESSION)
    if session is not None:
        ctx = context(request)
        await ctx.staff.end_session(session, now=ctx.now())
    return json_response({"signed_out": session is not None})


@routes.get("/api/v1/staff/me")
async def me(request: web.Request) -> web.Response:
    known_query(request, ())
    session = request.get(STAFF_SESSION)
    return json_response(
        {
            "terminal": terminal(request).to_dict(),
            "employee": session.employee.to_dict() if session is not None else None,
            "expires_at": session.expires_at if session is not None else None,
        }
    )


async def _puncher(request: web.Request, doing: str) -> Employee:
    """Who punches: the employee and PIN the body names, else the one signed in."""
    body = await json_body(request, optional=("employee", "pin"))
    if "employee" in body or "pin" in body:
        return await _typed_in(request, body, doing)
    signed_in = employee(request)
    if signed_in is None:
        raise invalid_input(
            "nobody is signed in on this terminal: send employee and pin", pointer="/employee"
        )
    return signed_in


@routes.post("/api/v1/staff/clock-in")
async def clock_in(request: web.Request) -> web.Response:
    return await _punch(request, "clocking in", TimeClock.clock_in)


@routes.post("/api/v1/staff/clock-out")
async def clock_out(request: web.Request) -> web.Response:
    return await _punch(request, "clocking out", TimeClock.clock_out)


async def _punch(request: web.Request, doing: str, punching) -> web.Response:
    who = await _puncher(request, doing)
    ctx = context(request)
    punch = await punching(TimeClock(ctx.book), who, by=terminal(request).label, now=ctx.now())
    return json_response({"punch": punch.entry(), "employee": who.to_dict()}, 201)


@routes.get("/api/v1/staff/clock")
async def clock(request: web.Request) -> web.Response:
    """A business day's punches and hours (managers)."""
    require(request, "manage_staff")
    known_query(request, ("date",))
    ctx = context(request)
    day = query_date(request, ctx.book.business_date())
    facts = await ctx.book.day_facts(day, TIME_CLOCK)
    worked = hours_worked(facts, now=ctx.now())
    return json_response(
        {
            "business_date": day.isoformat(),
            "punches": [punch.entry() for punch in read_punches(facts)],
            "employees": [
                {
                    "employee": w.employee,
                    "name": w.name,
                    "seconds": w.seconds,
                    "hours": w.hours,
                    "on_the_clock": w.on_the_clock,
                    "shifts": [
                        {
                            "shift": s.shift,
                            "in": s.clock_in.isoformat(timespec="seconds"),
                            "out": s.clock_out.isoformat(timespec="seconds")
                            if s.clock_out
                            else None,
                            "seconds": s.seconds,
                        }
                        for s in w.shifts
                    ],
                }
                for w in sorted(worked.values(), key=lambda w: (w.name, w.employee))
            ],
        }
    )
