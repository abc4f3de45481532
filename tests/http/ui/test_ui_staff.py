"""The Staff page against a real daemon: in Debian's Chromium, a manager adds an employee,
changes their role, resets their PIN (which signs them out of their terminal), sees them on
the clock, makes cashier terminals need a sign-in, and removes them; over plain HTTP, a bad
PIN is refused next to its field with nothing saved, and a technician may not open it."""

from __future__ import annotations

import datetime as dt
import html
import re

import aiohttp
import pytest

from edge.access.pairing_codes import PairingCodes
from edge.config.load import load
from tests.support.browser import WAIT, chromium
from tests.support.managed_node import PASSWORD, Browser, ManagedNode, start_managed_node
from tests.support.paths import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "ui"
FIELD_ERROR = re.compile(r'class="field-error" id="e-([^"]+)">([^<]*)<')


@pytest.fixture
async def node(tmp_path):
    node = await start_managed_node(tmp_path)
    yield node
    await node.close()


class Till:
    """A terminal paired with the daemon, over HTTP."""

    def __init__(self, http: aiohttp.ClientSession, node: ManagedNode, token: str) -> None:
        self.http, self.node, self.token = http, node, token
        self.session: str | None = None

    @classmethod
    async def pair(cls, http: aiohttp.ClientSession, node: ManagedNode) -> Till:
        codes = PairingCodes(load(node.config_path).node_db_path)  # as `posedge pair` does
        code = codes.create_code(
            "Counter 1", "terminal", ttl=dt.timedelta(minutes=5), now=dt.datetime.now(dt.UTC)
        )
        async with http.post(f"{node.url}/api/v1/pair", json={"code": code.code}) as reply:
            assert reply.status == 201, await reply.text()
            return cls(http, node, (await reply.json())["token"])

    async def call(self, method: str, path: str, body=None) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.session is not None:
            headers["Employee-Session"] = self.session
        url = f"{self.node.url}/api/v1{path}"
        async with self.http.request(method, url, json=body, headers=headers) as reply:
            return reply.status, await reply.json(content_type=None)


async def test_a_manager_manages_the_staff_in_the_browser(node):
    async with chromium() as browser, aiohttp.ClientSession() as http:
        page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
        page.set_default_timeout(WAIT)
        page.on("dialog", lambda dialog: dialog.accept())  # "Remove Sam? …"
        await page.goto(f"{node.url}/ui/signin")
        await page.fill("input[name=name]", "ann")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{node.url}/ui/")
        await page.click("nav >> text=Staff")
        await page.wait_for_url(f"{node.url}/ui/staff")
        assert "No employee yet" in await page.inner_text("main")

        await page.fill("#f-name", "Sam")
        await page.select_option("#f-role", "cashier")
        await page.fill("#f-pin", "0417")
        await page.click("#add-employee button[type=submit]")
        said = await page.locator(".flash-ok").inner_text()
        sam = re.search(r"as (e-[0-9a-f]{6})", said).group(1)
        assert said.startswith("Added Sam (cashier)")
        assert "Sam" in await page.inner_text("#employees")

        await page.select_option("select[aria-label='Role of Sam']", "manager")
        await page.click("text=Change role")
        assert "Sam: now a manager" in await page.locator(".flash-ok").inner_text()
        assert await page.input_value("select[aria-label='Role of Sam']") == "manager"

        till = await Till.pair(http, node)
        status, signed = await till.call("POST", "/staff/sign-in", {"employee": sam, "pin": "0417"})
        assert status == 201, signed
        till.session = signed["token"]
        assert (await till.call("POST", "/staff/clock-in"))[0] == 201
        await page.goto(f"{node.url}/ui/staff")
        assert "Sam" in await page.inner_text("#on-the-clock")

        await page.fill("input[aria-label='New PIN for Sam']", "24680")
        await page.click("text=Reset PIN")
        assert "new PIN set" in await page.locator(".flash-ok").inner_text()
        status, refused = await till.call("GET", "/staff/me")
        assert status == 401 and refused["type"].endswith(":employee-session-refused")
        till.session = None
        status, _ = await till.call("POST", "/staff/sign-in", {"employee": sam, "pin": "24680"})
        assert status == 201

        assert (await till.call("POST", "/orders"))[0] == 201
        await page.check("#f-required")
        await page.click("form[action='/ui/staff/sign-in-required'] button")
        assert "now need an employee signed in" in await page.locator(".flash-ok").inner_text()
        assert await page.is_checked("#f-required")
        status, refused = await till.call("POST", "/orders")
        assert status == 401 and refused["type"].endswith(":sign-in-required")

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for width, height in ((1280, 800), (390, 844)):
            await page.set_viewport_size({"width": width, "height": height})
            await page.screenshot(path=ARTIFACTS / f"staff-{width}x{height}.png", full_page=True)
            wide = await page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, f"the staff page is {wide} px wide at {width}"

        await page.click("#employees >> text=Remove")
        assert "Removed Sam" in await page.locator(".flash-ok").inner_text()
        assert "No employee yet" in await page.inner_text("main")


async def test_a_bad_pin_is_refused_next_to_its_field_and_a_technician_may_not_open_it(node):
    ann = await Browser(node).sign_in("ann")
    tom = await Browser(node).sign_in("tom")
    try:
        await ann.get("/ui/staff")
        page = await ann.post("/ui/staff/employees", {"name": "Kim", "role": "server", "pin": "12"})
        assert page.status == 400
        errors = {f: html.unescape(t) for f, t in FIELD_ERROR.findall(page)}
        assert errors == {"pin": 'a PIN must be 4 to 8 digits, as a string ("0417")'}
        assert 'value="Kim"' in page  # what was typed stays, but the PIN
        assert "No employee yet" in await ann.get("/ui/staff")
        await tom.get("/ui/staff", expect=403)
        assert "Staff" not in re.sub(r"<main>.*", "", await tom.get("/ui/"), flags=re.S)
    finally:
        await ann.close()
        await tom.close()
