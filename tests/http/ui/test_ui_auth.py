"""Signing in to the manager UI over real HTTP: passwords, rate limits, CSRF, session cookies,
roles, sign-out, and terminals' tokens kept out; and the `posedge user` command."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import subprocess
import sys

import aiohttp
import pytest
from aiohttp import web

from edge.access.users import UserStore, hash_password, password_matches
from edge.cli.common import queued_store
from edge.cli.demo.cashier import demo_manager
from edge.config.load import from_values
from edge.orders.log import Actor
from sync.hub.tls import client_context, ensure_self_signed, server_context
from tests.support.api_node import start_node
from tests.support.clocks import SettableClock
from tests.support.ui_client import CSRF, UiClient, add_user

START = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
async def node(tmp_path):
    running = await start_node(tmp_path / "node", SettableClock(START))
    await add_user(running, "alice", "manager")
    await add_user(running, "tom", "technician")
    yield running
    await running.close()


@pytest.fixture
async def browser(node):
    client = UiClient(node)
    yield client
    await client.close()


async def open_order(node) -> str:
    view = await node.book.open_order(Actor("Counter 1 (t-0001)"), channel="dine_in", table="4")
    await node.book.add_line(Actor("Counter 1 (t-0001)"), view.id, sku="BURGER", qty=2)
    return view.id


def test_passwords_are_stored_as_salted_scrypt_hashes():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("scrypt$") and "correct horse" not in first
    assert first != second  # a salt of its own
    assert password_matches("correct horse", first)
    assert not password_matches("correct hors", first)
    assert not password_matches("correct horse", "md5$nonsense")


async def test_the_node_address_leads_to_the_sign_in_page(browser):
    page = await browser.get("/")
    assert page.status == 200
    assert page.url == "/ui/signin?next=/ui/"
    assert "Sign in" in page.text


async def test_a_manager_signs_in_with_the_right_password_and_sees_the_dashboard(browser):
    page = await browser.sign_in("alice", "correct horse")
    assert (page.status, page.url) == (200, "/ui/")
    assert "Today's sales" in page.text and 'id="sales-figures"' in page.text
    assert "(alice, manager)" in page.text


async def test_a_wrong_password_is_refused_and_signs_nobody_in(browser):
    page = await browser.sign_in("alice", "wrong horse")
    assert page.status == 401
    assert "Wrong name or password." in page.text
    assert browser.cookie("posedge_session") is None
    unknown = await browser.sign_in("mallory", "correct horse")
    assert unknown.status == 401 and "Wrong name or password." in unknown.text
    assert (await browser.get("/ui/")).url == "/ui/signin?next=/ui/"


async def test_the_session_cookie_is_httponly_strict_and_not_secure_over_plain_http(browser):
    form = await browser.get("/ui/signin")
    async with browser.session.post(
        browser.node.url + "/ui/signin",
        data={"name": "alice", "password": "correct horse", "csrf_token": form.csrf_token},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        cookies = [c for c in response.headers.getall("Set-Cookie") if "posedge_session=" in c]
    assert len(cookies) == 1
    flags = {part.strip().split("=")[0].lower() for part in cookies[0].split(";")}
    assert {"httponly", "path", "samesite", "max-age"} <= flags
    assert "SameSite=Strict" in cookies[0] and "Path=/" in cookies[0]
    assert "secure" not in flags  # served over plain HTTP on the LAN
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_the_session_cookie_is_secure_when_the_page_came_over_tls(node, tmp_path):
    """The node's app served over TLS too (a second site on its runner, with a self-signed
    certificate): the cookie it sets is then Secure."""
    cert, key = ensure_self_signed(tmp_path / "tls", ["127.0.0.1"])
    site = web.TCPSite(node.server._runner, "127.0.0.1", 0, ssl_context=server_context(cert, key))
    await site.start()  # stopped with the node's runner
    port = site._server.sockets[0].getsockname()[1]
    url = f"https://127.0.0.1:{port}"
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(ssl=client_context(cert)),
    ) as session:
        async with session.get(f"{url}/ui/signin") as response:
            token = CSRF.search(await response.text()).group(1)
        async with session.post(
            f"{url}/ui/signin",
            data={"name": "alice", "password": "correct horse", "csrf_token": token},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            cookie = next(c for c in response.headers.getall("Set-Cookie") if "session=" in c)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


async def test_failed_sign_ins_are_limited_per_client_address(browser):
    for _ in range(5):
        assert (await browser.sign_in("alice", "wrong horse")).status == 401
    blocked = await browser.sign_in("alice", "correct horse")
    assert blocked.status == 429
    assert "Too many failed sign-ins" in blocked.text
    assert browser.cookie("posedge_session") is None


async def test_a_burst_of_wrong_sign_ins_is_held_to_the_limit(browser):
    """60 wrong passwords at once for one name from one address: five are checked."""
    page = await browser.get("/ui/signin")
    fields = {"name": "alice", "password": "wrong horse", "next": "/ui/"}
    fields["csrf_token"] = page.csrf_token
    pages = await asyncio.gather(*(browser.post("/ui/signin", fields) for _ in range(60)))
    statuses = [page.status for page in pages]
    assert (statuses.count(401), statuses.count(429)) == (5, 55)
    assert (await browser.sign_in("alice", "correct horse")).status == 429


async def test_failed_sign_ins_are_limited_per_user_name_whatever_the_address(node):
    """Five wrong passwords from two addresses lock the name, not the others."""
    clients = [UiClient(node, local_address=f"127.0.0.{n}") for n in (1, 2, 3)]
    try:
        for client, attempts in zip(clients[:2], (3, 2), strict=True):
            for _ in range(attempts):
                assert (await client.sign_in("alice", "wrong horse")).status == 401
        third = clients[2]
        assert (await third.sign_in("alice", "correct horse")).status == 429
        assert (await third.sign_in("tom", "correct horse")).url == "/ui/"
    finally:
        for client in clients:
            await client.close()


async def test_a_form_without_its_csrf_token_is_refused(node, browser):
    await browser.sign_in("alice", "correct horse")
    order_id = await open_order(node)
    for data in ({"reason": "test"}, {"reason": "test", "csrf_token": "forged"}):
        page = await browser.post(f"/ui/orders/{order_id}/void", data)
        assert page.status == 403
        assert "This form was refused" in page.text
    refused = await browser.post("/ui/signout", {})
    assert refused.status == 403
    assert (await node.book.get(order_id)).status.label == "open"
    assert (await browser.get("/ui/")).url == "/ui/"  # still signed in


async def test_the_sign_in_form_without_its_token_is_refused(browser):
    await browser.get("/ui/signin")
    page = await browser.post("/ui/signin", {"name": "alice", "password": "correct horse"})
    assert page.status == 403
    assert browser.cookie("posedge_session") is None


async def test_a_technician_sees_no_sales_and_cannot_open_orders_or_void(node, browser):
    order_id = await open_order(node)
    home = await browser.sign_in("tom", "correct horse")
    assert home.url == "/ui/"
    assert "Needs attention" in home.text
    assert 'id="sales-figures"' not in home.text and "Open orders" not in home.text
    assert 'href="/ui/orders"' not in home.text
    for path in ("/ui/orders", f"/ui/orders/{order_id}", f"/ui/orders/{order_id}/receipt.png"):
        page = await browser.get(path)
        assert page.status == 403, path
        assert "Your role does not allow this" in page.text
    refused = await browser.post(
        f"/ui/orders/{order_id}/void", {"reason": "test", "csrf_token": home.csrf_token}
    )
    assert refused.status == 403
    assert (await node.book.get(order_id)).status.label == "open"


async def test_a_terminal_token_cannot_sign_in_to_the_ui(node, browser):
    token = await node.pair("Manager tablet", manager=True)
    bearer = {"Authorization": f"Bearer {token}"}
    page = await browser.get("/ui/", headers=bearer)
    assert page.url == "/ui/signin?next=/ui/"
    browser.session.cookie_jar.update_cookies({"posedge_session": token})
    assert (await browser.get("/ui/orders", headers=bearer)).url.startswith("/ui/signin")
    assert (await browser.sign_in("Manager tablet", token)).status == 401


async def test_signing_out_ends_the_session_for_good(browser):
    home = await browser.sign_in("alice", "correct horse")
    token = browser.cookie("posedge_session")
    page = await browser.post("/ui/signout", {"csrf_token": home.csrf_token})
    assert page.url == "/ui/signin?signed_out=1"
    assert "You are signed out." in page.text
    browser.session.cookie_jar.update_cookies({"posedge_session": token})  # replayed
    assert (await browser.get("/ui/")).url == "/ui/signin?next=/ui/"


async def test_removing_a_user_or_changing_their_password_signs_them_out(node, browser):
    users = node.context.users
    await browser.sign_in("tom", "correct horse")
    await users.set_password("tom", "battery staple")
    assert (await browser.get("/ui/")).url == "/ui/signin?next=/ui/"
    assert (await browser.sign_in("tom", "battery staple")).url == "/ui/"
    await users.remove("tom")
    assert (await browser.get("/ui/")).url == "/ui/signin?next=/ui/"


async def test_a_session_expires_after_twelve_hours(node, browser):
    await browser.sign_in("alice", "correct horse")
    node.clock.advance(hours=11, minutes=59)
    assert (await browser.get("/ui/")).url == "/ui/"
    node.clock.advance(minutes=2)
    assert (await browser.get("/ui/")).url == "/ui/signin?next=/ui/"


async def test_sign_in_returns_to_the_page_asked_for_and_never_to_another_site(browser):
    form = await browser.get("/ui/signin?next=/ui/orders")
    page = await browser.post(
        "/ui/signin",
        {
            "name": "alice",
            "password": "correct horse",
            "next": "/ui/orders",
            "csrf_token": form.csrf_token,
        },
    )
    assert page.url == "/ui/orders"
    await browser.post("/ui/signout", {"csrf_token": page.csrf_token})
    form = await browser.get("/ui/signin")
    page = await browser.post(
        "/ui/signin",
        {
            "name": "alice",
            "password": "correct horse",
            "next": "//evil.example/ui/",
            "csrf_token": form.csrf_token,
        },
    )
    assert page.url == "/ui/"


async def test_an_unknown_ui_page_is_an_html_404(browser):
    await browser.sign_in("alice", "correct horse")
    async with browser.session.get(browser.node.url + "/ui/nowhere") as response:
        assert response.status == 404
        assert response.content_type == "text/html"


def test_the_user_command_adds_lists_changes_and_removes_users(tmp_path):
    def posedge(*args: str, password: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "edge.cli.main", "user", *args, "--state-dir", str(tmp_path)],
            input=password,
            capture_output=True,
            text=True,
            timeout=60,
        )

    added = posedge("add", "maria", "--role", "manager", "--password-stdin", password="s3cret pw\n")
    assert added.returncode == 0, added.stderr
    assert "added 'maria' (manager)" in added.stdout
    short = posedge("add", "bob", "--role", "technician", "--password-stdin", password="short\n")
    assert short.returncode == 64 and "at least 8 characters" in short.stderr
    again = posedge("add", "maria", "--role", "manager", "--password-stdin", password="another1\n")
    assert again.returncode == 64 and "exists already" in again.stderr
    assert "maria" in posedge("list").stdout

    def users() -> UserStore:  # the store document as the command line sees it
        return UserStore(
            tmp_path / "node.db", queued_store(from_values({"paths.state_dir": str(tmp_path)}))
        )

    assert users().verify("maria", "s3cret pw") is not None
    changed = posedge("passwd", "maria", "--password-stdin", password="n3w password\n")
    assert changed.returncode == 0, changed.stderr
    assert users().verify("maria", "s3cret pw") is None
    assert users().verify("maria", "n3w password") is not None
    assert posedge("remove", "maria").returncode == 0
    assert posedge("remove", "maria").returncode == 64
    assert "no users yet" in posedge("list").stdout


async def test_each_demo_run_gives_its_manager_a_fresh_password(node):
    users = node.context.users
    name, first = await demo_manager(users, START)
    again, second = await demo_manager(users, START)
    assert name == again == "manager" and first != second
    assert users.verify(name, first) is None
    verified = users.verify(name, second)
    assert verified is not None and verified.manager


async def test_refused_sign_ins_are_logged_with_address_and_name_once_a_minute(browser, caplog):
    caplog.set_level(logging.WARNING, logger="edge.http.ui.signin")
    for _ in range(7):  # five refused, two held back by the throttle
        await browser.sign_in("alice", "wrong horse")
    lines = [r.getMessage() for r in caplog.records if r.name == "edge.http.ui.signin"]
    assert [re.sub(r"\d+ s\)", "N s)", line) for line in lines] == [
        "sign-in as 'alice' from 127.0.0.1 refused: wrong name or password",
        "sign-in as 'alice' from 127.0.0.1 held back: too many failed (for N s)",
    ]
    assert not any("wrong horse" in r.getMessage() for r in caplog.records)
