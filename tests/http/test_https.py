"""HTTPS on the store's LAN, over real TLS on 127.0.0.1: a terminal gets the store CA before
pairing and checks it with its pairing code (docs/api.md, "Pairing over HTTPS"), pins it and
pairs over it; a client that trusts another CA is refused; plain HTTP still answers on
loopback on the same port; the certificate names the node and follows its addresses."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import ssl

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509

from edge.http.server import HttpServer
from edge.http.tls import ApiCertificate
from sync.membership.trust import create_store
from tests.support.api_node import start_node


@pytest.fixture(scope="module")
def store_a():
    return create_store("s1", "node-1")


@pytest.fixture(scope="module")
def store_b():
    return create_store("s2", "node-1")


@pytest.fixture
async def member(tmp_path, clock, store_a):
    node = await start_node(tmp_path / "node", clock, member=store_a)
    yield node
    await node.close()


def unchecked() -> ssl.SSLContext:
    """What a terminal has before it knows the store CA: TLS that checks nothing."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def proven_ca(offer: dict, code: str) -> str | None:
    """The CA of a GET /api/v1/pair/ca answer if one of its proofs checks with `code`, as
    docs/api.md tells a terminal developer to do it."""
    params = offer["scrypt"]
    password = code.upper().replace("-", "").replace(" ", "").encode()
    for proof in offer["proofs"]:
        key = hashlib.scrypt(
            password,
            salt=params["salt_prefix"].encode() + base64.b64decode(proof["salt"]),
            n=params["n"], r=params["r"], p=params["p"], dklen=params["dklen"],
            maxmem=64 * 1024 * 1024,
        )  # fmt: skip
        mac = hmac.digest(key, offer["ca_cert"].encode(), "sha256")
        if hmac.compare_digest(mac, base64.b64decode(proof["mac"])):
            return offer["ca_cert"]
    return None


async def offer_of(node) -> dict:
    async with node.session.get(f"{node.https_url}/api/v1/pair/ca", ssl=unchecked()) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_a_terminal_pins_the_store_ca_from_pairing_and_pairs_over_it(member, store_a):
    code = member.context.terminals.codes.create_code(
        "Till 9", "terminal", ttl=dt.timedelta(minutes=5), now=member.clock()
    )
    offer = await offer_of(member)
    ca = proven_ca(offer, code.code.lower())  # as typed
    assert ca == store_a.ca_cert_pem.decode()
    pinned = ssl.create_default_context(cadata=ca)  # this CA alone; host names checked
    async with member.session.post(
        f"{member.https_url}/api/v1/pair", json={"code": code.code}, ssl=pinned
    ) as r:
        assert r.status == 201, await r.text()
        paired = await r.json()
    assert paired["ca_cert"] == ca
    headers = {"Authorization": f"Bearer {paired['token']}"}
    async with member.session.get(
        f"{member.https_url}/api/v1/orders", headers=headers, ssl=pinned
    ) as r:
        assert r.status == 200, await r.text()


async def test_a_ca_not_proven_by_the_code_is_not_trusted(member, store_b):
    code = member.context.terminals.codes.create_code(
        "Till 9", "terminal", ttl=dt.timedelta(minutes=5), now=member.clock()
    )
    offer = await offer_of(member)
    assert proven_ca(offer, code.code) is not None
    assert proven_ca(offer, "2222-2222") is None  # someone without the code
    forged = offer | {"ca_cert": store_b.ca_cert_pem.decode()}  # a CA put in on the way
    assert proven_ca(forged, code.code) is None


async def test_a_client_that_trusts_another_store_ca_is_refused(member, store_b):
    other = ssl.create_default_context(cadata=store_b.ca_cert_pem.decode())
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        async with member.session.get(f"{member.https_url}/healthz", ssl=other):
            pass


async def test_the_port_answers_plain_http_on_loopback_and_https(member, store_a):
    pinned = ssl.create_default_context(cadata=store_a.ca_cert_pem.decode())
    for url, tls in ((member.url, None), (member.https_url, pinned)):
        async with member.session.get(f"{url}/healthz", ssl=tls) as r:
            assert r.status == 200, url


async def test_a_node_that_is_not_a_member_has_no_store_ca(node):
    async with node.session.get(f"{node.url}/api/v1/pair/ca") as r:
        assert r.status == 409
        assert (await r.json())["type"] == "urn:posedge:problem:not-a-member"


async def test_the_certificate_names_the_node_and_follows_its_addresses(store_a):
    names = (["till-1", "till-1.local", "localhost"], ["127.0.0.1"])
    certificate = ApiCertificate(store_a, names=lambda: names)
    app = web.Application()
    app.router.add_get("/", lambda request: web.Response(text="ok"))
    server = HttpServer(app, "127.0.0.1", 0, ssl_context=certificate.context)
    await server.start()
    try:
        assert await sans_seen(server.port, store_a) == {"till-1", "till-1.local", "localhost",
                                                         "127.0.0.1"}  # fmt: skip
        assert not certificate.refresh()  # nothing changed: the same certificate
        names = (["till-1", "till-1.local", "localhost"], ["127.0.0.1", "192.168.1.20"])
        assert certificate.refresh()
        assert "192.168.1.20" in await sans_seen(server.port, store_a)
    finally:
        await server.stop()


async def sans_seen(port: int, creds) -> set[str]:
    """The names in the certificate a client trusting the store CA is shown."""
    context = ssl.create_default_context(cadata=creds.ca_cert_pem.decode())
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(True)
    finally:
        writer.close()
        await writer.wait_closed()
    san = (
        x509.load_der_x509_certificate(der)
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    return {*san.get_values_for_type(x509.DNSName)} | {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }
