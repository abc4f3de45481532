"""`/api/v1/employees`: the store's employees, managed from a terminal (manage_staff: a
manager's terminal, a manager signed in, or a manager's approval). docs/staff.md."""

from __future__ import annotations

from aiohttp import web

from edge.http.api.orders import json_response
from edge.http.bodies import json_body, known_query
from edge.http.context import context, require
from edge.http.idempotency import REQUEST_KEY
from edge.http.problems import invalid_input

routes = web.RouteTableDef()

EMPLOYEE = "/api/v1/employees/{employee_id}"


@routes.get("/api/v1/employees")
async def list_employees(request: web.Request) -> web.Response:
    require(request, "manage_staff")
    known_query(request, ())
    found = context(request).staff.employees()
    return json_response({"employees": [e.to_dict() for e in found]})


@routes.post("/api/v1/employees")
async def add_employee(request: web.Request) -> web.Response:
    require(request, "manage_staff")
    body = await json_body(request, required=("name", "role", "pin"))
    ctx = context(request)
    added = await ctx.staff.add(
        body["name"],
        body["role"],
        body["pin"],
        now=ctx.now(),
        request_key=request.get(REQUEST_KEY),
    )
    return json_response({"employee": added.to_dict()}, 201)


@routes.patch(EMPLOYEE)
async def change_employee(request: web.Request) -> web.Response:
    """A new name, role or PIN; the employee's sessions end (they sign in again)."""
    require(request, "manage_staff")
    body = await json_body(request, optional=("name", "role", "pin"))
    if not body:
        raise invalid_input("give name, role or pin to change", pointer="")
    for name, value in body.items():
        if value is None:
            raise invalid_input(
                f"{name} may not be null: leave it out to keep it", pointer=f"/{name}"
            )
    changed = await context(request).staff.change(
        request.match_info["employee_id"],
        name=body.get("name"),
        role=body.get("role"),
        pin=body.get("pin"),
    )
    return json_response({"employee": changed.to_dict()})


@routes.delete(EMPLOYEE)
async def remove_employee(request: web.Request) -> web.Response:
    require(request, "manage_staff")
    removed = await context(request).staff.remove(request.match_info["employee_id"])
    return json_response({"removed": removed.to_dict()})
