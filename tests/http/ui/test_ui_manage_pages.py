"""The management pages over HTTP against a real daemon started from its configuration file:
real SQLite, printer emulators on real sockets, the daemon's own reload. Devices added in the
UI print; a bad address is refused next to its field with nothing written; pairing codes
made here pair real terminals; the menu edits the catalog unless a hub manages it; settings
apply at once or say they wait for a restart; roles hold."""

from __future__ import annotations

import html
import json
import re

import aiohttp
import pytest

from tests.support.managed_node import Browser, settings_form, start_managed_node
from tests.support.waiting import until

FLASH = re.compile(r'class="flash flash-(ok|error)"[^>]*>([^<]*)<')
FIELD_ERROR = re.compile(r'class="field-error" id="e-([^"]+)">([^<]*)<')


def flashes(page: str) -> list[tuple[str, str]]:
    return [(kind, html.unescape(text)) for kind, text in FLASH.findall(page)]


def field_errors(page: str) -> dict[str, str]:
    return {field: html.unescape(text) for field, text in FIELD_ERROR.findall(page)}


@pytest.fixture
async def node(tmp_path):
    node = await start_managed_node(tmp_path, spare_printers=1)
    yield node
    await node.close()


@pytest.fixture
async def ann(node):
    browser = await Browser(node).sign_in("ann")
    yield browser
    await browser.close()


@pytest.fixture
async def tom(node):
    browser = await Browser(node).sign_in("tom")
    yield browser
    await browser.close()


def printer_form(url: str, **fields) -> list[tuple[str, str]]:
    form = {"kind": "printer", "id": "bar", "name": "Bar", "url": url, "width": "48", **fields}
    return [*form.items(), ("stations", "bar")]


async def test_a_printer_with_a_bad_address_is_refused_next_to_the_field_and_nothing_saved(
    node, ann
):
    before = node.config_path.read_bytes()
    page = await ann.post("/ui/devices/save", printer_form("tcp://10.0.0.32:99999"))
    assert page.status == 400
    assert field_errors(page) == {
        "url": "port '99999' is not a number from 1 to 65535 (e.g. tcp://192.168.1.31:9100)"
    }
    assert 'value="tcp://10.0.0.32:99999"' in page  # what was typed stays in the field
    page = await ann.post("/ui/devices/save", printer_form("10.0.0.32"))
    assert page.status == 400 and "not scheme://address" in field_errors(page)["url"]
    assert node.config_path.read_bytes() == before


async def test_a_printer_added_in_the_ui_prints_its_test_page_and_its_station(node, ann):
    spare = node.printers["spare-0"]
    url = f"tcp://127.0.0.1:{spare.port}"
    page = await ann.post("/ui/devices/save", printer_form(url, test_print="1"))
    assert page.status == 200
    [(kind, said)] = flashes(page)
    assert kind == "ok" and said.startswith(f"Added printer ‘Bar’ at {url}, printing for bar")
    assert "test print sent" in said
    [paper] = await spare.wait_for_papers(1, timeout=15)
    assert "TEST PRINT" in paper.text and "Bar" in paper.text and "ann (web UI)" in paper.text
    config = node.daemon.layers.effective()
    assert config.devices.printers["bar"].url.text == url
    assert config.devices.stations == {"grill": "front", "bar": "bar"}
    assert "# The test store's configuration (comments survive edits)." in (
        node.config_path.read_text()
    )
    assert '"id": "bar"' in await ann.get("/ui/devices/status")

    page = await ann.post("/ui/devices/bar/test-print", {})
    assert flashes(page)[0][1].startswith("Test print sent to ‘Bar’")
    await spare.wait_for_papers(2, timeout=15)


