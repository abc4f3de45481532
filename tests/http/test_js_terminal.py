"""A JavaScript Yjs terminal (Node: yjs, y-websocket, ws) syncs with a node's
GET /api/v1/sync/{guid}: it reads an order the API opened, and the API serves the order it
writes; a bad token and a write to the read-only catalog are refused. Stock providers stay
connected through a quiet day and see each other's awareness, and who went.

The client is tests/support/js/terminal_client.mjs, run as a subprocess;
tests/support/js_setup.py installs its npm packages.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest

from tests.support.api_node import ApiNode, Terminal
from tests.support.js_setup import JS_DIR, JsClient, js_client

CLIENT_TIMEOUT = 30  # seconds; the client gives up by itself after 20
QUIET = 70  # seconds of a quiet day: over twice y-websocket's 30 s without a message


@pytest.fixture(scope="session")
def js() -> JsClient:
    return js_client()


@dataclass(frozen=True, slots=True)
class ClientRun:
    returncode: int
    said: list[dict]  # stdout: one JSON object a line
    stderr: str

    def first(self, key: str):
        return next((line[key] for line in self.said if key in line), None)


async def start_client(js: JsClient, node: ApiNode, command: str, token: str, *args: str):
    """The JavaScript terminal, started against `node`."""
    return await asyncio.create_subprocess_exec(
        js.node,
        str(js.script),
        command,
        "--url",
        f"{node.url}/api/v1/sync",
        "--token",
        token,
        *args,
        cwd=JS_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_client(
    js: JsClient, node: ApiNode, command: str, token: str, *args: str, within=CLIENT_TIMEOUT
):
    """Run the JavaScript terminal against `node`; its output once it has exited."""
    return await finished(await start_client(js, node, command, token, *args), [], within)


async def finished(process, said: list[dict], within: float) -> ClientRun:
    """What a running client said (after `said`, read already) once it has exited."""
    try:
        out, err = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"the JavaScript client ran over {within} s") from None
    said = said + [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    return ClientRun(process.returncode, said, err.decode())


class Running:
    """A JavaScript terminal running alongside the test, read a line at a time."""

    def __init__(self, process) -> None:
        self.process = process
        self.said: list[dict] = []

    async def says(self, key: str) -> dict:
        """Its next line with `key`, within CLIENT_TIMEOUT (AssertionError when it exits)."""
        async with asyncio.timeout(CLIENT_TIMEOUT):
            while raw := await self.process.stdout.readline():
                self.said.append(json.loads(raw))
                if key in self.said[-1]:
                    return self.said[-1]
        run = await finished(self.process, self.said, CLIENT_TIMEOUT)
        raise AssertionError(f"the client exited without saying {key}: {run}")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.communicate()


def catalog_line(catalog: dict, sku: str, modifiers: list[str], *, qty: int = 1) -> dict:
    """A line entry for `sku`, copied from GET /api/v1/catalog as docs/orders.md says."""
    item = next(i for i in catalog["items"] if i["sku"] == sku)
    rates = {tax["id"]: tax["rate"] for tax in catalog["taxes"]}
    return {
        "sku": sku,
        "name": item["name"],
        "qty": qty,
        "unit_price": item["price"],
        "modifiers": [m for m in item["modifiers"] if m["code"] in modifiers],
        "note": "",
        "tax_rate": rates[item["tax"]],
        "tax_included": catalog["prices_include_tax"],
        "station": item["station"],
    }


async def test_a_yjs_terminal_reads_an_api_order_and_the_api_serves_the_one_it_writes(node, js):
    till = Terminal(node, await node.pair("Counter 1"))
    order = (await till.post("/orders", {"channel": "dine_in", "table": "T4", "guests": 2}))[
        "order"
    ]
    path = f"/orders/{order['id']}"
    await till.post(f"{path}/lines", {"sku": "BURGER", "qty": 2, "modifiers": ["CHEESE"]})
    await till.post(f"{path}/lines", {"sku": "FRIES", "modifiers": ["LARGE"]})
    order = (await till.get(path))["order"]

    js_token = await node.pair("Web Till")
    web_till = Terminal(node, js_token)
    label = "Web Till ({id})".format(**(await web_till.get("/terminals/me"))["terminal"])
    line = catalog_line(await web_till.get("/catalog"), "SHAKE", ["CHOC"], qty=2)
    day = f"{node.book.store_id}/orders/{order['business_date']}"
    run = await run_client(
        js,
        node,
        "orders",
        js_token,
        "--doc",
        day,
        "--show",
        order["id"],
        "--line",
        json.dumps(line),
        "--by",
        label,
        "--at",
        "2026-11-20T18:05:00.000Z",
    )
    assert run.returncode == 0, run

    # The JavaScript terminal sees the order as the API made it.
    shown = run.first("order")
    assert (shown["id"], shown["number"], shown["table"]) == (order["id"], "A-001", "T4")
    assert {ln["id"]: ln["sku"] for ln in shown["lines"]} == {
        ln["id"]: ln["sku"] for ln in order["lines"]
    }
    assert {ln["sku"]: ln["qty"] for ln in shown["lines"]} == {"BURGER": 2, "FRIES": 1}
    assert all(section == [] for section in (shown["voids"], shown["payments"]))

    # ...and the API serves the order the JavaScript terminal wrote, totals derived.
    new_id = run.first("wrote")
    assert new_id.startswith("20261120-") and new_id != order["id"]
    written = (await till.get(f"/orders/{new_id}"))["order"]
    assert written["number"] == "J-001"
    assert (written["channel"], written["table"], written["guests"]) == ("counter", None, 0)
    assert written["opened_at"] == "2026-11-20T18:05:00.000Z/0000/js-terminal"
    assert written["opened_by"] == label
    assert written["status"] == "open"
    assert written["ignored"] == []
    [served] = written["lines"]
    assert (served["sku"], served["name"], served["qty"]) == ("SHAKE", "Vanilla Shake", 2)
    assert served["modifiers"] == [{"code": "CHOC", "name": "Chocolate", "price": 0, "qty": 1}]
    assert (served["station"], served["by"]) == ("bar", label)
    assert served["at"] == "2026-11-20T18:05:00.000Z/0001/js-terminal"
    assert written["totals"]["subtotal"] == 2 * 650
    listed = (await till.get("/orders"))["orders"]
    assert {o["id"]: o["number"] for o in listed} == {order["id"]: "A-001", new_id: "J-001"}

    # The API's next order on this node still numbers on from its own letter.
    assert (await till.post("/orders"))["order"]["number"] == "A-002"


async def test_a_yjs_terminal_with_a_bad_token_is_refused(node, js):
    await node.pair("Counter 1")  # a paired terminal exists: only the token is wrong
    day = f"{node.book.store_id}/orders/{node.book.business_date().isoformat()}"
    run = await run_client(js, node, "orders", "not-a-token", "--doc", day)
    assert run.returncode == 2, run
    # Refused before the upgrade (401), or closed in 4400-4499, where y-websocket gives up.
    assert "server response: 401" in run.stderr or "closed with code 44" in run.stderr, run
    assert run.first("synced") is None


async def test_a_yjs_terminal_cannot_write_the_catalog(node, js):
    token = await node.pair("Web Till")
    web_till = Terminal(node, token)
    before = await web_till.get("/catalog")
    burger = next(i for i in before["items"] if i["sku"] == "BURGER")
    items = {
        "FREEBIE": {"name": "Free lunch", "price": 1, "tax": "food", "station": "grill"},
        "BURGER": {"name": "Classic Burger", "price": 1, "tax": "food", "station": "grill"},
    }
    guid = f"{node.book.store_id}/catalog"
    run = await run_client(js, node, "catalog", token, "--doc", guid, "--items", json.dumps(items))

    assert run.first("synced") == guid, run  # a terminal reads the catalog...
    assert run.returncode == 2, run  # ...but its write was not kept
    assert "did not keep the write" in run.stderr, run
    # A refusal closes in 4400-4499, so y-websocket does not reconnect to send it again.
    assert "closed with code 44" in run.stderr, run
    after = await web_till.get("/catalog")
    assert after == before
    assert "FREEBIE" not in {i["sku"] for i in after["items"]}
    assert next(i for i in after["items"] if i["sku"] == "BURGER")["price"] == burger["price"]
    assert "FREEBIE" not in (await node.book.catalog()).items


def today(node: ApiNode) -> str:
    return f"{node.book.store_id}/orders/{node.book.business_date().isoformat()}"


async def test_a_stock_yjs_terminal_stays_connected_through_a_quiet_day(node, js):
    """A WebsocketProvider with y-websocket's defaults (awareness on; it reconnects after
    30 s without a message) has today open while nothing changes for QUIET seconds: the node
    relays its awareness renewals back to it, and it never reconnects."""
    token = await node.pair("Web Till")
    run = await run_client(
        js,
        node,
        "quiet",
        token,
        "--doc",
        today(node),
        "--seconds",
        str(QUIET),
        within=QUIET + CLIENT_TIMEOUT,
    )
    assert run.returncode == 0, run
    assert run.first("synced") == today(node)
    assert (run.first("statuses"), run.first("closes")) == ([], []), run  # not one reconnect
    assert run.first("awareness_messages") > 0, run  # its own renewals, relayed back


async def test_yjs_terminals_see_each_other_and_the_node_says_when_one_went(node, js):
    """Two stock providers on today see each other's awareness, which the node never
    stores, and get all of it when they ask; when one goes without a word (killed), the node
    announces it gone to the other, before that one's own 30 s expiry of silent states."""
    anna, ben = "Anna at till 1", "Ben at till 2"
    tokens = [await node.pair("Till 1"), await node.pair("Till 2")]

    async def terminal(token: str, name: str, peer: str, *args: str) -> Running:
        process = await start_client(
            js,
            node,
            "presence",
            token,
            "--doc",
            today(node),
            "--name",
            name,
            "--peer",
            peer,
            *args,
        )
        return Running(process)

    a = await terminal(tokens[0], anna, ben, "--until-left")
    b = await terminal(tokens[1], ben, anna)
    try:
        assert (await a.says("seen"))["seen"] == ben
        assert (await b.says("seen"))["seen"] == anna
        assert (await a.says("query"))["query"] == [anna, ben]
        assert (await b.says("query"))["query"] == [anna, ben]
        await b.stop()  # SIGKILL: it says nothing of its going
        assert await a.says("left") == {"left": ben, "origin": "node"}
        run = await finished(a.process, a.said, CLIENT_TIMEOUT)
        assert run.returncode == 0, run
    finally:
        await a.stop()
        await b.stop()
    stored = [path.read_bytes() for path in node.state_dir.glob("orders.db*")]
    assert stored and not any(anna.encode() in data for data in stored)
