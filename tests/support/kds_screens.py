"""A kitchen screen's page in Chromium (tests/support/browser.py), as a test drives it: opened
and paired, and waited on until it is live or shows given tickets."""

from __future__ import annotations

import json

from playwright.async_api import Browser, Page

from tests.support.browser import WAIT


async def open_screen(browser: Browser, url: str, code: str, **viewport: int) -> Page:
    """A screen of its own (its own storage, as a separate tablet), paired with `code`."""
    context = await browser.new_context(viewport=viewport or {"width": 1920, "height": 1080})
    page = await context.new_page()
    await page.goto(url)
    await page.fill("#code", code)
    await page.click("#pair button")
    await until_state(page, "live")
    return page


async def until_state(page: Page, state: str) -> None:
    await page.wait_for_function(
        f"document.body.dataset.state === {json.dumps(state)}", timeout=WAIT
    )


async def until_tickets(page: Page, numbers: list[str]) -> None:
    """Wait until the screen shows exactly these order numbers, in this order (a ticket on
    several cards once)."""
    script = (
        "want => JSON.stringify([...new Map([...document.querySelectorAll('#board .ticket')]"
        ".map(c => [c.dataset.key, c.querySelector('.number').textContent])).values()])"
        " === JSON.stringify(want)"
    )
    await page.wait_for_function(script, arg=numbers, timeout=WAIT)
