"""Chromium signs in to the manager UI over HTTPS once the store CA is trusted (added to its
NSS database with certutil, as the UI's store CA page tells a Linux user to), and refuses
the same page while it trusts no such CA. The CA comes from the page's own download."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from playwright.async_api import Error as PlaywrightError

from sync.membership.trust import create_store
from tests.support.api_node import start_node
from tests.support.browser import WAIT, chromium, trusting
from tests.support.clocks import SettableClock
from tests.support.processes import IN_CI
from tests.support.ui_client import add_user

START = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
async def member(tmp_path):
    if shutil.which("certutil") is None and not IN_CI:
        pytest.skip("certutil is not installed (Debian: apt-get install libnss3-tools)")
    node = await start_node(
        tmp_path / "node", SettableClock(START), member=create_store("s1", "node-1")
    )
    await add_user(node, "alice", "manager")
    yield node
    await node.close()


async def test_chromium_signs_in_over_https_once_it_trusts_the_store_ca(member, tmp_path):
    url = f"https://localhost:{member.server.port}"
    async with member.session.get(f"{member.url}/ui/store-ca.pem") as r:  # plain, on loopback
        assert r.status == 200
        ca_pem = await r.read()
    async with chromium(home=tmp_path / "stranger") as browser:
        page = await browser.new_page()
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            await page.goto(f"{url}/ui/signin", timeout=WAIT)
    async with chromium(home=trusting(tmp_path / "manager", ca_pem)) as browser:
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(f"{url}/ui/signin", timeout=WAIT)
        await page.fill("input[name=name]", "alice")
        await page.fill("input[name=password]", "correct horse")
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{url}/ui/", timeout=WAIT)
        assert "(alice, manager)" in await page.content()
        [session] = [c for c in await context.cookies() if c["name"] == "posedge_session"]
        assert session["secure"] and session["httpOnly"]
