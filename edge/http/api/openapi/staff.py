"""The OpenAPI description of the staff: signing in and out on a terminal, the time clock,
managing employees, and the two headers every terminal request may carry (Employee-Session,
Manager-Approval: operations.py adds them and their problems to each operation)."""

from __future__ import annotations

from edge.access.staff.employees import MAX_NAME
from edge.access.staff.roles import ROLES
from edge.access.staff.sessions import TOKEN_PREFIX
from edge.http.api.openapi.operations import answer, operation, path_param, query
from edge.http.api.openapi.schemas import DATE, INSTANT, STAMP, array, closed, nullable, ref, string

EMPLOYEE_ID = string("an employee's id", pattern="^e-[0-9a-f]{6}$")
PIN = string("4 to 8 digits, as a string (leading zeros count)", pattern="^[0-9]{4,8}$")
NAME = string("the employee's name", minLength=1, maxLength=MAX_NAME, pattern=r"\S")

STAFF_PARAMETERS = {
    "EmployeeSession": {
        "name": "Employee-Session",
        "in": "header",
        "description": (
            "the token POST /api/v1/staff/sign-in gave: the employee signed in on this "
            "terminal, recorded on what the request writes (on every node, this terminal only)"
        ),
        "schema": {"type": "string", "pattern": f"^{TOKEN_PREFIX}[A-Za-z0-9_-]{{43}}$"},
    },
    "ManagerApproval": {
        "name": "Manager-Approval",
        "in": "header",
        "description": (
            "`<employee id>:<PIN>` of a manager who approves this one request (a manager's "
            "action asked by someone who may not); recorded on what it writes as approved_by"
        ),
        "schema": {"type": "string", "pattern": "^e-[0-9a-f]{6}:[0-9]{4,8}$"},
    },
}


def _schemas() -> dict[str, dict]:
    employee = closed(
        {
            "id": EMPLOYEE_ID,
            "name": string("the employee's name"),
            "role": {"enum": list(ROLES)},
            "created_at": INSTANT,
        }
    )
    punch = closed(
        {
            "employee": EMPLOYEE_ID,
            "name": string("the employee's name when they punched"),
            "kind": {"enum": ["in", "out"]},
            "shift": {"type": "integer", "minimum": 0, "description": "their shift of the day"},
            "time": INSTANT,
            "at": STAMP,
            "by": string('the terminal, as "name (id)"'),
        }
    )
    shift = closed(
        {
            "shift": {"type": "integer", "minimum": 0},
            "in": INSTANT,
            "out": nullable(INSTANT),
            "seconds": {"type": "integer", "minimum": 0, "description": "until now if open"},
        }
    )
    return {
        "Employee": employee,
        "Punch": punch,
        "SignIn": closed({"employee": EMPLOYEE_ID, "pin": PIN}),
        "SignedIn": closed(
            {
                "token": string(
                    "send it as Employee-Session; shown only this once",
                    pattern=f"^{TOKEN_PREFIX}",
                ),
                "employee": ref("Employee"),
                "expires_at": INSTANT,
            }
        ),
        "StaffMe": closed(
            {
                "terminal": ref("Terminal"),
                "employee": {"oneOf": [ref("Employee"), {"type": "null"}]},
                "expires_at": nullable(INSTANT),
            }
        ),
        "Puncher": closed(
            {"employee": EMPLOYEE_ID, "pin": PIN},
            required=(),
            description="who punches: this employee by PIN, or (empty) the one signed in",
        ),
        "Punched": closed({"punch": ref("Punch"), "employee": ref("Employee")}),
        "ClockDay": closed(
            {
                "business_date": DATE,
                "punches": array(ref("Punch")),
                "employees": array(
                    closed(
                        {
                            "employee": EMPLOYEE_ID,
                            "name": string(""),
                            "seconds": {"type": "integer", "minimum": 0},
                            "hours": {"type": "number", "minimum": 0},
                            "on_the_clock": {"type": "boolean"},
                            "shifts": array(shift),
                        }
                    )
                ),
            }
        ),
        "NewEmployee": closed({"name": NAME, "role": {"enum": list(ROLES)}, "pin": PIN}),
        "EmployeeChange": closed(
            {"name": NAME, "role": {"enum": list(ROLES)}, "pin": PIN},
            required=(),
            minProperties=1,
        ),
    }


