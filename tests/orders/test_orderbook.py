"""The order domain over a real store: the whole lifecycle, its rules, and bad input."""

import asyncio
import datetime as dt

import pytest

from edge.orders.log import Actor
from edge.orders.status import Status
from edge.runtime.errors import (
    BalanceDue,
    BusinessDayClosed,
    IdempotencyConflict,
    InvalidInput,
    ManagerRequired,
    NothingToFire,
    OrderFull,
    OrderNotEditable,
    PaymentRejected,
    UnknownItem,
    UnknownOrder,
)
from sync.store import DocStore
from tests.support.books import make_book

CASHIER_ID = "till-1"


@pytest.fixture
def cashier():
    return Actor(CASHIER_ID)


@pytest.fixture
def manager():
    return Actor("mgr-ana", manager=True)


async def test_full_order_totals_to_the_cent(book, cashier, manager):
    order = await book.open_order(cashier, channel="dine_in", table="T4", guests=2)
    assert (order.number, order.channel, order.table, order.guests) == ("A-001", "dine_in", "T4", 2)
    _, burger = await book.add_line(
        cashier, order.id, sku="BURGER", qty=2, modifiers=["CHEESE", "NO-ONION"]
    )
    _, fries = await book.add_line(cashier, order.id, sku="FRIES", modifiers=["LARGE"])
    _, beer = await book.add_line(cashier, order.id, sku="BEER")
    _, soda = await book.add_line(cashier, order.id, sku="SODA", note="no ice")
    await book.void_line(cashier, order.id, soda, reason="changed mind")
    await book.add_discount(manager, order.id, line_id=fries, percent="50", reason="happy hour")
    view = await book.add_discount(cashier, order.id, amount=100, reason="loyalty")

    burger_line = view.line(burger)
    assert burger_line.gross == 2 * (1250 + 150)
    assert [m["code"] for m in burger_line.modifiers] == ["CHEESE", "NO-ONION"]
    assert view.line(soda).voided and view.line(soda).void_reason == "changed mind"
    assert view.line(soda).note == "no ice"
    t = view.totals
    assert t.subtotal == 2800 + 600 + 750
    # fries 600 → 300; then 100 off the order spread over 2800/300/750 (3850):
    # 72.73 / 7.79 / 19.48: floors 72, 7, 19 and the 2 left go to the largest remainders
    # (fries .79, burger .73), so 73, 8, 19.
    assert t.discount == 300 + 100
    assert {line_id: t.line_net[line_id] for line_id in (burger, fries, beer)} == {
        burger: 2727,
        fries: 292,
        beer: 731,
    }
    # food 3019 × 8.875 % = 267.93 → 268; alcohol 731 × 10.375 % = 75.84 → 76
    assert [(x.base, x.tax) for x in t.taxes] == [(3019, 268), (731, 76)]
    assert t.total == 3750 + 268 + 76 == 4094

    half = await book.add_payment(
        cashier, order.id, key="p1", tender="card", amount=2000, tip=300, reference="auth-1"
    )
    assert half.status == Status.OPEN and half.totals.balance_due == 2094
    paid = await book.add_payment(cashier, order.id, key="p2", tender="cash", amount=2500)
    assert paid.totals.balance_due == 0
    assert paid.totals.change_due == 406
    assert paid.totals.tips == 300
    assert paid.status == Status.PAID
    closed = await book.close(cashier, order.id)
    assert closed.status == Status.CLOSED
    assert {e.kind for e in closed.events} == {"close"}
    assert all(entry.by == CASHIER_ID for entry in closed.payments)


async def test_order_numbers_count_up_per_node_and_survive_a_restart(tmp_path, clock, cashier):
    store = await DocStore.open(tmp_path / "o.db")
    book = await make_book(store, clock, letter="B")
    numbers = [(await book.open_order(cashier)).number for _ in range(3)]
    await store.close()
    store = await DocStore.open(tmp_path / "o.db")
    try:
        book = await make_book(store, clock, letter="B")
        numbers.append((await book.open_order(cashier)).number)
    finally:
        await store.close()
    assert numbers == ["B-001", "B-002", "B-003", "B-004"]


