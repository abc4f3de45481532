"""Deriving an order from entries that may come from anywhere. Pure logic."""

from __future__ import annotations

import json

from edge.orders.status import Status
from edge.orders.view import derive_order


def entry(**fields) -> str:
    return json.dumps({"at": "2026-11-20T18:00:00.000Z/0000/n", "by": "peer", **fields})


def line(sku: str, price: int, rate: str = "8.875") -> str:
    return entry(sku=sku, name=sku, qty=1, unit_price=price, tax_rate=rate, station=None)


def test_entries_that_do_not_parse_are_left_out_and_named_the_same_everywhere():
    order = {
        "id": "20261120-000000000001",
        "number": "B-001",
        "opened_at": "2026-11-20T18:00:00.000Z/0000/n",
        "lines": {
            "good": line("SODA", 295),
            "slow": line("TAX", 100, rate="1e-999999999"),  # exact arithmetic would never end
            "junk": "{not json",
            "list": "[1, 2]",
        },
        "discounts": {
            "d1": entry(percent="1E+2", reason="x", line=None),
            "d2": entry(amount=-5, reason="x", line=None),
        },
        "payments": {"p1": entry(tender="cash", amount=321)},
        "events": {"e1": entry(kind="close")},
    }
    view = derive_order(order)
    assert [ln.id for ln in view.lines] == ["good"]
    assert view.totals.total == 321 and view.totals.discount == 0
    assert view.status == Status.CLOSED
    assert sorted(i.split(":")[0] for i in view.ignored) == [
        "discounts/d1",
        "discounts/d2",
        "lines/junk",
        "lines/list",
        "lines/slow",
    ]
    assert derive_order(order) == view  # the same verdict every time, on every node
