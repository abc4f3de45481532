"""Kitchen tickets and receipts from the API to the paper: a node driving emulated network
printers over real TCP sockets, with the printers' faults switched on and off."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageDraw

from edge.config.devices import DeviceSettings
from edge.orders.log import Actor
from tests.support.api_node import Terminal, start_node
from tests.support.clocks import LiveClock
from tests.support.disk import fill
from tests.support.printing_node import FAST, Store, running_store
from tests.support.waiting import until


@pytest.fixture
def live_clock() -> LiveClock:
    return LiveClock()


@pytest.fixture
async def store(tmp_path, live_clock):
    async with running_store(tmp_path / "node", live_clock) as running:
        yield running


@pytest.fixture
async def till(store) -> Terminal:
    return Terminal(store.node, await store.node.pair("Counter 1"))


async def order_with(till: Terminal, *lines: dict, **order) -> str:
    order_id = (await till.post("/orders", order or {"channel": "dine_in", "table": "12"}))[
        "order"
    ]["id"]
    for line in lines:
        await till.post(f"/orders/{order_id}/lines", line)
    return order_id


async def test_a_fire_prints_one_ticket_per_station_with_only_the_new_lines(store, till):
    order_id = await order_with(
        till,
        {"sku": "BURGER", "qty": 2, "modifiers": ["CHEESE", "NO-ONION"], "note": "no pickles"},
        {"sku": "FRIES"},
        {"sku": "SHAKE"},
    )
    fired = await till.post(f"/orders/{order_id}/fire", expect=200)
    number = fired["order"]["number"]
    [grill, fryer] = sorted(
        await store.kitchen.wait_for_papers(2, timeout=15), key=lambda p: "Grill" not in p.text
    )
    [shake] = await store.bar.wait_for_papers(1, timeout=15)
    assert "Grill" in grill.text and number in grill.text and "Table 12" in grill.text
    assert "2 x Classic Burger" in grill.text
    assert "+ Add cheese" in grill.text and "+ No onion" in grill.text
    assert "no pickles" in grill.text and "Fries" not in grill.text
    assert "Fries" in fryer.text and "Burger" not in fryer.text
    assert "Vanilla Shake" in shake.text
    assert all(paper.cut for paper in (grill, fryer, shake))
    assert not any("REPRINT" in p.text or "LATE" in p.text for p in (grill, fryer, shake))
    number_line = next(line for line in grill.lines if number in line.text)
    assert number_line.double_height and number_line.double_width

    await till.post(f"/orders/{order_id}/lines", {"sku": "VEGGIE"})
    await till.post(f"/orders/{order_id}/fire", expect=200)
    papers = await store.kitchen.wait_for_papers(3, timeout=15)
    assert "Garden Burger" in papers[2].text and "Classic Burger" not in papers[2].text
    jobs = await store.jobs(till, order_id=order_id)
    assert sorted(job["state"] for job in jobs) == ["printed"] * 4
    assert {job["printer"] for job in jobs} == {"kitchen", "bar"}


async def test_a_void_after_the_fire_prints_a_void_ticket(store, till):
    order_id = await order_with(till, {"sku": "BURGER"}, {"sku": "CHICKEN"})
    order = (await till.get(f"/orders/{order_id}"))["order"]
    burger = next(line["id"] for line in order["lines"] if line["sku"] == "BURGER")
    await till.post(f"/orders/{order_id}/fire", expect=200)
    await store.kitchen.wait_for_papers(2, timeout=15)
    manager = Terminal(store.node, await store.node.pair("Manager", manager=True))
    await manager.post(
        f"/orders/{order_id}/lines/{burger}/void", {"reason": "guest changed mind"}, expect=200
    )
    papers = await store.kitchen.wait_for_papers(3, timeout=15)
    assert "VOID" in papers[2].text and "Classic Burger" in papers[2].text
    assert "guest changed mind" in papers[2].text and "Chicken" not in papers[2].text


async def test_a_receipt_prints_totals_change_accents_and_a_qr_of_the_order(store, till):
    await store.node.book.import_catalog(
        {"items": {"CREME": {"name": "Crème brûlée", "price": 725, "tax": "food"}}}
    )
    order_id = await order_with(till, {"sku": "BURGER", "modifiers": ["BACON"]}, {"sku": "CREME"})
    order = (await till.get(f"/orders/{order_id}"))["order"]
    total = order["totals"]["total"]
    await till.post(
        f"/orders/{order_id}/payments",
        {"key": "cash-1", "tender": "cash", "amount": total + 500},
    )
    queued = await till.post(f"/orders/{order_id}/receipt", {"printer": "front"}, expect=202)
    assert queued["job"]["state"] in ("queued", "sending", "printed")
    [receipt] = await store.front.wait_for_papers(1, timeout=15)
    text = receipt.text
    assert "Demo Store" in text and "12 Main St" in text and "Thank you!" in text
    assert "Crème brûlée" in text and "Classic Burger" in text and "Add bacon" in text
    assert f"{total // 100}.{total % 100:02d}" in text
    assert "Change" in text.title() or "CHANGE" in text
    assert "5.00" in text
    assert receipt.qr_codes == [order_id]
    assert receipt.cut
    job = await until(lambda: _printed(store, till, queued["job"]["id"]), within=15)
    assert job["printed_marks"] == {"reprint": False, "late_minutes": None, "backup_for": None}


async def _printed(store: Store, till: Terminal, job_id: int) -> dict | None:
    job = await store.job(till, job_id)
    return job if job["state"] == "printed" else None


async def test_a_reprint_is_marked_and_a_retried_request_is_one_job(store, till):
    order_id = await order_with(till, {"sku": "SODA"})
    first = await till.post(f"/orders/{order_id}/receipt", key="receipt-1", expect=202)
    again = await till.post(f"/orders/{order_id}/receipt", key="receipt-1", expect=202)
    assert again["job"]["id"] == first["job"]["id"]
    await store.front.wait_for_papers(1, timeout=15)
    reprint = await till.post(f"/print-jobs/{first['job']['id']}/reprint", expect=202)
    papers = await store.front.wait_for_papers(2, timeout=15)
    assert "REPRINT" in papers[1].text and "REPRINT" not in papers[0].text
    assert reprint["job"]["id"] != first["job"]["id"]
    await asyncio.sleep(0.5)
    assert len(store.front.papers) == 2


async def test_paper_out_mid_job_then_loaded_prints_the_ticket_once(store, till):
    store.kitchen.slow(0.1)  # about two seconds for a ticket: time to pull the paper
    order_id = await order_with(till, {"sku": "BURGER", "modifiers": ["CHEESE", "BACON"]})
    await till.post(f"/orders/{order_id}/fire", expect=200)
    await until(lambda: store.kitchen.current.lines)  # the printer is partway through it
    store.kitchen.paper_out(True)
    device = await until(lambda: _with_problem(store, till, "kitchen", "paper out"), within=10)
    assert device["state"] == "problem"
    store.kitchen.slow(0)
    store.kitchen.paper_out(False)
    [ticket] = await store.kitchen.wait_for_papers(1, timeout=15)
    [job] = await store.jobs(till, order_id=order_id)
    done = await until(lambda: _printed(store, till, job["id"]))
    assert done["attempts"] == 1 and "REPRINT" not in ticket.text
    await asyncio.sleep(0.5)
    assert len(store.kitchen.papers) == 1 and not store.front.papers


async def _with_problem(store: Store, till: Terminal, device_id: str, problem: str):
    device = await store.device(till, device_id)
    return device if problem in device["problems"] else None


async def test_a_cover_opened_holds_jobs_until_it_closes(tmp_path, live_clock):
    async with running_store(tmp_path / "node", live_clock, failover_after=60) as store:
        till = Terminal(store.node, await store.node.pair("Counter 1"))
        store.kitchen.cover_open(True)
        await until(lambda: _with_problem(store, till, "kitchen", "cover open"))
        order_id = await order_with(till, {"sku": "FRIES"})
        await till.post(f"/orders/{order_id}/fire", expect=200)
        [job] = await until(lambda: store.jobs(till, order_id=order_id))
        await asyncio.sleep(1.0)
        assert not store.kitchen.papers and not store.kitchen.received
        assert (await store.job(till, job["id"]))["state"] == "queued"
        store.kitchen.cover_open(False)
        [ticket] = await store.kitchen.wait_for_papers(1, timeout=15)
        assert "Fries" in ticket.text and "REPRINT" not in ticket.text
        await until(lambda: _printed(store, till, job["id"]))


async def test_an_offline_printer_fails_over_to_its_backup_and_never_prints_it_later(store, till):
    store.kitchen.go_offline()
    order_id = await order_with(till, {"sku": "CHICKEN"})
    await till.post(f"/orders/{order_id}/fire", expect=200)
    [ticket] = await store.front.wait_for_papers(1, timeout=20)
    assert "Crispy Chicken Sandwich" in ticket.text
    assert "FOR Kitchen printer" in ticket.text
    [job] = await store.jobs(till, order_id=order_id)
    job = await until(lambda: _printed(store, till, job["id"]))
    assert (job["printer"], job["requested_printer"]) == ("front", "kitchen")
    assert job["backup_for"] == "Kitchen printer"
    kitchen = await store.device(till, "kitchen")
    assert kitchen["state"] == "offline" and kitchen["failed_over"]

    store.kitchen.go_online()
    await until(lambda: _ready(store, till, "kitchen"), within=15)
    order_id = await order_with(till, {"sku": "FRIES"})
    await till.post(f"/orders/{order_id}/fire", expect=200)
    [fries] = await store.kitchen.wait_for_papers(1, timeout=15)
    assert "Fries" in fries.text and "Chicken" not in fries.text
    assert len(store.front.papers) == 1


async def _ready(store: Store, till: Terminal, device_id: str):
    device = await store.device(till, device_id)
    return device["state"] == "ready" and not device["failed_over"]


async def test_a_connection_dropped_mid_job_reprints_it_marked(store, till):
    store.kitchen.drop_after(40)
    order_id = await order_with(till, {"sku": "BURGER", "note": "extra crispy bacon"})
    await till.post(f"/orders/{order_id}/fire", expect=200)
    [job] = await until(lambda: store.jobs(till, order_id=order_id))
    done = await until(lambda: _printed(store, till, job["id"]), within=20)
    assert done["attempts"] == 2 and done["printed_marks"]["reprint"] is True
    whole = [paper for paper in store.kitchen.papers if paper.cut]
    assert len(whole) == 1 and "REPRINT" in whole[0].text
    assert "extra crispy bacon" in whole[0].text


async def test_two_hundred_jobs_queued_while_off_print_in_order_when_it_returns(store, till):
    store.bar.go_offline()
    book = store.node.book
    cashier = Actor("Counter 1 (t-0001)")
    numbers = []
    for _ in range(200):
        order = await book.open_order(cashier)
        await book.add_line(cashier, order.id, sku="SHAKE")
        await book.fire(cashier, order.id)
        numbers.append(order.number)
    await until(lambda: _waiting(store, till, "bar", 200), within=60)
    store.bar.go_online()
    papers = await store.bar.wait_for_papers(200, timeout=120)
    printed = [next(n for n in numbers if n in paper.text) for paper in papers]
    assert printed == numbers
    assert not any("REPRINT" in paper.text for paper in papers)
    await asyncio.sleep(0.5)
    assert len(store.bar.papers) == 200
    jobs = await store.jobs(till, printer="bar", limit=500)
    assert len(jobs) == 200 and {job["state"] for job in jobs} == {"printed"}


async def _waiting(store: Store, till: Terminal, printer_id: str, count: int) -> bool:
    jobs = await store.jobs(till, printer=printer_id, state="queued", limit=500)
    return len(jobs) >= count


async def test_a_ticket_printed_late_says_so(tmp_path, live_clock):
    async with running_store(tmp_path / "node", live_clock, failover_after=600) as store:
        till = Terminal(store.node, await store.node.pair("Counter 1"))
        store.kitchen.cover_open(True)  # the ticket waits for the kitchen printer
        order_id = await order_with(till, {"sku": "FRIES"})
        await till.post(f"/orders/{order_id}/fire", expect=200)
        await until(lambda: _with_problem(store, till, "kitchen", "cover open"))
        live_clock.advance(minutes=7)
        store.kitchen.cover_open(False)
        [ticket] = await store.kitchen.wait_for_papers(1, timeout=15)
        assert "LATE: fired 7 min ago" in ticket.text and "Fries" in ticket.text
        [job] = await store.jobs(till, order_id=order_id)
        job = await until(lambda: _printed(store, till, job["id"]))
        assert job["printed_marks"]["late_minutes"] == 7


async def test_a_node_catches_up_on_fires_and_skips_stale_ones(tmp_path, live_clock):
    """Fires written while no node printed for the kitchen: at start, the fresh one prints
    and the one hours old is recorded as skipped."""
    cashier = Actor("Counter 1 (t-0001)")
    state_dir = tmp_path / "node"
    # Both fires on one business day (it rolls over at 04:00 in the store's zone): start
    # the clock after 06:00 there, so that two hours later is the same day.
    local_hour = live_clock().astimezone(ZoneInfo("America/New_York")).hour
    if local_hour < 6:
        live_clock.advance(hours=6 - local_hour)
    node = await start_node(state_dir, live_clock, DeviceSettings(), **FAST)  # no stations
    try:
        book = node.book
        stale = await book.open_order(cashier)
        await book.add_line(cashier, stale.id, sku="BURGER")
        await book.fire(cashier, stale.id)
        live_clock.advance(hours=2)
        fresh = await book.open_order(cashier)
        await book.add_line(cashier, fresh.id, sku="VEGGIE")
        await book.fire(cashier, fresh.id)
    finally:
        await node.close()
    async with running_store(state_dir, live_clock) as store:
        till = Terminal(store.node, await store.node.pair("Counter 1"))
        [ticket] = await store.kitchen.wait_for_papers(1, timeout=15)
        assert fresh.number in ticket.text and "Garden Burger" in ticket.text
        [skipped] = await until(lambda: store.jobs(till, order_id=stale.id))
        assert skipped["state"] == "skipped" and "120 min ago" in skipped["last_error"]
        await asyncio.sleep(0.5)
        assert len(store.kitchen.papers) == 1


async def test_a_drawer_open_is_audited_and_no_sale_needs_a_manager(store, till):
    order_id = await order_with(till, {"sku": "SODA"})
    opened = await till.post("/drawers/open", {"order_id": order_id}, key="drawer-1", expect=201)
    again = await till.post("/drawers/open", {"order_id": order_id}, key="drawer-1", expect=201)
    assert again["drawer_open"]["id"] == opened["drawer_open"]["id"]
    await until(lambda: store.front.pulses)
    status, problem, _ = await till.call("POST", "/drawers/open", {"reason": "change for a 50"})
    assert status == 403 and problem["type"].endswith("manager-required")
    manager = Terminal(store.node, await store.node.pair("Manager", manager=True))
    no_sale = await manager.post("/drawers/open", {"reason": "change for a 50"}, expect=201)
    await until(lambda: len(store.front.pulses) >= 2)
    await asyncio.sleep(0.3)
    assert len(store.front.pulses) == 2
    assert store.front.pulses[0].pin == 2
    audit = (await till.get("/drawer-opens"))["drawer_opens"]
    assert [(a["order"], a["reason"], a["by"]) for a in audit] == [
        (order_id, "sale", opened["drawer_open"]["by"]),
        (None, "change for a 50", no_sale["drawer_open"]["by"]),
    ]
    assert "Counter 1" in audit[0]["by"] and "Manager" in audit[1]["by"]


async def test_devices_report_status_on_the_api_and_metrics(store, till):
    store.front.paper_near_end(True)
    store.front.drawer_open(True)
    front = await until(lambda: _with_problem(store, till, "front", "paper low"))
    assert front["state"] == "ready" and front["status"]["drawer_open"] is True
    till_drawer = await store.device(till, "till")
    assert till_drawer["open"] is True
    store.bar.go_offline()
    await until(lambda: _with_problem(store, till, "bar", "offline"))
    async with store.node.session.get(f"{store.node.url}/metrics", headers=till.headers) as r:
        text = await r.text()
    assert 'posedge_printer_ready{printer="bar"} 0.0' in text
    assert 'posedge_printer_ready{printer="kitchen"} 1.0' in text
    assert 'posedge_printer_problem{printer="bar",problem="offline"} 1.0' in text


async def test_receipts_carry_the_logo_and_print_without_it_when_its_file_breaks(
    tmp_path, live_clock, caplog
):
    logo = tmp_path / "logo.png"
    picture = Image.new("L", (600, 120), 255)
    ImageDraw.Draw(picture).rectangle((20, 20, 580, 100), fill=0)
    picture.save(logo)
    async with running_store(tmp_path / "node", live_clock, logo=logo) as store:
        till = Terminal(store.node, await store.node.pair("Counter 1"))
        order_id = await order_with(till, {"sku": "BURGER"})
        await till.post(f"/orders/{order_id}/receipt", expect=202)
        await till.post(f"/orders/{order_id}/fire", expect=200)
        [receipt] = await store.front.wait_for_papers(1, timeout=15)
        [ticket] = await store.kitchen.wait_for_papers(1, timeout=15)
        [(_, height)] = receipt.images  # padded to the paper's width by python-escpos
        assert height == 77  # 600 x 120 scaled to the 384-dot limit
        assert not ticket.images
        logo.write_bytes(b"not a picture")
        await till.post(f"/orders/{order_id}/receipt", expect=202)
        papers = await store.front.wait_for_papers(2, timeout=15)
        assert not papers[1].images and "Classic Burger" in papers[1].text
        assert "receipt logo" in caplog.text and "without it" in caplog.text


async def test_a_full_disk_refuses_print_requests_and_loses_none_it_took(small_disk, live_clock):
    async with running_store(small_disk / "state", live_clock) as store:
        till = Terminal(store.node, await store.node.pair("Counter 1"))
        order_id = await order_with(till, {"sku": "SODA"})
        taken = [(await till.post(f"/orders/{order_id}/receipt", expect=202))["job"]["id"]]
        filler = fill(small_disk)
        for attempt in range(200):
            status, body, headers = await till.call(
                "POST", f"/orders/{order_id}/receipt", key=f"full-{attempt}"
            )
            if status != 202:
                break
            taken.append(body["job"]["id"])
        assert status == 503 and body["type"].endswith(":store-unavailable"), body
        assert headers["Retry-After"] == "5"
        filler.unlink()
        again = await till.post(f"/orders/{order_id}/receipt", key=f"full-{attempt}", expect=202)
        taken.append(again["job"]["id"])
        papers = await store.front.wait_for_papers(len(taken), timeout=30)
        await asyncio.sleep(0.5)
        assert len(store.front.papers) == len(taken) == len(set(taken))
        assert not any("REPRINT" in paper.text for paper in papers)
        for job_id in taken:
            await until(lambda job_id=job_id: _printed(store, till, job_id), within=60)


async def test_paper_out_past_the_failover_time_moves_the_job_marked_and_never_finishes_it(
    store, till
):
    store.kitchen.slow(0.2)
    order_id = await order_with(till, {"sku": "BURGER", "modifiers": ["CHEESE", "BACON"]})
    await till.post(f"/orders/{order_id}/fire", expect=200)
    await until(lambda: store.kitchen.current.lines)  # partway through the ticket
    store.kitchen.paper_out(True)
    [ticket] = await store.front.wait_for_papers(1, timeout=30)
    assert "REPRINT" in ticket.text and "FOR Kitchen printer" in ticket.text
    assert "Classic Burger" in ticket.text and "+ Add bacon" in ticket.text
    store.kitchen.slow(0)
    store.kitchen.paper_out(False)  # its buffer was cleared: the rest of the job is gone
    await until(lambda: _ready(store, till, "kitchen"))
    await asyncio.sleep(0.5)
    assert not store.kitchen.papers
    [job] = await store.jobs(till, order_id=order_id)
    assert (job["state"], job["printer"], job["printed_marks"]["reprint"]) == (
        "printed",
        "front",
        True,
    )
