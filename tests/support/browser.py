"""Debian's Chromium driven by Playwright, for the page tests and the KDS benchmark (never
`playwright install`: it would download a browser, and a store's LAN has no internet)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
WAIT = 15_000  # ms Playwright waits for a page to show something, at most
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextlib.asynccontextmanager
async def chromium(*, home: Path | None = None):
    """A headless Chromium, closed when the block ends; with `home`, it keeps its profile
    and the certificates it trusts (an NSS database in home/.pki/nssdb) there."""
    env = {**os.environ, "HOME": str(home)} if home is not None else None
    async with async_playwright() as playwright:
        browser: Browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=FLAGS, env=env
        )
        try:
            yield browser
        finally:
            await browser.close()


def trusting(home: Path, ca_pem: bytes) -> Path:
    """An NSS database in `home` that trusts `ca_pem` to name web sites."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    (home / "store-ca.pem").write_bytes(ca_pem)
    for args in (
        ["-N", "--empty-password"],
        ["-A", "-t", "C,,", "-n", "posedge store", "-i", str(home / "store-ca.pem")],
    ):
        subprocess.run(
            ["certutil", "-d", f"sql:{nssdb}", *args], check=True, capture_output=True, timeout=60
        )
    return home
