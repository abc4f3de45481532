"""The roles table: managers may do everything, cashiers all but the managers' actions,
servers what cashiers may less the drawer's own business; docs/staff.md shows exactly it."""

from __future__ import annotations

import re

import pytest

from edge.access.staff.roles import ACTIONS, ALLOWED, MANAGER_ACTIONS, ROLES, may
from tests.support.paths import ROOT


def test_managers_may_do_all_cashiers_all_but_managers_actions_servers_less_the_drawer():
    assert all(may("manager", action) for action in ACTIONS)
    for action in ACTIONS:
        assert may("cashier", action) == (action not in MANAGER_ACTIONS), action
        drawer = action in ("drawer_session", "paid_in", "drop")
        assert may("server", action) == (may("cashier", action) and not drawer), action
    assert MANAGER_ACTIONS == {
        "discount_over_limit", "void_fired", "refund", "reverse_payment", "reopen",
        "no_sale", "paid_out", "report_z", "manage_staff",
    }  # fmt: skip


def test_an_unknown_role_may_do_nothing_and_an_unknown_action_is_a_mistake():
    assert not may("kds", "ring_up")
    assert not may("", "report_x")
    with pytest.raises(ValueError, match="unknown staff action 'refnud'"):
        may("manager", "refnud")


def test_docs_staff_md_shows_the_roles_table_as_the_code_has_it():
    text = (ROOT / "docs" / "staff.md").read_text()
    rows = re.findall(
        r"^\| `([a-z_]+)` \| ([^|]+) \| (yes|no) \| (yes|no) \| (yes|no) \|$", text, re.M
    )
    assert [row[0] for row in rows] == list(ACTIONS)
    header = re.search(r"^\| action \| what it covers \| (\w+) \| (\w+) \| (\w+) \|$", text, re.M)
    assert header is not None and set(header.groups()) == set(ROLES)
    for action, what, *answers in rows:
        assert what.strip() == ACTIONS[action], action
        for role, answer in zip(header.groups(), answers, strict=True):
            assert (answer == "yes") == (action in ALLOWED[role]), (action, role)
