"""The Staff page (managers): the store's employees, added, given another role or a new
PIN, or removed; who is on the clock now; and whether cashier terminals need someone signed
in to ring up (the store setting staff.sign_in_required). docs/ui.md, docs/staff.md.

Every change is written to the store document, so it holds on every node of the store.
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from edge.access.staff.errors import InvalidEmployee, UnknownEmployee
from edge.access.staff.punches import TimeClock
from edge.access.staff.roles import ROLES
from edge.http.context import context
from edge.http.ui.formats import local_time
from edge.http.ui.pages import flash, render, require_user, see_other

routes = web.RouteTableDef()

MANAGERS = ("manager",)
ROLE_NAMES = {
    "cashier": "Cashier",
    "server": "Server (no cash drawer of their own)",
    "manager": "Manager (approves with their PIN)",
}
PAGE = "/ui/staff"


async def _page(
    request: web.Request, *, values: dict | None = None, errors: dict | None = None, status=200
) -> web.Response:
    ctx = context(request)
    zone = ctx.book.zone
    now = ctx.now()
    on_the_clock = [
        {
            "name": punch.name,
            "employee": punch.employee,
            "since": local_time(punch.time.isoformat(), zone, with_date=True),
            "hours": hours_since(punch.time, now),
        }
        for punch in await TimeClock(ctx.book).on_the_clock()
    ]
    return render(
        request,
        "staff.html",
        status=status,
        title="Staff",
        employees=[
            {**e.to_dict(), "added": local_time(e.created_at, zone, with_date=True)}
            for e in ctx.staff.employees()
        ],
        on_the_clock=on_the_clock,
        roles={role: ROLE_NAMES[role] for role in ROLES},
        sign_in_required=ctx.staff.sign_in_required(),
        values=values or {"name": "", "role": "cashier"},
        errors=errors or {},
    )


@routes.get(PAGE, name="ui_staff")
async def staff_page(request: web.Request) -> web.Response:
    require_user(request, *MANAGERS)
    return await _page(request)


@routes.post(f"{PAGE}/employees", name="ui_employee_add")
async def add_employee(request: web.Request) -> web.Response:
    require_user(request, *MANAGERS)
    form = await request.post()
    values = {"name": str(form.get("name", "")), "role": str(form.get("role", ""))}
    ctx = context(request)
    try:
        added = await ctx.staff.add(
            values["name"], values["role"], str(form.get("pin", "")), now=ctx.now()
        )
    except InvalidEmployee as exc:
        field = (exc.field or "/name").removeprefix("/")
        return await _page(request, values=values, errors={field: str(exc)}, status=400)
    flash(
        request,
        f"Added {added.name} ({added.role}) as {added.id}: they sign in on a terminal with "
        "this id and their PIN, on every node of the store",
    )
    raise see_other(PAGE)


async def _change(request: web.Request, done: str, **fields: str) -> web.Response:
    """Make one change of the employee in the path, flash what came of it, and go back."""
    employee_id = request.match_info["employee_id"]
    try:
        changed = await context(request).staff.change(employee_id, **fields)
    except (InvalidEmployee, UnknownEmployee) as exc:
        flash(request, f"Nothing changed: {exc}", "error")
    else:
        flash(request, f"{changed.name}: {done}; they sign in again on their terminal")
    raise see_other(PAGE)


@routes.post(f"{PAGE}/employees/{{employee_id}}/role", name="ui_employee_role")
async def change_role(request: web.Request) -> web.Response:
    require_user(request, *MANAGERS)
    role = str((await request.post()).get("role", ""))
    return await _change(request, f"now a {role}", role=role)


@routes.post(f"{PAGE}/employees/{{employee_id}}/pin", name="ui_employee_pin")
async def reset_pin(request: web.Request) -> web.Response:
    require_user(request, *MANAGERS)
    pin = str((await request.post()).get("pin", ""))
    return await _change(request, "new PIN set", pin=pin)


@routes.post(f"{PAGE}/employees/{{employee_id}}/remove", name="ui_employee_remove")
async def remove_employee(request: web.Request) -> web.Response:
    require_user(request, *MANAGERS)
    try:
        removed = await context(request).staff.remove(request.match_info["employee_id"])
    except UnknownEmployee as exc:
        flash(request, f"Nobody removed: {exc}", "error")
    else:
        flash(request, f"Removed {removed.name} ({removed.id}) from every node; signed out")
    raise see_other(PAGE)


@routes.post(f"{PAGE}/sign-in-required", name="ui_sign_in_required")
async def sign_in_required(request: web.Request) -> web.Response:
    require_user(request, *MANAGERS)
    required = (await request.post()).get("required") == "on"
    await context(request).staff.set_sign_in_required(required)
    flash(
        request,
        "Cashier terminals now need an employee signed in to ring up"
        if required
        else "Cashier terminals may ring up with nobody signed in",
    )
    raise see_other(PAGE)


def hours_since(since: dt.datetime, now: dt.datetime) -> str:
    """Hours from `since` to `now`, to a tenth."""
    return f"{(now - since).total_seconds() / 3600:.1f}"