STAFF_SCHEMAS = _schemas()


def _op(*args, **kwargs) -> dict:
    return operation(*args, schemas=STAFF_SCHEMAS, **kwargs)


def staff_paths() -> dict[str, dict]:
    """Signing in and out, the time clock, and the employees."""
    employee = closed({"employee": ref("Employee")})
    manager = ("manager-required",)
    return {
        "/api/v1/staff/sign-in": {
            "post": _op(
                "staff_sign_in",
                "Sign an employee in on this terminal with their PIN",
                "staff",
                {"201": answer("signed in: send the token as Employee-Session", ref("SignedIn"))},
                problems=("pin-refused", "too-many-attempts", "idempotency-key-refused"),
                body="SignIn",
                description=(
                    "The session works on every node of the store, from this terminal only, "
                    "for 16 hours or until signed out. Takes no Idempotency-Key: the answer "
                    "shows the token, which the node keeps only as a hash."
                ),
            )
        },
        "/api/v1/staff/sign-out": {
            "post": _op(
                "staff_sign_out",
                "End the session this request's Employee-Session names",
                "staff",
                {
                    "200": answer(
                        "whether a session was ended",
                        closed({"signed_out": {"type": "boolean"}}),
                    )
                },
                keyed=True,
            )
        },
        "/api/v1/staff/me": {
            "get": _op(
                "staff_me",
                "This terminal and the employee signed in on it (null: nobody)",
                "staff",
                {"200": answer("who is here", ref("StaffMe"))},
                problems=("invalid-parameter",),
            )
        },
        "/api/v1/staff/clock-in": {
            "post": _op(
                "clock_in",
                "Clock in: the employee signed in, or the one whose PIN the body carries",
                "staff",
                {"201": answer("the punch", ref("Punched"))},
                problems=("pin-refused", "already-clocked-in", "business-day-closed"),
                body="Puncher",
                keyed=True,
            )
        },
        "/api/v1/staff/clock-out": {
            "post": _op(
                "clock_out",
                "Clock out: the employee signed in, or the one whose PIN the body carries",
                "staff",
                {"201": answer("the punch", ref("Punched"))},
                problems=("pin-refused", "not-clocked-in", "business-day-closed"),
                body="Puncher",
                keyed=True,
            )
        },
        "/api/v1/staff/clock": {
            "get": _op(
                "time_clock",
                "A business day's punches and each employee's hours (manage_staff)",
                "staff",
                {"200": answer("the day's time clock", ref("ClockDay"))},
                problems=(*manager, "invalid-parameter"),
                params=(query("date", "business date, default today's", DATE),),
            )
        },
        "/api/v1/employees": {
            "get": _op(
                "list_employees",
                "The store's employees (manage_staff)",
                "staff",
                {"200": answer("the employees", closed({"employees": array(ref("Employee"))}))},
                problems=(*manager, "invalid-parameter"),
            ),
            "post": _op(
                "add_employee",
                "Add an employee to every node of the store (manage_staff)",
                "staff",
                {"201": answer("the new employee", employee)},
                problems=manager,
                body="NewEmployee",
                keyed=True,
            ),
        },
        "/api/v1/employees/{employee_id}": {
            "patch": _op(
                "change_employee",
                "A new name, role or PIN (manage_staff); the employee's sessions end",
                "staff",
                {"200": answer("the employee as now", employee)},
                problems=(*manager, "unknown-employee"),
                body="EmployeeChange",
                params=(path_param("employee_id", "an employee's id"),),
            ),
            "delete": _op(
                "remove_employee",
                "Remove an employee from every node (manage_staff); their sessions end",
                "staff",
                {"200": answer("the employee removed", closed({"removed": ref("Employee")}))},
                problems=(*manager, "unknown-employee"),
                params=(path_param("employee_id", "an employee's id"),),
            ),
        },
    }
