"""Refunds and payment reversals in the order log, over a real store: what they give back,
who may make them, and what they refuse."""

import asyncio
import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.orders.log import Actor
from edge.orders.status import Status
from edge.runtime.errors import (
    IdempotencyConflict,
    InvalidInput,
    ManagerRequired,
    OrderNotEditable,
    RefundRejected,
    UnknownLine,
)
from sync.store import DocStore
from tests.support.books import make_book
from tests.support.clocks import SettableClock

START = dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC)
CASHIER = Actor("Counter 1 (t-1)", employee="Sam (e-000001)")
MANAGER = Actor("Office (t-2)", manager=True, employee="Dana (e-000002)")
APPROVED = Actor("Counter 1 (t-1)", manager=True, employee="Sam (e-000001)", approved_by="Dana")


async def paid_order(
    book, *lines: tuple[str, int], tender: str = "cash", extra: int = 0, percent: str | None = None
):
    """An order of `lines` (sku, qty), `percent` off, paid in full by `tender` (cash `extra`
    over) and closed."""
    order = await book.open_order(CASHIER)
    for sku, qty in lines:
        await book.add_line(CASHIER, order.id, sku=sku, qty=qty)
    if percent is not None:
        await book.add_discount(MANAGER, order.id, percent=percent, reason="promo")
    view = await book.get(order.id)
    await book.add_payment(
        CASHIER,
        order.id,
        key="pay-1",
        tender=tender,
        amount=view.totals.total + extra,
        reference=None if tender == "cash" else "auth-1",
    )
    return await book.close(CASHIER, order.id)


async def test_refunding_every_unit_gives_back_the_total_and_the_order_stays_closed(book):
    order = await paid_order(book, ("FRIES", 3), ("BEER", 1), extra=500)
    fries, beer = order.lines
    given = []
    for items in ([(fries, 1)], [(fries, 2), (beer, 1)]):
        view, _ = await book.refund(
            MANAGER,
            order.id,
            tender="cash",
            reason="cold",
            items=[{"line_id": line.id, "qty": qty} for line, qty in items],
        )
        given.append(view.refunds.refunds[-1].amount)
    assert sum(given) == order.totals.total  # the change (500) was never the store's
    assert view.status == Status.CLOSED
    assert (view.refunds.refunded, view.refunds.refundable) == (order.totals.total, 0)
    assert view.refunds.tender("cash").change == 500


async def test_a_refund_records_the_employee_and_the_approving_manager(book):
    order = await paid_order(book, ("SODA", 2))
    view, refund_id = await book.refund(
        APPROVED, order.id, tender="cash", reason="spilled", amount=100, request_key="r-1"
    )
    event = next(e for e in view.events if e.id == refund_id)
    assert event.by == "Counter 1 (t-1)" and event.detail["employee"] == "Sam (e-000001)"
    assert event.detail["approved_by"] == "Dana" and event.detail["approved_at"] == event.at


async def test_a_cashier_cannot_refund_reverse_or_comp_and_nothing_is_written(book):
    order = await paid_order(book, ("SODA", 2))
    with pytest.raises(ManagerRequired):
        await book.refund(CASHIER, order.id, tender="cash", reason="x", amount=100)
    open_ = await book.open_order(CASHIER)
    await book.add_line(CASHIER, open_.id, sku="SODA")
    with pytest.raises(ManagerRequired, match="more than 20 % off"):
        await book.add_discount(CASHIER, open_.id, percent="100", reason="comp")
    await book.add_discount(CASHIER, open_.id, percent="20", reason="staff")  # within the limit
    paid = await book.add_payment(CASHIER, open_.id, key="p", tender="cash", amount=100)
    with pytest.raises(ManagerRequired):
        await book.reverse_payment(CASHIER, open_.id, payment_key="p", reason="x")
    assert (await book.get(order.id)).version == order.version
    assert (await book.get(open_.id)).version == paid.version


@pytest.mark.parametrize(
    ("ask", "error", "field"),
    [
        ({"tender": "cash", "amount": 10**6}, RefundRejected, "/amount"),
        ({"tender": "card", "amount": 100, "reference": "r"}, RefundRejected, "/tender"),
        ({"tender": "card", "amount": 100}, InvalidInput, "/reference"),
        ({"tender": "cash", "items": [{"line_id": "nope"}]}, UnknownLine, "/items/0"),
        ({"tender": "cash", "items": [{"line_id": "L", "qty": 9}]}, RefundRejected, "/items/0/qty"),
        ({"tender": "cash", "items": [{"line_id": "V"}]}, RefundRejected, "/items/0"),
        (
            {"tender": "cash", "items": [{"line_id": "L"}], "amount": 10**5},
            RefundRejected,
            "/amount",
        ),
        ({"tender": "cash"}, InvalidInput, "/amount"),
        ({"tender": "cash", "items": [{"line_id": "L", "qty": "1"}]}, InvalidInput, "/items/0/qty"),
        ({"tender": "cash", "items": "L"}, InvalidInput, "/items"),
    ],
)
async def test_a_refund_that_cannot_be_made_is_refused_naming_the_field(book, ask, error, field):
    order = await book.open_order(CASHIER)
    _, line = await book.add_line(CASHIER, order.id, sku="FRIES", qty=2)
    _, voided = await book.add_line(CASHIER, order.id, sku="SODA")
    await book.void_line(CASHIER, order.id, voided, "mistake")
    total = (await book.get(order.id)).totals.total
    await book.add_payment(CASHIER, order.id, key="p", tender="cash", amount=total)
    before = await book.close(CASHIER, order.id)
    for item in ask.get("items") if isinstance(ask.get("items"), list) else ():
        item["line_id"] = {"L": line, "V": voided}.get(item["line_id"], item["line_id"])
    with pytest.raises(error) as raised:
        await book.refund(MANAGER, order.id, reason="test", **ask)
    assert raised.value.field == field
    assert (await book.get(order.id)).version == before.version