async def test_business_day_rolls_over_at_the_configured_local_hour(book, clock, cashier):
    clock.now = dt.datetime(2026, 11, 21, 8, 59, tzinfo=dt.UTC)  # 03:59 in New York
    late = await book.open_order(cashier)
    clock.advance(minutes=1)  # 04:00 in New York: a new business day
    early = await book.open_order(cashier)
    assert late.business_date == "2026-11-20"
    assert early.business_date == "2026-11-21"
    assert early.number == "A-001"  # numbering starts again each business day
    assert [v.id for v in await book.list_orders(dt.date(2026, 11, 20))] == [late.id]


async def test_a_retried_payment_is_one_payment(book, cashier):
    order = await book.open_order(cashier)
    await book.add_line(cashier, order.id, sku="BURGER")
    for _ in range(3):
        view = await book.add_payment(cashier, order.id, key="pay-42", tender="card", amount=500)
    assert len(view.payments) == 1 and view.totals.paid == 500
    with pytest.raises(IdempotencyConflict, match="pay-42"):
        await book.add_payment(cashier, order.id, key="pay-42", tender="card", amount=600)


async def test_card_may_not_exceed_the_balance_but_cash_gives_change(book, cashier):
    order = await book.open_order(cashier)
    await book.add_line(cashier, order.id, sku="COOKIE")  # 250 + 22 tax
    with pytest.raises(PaymentRejected, match="exceeds the balance due of 272"):
        await book.add_payment(cashier, order.id, key="c", tender="card", amount=1000)
    view = await book.add_payment(cashier, order.id, key="k", tender="cash", amount=1000)
    assert view.totals.change_due == 728


async def test_fire_sends_only_new_lines_and_bumps_make_it_ready(book, cashier):
    order = await book.open_order(cashier)
    _, burger = await book.add_line(cashier, order.id, sku="BURGER")
    _, fries = await book.add_line(cashier, order.id, sku="FRIES")
    view, first = await book.fire(cashier, order.id)
    assert view.status == Status.FIRED
    with pytest.raises(NothingToFire):
        await book.fire(cashier, order.id)
    _, shake = await book.add_line(cashier, order.id, sku="SHAKE")
    view, second = await book.fire(cashier, order.id)
    fires = {e.id: e.detail for e in view.events if e.kind == "fire"}
    assert set(fires[first]["lines"]) == {burger, fries}
    assert fires[first]["stations"] == ["fryer", "grill"]
    assert fires[second] == {"lines": [shake], "stations": ["bar"]}
    for fire_id, station in [(first, "grill"), (first, "fryer")]:
        view = await book.bump(cashier, order.id, fire_id=fire_id, station=station)
    assert view.status == Status.FIRED  # the bar ticket is still open
    view = await book.bump(cashier, order.id, fire_id=second, station="bar")
    assert view.status == Status.READY
    with pytest.raises(InvalidInput, match="no ticket"):
        await book.bump(cashier, order.id, fire_id=second, station="grill")


async def test_close_needs_the_balance_paid(book, cashier):
    order = await book.open_order(cashier)
    await book.add_line(cashier, order.id, sku="FRIES")
    with pytest.raises(BalanceDue, match="still owes 490"):
        await book.close(cashier, order.id)


async def test_closed_orders_refuse_changes_until_a_manager_reopens(book, cashier, manager):
    order = await book.open_order(cashier)
    await book.add_line(cashier, order.id, sku="SODA")
    await book.add_payment(cashier, order.id, key="p", tender="cash", amount=400)
    await book.close(cashier, order.id)
    with pytest.raises(OrderNotEditable, match="closed"):
        await book.add_line(cashier, order.id, sku="SODA")
    with pytest.raises(ManagerRequired):
        await book.reopen(cashier, order.id, reason="forgot dessert")
    view = await book.reopen(manager, order.id, reason="forgot dessert")
    assert view.status == Status.PAID  # reopened; its payment still covers the total
    view, _ = await book.add_line(cashier, order.id, sku="COOKIE")
    # soda 295 + cookie 250 = 545, + 8.875 % tax (48) = 593, of which 400 is paid
    assert view.status == Status.OPEN and view.totals.balance_due == 593 - 400
    # a tip can still be added to a closed order, e.g. from a signed card slip
    view = await book.add_tip(cashier, order.id, key="t1", amount=100)
    assert view.totals.tips == 100


