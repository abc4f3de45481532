"""The dashboard: its figures and chart (pure), its problems in a manager's words, and its
live panel over real HTTP on a node whose emulated printer runs out of paper."""

from __future__ import annotations

import datetime as dt
import html
import random
from zoneinfo import ZoneInfo

import pytest

from edge.cli.demo.cashier import ring_up_one
from edge.http.ui.node_health import device_rows, node_notices
from edge.http.ui.sales import hourly_chart, hours_shown, sales_by_hour, sales_figures
from edge.orders.clock import format_hlc
from edge.orders.index import OrderSummary
from edge.orders.status import Status
from tests.support.clocks import LiveClock
from tests.support.printing_node import running_store
from tests.support.ui_client import UiClient, add_user
from tests.support.waiting import until

UTC = ZoneInfo("UTC")

NEW_YORK = ZoneInfo("America/New_York")


def summary(status: Status, total: int, hour_utc: int = 16) -> OrderSummary:
    opened = dt.datetime(2026, 3, 2, hour_utc, 30, tzinfo=dt.UTC)
    return OrderSummary(
        id=f"o-{status.label}-{total}-{hour_utc}",
        number="A-001",
        business_date="2026-03-02",
        status=status,
        channel="counter",
        table=None,
        guests=0,
        opened_at=format_hlc(int(opened.timestamp() * 1000), 0, "node-a"),
        lines=1,
        total=total,
        paid=total if status >= Status.PAID else 0,
        balance_due=0,
    )


def test_sales_count_paid_and_closed_orders_and_the_average_rounds_half_up():
    figures = sales_figures(
        [
            summary(Status.CLOSED, 1000),
            summary(Status.PAID, 1001),
            summary(Status.OPEN, 5000),
            summary(Status.FIRED, 700),
            summary(Status.VOID, 9999),
        ]
    )
    assert (figures.total, figures.orders, figures.open_orders) == (2001, 2, 3)
    assert figures.average == 1001  # 1000.5 rounds up
    assert sales_figures([]).average == 0


def test_sales_fall_in_the_hour_the_order_was_opened_in_the_store_zone():
    hours = sales_by_hour(
        [
            summary(Status.CLOSED, 1000, hour_utc=16),  # 11:30 in New York (EST)
            summary(Status.CLOSED, 500, hour_utc=16),
            summary(Status.CLOSED, 250, hour_utc=18),
            summary(Status.OPEN, 999, hour_utc=18),
        ],
        NEW_YORK,
    )
    assert hours == {11: 1500, 13: 250}


def test_the_chart_spans_the_busy_hours_of_either_day_and_scales_to_the_larger():
    assert hours_shown({}, {}, 4) == []
    assert hours_shown({11: 5, 13: 1}, {}, 4) == [11, 12, 13, 14, 15, 16]
    assert hours_shown({}, {2: 1}, 4) == [22, 23, 0, 1, 2, 3]  # the business day ends at 04
    chart = hourly_chart({12: 10_000}, {12: 20_000, 14: 5_000}, first_hour=4, currency="USD")
    assert chart is not None
    assert len(chart.today) == len(chart.last_week) == 6
    tallest = max(chart.last_week, key=lambda bar: bar.height)
    assert tallest.title == "12:00 last week: 200"
    assert chart.today[0].height == pytest.approx(tallest.height / 2, abs=0.1)
    assert [tick.label for tick in chart.gridlines] == ["0", "50", "100", "150", "200"]
    assert hourly_chart({}, {}, first_hour=4, currency="USD") is None


def printer(name: str, state: str, *problems: str, failed_over: bool = False) -> dict:
    return {
        "id": name.split()[0].lower(),
        "kind": "printer",
        "name": name,
        "state": state,
        "problems": list(problems),
        "failed_over": failed_over,
    }


