"""Deriving an order from entries that may come from anywhere. Pure logic."""

from __future__ import annotations

import json

from edge.orders.status import Status
from edge.orders.view import derive_order


def entry(**fields) -> str:
    return json.dumps({"at": "2026-11-20T18:00:00.000Z/0000/n", "by": "peer", **fields})


def line(sku: str, price: int, rate: str = "8.875") -> str:
    return entry(sku=sku, name=sku, qty=1, unit_price=price, tax_rate=rate, station=None)


def stamped(second: int, writer: str, **fields) -> str:
    """An entry that `writer` wrote `second` seconds after 18:00."""
    return json.dumps(
        {
            "at": f"2026-11-20T18:{second // 60:02d}:{second % 60:02d}.000Z/0000/{writer}",
            "by": writer,
            **fields,
        }
    )


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


def test_each_writers_entries_past_the_limits_are_left_out_the_same_way_everywhere():
    """A terminal writing straight into the document, past the limits, and a node that wrote
    while cut off from it: the terminal's latest entries past 500 lines, 50 discounts and
    50 payments are left out and named; every entry the node wrote counts."""
    soda = {"sku": "SODA", "name": "Soda", "qty": 1, "unit_price": 100, "tax_rate": "0"}
    lines = {f"t{i:03d}": stamped(i, "web-till", **soda) for i in range(502)}
    lines |= {f"n{i:03d}": stamped(i, "node-b", **soda) for i in range(3)}
    discounts = {f"d{i:02d}": stamped(i, "web-till", amount=1, line=None) for i in range(51)}
    payments = {f"p{i:02d}": stamped(i, "web-till", tender="cash", amount=1) for i in range(52)}
    order = {"id": "20261120-000000000002", "number": "W-001", "lines": lines}
    order |= {"discounts": discounts, "payments": payments}
    view = derive_order(order)

    assert len(view.lines) == 503 and {"n000", "n001", "n002"} <= {ln.id for ln in view.lines}
    assert (len(view.discounts), len(view.payments)) == (50, 50)
    assert view.totals.subtotal == 503 * 100 and view.totals.discount == 50
    assert view.totals.paid == 50
    assert sorted(i.split(":")[0] for i in view.ignored) == [
        "discounts/d50",
        "lines/t500",
        "lines/t501",
        "payments/p50",
        "payments/p51",
    ]
    assert "past the 500 lines web-till may add to an order" in " ".join(view.ignored)
    shuffled = {
        **order,
        "lines": dict(reversed(lines.items())),
        "payments": dict(reversed(payments.items())),
    }
    assert derive_order(shuffled) == view  # whatever order the entries arrived in


def test_the_version_names_the_entries_an_order_holds():
    order = {"id": "20261120-000000000003", "lines": {"a": line("SODA", 295)}}
    version = derive_order(order).version
    assert len(version) == 16 and derive_order(dict(order)).version == version
    grown = {**order, "payments": {"p": entry(tender="cash", amount=1)}}
    assert derive_order(grown).version != version