async def test_a_retried_refund_is_one_refund_and_its_key_cannot_be_reused(book):
    order = await paid_order(book, ("FRIES", 2))
    first, refund_id = await book.refund(
        MANAGER, order.id, tender="cash", reason="x", amount=200, request_key="k"
    )
    again, same_id = await book.refund(
        MANAGER, order.id, tender="cash", reason="x", amount=200, request_key="k"
    )
    assert same_id == refund_id and again.version == first.version
    assert again.refunds.refunded == 200
    with pytest.raises(IdempotencyConflict):
        await book.refund(MANAGER, order.id, tender="cash", reason="x", amount=300, request_key="k")


async def test_a_comped_order_paid_in_cash_can_be_voided(book):
    """Comped to 0.00 after 1.00 was taken in cash: the 1.00 is change, the order keeps
    nothing, so it can be voided."""
    order = await book.open_order(CASHIER)
    await book.add_line(CASHIER, order.id, sku="SODA")
    await book.add_payment(CASHIER, order.id, key="p", tender="cash", amount=100)
    comped = await book.add_discount(MANAGER, order.id, percent="100", reason="comp")
    assert (comped.totals.total, comped.totals.change_due) == (0, 100)
    assert (await book.void_order(CASHIER, order.id, "comped")).status == Status.VOID


async def test_a_payment_taken_in_error_is_reversed_then_the_order_can_be_voided(book):
    order = await book.open_order(CASHIER)
    await book.add_line(CASHIER, order.id, sku="BEER")
    await book.add_payment(CASHIER, order.id, key="p", tender="card", amount=300, reference="a")
    with pytest.raises(OrderNotEditable, match="keeps 300"):
        await book.void_order(CASHIER, order.id, "wrong order")
    view = await book.reverse_payment(MANAGER, order.id, payment_key="p", reason="wrong card")
    assert view.refunds.reversed == {"p"} and view.totals.paid == 0
    again = await book.reverse_payment(MANAGER, order.id, payment_key="p", reason="again")
    assert again.version == view.version  # reversing twice is one reversal
    assert (await book.void_order(CASHIER, order.id, "wrong order")).status == Status.VOID


async def test_a_closed_orders_payment_is_refunded_not_reversed(book):
    order = await paid_order(book, ("BEER", 1), tender="card")
    with pytest.raises(OrderNotEditable, match="refund the payment instead"):
        await book.reverse_payment(MANAGER, order.id, payment_key="pay-1", reason="x")
    with pytest.raises(InvalidInput) as raised:
        await book.reverse_payment(MANAGER, order.id, payment_key="nope", reason="x")
    assert raised.value.field == "/payment_key"


lines = st.lists(
    st.tuples(st.sampled_from(["BURGER", "FRIES", "BEER", "SODA"]), st.integers(1, 4)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=40, deadline=None)
@given(lines=lines, percent=st.sampled_from([None, "10", "33.3"]), seed=st.randoms())
def test_units_refunded_in_any_steps_come_to_exactly_the_total(lines, percent, seed):
    """Whatever the discounts and tax rates, refunding every unit of an order, one random
    handful after another, gives back exactly what it cost, never a cent more."""

    async def scenario(root: Path) -> None:
        store = await DocStore.open(root / "orders.db")
        try:
            book = await make_book(store, SettableClock(START))
            order = await paid_order(book, *lines, percent=percent)
            units = [(line.id, 1) for line in order.lines for _ in range(line.qty)]
            seed.shuffle(units)
            given = 0
            while units:
                take = seed.randint(1, len(units))
                handful, units = units[:take], units[take:]
                merged: dict[str, int] = {}
                for line_id, qty in handful:
                    merged[line_id] = merged.get(line_id, 0) + qty
                view, _ = await book.refund(
                    MANAGER,
                    order.id,
                    tender="cash",
                    reason="all of it",
                    items=[{"line_id": k, "qty": q} for k, q in merged.items()],
                )
                given += view.refunds.refunds[-1].amount
                assert given <= order.totals.total
            assert given == order.totals.total and view.refunds.refundable == 0
        finally:
            await store.close()

    with tempfile.TemporaryDirectory() as root:
        asyncio.run(scenario(Path(root)))
