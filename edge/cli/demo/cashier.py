"""The demo's simulated cashier, which rings up a plausible order every few seconds, and the
manager who signs in to its web UI.

It drives the same order book a terminal will, so a newcomer running `posedge demo` sees
orders open, fire, get paid and close in the log, and finds them in the store afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import secrets

from edge.access.users import UnknownUser, UserStore
from edge.devices.assembly import Devices
from edge.orders.book import OrderBook
from edge.orders.catalog import Item
from edge.orders.log import Actor
from edge.orders.menu_rules import NOTHING_UNAVAILABLE, Unavailable
from edge.orders.money import format_money

log = logging.getLogger(__name__)

CASHIER = Actor("demo-cashier")
DEMO_MANAGER = "manager"


async def demo_manager(users: UserStore, now: dt.datetime) -> tuple[str, str]:
    """The demo's manager for the web UI, with a fresh password each run: (name, password)."""
    password = secrets.token_urlsafe(9)
    try:
        await users.set_password(DEMO_MANAGER, password)
    except UnknownUser:
        await users.add(DEMO_MANAGER, "manager", password, now=now)
    return DEMO_MANAGER, password


async def ring_up_one(book: OrderBook, rng: random.Random, devices: Devices | None = None) -> str:
    """Open, fill, fire, pay and close one order (printing its receipt and opening the
    drawer for cash, when there are devices); return a line describing it."""
    catalog = await book.catalog()
    unavailable = NOTHING_UNAVAILABLE if book.availability is None else book.availability.now()
    skus = sorted(sku for sku in catalog.items if sku not in unavailable.items)
    channel = rng.choice(["counter", "dine_in", "takeaway"])
    table = f"T{rng.randint(1, 20)}" if channel == "dine_in" else None
    view = await book.open_order(
        CASHIER, channel=channel, table=table, guests=rng.randint(1, 4) if table else 0
    )
    for _ in range(rng.randint(1, 5) if skus else 0):
        item = catalog.items[rng.choice(skus)]
        modifiers = choose_modifiers(item, rng, unavailable)
        if modifiers is None:
            continue  # a required group has nothing left to choose: the item cannot be sold
        await book.add_line(
            CASHIER,
            view.id,
            sku=item.sku,
            qty=rng.randint(1, 2),
            modifiers=modifiers,
            price=_open_price(item, rng),
        )
    view = await book.get(view.id)
    if not view.lines:  # everything it picked was 86'd
        view = await book.void_order(CASHIER, view.id, "nothing on the menu to sell")
        return f"order {view.number}: nothing available to sell -> {view.status.label}"
    if any(line.station for line in view.lines):
        view, _ = await book.fire(CASHIER, view.id)
    due = view.totals.balance_due
    cash = rng.random() < 0.5
    if cash:
        tendered = -(-due // 500) * 500  # cash, rounded up to the next 5.00
        view = await book.add_payment(
            CASHIER, view.id, key=f"{view.id}-cash", tender="cash", amount=tendered
        )
        if devices is not None and devices.drawers.drawers:
            await devices.drawers.open(
                CASHIER, drawer_id=None, order_id=view.id, reason="cash sale"
            )
    else:
        view = await book.add_payment(
            CASHIER,
            view.id,
            key=f"{view.id}-card",
            tender="card",
            amount=due,
            tip=round(due * 0.15),
            reference=f"auth-{rng.randint(100000, 999999)}",
        )
    view = await book.close(CASHIER, view.id)
    if devices is not None and devices.settings.printers:
        await devices.print_receipt(
            view, key=f"receipt:{view.id}", printer=None, requested_by=CASHIER.id
        )
    totals, cur = view.totals, catalog.currency
    where = f"{view.channel} {view.table}" if view.table else view.channel
    return (
        f"order {view.number} ({where}): {len(view.lines)} lines, "
        f"total {format_money(totals.total, cur)}, paid {format_money(totals.paid, cur)}, "
        f"change {format_money(totals.change_due, cur)}, "
        f"tips {format_money(totals.tips, cur)} -> {view.status.label}"
    )


def choose_modifiers(
    item: Item, rng: random.Random, unavailable: Unavailable | None = None
) -> list[str | dict] | None:
    """Modifiers a guest might ask for, by the rules of the item's groups: each required
    group its minimum or a little more, each other one nothing or a little; none that is
    unavailable. None when a required group cannot be met with what is available."""
    out = unavailable.modifiers if unavailable is not None else {}
    chosen: list[str | dict] = []
    for group in item.groups:
        codes = [code for code in group.modifiers if code not in out]
        room = len(codes) * group.max_each
        if group.max is not None:
            room = min(room, group.max)
        if room < group.min:
            return None
        taken: dict[str, int] = {}
        for _ in range(rng.randint(group.min, min(room, group.min + 2))):
            code = rng.choice([c for c in codes if taken.get(c, 0) < group.max_each])
            taken[code] = taken.get(code, 0) + 1
        chosen += [code if qty == 1 else {"code": code, "qty": qty} for code, qty in taken.items()]
    return chosen


def _open_price(item: Item, rng: random.Random) -> int | None:
    """An open-priced item's price, in whole 0.50s within its range; None for the others."""
    if item.open_price is None:
        return None
    low, high = item.open_price.min, item.open_price.max
    return min(high, max(low, rng.randint(low, high) // 50 * 50))


async def simulate_cashier(
    book: OrderBook, interval: float, seed: int | None = None, devices: Devices | None = None
) -> None:
    """Ring up an order every `interval` seconds until cancelled."""
    rng = random.Random(seed)
    while True:
        summary = await ring_up_one(book, rng, devices)
        log.info("demo: %s", summary, extra={"node": book.node.name})
        await asyncio.sleep(interval)