async def test_void_order_is_final_and_refused_once_paid(book, cashier, manager):
    unpaid = await book.open_order(cashier)
    await book.add_line(cashier, unpaid.id, sku="BEER")
    view = await book.void_order(cashier, unpaid.id, reason="walked out")
    assert view.status == Status.VOID
    with pytest.raises(OrderNotEditable):
        await book.add_line(cashier, unpaid.id, sku="BEER")
    with pytest.raises(OrderNotEditable):
        await book.reopen(manager, unpaid.id, reason="oops")
    paid = await book.open_order(cashier)
    await book.add_line(cashier, paid.id, sku="BEER")
    await book.add_payment(cashier, paid.id, key="p", tender="card", amount=100)
    with pytest.raises(OrderNotEditable, match="refund"):
        await book.void_order(cashier, paid.id, reason="mistake")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda b, a, o: b.add_line(a, o, sku="BURGER", qty=-1), "/qty"),
        (lambda b, a, o: b.add_line(a, o, sku="BURGER", qty=0), "/qty"),
        (lambda b, a, o: b.add_line(a, o, sku="BURGER", qty=1.5), "/qty"),
        (lambda b, a, o: b.add_line(a, o, sku="BURGER", qty=True), "/qty"),
        (lambda b, a, o: b.add_payment(a, o, key="k", tender="cash", amount=12.5), "/amount"),
        (lambda b, a, o: b.add_payment(a, o, key="k", tender="cash", amount="100"), "/amount"),
        (lambda b, a, o: b.add_payment(a, o, key="k", tender="cash", amount=-100), "/amount"),
        (lambda b, a, o: b.add_payment(a, o, key="k", tender="card", amount=5, tip=0.5), "/tip"),
        (lambda b, a, o: b.add_payment(a, o, key="", tender="cash", amount=5), "/key"),
        (lambda b, a, o: b.add_discount(a, o, amount=10.0, reason="x"), "/amount"),
        (lambda b, a, o: b.add_discount(a, o, percent="150", reason="x"), "/percent"),
        (lambda b, a, o: b.add_discount(a, o, percent="ten", reason="x"), "/percent"),
        (lambda b, a, o: b.add_discount(a, o, percent="1e-999999999", reason="x"), "/percent"),
        (lambda b, a, o: b.add_discount(a, o, percent="NaN", reason="x"), "/percent"),
        (lambda b, a, o: b.add_line(a, o, sku="FRIES", modifiers=["LARGE", ["x"]]), "/modifiers/1"),
        (lambda b, a, o: b.add_discount(a, o, reason="x"), "/amount"),
        (lambda b, a, o: b.void_line(a, o, "x", reason=""), "/reason"),
        (lambda b, a, o: b.open_order(a, channel="teleport"), "/channel"),
        (lambda b, a, o: b.open_order(a, guests=-2), "/guests"),
    ],
)
async def test_bad_input_is_a_typed_error_naming_the_field(book, cashier, call, field):
    order = await book.open_order(cashier)
    await book.add_line(cashier, order.id, sku="FRIES")
    before = await book.get(order.id)
    with pytest.raises(InvalidInput) as raised:
        await call(book, cashier, order.id)
    assert raised.value.field == field
    assert await book.get(order.id) == before


