"""Benchmark of what an order write answers and what requests.db keeps of it.

A node serves the API on loopback as the tests run it (tests/support/api_node.py: the real
application, order log and requests.db in a temporary directory). Two things are measured,
each beside its baseline from the same run:

1. Kept records: a typical order (open, five lines, a discount, fire, a cash payment, close)
   is rung up with an Idempotency-Key on every call, once with whole answers and once with
   `Prefer: return=minimal`. Per record: the body's bytes as answered (what requests.db kept
   before it compressed: the baseline), as kept, and the whole row's bytes.
2. A large order: one order is filled to 400 lines, then lines are added over HTTP up to its
   limit of 500, alternately answered whole (a baseline) and in short; the answer's bytes
   and the time of each request (p50, p99). The other baseline is what the issue compared
   with: adding a line to small orders (ten orders of five lines, answered whole).

Run it from the project root:

    .venv/bin/python bench/order_answers.py

Figures print as they are measured; the last line is one JSON object holding all of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import sqlite3
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.orders.log import Actor  # noqa: E402
from edge.orders.validation import MAX_ENTRIES  # noqa: E402
from order_flow import ms_summary, ratio  # noqa: E402
from tests.support.api_node import Terminal, start_node  # noqa: E402 (the tests' node)
from tests.support.clocks import SettableClock  # noqa: E402

FILLED = 400  # lines the large order holds before the timed requests
TARGET_SHORT_ANSWER = 1024  # bytes: an answer in short, whatever the order's size
TARGET_SHORT_RECORD = 512  # bytes: a kept row of an answer in short
TARGET_WHOLE_RECORD_RATIO = 0.35  # a kept whole answer, over its bytes as answered
TARGET_LARGE_OVER_SMALL = 2.0  # adding a line, p50: to a full order in short, to a small one


def say(text: str) -> None:
    print(text, flush=True)


async def ring_up(till: Terminal, prefix: str, prefer: dict) -> None:
    """A typical order, every call keyed: open, five lines, discount, fire, pay, close."""

    calls = itertools.count()

    async def post(path: str, body: dict | None = None) -> dict:
        headers = {**till.headers, **prefer, "Idempotency-Key": f"{prefix}-{next(calls)}"}
        url = f"{till.node.url}/api/v1{path}"
        async with till.node.session.post(url, json=body, headers=headers) as response:
            assert response.status in (200, 201), await response.text()
            return await response.json()

    order = (await post("/orders", {"channel": "dine_in", "table": "12", "guests": 2}))["order"]
    path = f"/orders/{order['id']}"
    for sku, modifiers in [
        ("BURGER", ["CHEESE", "BACON"]),
        ("FRIES", ["LARGE"]),
        ("SHAKE", ["CHOC"]),
        ("BEER", []),
        ("VEGGIE", []),
    ]:
        await post(f"{path}/lines", {"sku": sku, "modifiers": modifiers, "note": "no pickles"})
    await post(f"{path}/discounts", {"reason": "loyalty card", "percent": "10"})
    await post(f"{path}/fire")
    due = (await till.get(path))["order"]["totals"]["balance_due"]
    await post(f"{path}/payments", {"tender": "cash", "amount": due})
    await post(f"{path}/close")


def kept_records(requests_db: Path) -> dict[str, dict]:
    """Per flow (the key's prefix): records, mean bytes as answered, as kept, whole row."""
    with sqlite3.connect(requests_db) as db:
        rows = db.execute(
            "SELECT scope, key, fingerprint, content_type, headers, body, encoding FROM idempotency"
        ).fetchall()
    flows: dict[str, list[tuple[int, int, int]]] = {}
    for scope, key, fingerprint, content_type, headers, body, encoding in rows:
        answered = zlib.decompress(body) if encoding == "deflate" else body
        row = len(scope) + len(key) + len(fingerprint) + len(content_type) + len(headers)
        row += len(body) + len(encoding) + 16  # status and created_at: 8 bytes each
        flows.setdefault(key.split("-")[0], []).append((len(answered), len(body), row))
    return {
        flow: {
            "records": len(sizes),
            "answered_bytes": round(sum(s[0] for s in sizes) / len(sizes)),
            "kept_bytes": round(sum(s[1] for s in sizes) / len(sizes)),
            "row_bytes": round(sum(s[2] for s in sizes) / len(sizes)),
        }
        for flow, sizes in flows.items()
    }


async def small_orders(till: Terminal) -> dict:
    """Five lines added to each of ten new orders, answered whole."""
    seconds, sizes = [], []
    for _ in range(10):
        order = (await till.post("/orders"))["order"]
        for _ in range(5):
            started = time.perf_counter()
            status, body, _ = await till.call(
                "POST", f"/orders/{order['id']}/lines", {"sku": "FRIES"}
            )
            seconds.append(time.perf_counter() - started)
            assert status == 201, body
            sizes.append(len(json.dumps(body)))
    return {"answer_bytes": max(sizes), **ms_summary(seconds)}


async def large_order(till: Terminal) -> dict[str, dict]:
    """Lines added to an order of FILLED lines up to its limit, whole and in short."""
    node = till.node
    order = (await till.post("/orders"))["order"]
    cashier = Actor("bench filler")
    await asyncio.gather(
        *(node.book.add_line(cashier, order["id"], sku="FRIES") for _ in range(FILLED))
    )
    url = f"{node.url}/api/v1/orders/{order['id']}/lines"
    forms = {"whole": {}, "short": {"Prefer": "return=minimal"}}
    seconds: dict[str, list[float]] = {form: [] for form in forms}
    sizes: dict[str, list[int]] = {form: [] for form in forms}
    for n in range(MAX_ENTRIES["lines"] - FILLED):
        form = "whole" if n % 2 == 0 else "short"
        started = time.perf_counter()
        async with node.session.post(
            url, json={"sku": "FRIES"}, headers={**till.headers, **forms[form]}
        ) as response:
            body = await response.read()
        seconds[form].append(time.perf_counter() - started)
        assert response.status == 201, body
        sizes[form].append(len(body))
    async with node.session.post(url, json={"sku": "FRIES"}, headers=till.headers) as response:
        assert response.status == 409  # the order is full
    return {form: {"answer_bytes": max(sizes[form]), **ms_summary(seconds[form])} for form in forms}


async def main() -> dict:
    clock = SettableClock(dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC))
    with tempfile.TemporaryDirectory() as root:
        node = await start_node(Path(root) / "node", clock)
        try:
            till = Terminal(node, await node.pair("Bench till"))
            await ring_up(till, "whole", {})
            await ring_up(till, "short", {"Prefer": "return=minimal"})
            small = await small_orders(till)
            large = await large_order(till)
        finally:
            await node.close()  # writes the records still pending
        records = kept_records(Path(root) / "node" / "requests.db")
    whole, short = records["whole"], records["short"]
    say(
        f"kept record, typical order, {whole['records']} keyed calls: as answered (baseline) "
        f"{whole['answered_bytes']} B, kept {whole['kept_bytes']} B (row {whole['row_bytes']} B)"
        f"; in short: kept {short['kept_bytes']} B (row {short['row_bytes']} B)"
    )
    say(
        f"adding a line to an order of at most 5 lines (baseline): {small['answer_bytes']} B, "
        f"p50 {small['p50_ms']} ms, p99 {small['p99_ms']} ms"
    )
    for form, figures in large.items():
        say(
            f"adding a line to an order of {FILLED}-{MAX_ENTRIES['lines']} lines, answered "
            f"{form}{' (baseline)' if form == 'whole' else ''}: {figures['answer_bytes']} B, "
            f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms"
        )
    targets = {
        "short_answer_bytes": TARGET_SHORT_ANSWER,
        "short_row_bytes": TARGET_SHORT_RECORD,
        "whole_kept_over_answered": TARGET_WHOLE_RECORD_RATIO,
        "large_short_over_small_p50": TARGET_LARGE_OVER_SMALL,
    }
    kept_ratio = ratio(whole["kept_bytes"], whole["answered_bytes"])
    time_ratio = ratio(large["short"]["p50_ms"], small["p50_ms"])
    result = {
        "figures": {
            "records": records,
            "large_order": large,
            "large_short_over_small_p50": time_ratio,
            "large_short_over_whole_p50": ratio(large["short"]["p50_ms"], large["whole"]["p50_ms"]),
        },
        "baseline": {
            "record_bytes_as_answered": whole["answered_bytes"],
            "large_order_whole": large["whole"],
            "small_orders": small,
        },
        "targets": targets,
        "met": {
            "short_answer_bytes": large["short"]["answer_bytes"] <= TARGET_SHORT_ANSWER,
            "short_row_bytes": short["row_bytes"] <= TARGET_SHORT_RECORD,
            "whole_kept_over_answered": kept_ratio is not None
            and kept_ratio <= TARGET_WHOLE_RECORD_RATIO,
            "large_short_over_small_p50": time_ratio is not None
            and time_ratio <= TARGET_LARGE_OVER_SMALL,
        },
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    asyncio.run(main())
