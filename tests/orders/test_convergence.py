"""Three replicas doing random order operations converge, whatever the delivery order.

Each replica is a real store in its own SQLite file with its own order book (letters A, B,
C). Updates travel between them in random order, late, and duplicated, exactly as bytes;
after everything has been delivered everywhere, every replica must derive the same orders
(lines, totals, status, payments), with no acknowledged payment lost or counted twice.
Operations that a replica refuses (an order it has not seen yet, a closed order) are part
of the game: they are how the concurrent conflicts arise (void vs. add, close vs. add,
two payments, two status moves).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.orders.book import OrderBook
from edge.orders.log import Actor
from edge.runtime.errors import OrderError
from sync.replica import Replica as DocReplica
from sync.store import DocStore
from tests.support.books import make_book
from tests.support.clocks import SettableClock

NODES = 3
SKUS = ["BURGER", "FRIES", "BEER", "SODA", "SHAKE"]
CASHIER = Actor("till")
MANAGER = Actor("mgr", manager=True)

node = st.integers(0, NODES - 1)
slot = st.integers(0, 2)  # few orders, so that operations collide on them
refund_step = st.tuples(
    st.just("refund"),
    node,
    slot,
    st.sampled_from(["cash", "card"]),
    st.sampled_from([None, 100, 500, 1500]),
    st.integers(-1, 3),  # the index of a line to refund one unit of, or none
    st.integers(0, 4),  # the request's key: the same key is the same refund
)
reverse_step = st.tuples(st.just("reverse"), node, slot, st.integers(0, 3))

step = st.one_of(
    st.tuples(st.just("open"), node),
    st.tuples(st.just("add"), node, slot, st.sampled_from(SKUS), st.integers(1, 3)),
    st.tuples(st.just("void_line"), node, slot, st.integers(0, 5)),
    st.tuples(st.just("discount"), node, slot, st.sampled_from(["10", "50", 100, 700])),
    st.tuples(st.just("pay"), node, slot, st.integers(0, 3), st.sampled_from(["cash", "card"])),
    st.tuples(st.just("fire"), node, slot),
    st.tuples(st.just("bump"), node, slot),
    st.tuples(st.just("close"), node, slot),
    st.tuples(st.just("void"), node, slot),
    st.tuples(st.just("reopen"), node, slot),
    refund_step,
    reverse_step,
    st.tuples(st.just("deliver"), node, node, st.integers(0, 1000)),
    st.tuples(st.just("deliver_again"), node, node, st.integers(0, 1000)),
)


@dataclass
class Replica:
    book: OrderBook
    store: DocStore
    documents: DocReplica  # the node's replica of the store's documents, under its book
    inbox: list[tuple[str, bytes]] = field(default_factory=list)
    delivered: list[tuple[str, bytes]] = field(default_factory=list)


def payment_amount(slot_: int, key: int) -> int:
    """The same key always means the same payment, as a real retry does."""
    return 300 + 700 * key + slot_


async def apply(replica: Replica, guid: str, update: bytes) -> None:
    await replica.store.register(guid, "orders")
    await replica.documents.apply_update(guid, update, origin="peer")
    replica.delivered.append((guid, update))


async def run_scenario(root: Path, steps: list[tuple], seed: int) -> dict[str, dict]:
    """Play `steps`, heal, check convergence; return the converged orders by id."""
    clock = SettableClock(dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC))
    replicas: list[Replica] = []
    for index in range(NODES):
        store = await DocStore.open(root / f"node{index}.db")
        documents = DocReplica(store)
        book = await make_book(
            store, clock, letter="ABC"[index], name=f"node-{index}", replica=documents
        )
        replicas.append(Replica(book, store, documents))
    try:
        for index, replica in enumerate(replicas):
            others = [r for i, r in enumerate(replicas) if i != index]

            def ship(guid: str, update: bytes, origin: str, seq: int, others=others) -> None:
                if origin == "local" and "/orders/" in guid:
                    for other in others:
                        other.inbox.append((guid, update))

            replica.documents.add_listener(ship)

        order_ids: list[str] = []
        acknowledged: dict[str, dict[str, int]] = {}  # order id → payment key → amount
        refunded: dict[str, set[str]] = {}  # order id → ids of the refunds acknowledged
        for item in steps:
            clock.advance(seconds=1)
            await play(item, replicas, order_ids, (acknowledged, refunded))

        rng = random.Random(seed)
        for replica in replicas:  # heal: everything reaches everyone, shuffled, some twice
            backlog = replica.inbox + rng.sample(replica.delivered, len(replica.delivered) // 3)
            rng.shuffle(backlog)
            replica.inbox = []
            for guid, update in backlog:
                await apply(replica, guid, update)

        views = [
            {v.id: v.to_dict() for v in await r.book.list_orders(dt.date(2026, 11, 20))}
            for r in replicas
        ]
        for replica, view in zip(replicas, views, strict=True):
            for order_id, derived in view.items():  # the order cache saw every remote update
                assert (await replica.book.get(order_id)).to_dict() == derived
        assert set(views[0]) == set(order_ids)
        assert views[1] == views[0]
        assert views[2] == views[0]
        for order_id, view in views[0].items():
            payments = {p["key"]: p["amount"] for p in view["payments"]}
            assert payments == acknowledged.get(order_id, {})
            refunds = view["refunds"]
            kept = {k: a for k, a in payments.items() if k not in refunds["reversed_payments"]}
            assert view["totals"]["paid"] == sum(kept.values())
            assert {r["id"] for r in refunds["refunds"]} == refunded.get(order_id, set())
            for tender in refunds["tenders"]:  # never more back than was paid on a tender
                assert 0 <= tender["refunded"] <= tender["paid"] - tender["change"]
                assert (
                    tender["refundable"] == tender["paid"] - tender["change"] - tender["refunded"]
                )
            counted = [r["amount"] for r in refunds["refunds"] if r["counted"]]
            assert sum(counted) == refunds["refunded"] <= view["totals"]["total"]
            assert view["ignored"] == []
        return views[0]
    finally:
        for replica in replicas:
            await replica.store.close()


async def play(
    item: tuple,
    replicas: list[Replica],
    order_ids: list[str],
    acknowledged: tuple[dict[str, dict[str, int]], dict[str, set[str]]],
) -> None:
    kind, who, *args = item
    if kind == "sync":  # everything sent so far reaches everyone
        for receiver in replicas:
            backlog, receiver.inbox = receiver.inbox, []
            for guid, update in backlog:
                await apply(receiver, guid, update)
        return
    if kind in ("deliver", "deliver_again"):
        target, pick = args
        if target == who:
            return
        receiver = replicas[target]
        pool = receiver.inbox if kind == "deliver" else receiver.delivered
        if pool:
            guid, update = (
                pool.pop(pick % len(pool)) if kind == "deliver" else (pool[pick % len(pool)])
            )
            await apply(receiver, guid, update)
        return
    book = replicas[who].book
    if kind == "open":
        order_ids.append((await book.open_order(CASHIER)).id)
        return
    if not order_ids:
        return
    order_id = order_ids[args[0] % len(order_ids)]
    try:
        await operate(book, kind, order_id, args, acknowledged)
    except OrderError:
        pass  # refused on this replica's view: that is part of the scenario


async def operate(
    book: OrderBook,
    kind: str,
    order_id: str,
    args: list,
    acknowledged: tuple[dict[str, dict[str, int]], dict[str, set[str]]],
) -> None:
    payments, refunds = acknowledged
    if kind == "add":
        await book.add_line(CASHIER, order_id, sku=args[1], qty=args[2])
    elif kind == "void_line":
        view = await book.get(order_id)
        if view.lines:
            line = view.lines[args[1] % len(view.lines)]
            await book.void_line(MANAGER, order_id, line.id, reason="test")
    elif kind == "discount":
        value = args[1]
        if isinstance(value, str):
            await book.add_discount(MANAGER, order_id, percent=value, reason="test")
        else:
            await book.add_discount(MANAGER, order_id, amount=value, reason="test")
    elif kind == "pay":
        key, amount = f"pay-{args[1]}", payment_amount(args[0], args[1])
        await book.add_payment(CASHIER, order_id, key=key, tender=args[2], amount=amount)
        payments.setdefault(order_id, {})[key] = amount
    elif kind == "fire":
        await book.fire(CASHIER, order_id)
    elif kind == "bump":
        view = await book.get(order_id)
        fires = [e for e in view.events if e.kind == "fire" and e.detail["stations"]]
        if fires:
            await book.bump(
                CASHIER, order_id, fire_id=fires[-1].id, station=fires[-1].detail["stations"][0]
            )
    elif kind == "close":
        await book.close(CASHIER, order_id)
    elif kind == "void":
        await book.void_order(MANAGER, order_id, reason="test")
    elif kind == "reopen":
        await book.reopen(MANAGER, order_id, reason="test")
    elif kind == "refund":
        tender, amount, line_index, key = args[1:]
        view = await book.get(order_id)
        items = None
        if line_index >= 0 and view.lines:
            items = [{"line_id": view.lines[line_index % len(view.lines)].id, "qty": 1}]
        if amount is None and items is None:
            amount = 100
        _, refund_id = await book.refund(
            MANAGER,
            order_id,
            tender=tender,
            reason="test",
            amount=amount,
            items=items,
            reference=None if tender == "cash" else f"ref-{key}",
            request_key=f"refund-{key}",
        )
        refunds.setdefault(order_id, set()).add(refund_id)
    elif kind == "reverse":
        await book.reverse_payment(MANAGER, order_id, payment_key=f"pay-{args[1]}", reason="test")


@settings(max_examples=120)
@given(steps=st.lists(step, min_size=1, max_size=45), seed=st.integers(0, 2**32))
def test_replicas_converge_on_the_same_orders_and_payments(steps, seed):
    with tempfile.TemporaryDirectory() as root:
        asyncio.run(run_scenario(Path(root), steps, seed))


PAID_ORDERS = [  # three orders, paid and known everywhere: what refunds work on
    *[("open", 0)] * 3,
    ("sync", 0),
    ("add", 0, 0, "BURGER", 1),
    ("add", 0, 1, "FRIES", 2),
    ("add", 0, 1, "BEER", 1),
    ("add", 0, 2, "SODA", 3),
    ("sync", 0),
    ("pay", 0, 0, 2, "cash"),  # 1700 in cash for a burger: change given
    ("pay", 0, 1, 0, "card"),
    ("pay", 0, 1, 3, "cash"),
    ("pay", 0, 2, 2, "card"),
    ("sync", 0),
    ("close", 0, 0),
    ("sync", 0),
]
money_step = st.one_of(
    refund_step,
    reverse_step,
    st.tuples(st.just("pay"), node, slot, st.integers(0, 3), st.sampled_from(["cash", "card"])),
    st.tuples(st.just("close"), node, slot),
    st.tuples(st.just("void"), node, slot),
    st.tuples(st.just("deliver"), node, node, st.integers(0, 1000)),
    st.tuples(st.just("deliver_again"), node, node, st.integers(0, 1000)),
)


@settings(max_examples=120)
@given(steps=st.lists(money_step, min_size=1, max_size=40), seed=st.integers(0, 2**32))
def test_refunds_and_reversals_from_three_replicas_converge_and_never_exceed_what_was_paid(
    steps, seed
):
    """Refunds and reversals of paid orders made on three replicas, exchanged late, out of
    order and twice, converge; no tender is ever refunded more than was paid on it, and
    every refund a replica acknowledged is in the log, counted or over-refunded."""
    with tempfile.TemporaryDirectory() as root:
        asyncio.run(run_scenario(Path(root), PAID_ORDERS + steps, seed))


def test_two_nodes_cut_off_each_refunding_the_last_of_a_payment_show_one_over_refunded():
    """A and B, cut off from each other, each refund the whole burger's cash: once they
    meet, the earlier refund counts and the later is over-refunded, on every node."""
    steps = [
        *PAID_ORDERS,
        ("refund", 0, 0, "cash", None, 0, 0),
        ("refund", 1, 0, "cash", None, 0, 1),
    ]
    with tempfile.TemporaryDirectory() as root:
        order = asyncio.run(run_scenario(Path(root), steps, seed=3))
    burger = next(o for o in order.values() if o["lines"] and o["lines"][0]["sku"] == "BURGER")
    refunds = burger["refunds"]
    first, second = sorted(refunds["refunds"], key=lambda r: r["at"])
    assert first["counted"] and not second["counted"]
    assert refunds["refunded"] == first["amount"] == burger["totals"]["total"]
    assert refunds["over_refunded"] == second["amount"] and refunds["refundable"] == 0


def test_concurrent_close_and_add_converge_to_a_closed_order_that_shows_the_debt():
    """Node A closes a paid order while node B, not yet told, adds a line to it."""
    steps = [
        ("open", 0),
        ("deliver", 0, 1, 0),
        ("add", 0, 0, "SODA", 1),
        ("deliver", 0, 1, 0),
        ("pay", 0, 0, 1, "cash"),
        ("deliver", 0, 1, 0),  # 1000 in cash covers the soda
        ("close", 0, 0),  # not delivered to B before B adds
        ("add", 1, 0, "BEER", 1),
    ]
    with tempfile.TemporaryDirectory() as root:
        (order,) = asyncio.run(run_scenario(Path(root), steps, seed=7)).values()
    assert order["status"] == "closed"
    assert [line["sku"] for line in order["lines"]] == ["SODA", "BEER"]
    assert order["totals"]["balance_due"] > 0  # visible, for a manager to reopen and settle


def test_nodes_cut_off_from_each_other_each_take_an_order_to_its_limit_and_lose_nothing():
    """A and B, cut off from each other, each take 51 card payments for one order: each
    node refuses its 51st (an order counts at most 50), and once they meet, all 100 that
    they acknowledged count, on both, with nothing left out."""
    opened = [("open", 0)] + [("add", 0, 0, "BURGER", 999)] * 3
    steps = opened + [("deliver", 0, 1, 0)] * len(opened)
    steps += [("pay", 0, 0, key, "card") for key in range(51)]
    steps += [("pay", 1, 0, key, "card") for key in range(51, 102)]
    with tempfile.TemporaryDirectory() as root:
        (order,) = asyncio.run(run_scenario(Path(root), steps, seed=11)).values()
    keys = {payment["key"] for payment in order["payments"]}
    assert keys == {f"pay-{key}" for key in (*range(50), *range(51, 101))}
    assert order["ignored"] == []
