"""A real daemon started from a configuration file, in this process, for the management
pages' tests: the file is what the UI edits, and the daemon's own reload applies it.

Printers are network printer emulators; users of the UI are added to the node's node.db as
`posedge user add` does; `Browser` signs in with a cookie jar and posts forms with their
CSRF token, as a browser does.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from drivers.emulators.network_printer import NetworkPrinterEmulator
from edge.access.users import UserStore
from edge.app import Daemon
from edge.cli.common import queued_store
from edge.config.load import load
from edge.orders.catalog import sample_catalog
from sync.membership.credentials import save as save_credentials
from sync.membership.trust import create_store
from tests.support.processes import daemon_ready, free_port
from tests.support.waiting import until

PASSWORD = "correct horse battery"
USERS = {"ann": "manager", "tom": "technician"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class ManagedNode:
    """A running daemon, its configuration file and its emulated printers."""

    config_path: Path
    daemon: Daemon
    port: int
    printers: dict[str, NetworkPrinterEmulator]
    _stack: contextlib.AsyncExitStack = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        await self._stack.aclose()


def config_text(state_dir: Path, port: int, printers: dict[str, int], extra: str = "") -> str:
    """A configuration file: a store in New York, the printers at their ports, a till drawer
    on the first one and the grill routed to it."""
    lines = [
        "# The test store's configuration (comments survive edits).",
        "[store]",
        'id = "s1"',
        'name = "Test Diner"',
        'timezone = "America/New_York"',
        "",
        "[paths]",
        f'state_dir = "{state_dir}"',
        "",
        "[http]",
        'host = "127.0.0.1"',
        f"port = {port}",
        "",
        "[print]",
        "status_interval = 0.3",
        "retry_max_interval = 0.5",
        "",
    ]
    for printer_id, printer_port in printers.items():
        lines += [
            f"[devices.{printer_id}]",
            'kind = "printer"',
            f'name = "{printer_id.capitalize()} printer"',
            f'url = "tcp://127.0.0.1:{printer_port}"',
            "",
        ]
    if printers:
        first = next(iter(printers))
        lines += ["[devices.till]", 'kind = "drawer"', f'printer = "{first}"', ""]
        lines += ["[stations]", f'grill = "{first}"', ""]
    return "\n".join(lines) + extra


async def start_managed_node(
    directory: Path,
    printers: tuple[str, ...] = ("front",),
    *,
    spare_printers: int = 0,
    member: bool = False,
    extra: str = "",
) -> ManagedNode:
    """A daemon over `directory/posedge.toml` driving emulated `printers` (and some spare
    emulators, `spare-0`…, that the tests add through the UI), with the sample catalog and
    the users of USERS; a `member` of a store of its own (as after `posedge init`), its peer
    links on a free loopback port without mDNS; `extra` appended to the file."""
    stack = contextlib.AsyncExitStack()
    try:
        emulators = {}
        for name in (*printers, *(f"spare-{n}" for n in range(spare_printers))):
            emulators[name] = await stack.enter_async_context(NetworkPrinterEmulator())
        port = free_port()
        state_dir = directory / "state"
        state_dir.mkdir(parents=True)
        config_path = directory / "posedge.toml"
        if member:
            save_credentials(create_store("s1", "node-1"), state_dir / "trust")
            extra += '\n[peers]\nhost = "127.0.0.1"\nport = 0\nmdns = false\n'
        ports = {p: emulators[p].port for p in printers}
        config_path.write_text(config_text(state_dir, port, ports, extra))
        config = load(config_path)
        users = UserStore(config.node_db_path, queued_store(config))  # as `posedge user add`
        for name, role in USERS.items():
            await users.add(name, role, PASSWORD, now=dt.datetime.now(dt.UTC))
        daemon = Daemon(config)
        task = asyncio.create_task(daemon.run(), name="daemon")
        stack.push_async_callback(_stop, daemon, task)
        node = ManagedNode(config_path, daemon, port, emulators, stack)
        async with aiohttp.ClientSession() as http:
            await until(lambda: daemon_ready(http, node.url), within=30)
        await daemon.book.import_catalog(sample_catalog())
    except BaseException:
        await stack.aclose()
        raise
    return node


async def _stop(daemon: Daemon, task: asyncio.Task) -> None:
    daemon.request_stop()
    await asyncio.wait_for(task, 30)


class Page(str):
    """A page's HTML, and the status it came with."""

    status: int

    def __new__(cls, text: str, status: int) -> Page:
        page = super().__new__(cls, text)
        page.status = status
        return page


class Browser:
    """A signed-in user's browser: a cookie jar, pages as text, forms with their token."""

    def __init__(self, node: ManagedNode) -> None:
        self.node = node
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=30),
        )
        self.csrf = ""

    async def sign_in(self, name: str) -> Browser:
        page = await self.get("/ui/signin")
        assert CSRF.search(page), page
        page = await self.post("/ui/signin", {"name": name, "password": PASSWORD})
        assert page.status == 200, f"{name} could not sign in"
        await self.get("/ui/")  # a signed-in page carries the session's CSRF token
        return self

    async def get(self, path: str, expect: int = 200) -> str:
        async with self.http.get(self.node.url + path) as response:
            text = await response.text()
            assert response.status == expect, (response.status, text[:2000])
        found = CSRF.search(text)
        if found:
            self.csrf = found.group(1)
        return text

    async def post(self, path: str, form: dict | list) -> Page:
        """Post a form (a dict, or a list of pairs for repeated fields) with the CSRF token;
        follows the redirect; returns the page it ends on."""
        pairs = list(form.items()) if isinstance(form, dict) else list(form)
        async with self.http.post(
            self.node.url + path, data=[("csrf_token", self.csrf), *pairs]
        ) as response:
            text = await response.text()
            status = response.status
        found = CSRF.search(text)
        if found:
            self.csrf = found.group(1)
        return Page(text, status)

    async def close(self) -> None:
        await self.http.close()


def settings_form(store_name: str, **changes: str) -> dict:
    """The settings page's form as a browser posts it for a node named `store_name` (as its
    configuration holds), with `changes`."""
    form = {
        "store.name": store_name,
        "receipt.header": "",
        "receipt.footer": "Thank you!",
        "store.rollover_hour": "4",
        "upstream.url": "",
        "upstream.token": "",
        "kds.warn_after": "5",
        "kds.late_after": "10",
    }
    return {**form, **changes}
