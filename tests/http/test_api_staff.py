"""The staff over HTTP on a real node: employees managed by managers only, an employee
signed in recorded on what the terminal writes, a session refused on another terminal,
a manager's PIN approving one request (and a wrong one refused with nothing done), wrong
PINs throttled per employee and per terminal and logged, sign-in required by the store,
and the time clock with its hours."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from tests.support.api_node import ApiNode

PINS = {"Sam": ("cashier", "0417"), "Kim": ("server", "2468"), "Dana": ("manager", "51903")}


class Till:
    """A paired terminal that may send an employee's session and a manager's approval."""

    def __init__(self, node: ApiNode, token: str) -> None:
        self.node = node
        self.token = token
        self.session: str | None = None

    async def call(self, method: str, path: str, body=None, *, approval=None, **headers):
        headers = {"Authorization": f"Bearer {self.token}", **headers}
        if self.session is not None:
            headers["Employee-Session"] = self.session
        if approval is not None:
            headers["Manager-Approval"] = approval
        async with self.node.session.request(
            method, f"{self.node.url}/api/v1{path}", json=body, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None), response.headers

    async def ok(self, method: str, path: str, body=None, *, expect: int = 200, **options):
        status, data, _ = await self.call(method, path, body, **options)
        assert status == expect, data
        return data

    async def sign_in(self, employee: str, pin: str) -> dict:
        signed = await self.ok(
            "POST", "/staff/sign-in", {"employee": employee, "pin": pin}, expect=201
        )
        self.session = signed["token"]
        return signed


@pytest.fixture
async def staff(node) -> dict[str, str]:
    """Sam the cashier, Kim the server and Dana the manager: name -> id."""
    ids = {}
    for name, (role, pin) in PINS.items():
        ids[name] = (await node.context.staff.add(name, role, pin, now=node.clock())).id
    return ids


async def till_of(node: ApiNode, name: str = "Counter 1", *, manager: bool = False) -> Till:
    return Till(node, await node.pair(name, manager=manager))


def problem_type(data: dict) -> str:
    return data["type"].removeprefix("urn:posedge:problem:")


async def closed_order(till: Till) -> str:
    order = (await till.ok("POST", "/orders", expect=201))["order"]["id"]
    await till.ok("POST", f"/orders/{order}/close")
    return order


async def test_employees_are_managed_by_a_manager_and_a_pin_is_kept_only_as_a_hash(node):
    till, office = await till_of(node), await till_of(node, "Office", manager=True)
    status, refused, _ = await till.call("GET", "/employees")
    assert status == 403 and problem_type(refused) == "manager-required"
    assert "manage_staff" in refused["detail"] and "Manager-Approval" in refused["detail"]
    status, refused, _ = await till.call(
        "POST", "/employees", {"name": "X", "role": "cashier", "pin": "1234"}
    )
    assert status == 403 and node.context.staff.employees() == []
    added = (
        await office.ok(
            "POST", "/employees", {"name": "Sam", "role": "cashier", "pin": "48213579"}, expect=201
        )
    )["employee"]
    assert added["name"] == "Sam" and added["role"] == "cashier" and added["id"].startswith("e-")
    stored = node.context.staff.document.value(f"employee:{added['id']}")
    assert stored["pin_hash"].startswith("scrypt$") and "pin" not in stored
    assert "48213579" not in repr(stored)
    listed = (await office.ok("GET", "/employees"))["employees"]
    assert listed == [added]
    path = f"/employees/{added['id']}"
    changed = (await office.ok("PATCH", path, {"role": "server"}))["employee"]
    assert changed["role"] == "server"
    status, bad, _ = await office.call("PATCH", path, {"pin": "12"})
    assert status == 422 and bad["pointer"] == "/pin"
    assert (await office.ok("DELETE", path))["removed"]["id"] == added["id"]
    status, gone, _ = await office.call("DELETE", path)
    assert status == 404 and problem_type(gone) == "unknown-employee"
    assert (await office.ok("GET", "/employees"))["employees"] == []


async def test_a_signed_in_employee_is_recorded_on_what_the_terminal_writes(node, staff, clock):
    till = await till_of(node)
    assert (await till.ok("GET", "/staff/me"))["employee"] is None
    signed = await till.sign_in(staff["Sam"], "0417")
    assert signed["token"].startswith("pes_")
    assert signed["employee"]["name"] == "Sam" and signed["employee"]["role"] == "cashier"
    assert dt.datetime.fromisoformat(signed["expires_at"]) == clock() + dt.timedelta(hours=16)
    me = await till.ok("GET", "/staff/me")
    assert me["employee"]["id"] == staff["Sam"] and me["terminal"]["name"] == "Counter 1"
    order = (await till.ok("POST", "/orders", expect=201))["order"]["id"]
    await till.ok("POST", f"/orders/{order}/lines", {"sku": "BURGER"}, expect=201)
    shown = (await till.ok("GET", f"/orders/{order}"))["order"]
    assert shown["lines"][0]["employee"] == f"Sam ({staff['Sam']})"
    assert shown["lines"][0]["by"].startswith("Counter 1 (t-")
    assert (await till.ok("POST", "/staff/sign-out"))["signed_out"] is True
    status, refused, headers = await till.call("GET", f"/orders/{order}")
    assert status == 401 and problem_type(refused) == "employee-session-refused"
    assert headers["WWW-Authenticate"].startswith("Employee-Session")
    assert (await till.ok("POST", "/staff/sign-out"))["signed_out"] is False  # nothing to end
    till.session = None
    assert (await till.ok("GET", f"/orders/{order}"))["order"]["id"] == order


async def test_a_session_is_refused_on_another_terminal(node, staff):
    one, two = await till_of(node, "Counter 1"), await till_of(node, "Counter 2")
    await one.sign_in(staff["Sam"], "0417")
    two.session = one.session
    status, refused, _ = await two.call("POST", "/orders")
    assert status == 401 and problem_type(refused) == "employee-session-refused"
    assert "another terminal" in refused["detail"]
    await one.ok("POST", "/orders", expect=201)


async def test_a_kitchen_screen_signs_nobody_in_and_sign_in_keeps_no_copy(node, staff, clock):
    code = node.context.terminals.codes.create_code(
        "Grill", "kds", ttl=dt.timedelta(minutes=5), now=clock()
    )
    async with node.session.post(f"{node.url}/api/v1/pair", json={"code": code.code}) as r:
        screen = Till(node, (await r.json())["token"])
    body = {"employee": staff["Sam"], "pin": "0417"}
    status, refused, _ = await screen.call("POST", "/staff/sign-in", body)
    assert status == 403 and problem_type(refused) == "role-not-allowed"
    till = await till_of(node)
    status, refused, _ = await till.call(
        "POST", "/staff/sign-in", body, **{"Idempotency-Key": "sign-in-1"}
    )
    assert status == 400 and problem_type(refused) == "idempotency-key-refused"


async def test_a_managers_pin_approves_one_request_and_a_wrong_one_does_nothing(node, staff):
    till = await till_of(node)
    order = await closed_order(till)
    reopen = f"/orders/{order}/reopen"
    reason = {"reason": "wrong tender"}
    dana, sam = staff["Dana"], staff["Sam"]
    for approval, status_wanted, kind in (
        (None, 403, "manager-required"),
        (f"{dana}:00000", 403, "pin-refused"),
        ("e-000000:51903", 403, "pin-refused"),
        (f"{sam}:0417", 403, "manager-required"),  # the right PIN, of a cashier
        ("Dana:51903", 400, "invalid-approval"),
    ):
        status, refused, _ = await till.call("POST", reopen, reason, approval=approval)
        assert (status, problem_type(refused)) == (status_wanted, kind), approval
        assert (await till.ok("GET", f"/orders/{order}"))["order"]["status"] == "closed"
    reopened = (await till.ok("POST", reopen, reason, approval=f"{dana}:51903"))["order"]
    event = next(e for e in reopened["events"] if e["kind"] == "reopen")
    assert event["detail"]["approved_by"] == f"Dana ({dana})"
    assert event["detail"]["approved_at"] == event["at"]
    assert event["by"].startswith("Counter 1 (t-")
    assert reopened["status"] != "closed"
    again = await closed_order(till)  # the approval was for that one request alone
    status, refused, _ = await till.call("POST", f"/orders/{again}/reopen", reason)
    assert status == 403 and problem_type(refused) == "manager-required"


async def test_a_manager_signed_in_has_a_managers_authority_and_a_cashier_not(node, staff):
    till = await till_of(node)
    await till.sign_in(staff["Sam"], "0417")
    status, refused, _ = await till.call("GET", "/staff/clock")
    assert status == 403 and "Sam (cashier) may not manage_staff" in refused["detail"]
    await till.sign_in(staff["Dana"], "51903")
    order = await closed_order(till)
    reopened = (await till.ok("POST", f"/orders/{order}/reopen", {"reason": "typo"}))["order"]
    event = next(e for e in reopened["events"] if e["kind"] == "reopen")
    assert event["detail"]["employee"] == f"Dana ({staff['Dana']})"
    assert "approved_by" not in event["detail"]
    await till.ok("GET", "/staff/clock")


async def test_wrong_pins_are_throttled_per_employee_and_per_terminal_and_logged(
    node, staff, caplog
):
    caplog.set_level(logging.WARNING, logger="edge.http.staff_auth")
    one, two = await till_of(node, "Counter 1"), await till_of(node, "Counter 2")
    wrong = {"employee": staff["Dana"], "pin": "11111"}
    for _ in range(5):
        status, refused, _ = await one.call("POST", "/staff/sign-in", wrong)
        assert status == 403 and problem_type(refused) == "pin-refused"
    right = {"employee": staff["Dana"], "pin": "51903"}
    for till in (one, two):  # the employee is held back, from any terminal, the right PIN too
        status, held, headers = await till.call("POST", "/staff/sign-in", right)
        assert status == 429 and problem_type(held) == "too-many-attempts"
        assert 1 <= int(headers["Retry-After"]) <= 61
    lines = [r.getMessage() for r in caplog.records if r.name == "edge.http.staff_auth"]
    assert lines[0].startswith(f"PIN of employee {staff['Dana']} refused at terminal 'Counter 1'")
    assert any("held back" in line and "'Counter 2'" in line for line in lines)
    assert not any("11111" in line or "51903" in line for line in lines)
    for index in range(10):  # ten wrong PINs at one terminal, for ten others
        body = {"employee": f"e-00000{index}", "pin": "1234"}
        assert (await two.call("POST", "/staff/sign-in", body))[0] == 403
    status, _, _ = await two.call(
        "POST", "/staff/sign-in", {"employee": staff["Sam"], "pin": "0417"}
    )
    assert status == 429  # the terminal is held back
    await one.sign_in(staff["Sam"], "0417")  # elsewhere Sam signs in


async def test_a_store_may_require_an_employee_signed_in_to_write_orders(node, staff):
    till, office = await till_of(node), await till_of(node, "Office", manager=True)
    await till.ok("POST", "/orders", expect=201)
    await node.context.staff.set_sign_in_required(True)
    status, refused, headers = await till.call("POST", "/orders")
    assert status == 401 and problem_type(refused) == "sign-in-required"
    assert headers["WWW-Authenticate"].startswith("Employee-Session")
    assert len((await till.ok("GET", "/orders"))["orders"]) == 1  # reading is not writing
    await office.ok("POST", "/orders", expect=201)  # a manager's terminal needs nobody
    await till.sign_in(staff["Kim"], "2468")
    opened = (await till.ok("POST", "/orders", expect=201))["order"]
    assert opened["server"] == f"Kim ({staff['Kim']})"


async def test_clocking_in_and_out_and_the_hours_of_the_day(node, staff, clock):
    till, office = await till_of(node), await till_of(node, "Office", manager=True)
    await till.sign_in(staff["Sam"], "0417")
    punched = await till.ok("POST", "/staff/clock-in", expect=201)
    assert punched["punch"]["kind"] == "in" and punched["punch"]["employee"] == staff["Sam"]
    status, refused, _ = await till.call("POST", "/staff/clock-in")
    assert status == 409 and problem_type(refused) == "already-clocked-in"
    till.session = None
    kim = {"employee": staff["Kim"], "pin": "2468"}
    await till.ok("POST", "/staff/clock-in", kim, expect=201)  # by PIN, nobody signed in
    status, refused, _ = await till.call("POST", "/staff/clock-out")
    assert status == 422 and refused["pointer"] == "/employee"
    status, refused, _ = await till.call("POST", "/staff/clock-out", {**kim, "pin": "9999"})
    assert status == 403 and problem_type(refused) == "pin-refused"
    clock.advance(hours=7, minutes=30)
    await till.ok("POST", "/staff/clock-out", {"employee": staff["Sam"], "pin": "0417"}, expect=201)
    status, refused, _ = await till.call(
        "POST", "/staff/clock-out", {"employee": staff["Sam"], "pin": "0417"}
    )
    assert status == 409 and problem_type(refused) == "not-clocked-in"
    clock.advance(minutes=30)
    status, refused, _ = await till.call("GET", "/staff/clock")
    assert status == 403 and problem_type(refused) == "manager-required"
    day = await office.ok("GET", "/staff/clock?date=2026-11-20")
    assert day["business_date"] == "2026-11-20"
    assert [(p["name"], p["kind"]) for p in day["punches"]] == [
        ("Sam", "in"), ("Kim", "in"), ("Sam", "out"),
    ]  # fmt: skip
    hours = {e["name"]: (e["hours"], e["on_the_clock"]) for e in day["employees"]}
    assert hours == {"Sam": (7.5, False), "Kim": (8.0, True)}  # Kim's shift counts until now
    assert (await office.ok("GET", "/staff/clock?date=2026-11-19"))["employees"] == []
    status, refused, _ = await office.call("GET", "/staff/clock?date=yesterday")
    assert status == 400 and refused["parameter"] == "date"