async def test_unknown_items_modifiers_and_orders_are_typed_errors(book, cashier):
    order = await book.open_order(cashier)
    with pytest.raises(UnknownItem, match="no item 'PIZZA'"):
        await book.add_line(cashier, order.id, sku="PIZZA")
    with pytest.raises(UnknownItem, match="Fries has no modifier 'GOLD'") as raised:
        await book.add_line(cashier, order.id, sku="FRIES", modifiers=["LARGE", "GOLD"])
    assert raised.value.field == "/modifiers/1"
    with pytest.raises(UnknownItem, match=r"Fries does not offer Toppings .* BACON") as raised:
        await book.add_line(cashier, order.id, sku="FRIES", modifiers=["LARGE", "BACON"])
    assert raised.value.field == "/modifiers/1"
    for bad_id in [
        "nope",
        "20261120-000000000000",
        "19990101-abcdef123456",
        "20261120-abcdef12",
        42,
    ]:
        with pytest.raises(UnknownOrder):
            await book.get(bad_id)


async def test_a_closed_business_day_is_read_only(book, clock, cashier):
    order = await book.open_order(cashier)
    await book.add_line(cashier, order.id, sku="SODA")
    with pytest.raises(OrderNotEditable, match="A-001"):
        await book.close_business_day(dt.date(2026, 11, 20))
    await book.add_payment(cashier, order.id, key="p", tender="cash", amount=500)
    await book.close(cashier, order.id)
    await book.close_business_day(dt.date(2026, 11, 20))
    before = await book.get(order.id)
    with pytest.raises(BusinessDayClosed, match=order.id):
        await book.add_tip(cashier, order.id, key="late", amount=50)
    with pytest.raises(BusinessDayClosed, match="2026-11-20 is closed"):
        await book.open_order(cashier)
    assert await book.get(order.id) == before
    clock.advance(days=1)
    assert (await book.open_order(cashier)).business_date == "2026-11-21"


async def test_a_restart_with_the_wall_clock_set_back_keeps_time_moving_forward(
    tmp_path, clock, cashier
):
    store = await DocStore.open(tmp_path / "o.db")
    book = await make_book(store, clock)
    first = await book.open_order(cashier)
    view, _ = await book.add_line(cashier, first.id, sku="SODA")
    await store.close()
    clock.advance(minutes=-30)  # the node restarts with its clock half an hour slow
    store = await DocStore.open(tmp_path / "o.db")
    try:
        book = await make_book(store, clock)
        second = await book.open_order(cashier)
    finally:
        await store.close()
    assert second.opened_at > view.lines[0].at > first.opened_at


async def test_an_order_takes_lines_discounts_and_payments_up_to_its_limits(book, cashier):
    """510 lines, 55 discounts and 55 payments for one order at once: the order takes 500,
    50 and 50, refuses the rest, and still answers a retry of one it took."""
    order = await book.open_order(cashier)
    lines = await asyncio.gather(
        *(
            book.add_line(cashier, order.id, sku="BURGER", request_key=f"line-{n}")
            for n in range(510)
        ),
        return_exceptions=True,
    )
    refused = [answer for answer in lines if isinstance(answer, Exception)]
    assert len(refused) == 10 and all(isinstance(exc, OrderFull) for exc in refused)
    assert "500 lines" in str(refused[0]) and refused[0].field == ""
    taken = next(n for n, answer in enumerate(lines) if not isinstance(answer, Exception))
    view, line_id = await book.add_line(
        cashier, order.id, sku="BURGER", request_key=f"line-{taken}"
    )
    assert line_id == lines[taken][1] and len(view.lines) == 500 and view.ignored == ()

    discounts = [book.add_discount(cashier, order.id, amount=1, reason="x") for _ in range(55)]
    payments = [
        book.add_payment(cashier, order.id, key=f"p{n}", tender="card", amount=1) for n in range(55)
    ]
    answers = await asyncio.gather(*discounts, *payments, return_exceptions=True)
    assert [type(a) for a in answers if isinstance(a, Exception)] == [OrderFull] * 10
    paid = next(p.key for p in (await book.get(order.id)).payments)
    view = await book.add_payment(cashier, order.id, key=paid, tender="card", amount=1)
    assert (len(view.discounts), len(view.payments), view.totals.paid) == (50, 50, 50)


