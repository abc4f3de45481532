"""Joining a store with a one-time code, over real HTTP on 127.0.0.1 (and a meddling proxy)."""

from __future__ import annotations

import asyncio
import base64
import json
import re

import aiohttp
import pytest
from aiohttp import web

from sync.membership.codes import JoinCodes
from sync.membership.credentials import load, save
from sync.membership.join import (
    JOIN_PATH,
    AttemptThrottle,
    Joiner,
    admit,
    join,
    join_routes,
)
from sync.membership.peer_tls import client_ssl_context
from sync.membership.trust import JoinRefused, StoreCredentials, make_csr
from tests.support.tls_peer import PeerServer, exchange

REFUSED = "refused the join code"
THROTTLED = "too many failed join attempts"
TAMPERED = "does not authenticate with the join code"


def joiner(codes: JoinCodes, code: str, node_id: str = "node-2") -> Joiner:
    """A joining node's request for `code`, made from the salts `codes` offers."""
    return Joiner(code, node_id, list(codes.live()))


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def serve(app: web.Application):
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


class Member:
    """A member node answering POST /join on 127.0.0.1."""

    def __init__(self, creds: StoreCredentials | None, **throttle: int) -> None:
        self.creds = creds
        self.clock = Ticks()
        self.codes = JoinCodes(clock=self.clock)
        self.throttle = AttemptThrottle(clock=self.clock, **throttle)
        self.joined: list[tuple[str, bytes]] = []
        self.refuse: str | None = None

    async def _on_joined(self, node_id: str, node_cert_pem: bytes) -> None:
        if self.refuse:
            raise JoinRefused(self.refuse)
        self.joined.append((node_id, node_cert_pem))

    async def __aenter__(self) -> Member:
        app = web.Application()
        app.add_routes(
            join_routes(self.codes, lambda: self.creds, self._on_joined, throttle=self.throttle)
        )
        self.runner, self.url = await serve(app)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.runner.cleanup()


class Proxy:
    """A man in the middle forwarding POST /join to `target`, rewriting what passes through."""

    def __init__(self, target: str, *, request=None, answer=None) -> None:
        self.target = target
        self.rewrite_request = request or (lambda fields: fields)
        self.rewrite_answer = answer or (lambda fields: fields)

    async def _forward(self, request: web.Request) -> web.Response:
        fields = self.rewrite_request(json.loads(await request.read()))
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.target + JOIN_PATH, data=json.dumps(fields).encode()) as response,
        ):
            body = await response.read()
            if response.status != 200:
                return web.Response(status=response.status, body=body)
        answer = json.dumps(self.rewrite_answer(json.loads(body)))
        return web.Response(text=answer, content_type="application/json")

    async def _offer(self, request: web.Request) -> web.Response:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.target + JOIN_PATH) as response,
        ):
            return web.Response(body=await response.read(), content_type="application/json")

    async def __aenter__(self) -> Proxy:
        app = web.Application()
        app.router.add_get(JOIN_PATH, self._offer)
        app.router.add_post(JOIN_PATH, self._forward)
        self.runner, self.url = await serve(app)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.runner.cleanup()


async def test_join_with_the_right_code_gives_working_credentials(tmp_path, store_a):
    async with Member(store_a) as member:
        code = member.codes.create()
        creds = await join(member.url, code, "node-2", timeout=10)
    assert (creds.store_id, creds.node_id) == ("store-a", "node-2")
    assert creds.ca_cert_pem == store_a.ca_cert_pem
    assert creds.ca_key_pem == store_a.ca_key_pem  # the new node can admit others too
    assert member.joined == [("node-2", creds.node_cert_pem)]
    save(creds, tmp_path / "trust")
    creds = load(tmp_path / "trust")
    async with PeerServer(store_a) as server:  # the new node reaches an existing member
        seen, line = await exchange(server.port, client_ssl_context(creds))
    assert (seen, line, server.accepted) == (
        ("store-a", "node-1"),
        b"ok store-a node-1\n",
        ["node-2"],
    )
    async with PeerServer(creds) as server:  # and an existing member reaches the new node
        seen, line = await exchange(server.port, client_ssl_context(store_a))
    assert (seen, server.accepted) == (("store-a", "node-2"), ["node-1"])


