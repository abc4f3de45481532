"""The orders the order-log benchmarks ring up (bench/orderlog.py, and the order flow of
bench/converge.py and bench/daemon_under_load.py): plans of what a cashier enters, each run
through the real order book one awaited operation at a time, and the same orders as the
baseline's JSON rows; opening the bench store's order book and a plain sqlite3 file.
"""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.cli.demo.cashier import choose_modifiers
from edge.orders.book import OrderBook
from edge.orders.catalog import Catalog, parse_catalog, sample_catalog
from edge.orders.clock import HybridClock
from edge.orders.ids import new_entry_id
from edge.orders.log import Actor, NodeIdentity
from edge.orders.view import OrderView
from edge.runtime.process import freeze_startup_objects, utc_now
from sync.replica import Replica
from sync.store import DocStore

STORE_ID = "bench"
NODE = NodeIdentity("bench-a", "A")
CASHIER = Actor("bench-cashier")


# -- the orders both sides write ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """One order to ring up: what a cashier would enter."""

    channel: str
    lines: tuple[tuple[str, int, tuple[tuple[str, int], ...]], ...]  # sku, qty, modifiers
    tender: str


def plan_order(rng: random.Random, catalog: Catalog, lines: int) -> OrderPlan:
    """Lines of items at their catalog price, with modifiers by their groups' rules."""
    skus = sorted(sku for sku, item in catalog.items.items() if item.open_price is None)
    chosen = []
    for _ in range(lines):
        item = catalog.items[rng.choice(skus)]
        taken = choose_modifiers(item, rng) or []
        mods = tuple((m, 1) if isinstance(m, str) else (m["code"], m["qty"]) for m in taken)
        chosen.append((item.sku, rng.randint(1, 2), mods))
    return OrderPlan(
        rng.choice(["counter", "takeaway"]), tuple(chosen), rng.choice(["cash", "card"])
    )


def plans(seed: int, catalog: Catalog, lines: int) -> Iterator[OrderPlan]:
    rng = random.Random(seed)
    while True:
        yield plan_order(rng, catalog, lines)


class OrderRun:
    """One order rung up through the order book; each `step` is one awaited operation."""

    def __init__(self, book: OrderBook, plan: OrderPlan) -> None:
        self.book = book
        self.plan = plan
        self.view: OrderView | None = None
        self._steps: list[Callable] = [
            self._open,
            *(lambda line=line: self._add_line(*line) for line in plan.lines),
            self._pay,
            self._close,
        ]

    @property
    def done(self) -> bool:
        return not self._steps

    async def step(self) -> None:
        await self._steps.pop(0)()

    async def _open(self) -> None:
        self.view = await self.book.open_order(CASHIER, channel=self.plan.channel)

    async def _add_line(self, sku: str, qty: int, modifiers: tuple[tuple[str, int], ...]) -> None:
        taken = [{"code": code, "qty": times} for code, times in modifiers]
        self.view, _ = await self.book.add_line(
            CASHIER, self.view.id, sku=sku, qty=qty, modifiers=taken
        )

    async def _pay(self) -> None:
        due = self.view.totals.balance_due
        amount = -(-due // 500) * 500 if self.plan.tender == "cash" else due
        self.view = await self.book.add_payment(
            CASHIER, self.view.id, key=f"{self.view.id}-pay", tender=self.plan.tender, amount=amount
        )

    async def _close(self) -> None:
        self.view = await self.book.close(CASHIER, self.view.id)


def baseline_rows(plan: OrderPlan, catalog: Catalog, clock: HybridClock) -> list[str]:
    """The JSON rows of `plan` for the baseline, one per operation, holding the same fields
    the order book writes (the payment amount leaves tax out: a few bytes, not a cost)."""
    order_id = f"{utc_now():%Y%m%d}-{secrets.token_hex(6)}"
    by = {"by": CASHIER.id}
    rows = [
        {
            "op": "open",
            "id": order_id,
            "number": "A-000",
            "channel": plan.channel,
            "table": None,
            "guests": 0,
            "opened_at": clock.now(),
            "opened_by": CASHIER.id,
            "node": NODE.name,
        }
    ]
    amount = 0
    for sku, qty, taken in plan.lines:
        item = catalog.items[sku]
        mods = [(item.modifiers[code], times, item.group_of(code)) for code, times in taken]
        amount += qty * (item.price + sum(m.price * times for m, times, _ in mods))
        rows.append(
            {
                "op": "line",
                "order": order_id,
                "line": new_entry_id(),
                "sku": sku,
                "name": item.name,
                "qty": qty,
                "unit_price": item.price,
                "modifiers": [
                    {"code": m.code, "name": m.name, "price": m.price, "qty": times, "group": g.id}
                    for m, times, g in mods
                ],
                "note": "",
                "tax_rate": catalog.taxes[item.tax].rate,
                "tax_included": catalog.prices_include_tax,
                "station": item.station,
                "at": clock.now(),
                **by,
            }
        )
    rows.append(
        {
            "op": "pay",
            "order": order_id,
            "key": f"{order_id}-pay",
            "tender": plan.tender,
            "amount": amount,
            "tip": 0,
            "reference": None,
            "at": clock.now(),
            **by,
        }
    )
    rows.append(
        {"op": "close", "order": order_id, "event": new_entry_id(), "at": clock.now(), **by}
    )
    return [json.dumps(row) for row in rows]


def baseline_stream(seed: int, lines: int) -> Iterator[str]:
    """An endless stream of baseline operation rows, order after order."""
    catalog = parse_catalog(sample_catalog())
    clock = HybridClock(NODE.name, lambda: int(time.time() * 1000))
    for plan in plans(seed, catalog, lines):
        yield from baseline_rows(plan, catalog, clock)


# -- opening both sides ------------------------------------------------------------------


def open_book(replica: Replica) -> OrderBook:
    """The bench store's order book over `replica` (not started)."""
    return OrderBook(
        replica,
        store_id=STORE_ID,
        node=NODE,
        zone=ZoneInfo("UTC"),
        rollover_hour=4,
        now=utc_now,
    )


class Domain:
    """The real order domain on a fresh store file: DocStore, Replica, OrderBook."""

    def __init__(
        self, store: DocStore, replica: Replica, book: OrderBook, catalog: Catalog
    ) -> None:
        self.store = store
        self.replica = replica
        self.book = book
        self.catalog = catalog

    @classmethod
    async def open(cls, path: Path) -> Domain:
        store = await DocStore.open(path)
        replica = Replica(store)
        book = open_book(replica)
        await book.start()
        catalog = await book.import_catalog(sample_catalog())
        freeze_startup_objects()  # as the daemon does once it has started
        return cls(store, replica, book, catalog)

    @property
    def day_guid(self) -> str:
        return self.book.day_guid(self.book.business_date())


def open_plain(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with the store's durability: WAL, synchronous=FULL,
    autocommit (each INSERT is its own committed transaction)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE ops (seq INTEGER PRIMARY KEY, data TEXT NOT NULL)")
    return conn
