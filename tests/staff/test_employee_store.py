"""Employees and their sessions in the store document: PINs kept only as salted hashes, a
session started through one node's store document accepted by another's once the update
reaches it (and a sign-out there ending it here), bound to its terminal, ended by any change
of the employee, and expired sessions dropped from the document."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pycrdt import Map

from edge.access.staff.errors import InvalidEmployee, SessionRefused, UnknownEmployee
from edge.access.staff.sessions import SESSION_LIFETIME
from edge.access.staff.store import EmployeeStore
from edge.config.registers import CHANGES
from tests.support.store_documents import open_document

NOW = dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC)
PIN = "48213579"


def raw_contents(document) -> str:
    """Everything the store document holds, as one text."""
    doc = document.replica.loaded(document.guid)
    return json.dumps(doc.get(CHANGES, type=Map).to_py())


async def ship(source, target) -> None:
    """What `source`'s store document holds, applied to `target`'s (as a peer link does)."""
    update = source.replica.loaded(source.guid).get_update()
    await target.replica.apply_update(target.guid, update, "peer")


async def test_employees_are_added_found_changed_and_removed(tmp_path):
    async with open_document(tmp_path) as document:
        staff = EmployeeStore(document)
        sam = await staff.add(" Sam ", "cashier", "0417", now=NOW)
        dana = await staff.add("Dana", "manager", "5190", now=NOW)
        assert sam.name == "Sam" and sam.id.startswith("e-") and len(sam.id) == 8
        assert [e.name for e in staff.employees()] == ["Dana", "Sam"]
        assert staff.find("sam") == sam and staff.find(dana.id) == dana
        changed = await staff.change(sam.id, role="server", name="Sam K")
        assert staff.employee(sam.id) == changed and changed.role == "server"
        await staff.remove(sam.id)
        assert staff.employees() == [dana]
        with pytest.raises(UnknownEmployee):
            await staff.remove(sam.id)
        with pytest.raises(UnknownEmployee):
            staff.find("Sam K")
        for name, role, pin, field in (
            ("", "cashier", "0417", "/name"),
            ("Al", "chef", "0417", "/role"),
            ("Al", "cashier", "417", "/pin"),
            ("Al", "cashier", "04170417x", "/pin"),
        ):
            with pytest.raises(InvalidEmployee) as refused:
                await staff.add(name, role, pin, now=NOW)
            assert refused.value.field == field


async def test_a_pin_is_kept_only_as_a_salted_hash(tmp_path):
    async with open_document(tmp_path) as document:
        staff = EmployeeStore(document)
        one = await staff.add("Sam", "cashier", PIN, now=NOW)
        two = await staff.add("Kim", "cashier", PIN, now=NOW)
        hashes = [document.value(f"employee:{e.id}")["pin_hash"] for e in (one, two)]
        assert all(h.startswith("scrypt$") for h in hashes) and hashes[0] != hashes[1]
        assert PIN not in raw_contents(document)
        assert staff.verify(one.id, PIN) == one
        assert staff.verify(one.id, "48213570") is None
        assert staff.verify("e-000000", PIN) is None


async def test_a_retried_add_finds_the_employee_its_first_attempt_added(tmp_path):
    async with open_document(tmp_path) as document:
        staff = EmployeeStore(document)
        first = await staff.add("Sam", "cashier", "0417", now=NOW, request_key="t-1:k1")
        again = await staff.add("Sam", "cashier", "0417", now=NOW, request_key="t-1:k1")
        other = await staff.add("Sam", "cashier", "0417", now=NOW, request_key="t-1:k2")
        assert again == first and other.id != first.id
        assert len(staff.employees()) == 2


async def test_a_session_started_on_one_node_is_good_on_another_and_ended_from_there(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        open_document(tmp_path / "a", node="node-a") as on_a,
        open_document(tmp_path / "b", node="node-b") as on_b,
    ):
        here, there = EmployeeStore(on_a), EmployeeStore(on_b)
        sam = await here.add("Sam", "cashier", "0417", now=NOW)
        token, session = await here.start_session(sam, "t-00000001", now=NOW)
        assert token.startswith("pes_") and token not in raw_contents(on_a)
        assert session.expires_at == (NOW + SESSION_LIFETIME).isoformat()
        with pytest.raises(SessionRefused, match="unknown"):
            there.check_session(token, terminal_id="t-00000001", now=NOW)  # not arrived yet
        await ship(on_a, on_b)
        found = there.check_session(token, terminal_id="t-00000001", now=NOW)
        assert found.employee == sam and found.terminal == "t-00000001"
        with pytest.raises(SessionRefused, match="another terminal"):
            there.check_session(token, terminal_id="t-00000002", now=NOW)
        await there.end_session(found, now=NOW)
        await there.end_session(found, now=NOW)  # safe twice
        await ship(on_b, on_a)
        with pytest.raises(SessionRefused, match="signed out"):
            here.check_session(token, terminal_id="t-00000001", now=NOW)


async def test_a_change_or_removal_of_the_employee_ends_their_sessions(tmp_path):
    async with open_document(tmp_path) as document:
        staff = EmployeeStore(document)
        sam = await staff.add("Sam", "cashier", "0417", now=NOW)
        token, _ = await staff.start_session(sam, "t-1", now=NOW)
        assert staff.check_session(token, terminal_id="t-1", now=NOW).employee == sam
        await staff.change(sam.id, pin="7777")
        with pytest.raises(SessionRefused, match="changed since signing in"):
            staff.check_session(token, terminal_id="t-1", now=NOW)
        token, _ = await staff.start_session(staff.employee(sam.id), "t-1", now=NOW)
        await staff.remove(sam.id)
        with pytest.raises(SessionRefused, match="removed"):
            staff.check_session(token, terminal_id="t-1", now=NOW)
        with pytest.raises(SessionRefused):
            staff.check_session("pes_forged", terminal_id="t-1", now=NOW)


async def test_sessions_expire_and_expired_ones_leave_the_document(tmp_path):
    async with open_document(tmp_path) as document:
        staff = EmployeeStore(document)
        sam = await staff.add("Sam", "cashier", "0417", now=NOW)
        for _ in range(3):
            await staff.start_session(sam, "t-1", now=NOW)
        token, _ = await staff.start_session(sam, "t-1", now=NOW + dt.timedelta(hours=1))
        assert staff.session_count() == 4
        later = NOW + SESSION_LIFETIME
        with pytest.raises(SessionRefused, match="expired"):
            staff.check_session(token, terminal_id="t-1", now=later + dt.timedelta(hours=1))
        await staff.start_session(sam, "t-2", now=later)  # the first three expired just now
        assert staff.session_count() == 2
        assert staff.check_session(token, terminal_id="t-1", now=later).employee == sam
        assert raw_contents(document).count('\\"staff_session:') == 2  # gone, no removal kept


async def test_the_sign_in_required_setting_is_off_until_set(tmp_path):
    async with open_document(tmp_path) as document:
        staff = EmployeeStore(document)
        assert not staff.sign_in_required()
        await staff.set_sign_in_required(True)
        assert staff.sign_in_required()
        assert document.value("setting:staff.sign_in_required") is True
        await document.write({"setting:staff.sign_in_required": "yes"})  # not a bool: off
        assert not staff.sign_in_required()