def test_codes_look_like_xxxx_xxxx_and_accept_how_people_type_them(store_a):
    codes = JoinCodes()
    code = codes.create()
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", code)
    typed = code.lower().replace("-", " ")
    assert admit(joiner(codes, typed).body, codes, store_a).node_id == "node-2"
    with pytest.raises(JoinRefused, match="not a join code"):
        joiner(codes, "K7M2-9XQ0")  # 0 is not in the alphabet
    with pytest.raises(JoinRefused, match="no live join code"):
        Joiner(code, "node-2", [])  # a member that offers no salt


def test_a_code_is_used_once(store_a):
    codes = JoinCodes()
    code = codes.create()
    [salt] = codes.live()
    request = joiner(codes, code)
    admit(request.body, codes, store_a)
    with pytest.raises(JoinRefused, match="no live join code"):
        admit(request.body, codes, store_a)  # the very same request, replayed
    with pytest.raises(JoinRefused, match="no live join code"):
        admit(Joiner(code, "node-3", [salt]).body, codes, store_a)


def test_a_code_lives_ten_minutes(store_a):
    clock = Ticks()
    codes = JoinCodes(clock=clock)
    code = codes.create()
    salts = list(codes.live())
    clock.now += 599
    assert codes.live()
    clock.now += 1
    with pytest.raises(JoinRefused, match="no live join code"):
        admit(Joiner(code, "node-2", salts).body, codes, store_a)


def test_only_the_newest_codes_stay_live_and_none_is_kept_as_typed(store_a):
    codes = JoinCodes(limit=2)
    first = codes.create()
    salts = list(codes.live())
    second, third = codes.create(), codes.create()
    assert len(codes.live()) == 2
    kept = repr(codes.live()).encode()
    assert not any(c.replace("-", "").encode() in kept for c in (first, second, third))
    with pytest.raises(JoinRefused, match="no live join code"):
        admit(Joiner(first, "node-2", salts).body, codes, store_a)
    assert admit(joiner(codes, second).body, codes, store_a).node_id == "node-2"
    [left] = codes.live()
    assert codes.burn(left)
    assert not codes.burn(left)


def test_the_answer_carries_the_ca_key_sealed(store_a):
    codes = JoinCodes()
    answer = admit(joiner(codes, codes.create()).body, codes, store_a).answer
    key_body = b"".join(store_a.ca_key_pem.splitlines()[1:-1])
    assert b"PRIVATE KEY" not in answer
    assert key_body[16:48] not in answer
    assert base64.b64decode(key_body)[8:40] not in base64.b64decode(
        json.loads(answer)["ca_key_sealed"]
    )


def test_an_answer_to_another_request_is_refused(store_a):
    codes = JoinCodes()
    code = codes.create()
    first, second = joiner(codes, code), joiner(codes, code)
    answer = admit(first.body, codes, store_a).answer
    with pytest.raises(JoinRefused, match=TAMPERED):
        second.finish(answer)
    assert first.finish(answer).node_id == "node-2"


async def test_wrong_codes_are_refused_then_rate_limited(store_a):
    async with Member(store_a, per_address=3, total=10) as member:
        code = member.codes.create()
        wrong = "2222-2222" if code != "2222-2222" else "3333-3333"
        for _ in range(3):
            with pytest.raises(JoinRefused, match=REFUSED):
                await join(member.url, wrong, "node-2", timeout=10)
        with pytest.raises(JoinRefused, match=THROTTLED):
            await join(member.url, code, "node-2", timeout=10)  # even the right one, for now
        member.clock.now += 61
        creds = await join(member.url, code, "node-2", timeout=10)
    assert creds.node_id == "node-2"


async def test_a_burst_of_wrong_codes_cannot_outrun_the_limit(store_a):
    async with Member(store_a, per_address=3, total=10) as member:
        member.codes.create()
        outcomes = await asyncio.gather(
            *(join(member.url, "2222-2222", f"node-{i}", timeout=30) for i in range(8)),
            return_exceptions=True,
        )
    messages = sorted(str(e).split(":")[0] for e in outcomes)
    assert sum(REFUSED in str(e) for e in outcomes) == 3
    assert sum(THROTTLED in str(e) for e in outcomes) == 5, messages