async def test_the_status_poll_says_a_printer_is_out_of_paper(node, ann):
    node.printers["front"].paper_out()

    async def front_printer():
        states = json.loads(await ann.get("/ui/devices/status"))["devices"]
        return next(state for state in states if state["id"] == "front")

    async def out_of_paper():
        state = await front_printer()
        return state["tone"] == "bad" and "out of paper" in state["word"].lower()

    await until(out_of_paper, within=20)
    node.printers["front"].paper_out(False)
    await until(lambda: _tone_ok(front_printer), within=20)


async def _tone_ok(state) -> bool:
    return (await state())["tone"] == "ok"


async def test_editing_and_removing_devices(node, ann):
    page = await ann.get("/ui/devices/front/edit")
    assert 'value="grill" checked' in page
    url = node.daemon.layers.effective().devices.printers["front"].url.text
    form = [("existing", "front"), ("kind", "printer"), ("name", "Counter printer"),
            ("url", url), ("width", "32")]  # fmt: skip
    page = await ann.post("/ui/devices/save", form)
    assert flashes(page)[0][0] == "ok"
    config = node.daemon.layers.effective()
    assert config.devices.printers["front"].width == 32
    assert config.devices.stations == {}  # the grill was unticked

    page = await ann.post("/ui/devices/front/remove", {})
    assert flashes(page) == [
        ("error", "The printer ‘Counter printer’ was not removed: devices.till.printer: "
                  "must name a printer of this node")
    ]  # fmt: skip
    page = await ann.post("/ui/devices/till/remove", {})
    assert flashes(page) == [("ok", "Removed cash drawer ‘Till’")]
    assert "till" not in node.daemon.layers.effective().devices.drawers
    assert 'id="device-till"' not in await ann.get("/ui/devices")  # the daemon dropped it


async def test_only_a_manager_opens_the_drawer_and_the_open_is_audited(node, ann, tom):
    page = await tom.get("/ui/devices")
    assert "Open drawer" not in page
    page = await tom.post("/ui/drawers/till/open", {"reason": "change"})
    assert page.status == 403 and "Your role does not allow this" in page
    assert await drawer_opens(node) == []
    drawers_page = await ann.get("/ui/devices")
    assert "Open drawer" in drawers_page
    page = await ann.post("/ui/drawers/till/open", {"reason": ""})
    assert flashes(page)[0][0] == "error"
    page = await ann.post("/ui/drawers/till/open", {"reason": "change for the float"})
    assert flashes(page) == [
        ("ok", "Opened ‘Till’ (no sale: change for the float); recorded in the order log")
    ]
    opens = await drawer_opens(node)
    assert [(o["by"], o["reason"], o["order"]) for o in opens] == [
        ("ann (web UI)", "change for the float", None)
    ]


async def drawer_opens(node) -> list[dict]:
    """The audited drawer opens of today, from the order log."""
    book = node.daemon.book
    return [json.loads(v) for v in (await book.drawer_opens(book.business_date())).values()]


# --- terminals & nodes ----------------------------------------------------------------------

CODE = re.compile(r'class="big-code" id="code">([^<]+)<')


