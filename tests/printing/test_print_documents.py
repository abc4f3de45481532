"""Kitchen routing and receipts derived from real orders (an order book over a real store)."""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from edge.orders.log import Actor
from edge.orders.view import percent_text
from edge.printing.documents import ReceiptSettings, kitchen_tickets, receipt_document
from tests.support.books import make_book

CASHIER = Actor("Counter 1 (t-0001)")
MANAGER = Actor("Manager (t-0002)", manager=True)
ROUTES = {"grill": "kitchen", "fryer": "kitchen"}  # the bar's tickets print elsewhere
NAMES = {"grill": "Grill", "fryer": "Fryer", "bar": "Bar"}


async def test_a_fire_makes_one_ticket_per_routed_station_with_its_lines(store, clock):
    book = await make_book(store, clock)
    order = await book.open_order(CASHIER, channel="dine_in", table="12", guests=2)
    await book.add_line(
        CASHIER, order.id, sku="BURGER", qty=2, modifiers=["CHEESE"], note="no pickles"
    )
    await book.add_line(CASHIER, order.id, sku="FRIES")
    await book.add_line(CASHIER, order.id, sku="SHAKE")
    view, fire_id = await book.fire(CASHIER, order.id)

    tickets = {t.station: t for t in kitchen_tickets(view, ROUTES, NAMES)}
    assert set(tickets) == {"grill", "fryer"}  # bar is not routed to this node
    grill = tickets["grill"]
    assert grill.key == f"fire:{order.id}:{fire_id}:grill"
    assert grill.event_at == clock()
    document = grill.document
    assert (document["number"], document["table"], document["guests"]) == (view.number, "12", 2)
    assert (document["ticket"], document["station_name"], document["fired_by"]) == (
        "fire",
        "Grill",
        CASHIER.id,
    )
    assert document["lines"] == [
        {"qty": 2, "name": "Classic Burger", "modifiers": ["Add cheese"], "note": "no pickles"}
    ]
    assert [line["name"] for line in tickets["fryer"].document["lines"]] == ["Fries"]


async def test_a_second_fire_sends_only_new_lines_and_the_first_keeps_its_key(store, clock):
    book = await make_book(store, clock)
    order = await book.open_order(CASHIER)
    await book.add_line(CASHIER, order.id, sku="BURGER")
    view, first = await book.fire(CASHIER, order.id)
    before = kitchen_tickets(view, ROUTES, NAMES)
    clock.advance(minutes=3)
    await book.add_line(CASHIER, order.id, sku="VEGGIE")
    view, second = await book.fire(CASHIER, order.id)
    after = {t.key: t for t in kitchen_tickets(view, ROUTES, NAMES)}
    assert {t.key for t in before} <= set(after)
    new = after[f"fire:{order.id}:{second}:grill"]
    assert [line["name"] for line in new.document["lines"]] == ["Garden Burger"]
    assert new.event_at == clock()
    assert len(after) == 2 and f"fire:{order.id}:{first}:grill" in after


async def test_voids_after_a_fire_make_void_tickets_and_before_a_fire_none(store, clock):
    book = await make_book(store, clock)
    order = await book.open_order(CASHIER)
    _, burger = await book.add_line(CASHIER, order.id, sku="BURGER")
    await book.add_line(CASHIER, order.id, sku="FRIES")
    _, never_fired = await book.add_line(CASHIER, order.id, sku="CHICKEN")
    await book.void_line(CASHIER, order.id, never_fired, "mistake")
    await book.fire(CASHIER, order.id)
    view = await book.void_line(MANAGER, order.id, burger, "guest changed mind")
    voids = [t for t in kitchen_tickets(view, ROUTES, NAMES) if t.document["ticket"] == "void"]
    assert [(t.key, t.document["reason"]) for t in voids] == [
        (f"void:{order.id}:{burger}:grill", "guest changed mind")
    ]
    assert voids[0].document["lines"][0]["name"] == "Classic Burger"

    view = await book.void_order(MANAGER, order.id, "guest left")
    voids = [t for t in kitchen_tickets(view, ROUTES, NAMES) if t.document["ticket"] == "void"]
    whole = [t for t in voids if t.key.endswith(":fryer")]
    assert len(whole) == 1 and whole[0].document["reason"] == "guest left"
    assert [line["name"] for line in whole[0].document["lines"]] == ["Fries"]
    assert len(voids) == 2  # the burger's own void ticket is not repeated at the grill


async def test_a_receipt_holds_lines_discounts_taxes_payments_and_change(store, clock):
    book = await make_book(store, clock)
    order = await book.open_order(CASHIER, channel="takeaway")
    await book.add_line(CASHIER, order.id, sku="BURGER", modifiers=["BACON"])
    _, voided = await book.add_line(CASHIER, order.id, sku="FRIES")
    await book.void_line(CASHIER, order.id, voided, "mistake")
    await book.add_discount(CASHIER, order.id, percent="10", reason="Staff")
    view = await book.get(order.id)
    due = view.totals.balance_due
    view = await book.add_payment(CASHIER, order.id, key="p1", tender="cash", amount=due + 500)
    document = receipt_document(
        view,
        ReceiptSettings("Demo Store", ("12 Main St",), ("Thank you!",)),
        currency="USD",
        printed_at=dt.datetime(2026, 11, 20, 18, 5, tzinfo=dt.UTC),
    )
    assert document["store"] == {
        "name": "Demo Store",
        "header": ["12 Main St"],
        "footer": ["Thank you!"],
    }
    assert [(ln["name"], ln["amount"], ln["voided"]) for ln in document["lines"]] == [
        ("Classic Burger", 1500, False),
        ("Fries", 450, True),
    ]
    assert document["lines"][0]["modifiers"] == [{"name": "Add bacon", "price": 250}]
    assert document["discounts"] == [{"reason": "Staff", "amount": None, "percent": "10"}]
    assert (document["subtotal"], document["discount"]) == (1500, 150)
    assert document["taxes"] == [{"label": "Tax 8.875%", "amount": 120, "included": False}]
    assert document["total"] == 1500 - 150 + 120 == due
    assert (document["paid"], document["change"], document["balance_due"]) == (due + 500, 500, 0)
    assert document["printed_at"] == "2026-11-20T18:05:00.000Z"


@pytest.mark.parametrize("rate", ["5", "10", "19", "20", "21", "8.875", "0.5"])
async def test_a_tax_rate_prints_and_shows_as_people_write_it(store, clock, rate):
    book = await make_book(store, clock)
    await book.import_catalog({"taxes": {"food": {"name": "Sales tax", "rate": rate}}})
    order = await book.open_order(CASHIER)
    await book.add_line(CASHIER, order.id, sku="BURGER")
    view = await book.get(order.id)
    assert view.to_dict()["totals"]["taxes"][0]["rate"] == rate
    document = receipt_document(
        view,
        ReceiptSettings("Demo Store", (), ()),
        currency="USD",
        printed_at=dt.datetime(2026, 11, 20, 18, 5, tzinfo=dt.UTC),
    )
    assert document["taxes"][0]["label"] == f"Tax {rate}%"


@pytest.mark.parametrize(
    ("rate", "text"),
    [("5", "5"), ("10", "10"), ("19", "19"), ("20", "20"), ("21", "21"), ("100", "100"),
     ("8.875", "8.875"), ("10.50", "10.5"), ("0.5", "0.5")],
)  # fmt: skip
def test_percent_text_never_uses_an_exponent(rate, text):
    assert percent_text(Fraction(Decimal(rate))) == text
