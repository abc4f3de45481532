"""Pairing, bearer tokens and revocation, over HTTP and through the CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re

import aiohttp

from tests.support.api_node import Terminal
from tests.support.processes import posedge_cli

PROTECTED = [
    ("GET", "/api/v1/orders"),
    ("POST", "/api/v1/orders"),
    ("GET", "/api/v1/orders/20261120-000000000000"),
    ("POST", "/api/v1/orders/20261120-000000000000/lines"),
    ("GET", "/api/v1/catalog"),
    ("GET", "/api/v1/terminals"),
    ("GET", "/api/v1/terminals/me"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/events"),
    ("GET", "/metrics"),
]


async def status_of(node, method: str, path: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with node.session.request(method, node.url + path, headers=headers) as response:
        if response.status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert response.content_type == "application/problem+json"
        return response.status


async def pair(node, code: str) -> tuple[int, dict]:
    async with node.session.post(f"{node.url}/api/v1/pair", json={"code": code}) as response:
        return response.status, await response.json(content_type=None)


async def test_only_health_readiness_and_pairing_answer_without_a_token(node):
    for method, path in PROTECTED:
        assert await status_of(node, method, path) == 401, path
        assert await status_of(node, method, path, "pe_not-a-real-token") == 401, path
    assert await status_of(node, "GET", "/healthz") == 200
    assert await status_of(node, "GET", "/readyz") == 200
    status, problem = await pair(node, "AAAA-AAAA")
    assert status == 403 and problem["type"].endswith(":pairing-refused")


async def test_a_pairing_code_works_once_and_only_before_it_expires(node, clock):
    registry = node.context.terminals.codes
    code = registry.create_code("Kiosk", "terminal", ttl=dt.timedelta(minutes=5), now=clock())
    status, paired = await pair(node, code.code.lower().replace("-", " "))  # as typed
    assert status == 201 and paired["terminal"]["name"] == "Kiosk"
    assert paired["token"].startswith("pe_")
    assert (await pair(node, code.code))[0] == 403  # used
    late = registry.create_code("Late", "terminal", ttl=dt.timedelta(minutes=5), now=clock())
    clock.advance(minutes=6)
    assert (await pair(node, late.code))[0] == 403  # expired
    # Only hashes are stored: the database holds neither the code nor the token.
    stored = (node.state_dir / "node.db").read_bytes()
    assert paired["token"].encode() not in stored
    assert code.code.replace("-", "").encode() not in stored


async def test_failed_pairing_attempts_are_rate_limited(node, clock):
    code = node.context.terminals.codes.create_code(
        "Bar", "terminal", ttl=dt.timedelta(minutes=5), now=clock()
    )
    statuses = [(await pair(node, f"WRNG-{i:04d}"))[0] for i in range(6)]
    assert statuses == [403] * 5 + [429]
    async with node.session.post(f"{node.url}/api/v1/pair", json={"code": code.code}) as r:
        assert r.status == 429  # even the right code waits out the lock-out
        assert int(r.headers["Retry-After"]) >= 1


async def test_a_burst_of_wrong_pairing_codes_is_held_to_the_limit(node):
    """300 wrong codes at once from one address: five are checked, the rest wait."""
    results = await asyncio.gather(*(pair(node, f"WRNG-{i:04d}") for i in range(300)))
    statuses = [status for status, _ in results]
    assert (statuses.count(403), statuses.count(429)) == (5, 295)


async def test_refused_and_held_back_pairings_are_logged_a_line_per_address(node, caplog):
    caplog.set_level(logging.WARNING, logger="edge.http.api.terminals")
    results = [await pair(node, f"WRNG-{i:04d}") for i in range(8)]
    assert [status for status, _ in results] == [403] * 5 + [429] * 3
    lines = [r.getMessage() for r in caplog.records if r.name == "edge.http.api.terminals"]
    assert [re.sub(r"\d+ s\)", "N s)", line) for line in lines] == [
        "pairing from 127.0.0.1 refused: the pairing code is wrong, expired or already used",
        "pairing from 127.0.0.1 held back: too many failed (for N s)",
    ]
    assert not any("WRNG" in line for line in lines)  # never the code


async def test_revocation_takes_effect_on_the_next_request(node):
    manager = Terminal(node, await node.pair("Office", manager=True))
    by_api = Terminal(node, await node.pair("Counter 1"))
    by_cli = Terminal(node, await node.pair("Counter 2"))
    me = await by_api.get("/terminals/me")
    assert me["terminal"]["name"] == "Counter 1"
    await by_api.get("/orders")
    status, revoked, _ = await manager.call("DELETE", f"/terminals/{me['terminal']['id']}")
    assert status == 200 and revoked["revoked"][0]["name"] == "Counter 1"
    assert (await by_api.call("GET", "/orders"))[0] == 401

    await by_cli.get("/orders")
    state = str(node.state_dir)
    done = await posedge_cli("terminals", "--state-dir", state, "--revoke", "Counter 2")
    assert done.returncode == 0, done.stderr
    assert "revoked 'Counter 2'" in done.stdout
    statuses = []
    for _ in range(50):  # the daemon looks at node.db again every 0.1 s
        statuses.append((await by_cli.call("GET", "/orders"))[0])
        if statuses[-1] == 401:
            break
        await asyncio.sleep(0.01)
    assert statuses[-1] == 401, statuses  # the sleeps alone outlast the 0.1 s
    listing = (await manager.get("/terminals"))["terminals"]
    assert {t["name"]: bool(t["revoked_at"]) for t in listing} == {
        "Office": False,
        "Counter 1": True,
        "Counter 2": True,
    }
    status, problem, _ = await by_api.call("GET", "/terminals")
    assert status == 401
    status, problem, _ = await Terminal(node, await node.pair("Counter 3")).call(
        "GET", "/terminals"
    )
    assert status == 403 and problem["type"].endswith(":manager-required")


async def test_a_code_made_by_posedge_pair_pairs_a_terminal(node):
    state = str(node.state_dir)
    done = await posedge_cli("pair", "Drive-thru", "--state-dir", state, "--minutes", "3")
    assert done.returncode == 0, done.stderr
    code = re.search(r": ([2-9A-Z]{4}-[2-9A-Z]{4})$", done.stdout.splitlines()[0]).group(1)
    status, paired = await pair(node, code)
    assert status == 201 and paired["terminal"]["name"] == "Drive-thru"
    listing = await posedge_cli("terminals", "--state-dir", str(node.state_dir))
    assert listing.returncode == 0, listing.stderr
    assert "Drive-thru" in listing.stdout and "active" in listing.stdout
    unknown = await posedge_cli("terminals", "--state-dir", state, "--revoke", "Nobody")
    assert unknown.returncode == 64 and "no paired terminal" in unknown.stderr
    screen = await posedge_cli("pair", "Grill screen", "--kds", "--state-dir", str(node.state_dir))
    assert screen.returncode == 0 and "(kds)" in screen.stdout and "/kds/" in screen.stdout
    code = re.search(r": ([2-9A-Z]{4}-[2-9A-Z]{4})$", screen.stdout.splitlines()[0]).group(1)
    status, paired = await pair(node, code)
    assert status == 201 and paired["terminal"]["role"] == "kds"


async def test_a_manager_makes_pairing_codes_through_the_api(node):
    manager = Terminal(node, await node.pair("Office", manager=True))
    made = await manager.post("/terminals/pairing-codes", {"name": "Patio", "minutes": 2})
    assert made["role"] == "terminal"
    status, paired = await pair(node, made["code"])
    assert status == 201 and paired["terminal"]["name"] == "Patio"
    for body, pointer in [
        ({"name": ""}, "/name"),
        ({"name": "X", "role": "root"}, "/role"),
        ({"name": "X", "minutes": 600}, "/minutes"),
    ]:
        status, problem, _ = await manager.call("POST", "/terminals/pairing-codes", body)
        assert status == 422 and problem["pointer"] == pointer


async def test_a_revoked_terminal_loses_its_event_stream(node):
    manager = Terminal(node, await node.pair("Office", manager=True))
    token = await node.pair("Counter 1")
    async with node.session.ws_connect(f"{node.url}/api/v1/events?access_token={token}") as ws:
        hello = await ws.receive_json(timeout=10)
        assert hello["type"] == "hello"
        status, _, _ = await manager.call("DELETE", f"/terminals/{hello['terminal']['id']}")
        assert status == 200
        message = await ws.receive(timeout=15)
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 4401