async def pair(node, code: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{node.url}/api/v1/pair", json={"code": code}) as response:
            assert response.status == 201, await response.text()
            return (await response.json())["token"]


async def api_status(node, token: str, path: str) -> int:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{node.url}/api/v1{path}", headers=headers) as response:
            return response.status


async def test_a_pairing_code_made_by_a_technician_pairs_a_terminal_and_revoking_ends_it(node, tom):
    page = await tom.post("/ui/terminals/pairing-code", {"name": "Counter 2",
                                                                 "role": "terminal"})  # fmt: skip
    assert page.status == 200 and "cashier ‘Counter 2’" in html.unescape(page)
    token = await pair(node, CODE.search(page).group(1))
    assert await api_status(node, token, "/orders") == 200
    page = await tom.get("/ui/terminals")
    [row] = re.findall(r'<td class="lead">Counter 2 <span class="muted">(t-\w+)</span>', page)
    assert "never" not in page.split(row, 1)[1].split("</tr>", 1)[0]  # it was seen just now
    page = await tom.post(f"/ui/terminals/{row}/revoke", {})
    assert flashes(page)[0][1].startswith("Revoked ‘Counter 2’")
    assert await api_status(node, token, "/orders") == 401


async def test_a_pairing_code_needs_a_name(node, ann):
    page = await ann.post("/ui/terminals/pairing-code", {"name": " ", "role": "kds"})
    assert flashes(page) == [
        ("error", "No pairing code made: a terminal name must be 1-64 characters")
    ]


async def test_join_codes_need_a_store_and_are_listed_and_revoked(tmp_path):
    loner = await start_managed_node(tmp_path / "loner", ())
    member = await start_managed_node(tmp_path / "member", (), member=True)
    try:
        browser = await Browser(loner).sign_in("tom")
        page = await browser.post("/ui/terminals/join-code", {})
        assert flashes(page)[0][0] == "error" and "posedge init" in flashes(page)[0][1]
        await browser.close()
        browser = await Browser(member).sign_in("tom")
        page = await browser.post("/ui/terminals/join-code", {})
        code = CODE.search(page).group(1)
        assert f"posedge join {code} --from 127.0.0.1:{member.port}" in page
        page = await browser.get("/ui/terminals")
        assert "code 1 (shown once, when made)" in page  # listed, but the code is not kept
        assert code not in page and code.replace("-", "") not in page
        [salt] = re.findall(r'name="code" value="([0-9a-f]{32})"', page)
        page = await browser.post("/ui/terminals/join-codes/revoke", {"code": salt})
        assert flashes(page) == [("ok", "Join code revoked: no node can join with it")]
        page = await browser.post("/ui/terminals/join-codes/revoke", {"code": salt})
        assert flashes(page)[0][0] == "error"  # revoked once is revoked
        await browser.close()
    finally:
        await member.close()
        await loner.close()


# --- menu -----------------------------------------------------------------------------------


async def test_a_manager_adds_edits_and_removes_an_item_and_every_node_has_it(node, ann):
    item = {"sku": "PIE", "name": "Apple pie", "price": "4.50", "tax": "food", "station": "",
            "modifiers": "CREAM | Whipped cream | 0.75"}  # fmt: skip
    page = await ann.post("/ui/menu/items/save", item)
    assert flashes(page) == [
        ("ok", "Added ‘Apple pie’ at 4.50 USD; every node of the store has it now")
    ]
    catalog = await node.daemon.book.catalog()
    assert catalog.items["PIE"].price == 450
    assert catalog.items["PIE"].modifiers["CREAM"].price == 75
    edit = {**item, "existing": "PIE", "price": "4.95"}
    page = await ann.post("/ui/menu/items/save", edit)
    assert (await node.daemon.book.catalog()).items["PIE"].price == 495
    page = await ann.post("/ui/menu/items/PIE/remove", {})
    assert flashes(page) == [("ok", "Removed item PIE from the menu")]
    assert "PIE" not in (await node.daemon.book.catalog()).items


async def test_a_bad_item_is_refused_next_to_its_fields_and_a_tax_in_use_stays(node, ann):
    page = await ann.post(
        "/ui/menu/items/save", {"sku": "BURGER", "name": "", "price": "1.2.3", "tax": "food"}
    )
    assert page.status == 400
    assert set(field_errors(page)) == {"sku", "name", "price"}
    page = await ann.post("/ui/menu/taxes/alcohol/remove", {})
    [(kind, said)] = flashes(page)
    assert kind == "error" and "tax 'alcohol' is not one of the catalog's taxes" in said
    assert "alcohol" in (await node.daemon.book.catalog()).taxes


async def test_a_technician_cannot_see_the_menu(node, tom):
    await tom.get("/ui/menu", expect=403)


async def test_a_hub_managed_menu_is_read_only(tmp_path):
    hub = '\n[upstream]\nurl = "ws://127.0.0.1:9"\ntoken = "ph_' + "t" * 30 + '"\n'
    node = await start_managed_node(tmp_path, (), extra=hub)
    browser = await Browser(node).sign_in("ann")
    try:
        page = await browser.get("/ui/menu")
        assert "The hub manages this store's menu" in page and "Classic Burger" in page
        assert "/ui/menu/items/new" not in page and "Remove" not in page
        page = await browser.post("/ui/menu/items/BURGER/remove", {})
        assert flashes(page) == [("error", "The hub manages this menu: change it at HQ")]
        assert "BURGER" in (await node.daemon.book.catalog()).items
        settings = await browser.get("/ui/settings")
        assert "ph_" + "t" * 30 not in settings and "ph_••••••••tttt" in settings
    finally:
        await browser.close()
        await node.close()


# --- settings -------------------------------------------------------------------------------


def settings(**changes: str) -> dict:
    return settings_form("Test Diner", **changes)


async def test_receipt_lines_name_and_kitchen_colours_apply_at_once_the_day_at_restart(node, ann):
    # a kitchen screen pairs with a code made on the Terminals page
    page = await ann.post("/ui/terminals/pairing-code", {"name": "Grill", "role": "kds"})
    screen = await pair(node, CODE.search(page).group(1))
    changed = settings(
        **{"kds.warn_after": "3", "kds.late_after": "6", "store.name": "Diner 2"},
        **{"receipt.header": "1 Main St\nTel 555", "store.rollover_hour": "5"},
    )
    page = await ann.post("/ui/settings", changed)
    assert flashes(page) == [
        (
            "ok",
            "Settings saved; applied now: store name, receipt header, kitchen tickets turn "
            "amber after, kitchen tickets turn red after; after a restart of posedge: business "
            "day ends at",
        )
    ]
    assert "Changed settings waiting for a restart of posedge: store.*" in page
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{node.url}/api/v1/kds/grill?access_token={screen}") as ws:
            snapshot = await ws.receive_json(timeout=15)
    assert (snapshot["warn_after"], snapshot["late_after"]) == (180, 360)
    assert node.daemon.config.store.rollover_hour == 4  # until a restart
    assert node.daemon.layers.effective().store.rollover_hour == 5  # the store's, saved

    page = await ann.post("/ui/terminals/pairing-code", {"name": "Till", "role": "terminal"})
    till = {"Authorization": f"Bearer {await pair(node, CODE.search(page).group(1))}"}
    async with aiohttp.ClientSession(base_url=node.url, headers=till) as http:
        async with http.post("/api/v1/orders", json={"channel": "counter"}) as reply:
            order = (await reply.json())["order"]["id"]
        async with http.post(f"/api/v1/orders/{order}/lines", json={"sku": "SODA"}) as reply:
            assert reply.status == 201
        async with http.post(f"/api/v1/orders/{order}/receipt", json={}) as reply:
            assert reply.status == 202
    [receipt] = await node.printers["front"].wait_for_papers(1, timeout=15)
    assert "Diner 2" in receipt.text and "1 Main St" in receipt.text and "Tel 555" in receipt.text


async def test_a_bad_setting_is_shown_next_to_its_field_and_nothing_is_written(node, tom):
    before = node.config_path.read_bytes()
    page = await tom.post("/ui/settings", settings(**{"kds.late_after": "4"}))
    assert page.status == 400
    assert field_errors(page) == {
        "kds.late_after": "must be more than kds.warn_after (5.0), not 4.0"
    }
    page = await tom.post("/ui/settings", settings(**{"upstream.url": "wss://hub:8443"}))
    assert field_errors(page) == {"upstream.token": "upstream.url and upstream.token go together"}
    page = await tom.post("/ui/settings", settings(**{"store.rollover_hour": "25"}))
    assert field_errors(page) == {"store.rollover_hour": "must be between 0 and 23 (got 25)"}
    assert node.config_path.read_bytes() == before
    page = await tom.post("/ui/settings", settings())
    assert flashes(page) == [("ok", "Nothing changed")]