def test_the_total_limit_holds_across_addresses():
    throttle = AttemptThrottle(per_address=5, total=6, clock=Ticks())
    for i in range(6):
        assert throttle.retry_after(f"10.0.0.{i}") is None
        throttle.failed(f"10.0.0.{i}")
    assert throttle.retry_after("10.0.0.99") == 61


async def test_every_refusal_looks_the_same(store_a):
    async with Member(store_a, per_address=100, total=100) as member:
        used = member.codes.create()
        used_salts = list(member.codes.live())
        await join(member.url, used, "node-2", timeout=10)
        expired = member.codes.create()
        expired_salts = list(member.codes.live())
        member.clock.now += 601
        member.codes.create()
        other_store = JoinCodes()
        bodies = {
            "garbage": b"\x00not json",
            "wrong fields": b'{"code": "K7M2-9XQF"}',
            "wrong code": joiner(member.codes, "2222-2222", "node-3").body,
            "used code": Joiner(used, "node-3", used_salts).body,
            "expired code": Joiner(expired, "node-3", expired_salts).body,
            "too large": b" " * 20_000,
            "other member's code": joiner(other_store, other_store.create(), "node-3").body,
        }
        answers = {}
        async with aiohttp.ClientSession() as session:
            for why, body in bodies.items():
                async with session.post(member.url + JOIN_PATH, data=body) as response:
                    answers[why] = (response.status, response.content_type, await response.read())
    assert len(set(answers.values())) == 1, answers
    status, content_type, body = answers["garbage"]
    assert (status, content_type) == (403, "application/problem+json")
    assert json.loads(body) == {
        "type": "urn:posedge:problem:join-refused",
        "title": "The join request was refused",
        "status": 403,
    }


async def test_a_node_that_is_not_a_member_admits_nobody():
    async with Member(None) as member:
        code = member.codes.create()
        with pytest.raises(JoinRefused, match=REFUSED):
            await join(member.url, code, "node-2", timeout=10)


async def test_member_may_refuse_a_node_and_the_code_is_spent(store_a):
    async with Member(store_a) as member:
        member.refuse = "node id node-1 is taken"
        code = member.codes.create()
        with pytest.raises(JoinRefused, match=REFUSED):
            await join(member.url, code, "node-1", timeout=10)
        member.refuse = None
        with pytest.raises(JoinRefused, match="no live join code"):
            await join(member.url, code, "node-9", timeout=10)
    assert member.joined == []


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda store_b: {"ca_cert": store_b.ca_cert_pem.decode()}, id="ca-cert"),
        pytest.param(lambda store_b: {"store_id": "store-b"}, id="store-id"),
        pytest.param(
            lambda store_b: {"ca_key_sealed": base64.b64encode(b"\x00" * 260).decode()},
            id="sealed-key",
        ),
        pytest.param(lambda store_b: {"dh": base64.b64encode(b"\x09" * 32).decode()}, id="dh"),
    ],
)
async def test_a_man_in_the_middle_cannot_hand_over_a_false_store(store_a, store_b, tamper):
    async with (
        Member(store_a) as member,
        Proxy(member.url, answer=lambda fields: fields | tamper(store_b)) as proxy,
    ):
        code = member.codes.create()
        with pytest.raises(JoinRefused, match=TAMPERED):
            await join(proxy.url, code, "node-2", timeout=10)


async def test_a_man_in_the_middle_cannot_slip_in_his_own_key(store_a):
    mallory_key, mallory_csr = make_csr("node-2")

    def swap_csr(fields: dict) -> dict:
        return fields | {"csr": mallory_csr.decode()}

    async with Member(store_a) as member, Proxy(member.url, request=swap_csr) as proxy:
        code = member.codes.create()
        with pytest.raises(JoinRefused, match=REFUSED):
            await join(proxy.url, code, "node-2", timeout=10)
        assert member.joined == []
        creds = await join(member.url, code, "node-2", timeout=10)  # the code was not spent
    assert creds.node_key_pem != mallory_key


async def test_an_unreachable_member_is_reported():
    with pytest.raises(JoinRefused, match=re.escape("cannot reach http://127.0.0.1:1/join")):
        await join("http://127.0.0.1:1", "K7M2-9XQF", "node-2", timeout=5)