async def test_no_payment_is_taken_for_an_order_that_owes_nothing(book, cashier):
    order = await book.open_order(cashier)
    with pytest.raises(PaymentRejected, match="owes nothing") as raised:
        await book.add_payment(cashier, order.id, key="c0", tender="cash", amount=500)
    assert raised.value.field == "/amount"
    await book.add_line(cashier, order.id, sku="COOKIE")  # 250 + 22 tax
    await book.add_payment(cashier, order.id, key="c1", tender="cash", amount=300)
    with pytest.raises(PaymentRejected, match="owes nothing"):
        await book.add_payment(cashier, order.id, key="c2", tender="cash", amount=100)
    view = await book.add_payment(cashier, order.id, key="c1", tender="cash", amount=300)
    assert [p.key for p in view.payments] == ["c1"] and view.totals.change_due == 28


async def test_a_discount_says_whether_it_lacks_an_amount_or_has_two(book, cashier):
    order = await book.open_order(cashier)
    with pytest.raises(InvalidInput, match=r"^/amount: give an amount or a percent$"):
        await book.add_discount(cashier, order.id, reason="x")
    with pytest.raises(InvalidInput, match="not both"):
        await book.add_discount(cashier, order.id, reason="x", amount=1, percent="5")


async def test_a_transition_asked_again_changes_nothing_and_an_impossible_one_is_refused(
    book, cashier, manager
):
    order = await book.open_order(cashier)
    await book.add_line(cashier, order.id, sku="BURGER")
    _, fire_id = await book.fire(cashier, order.id)
    for _ in range(2):
        view = await book.bump(cashier, order.id, fire_id=fire_id, station="grill")
    [bump] = [e for e in view.events if e.kind == "bump"]
    for _ in range(2):
        view = await book.recall(cashier, order.id, bump_id=bump.id)
    assert view.status == Status.FIRED
    view = await book.bump(cashier, order.id, fire_id=fire_id, station="grill")  # a new bump
    await book.add_payment(cashier, order.id, key="p", tender="cash", amount=2000)
    for _ in range(2):
        view = await book.close(cashier, order.id)
    assert view.status == Status.CLOSED
    for _ in range(2):
        view = await book.reopen(manager, order.id, reason="wrong tip")
    assert view.status == Status.PAID
    kinds = [e.kind for e in view.events]
    assert kinds == ["fire", "bump", "recall", "bump", "close", "reopen"]

    void = await book.open_order(cashier)
    for _ in range(2):
        view = await book.void_order(cashier, void.id, reason="walked out")
    assert [e.kind for e in view.events] == ["void"]
    with pytest.raises(OrderNotEditable, match="void"):
        await book.close(cashier, void.id)
    with pytest.raises(OrderNotEditable, match="not closed"):
        await book.reopen(manager, void.id, reason="oops")
    never_closed = await book.open_order(cashier)
    with pytest.raises(OrderNotEditable, match="not closed"):
        await book.reopen(manager, never_closed.id, reason="oops")


async def test_a_drawer_opened_for_an_order_is_in_its_events_and_history(book, cashier):
    order = await book.open_order(cashier)
    day = book.business_date()
    sale = {
        "drawer": "front",
        "drawer_name": "Front drawer",
        "order": order.id,
        "number": order.number,
        "reason": "sale",
        "by": cashier.id,
        "node": "node-a",
    }
    for _ in range(2):  # a retry with the same key is one open
        await book.record_drawer_open(day, "drawer-1", sale)
    view = await book.get(order.id)
    [event] = [e for e in view.events if e.kind == "drawer"]
    assert (event.id, event.by) == ("drawer-1", CASHIER_ID)
    assert event.detail == {"drawer": "front", "drawer_name": "Front drawer", "reason": "sale"}
    assert view.history()[-1]["what"] == "drawer"
    no_sale = {**sale, "order": None, "number": None, "reason": "change for the till"}
    await book.record_drawer_open(day, "drawer-2", no_sale)
    assert (await book.get(order.id)).events == view.events
    assert set(await book.drawer_opens(day)) == {"drawer-1", "drawer-2"}
