"""The manager UI's orders pages over real HTTP, on a node driving emulated printers: search,
an order's details and history, its receipt picture, reprints and voiding."""

from __future__ import annotations

import html
import io

import pytest
from PIL import Image

from tests.support.api_node import Terminal
from tests.support.clocks import LiveClock
from tests.support.printing_node import running_store
from tests.support.ui_client import UiClient, add_user

WAIT = 15.0  # seconds an emulated printer may take to cut the paper asked for, at most


@pytest.fixture
async def store(tmp_path):
    async with running_store(tmp_path / "node", LiveClock()) as running:
        await add_user(running.node, "alice", "manager")
        yield running


@pytest.fixture
async def till(store) -> Terminal:
    return Terminal(store.node, await store.node.pair("Counter 1"))


@pytest.fixture
async def browser(store):
    client = UiClient(store.node)
    await client.sign_in("alice", "correct horse")
    yield client
    await client.close()


async def ring_up(till: Terminal, *lines: dict, **order) -> dict:
    opened = (await till.post("/orders", order or {"channel": "counter"}))["order"]
    for line in lines:
        await till.post(f"/orders/{opened['id']}/lines", line)
    return (await till.get(f"/orders/{opened['id']}"))["order"]


def numbers_listed(page_text: str, numbers: list[str]) -> list[str]:
    return [n for n in numbers if f">{n}</a>" in page_text]


async def test_orders_are_found_by_number_table_amount_and_day(store, till, browser):
    burger = await ring_up(till, {"sku": "BURGER"}, channel="dine_in", table="T4")
    fries = await ring_up(till, {"sku": "FRIES", "qty": 3})
    shake = await ring_up(till, {"sku": "SHAKE"}, channel="dine_in", table="T9")
    numbers = [burger["number"], fries["number"], shake["number"]]
    day = burger["business_date"]

    everything = await browser.get("/ui/orders")
    assert numbers_listed(everything.text, numbers) == numbers
    by_number = await browser.get(f"/ui/orders?number={fries['number'][-2:]}")
    assert fries["number"] in numbers_listed(by_number.text, numbers)
    assert numbers_listed((await browser.get("/ui/orders?table=t9")).text, numbers) == [
        shake["number"]
    ]
    total = fries["totals"]["total"]
    typed = f"{total // 100}.{total % 100:02d}"
    by_amount = await browser.get(f"/ui/orders?amount={typed}")
    assert numbers_listed(by_amount.text, numbers) == [fries["number"]]
    assert numbers_listed((await browser.get(f"/ui/orders?date={day}")).text, numbers) == numbers
    assert numbers_listed((await browser.get("/ui/orders?date=2020-01-01")).text, numbers) == []


async def test_a_search_field_that_makes_no_sense_says_so(browser):
    page = await browser.get("/ui/orders?amount=twelve")
    assert page.status == 200
    assert "is not an amount" in html.unescape(page.text)
    assert "is not a date" in html.unescape((await browser.get("/ui/orders?date=03/02")).text)


async def test_an_order_page_shows_lines_voids_discounts_payments_and_who_did_what(till, browser):
    order = await ring_up(till, {"sku": "BURGER", "qty": 2}, {"sku": "FRIES"})
    burger, fries = order["lines"]
    await till.post(
        f"/orders/{order['id']}/lines/{fries['id']}/void", {"reason": "dropped"}, expect=200
    )
    await till.post(f"/orders/{order['id']}/discounts", {"percent": "10", "reason": "staff meal"})
    due = (await till.get(f"/orders/{order['id']}"))["order"]["totals"]["balance_due"]
    await till.post(f"/orders/{order['id']}/payments", {"tender": "card", "amount": due})

    page = await browser.get(f"/ui/orders/{order['id']}")
    text = html.unescape(page.text)
    assert page.status == 200
    assert f"Order {order['number']}" in text
    assert burger["name"] in text and "voided: dropped" in text
    assert "10%: staff meal" in text
    assert "Discount of 10%: staff meal" in text
    assert f"Voided 1 × {fries['name']}: dropped" in text
    assert "by card" in text
    terminal = till_label(text)
    assert terminal.startswith("Counter 1 (t-")
    assert f'src="/ui/orders/{order["id"]}/receipt.png"' in page.text


def till_label(text: str) -> str:
    """The terminal the history names for the order's opening."""
    start = text.index("Counter 1 (t-")
    return text[start : text.index(")", start) + 1]


async def test_the_receipt_picture_is_the_receipt_as_it_would_print(till, browser):
    order = await ring_up(till, {"sku": "BURGER"})
    async with browser.session.get(
        f"{browser.node.url}/ui/orders/{order['id']}/receipt.png"
    ) as response:
        assert response.status == 200
        assert response.content_type == "image/png"
        picture = Image.open(io.BytesIO(await response.read()))
    assert picture.width >= 400 and picture.height > picture.width  # a strip of paper


async def test_printing_a_receipt_from_the_order_page_reaches_the_printer(store, till, browser):
    order = await ring_up(till, {"sku": "BURGER"}, channel="dine_in", table="T4")
    page = await browser.submit(
        f"/ui/orders/{order['id']}", f"/ui/orders/{order['id']}/receipt", {}
    )
    assert page.url == f"/ui/orders/{order['id']}"
    assert f"Receipt of order {order['number']} sent to Front printer." in page.text
    papers = await store.front.wait_for_papers(1, WAIT)
    assert order["number"] in papers[0].text


async def test_reprinting_a_kitchen_ticket_prints_it_again_marked_reprint(store, till, browser):
    order = await ring_up(till, {"sku": "BURGER"})
    await till.post(f"/orders/{order['id']}/fire", expect=200)
    first = await store.kitchen.wait_for_papers(1, WAIT)
    assert "REPRINT" not in first[0].text
    shown = await browser.get(f"/ui/orders/{order['id']}")
    assert "Kitchen ticket" in shown.text
    job_id = shown.text.split('name="job_id" value="')[1].split('"')[0]
    page = await browser.post(
        f"/ui/orders/{order['id']}/reprint", {"job_id": job_id, "csrf_token": shown.csrf_token}
    )
    assert "Kitchen ticket reprinted on Kitchen printer (marked REPRINT)." in page.text
    papers = await store.kitchen.wait_for_papers(2, WAIT)
    assert "REPRINT" in papers[1].text and order["number"] in papers[1].text


async def test_voiding_needs_a_reason_and_the_history_says_who_voided(store, till, browser):
    order = await ring_up(till, {"sku": "BURGER"})
    path = f"/ui/orders/{order['id']}"
    refused = await browser.submit(path, f"{path}/void", {"reason": "  "})
    assert "Say why the order is voided" in refused.text
    assert (await store.node.book.get(order["id"])).status.label == "open"

    voided = await browser.submit(path, f"{path}/void", {"reason": "customer left"})
    assert f"Order {order['number']} is void: customer left" in voided.text
    assert (await store.node.book.get(order["id"])).status.label == "void"
    text = html.unescape(voided.text)
    assert "alice (web UI)" in text and "Voided the order: customer left" in text
    assert 'id="void-form"' not in voided.text  # nothing left to void


async def test_an_unknown_order_is_a_404_page(browser):
    page = await browser.get("/ui/orders/o-nothing")
    assert page.status == 404
    assert "No such order" in page.text