def test_problems_are_told_in_a_managers_words_the_urgent_first():
    devices = [
        printer("Front printer", "ready", "paper low"),
        printer("Kitchen printer", "problem", "paper out", failed_over=True),
        printer("Bar printer", "offline", "offline"),
        {"id": "till", "kind": "drawer", "name": "Till"},
    ]
    peers = [{"node": "node-b", "connected": False}, {"node": "node-c", "connected": True}]
    upstream = {"state": "offline", "backlog": {"orders": 12, "oldest_age": 3600.0}}
    notices = node_notices(devices, {"kitchen": 3}, peers, upstream, UTC)
    assert [(n.level, n.text) for n in notices] == [
        ("bad", "Kitchen printer is out of paper"),
        ("bad", "3 print jobs are waiting for Kitchen printer"),
        ("bad", "Bar printer is offline: check its power and cable"),
        ("warn", "Front printer is running low on paper"),
        ("warn", "Kitchen printer's tickets are printing on its backup printer"),
        (
            "warn",
            "Node node-b is not connected: orders taken there reach this node when it is back",
        ),
        (
            "warn",
            "The hub has not received 12 order(s) for 60 minutes (link offline); they are "
            "safe here and go up when the internet is back",
        ),
    ]
    rows = {row.name: row for row in device_rows(devices, {"kitchen": 3})}
    assert (rows["Kitchen printer"].level, rows["Kitchen printer"].waiting) == ("bad", 3)
    assert rows["Kitchen printer"].state == "Out of paper, printing on its backup"
    assert rows["Bar printer"].state == "Offline"
    assert (rows["Front printer"].level, rows["Till"].kind) == ("warn", "Cash drawer")


def test_a_store_printer_another_node_took_over_is_told_with_when_and_why():
    kitchen = printer("Kitchen printer", "elsewhere") | {
        "driven_by": "n2",
        "preferred_by": "n1",
        "moved": {"from": "n1", "why": "unreachable for 15 s", "at": "2026-03-02T19:04:11.250Z"},
    }
    notices = node_notices([kitchen], {}, [], None, NEW_YORK)
    assert [(n.level, n.text) for n in notices] == [
        (
            "warn",
            "Kitchen printer: node n2 prints its tickets since 14:04, taking over from node n1 "
            "(unreachable for 15 s); it goes back to node n1 once that node is back",
        )
    ]
    orphan = kitchen | {"driven_by": None, "moved": None}
    assert [n.text for n in node_notices([orphan], {}, [], None, UTC)] == [
        "Kitchen printer: no node drives it while node n1 is away"
    ]
    assert device_rows([kitchen], {})[0].state == "Driven by node n2"
    home = kitchen | {"driven_by": "n1", "moved": {**kitchen["moved"], "from": "n2"}}
    assert node_notices([home], {}, [], None, UTC) == []  # back where it is preferred


def test_a_node_where_all_is_well_has_nothing_to_say():
    devices = [printer("Front printer", "ready")]
    fresh = {"state": "connected", "backlog": {"orders": 2, "oldest_age": 5.0}}
    assert node_notices(devices, {}, [{"node": "b", "connected": True}], fresh, UTC) == []
    assert device_rows(devices, {})[0].state == "Ready"


@pytest.fixture
async def store(tmp_path):
    async with running_store(tmp_path / "node", LiveClock()) as running:
        await add_user(running.node, "alice", "manager")
        yield running


async def test_the_dashboard_shows_todays_sales_and_a_printer_out_of_paper(store):
    node = store.node
    rng = random.Random(7)
    for _ in range(3):
        await ring_up_one(node.book, rng, node.context.devices)
    closed = [v for v in await node.book.list_orders() if v.status == Status.CLOSED]
    browser = UiClient(node)
    try:
        home = await browser.sign_in("alice", "correct horse")
        total = sum(v.totals.total for v in closed)
        assert f"{total // 100}.{total % 100:02d} USD" in home.text
        assert "<svg" in home.text and "today" in home.text

        store.kitchen.paper_out(True)

        async def says_out_of_paper() -> bool:
            panel = await browser.get("/ui/dashboard/live")
            return "Kitchen printer is out of paper" in html.unescape(panel.text)

        await until(says_out_of_paper, within=15)
        store.kitchen.paper_out(False)

        async def all_well() -> bool:
            return "All is well" in (await browser.get("/ui/dashboard/live")).text

        await until(all_well, within=15)
    finally:
        await browser.close()


async def test_the_live_panel_needs_a_signed_in_browser(store):
    browser = UiClient(store.node)
    try:
        page = await browser.get("/ui/dashboard/live")
        assert page.url == "/ui/signin?next=/ui/dashboard/live"
    finally:
        await browser.close()
