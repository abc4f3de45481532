"""What a client may hold of a node, over real sockets on 127.0.0.1: headers that trickle in
are cut off at the idle timeout, connections past the cap are closed at once (and counted
again once some end), and a peer refused at the TLS handshake is logged with its address,
once for a burst."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

import pytest
from aiohttp import web

from edge.config.model import HttpConfig
from edge.http import bodies
from edge.http.server import HttpServer
from sync.membership.peer_tls import client_ssl_context, server_ssl_context
from sync.membership.trust import create_store
from tests.support.api_node import start_node
from tests.support.waiting import until

BOUND = 15.0  # seconds a test waits for the node to act


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Whether the other end closed the connection (reading gives EOF or a reset)."""
    try:
        return await asyncio.wait_for(reader.read(65536), BOUND) == b""
    except ConnectionResetError:
        return True


@pytest.fixture
async def strict(tmp_path, clock):
    node = await start_node(
        tmp_path / "node",
        clock,
        http=HttpConfig("127.0.0.1", 0, idle_timeout=1.0),
    )
    yield node
    await node.close()


async def test_headers_that_trickle_in_are_cut_off(strict):
    reader, writer = await asyncio.open_connection("127.0.0.1", strict.server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        sent = 0
        while not reader.at_eof() and sent < 100:  # a byte every 0.2 s: never a whole header
            writer.write(b"X")
            await writer.drain()
            sent += 1
            try:
                data = await asyncio.wait_for(reader.read(1), 0.2)
            except TimeoutError:
                continue
            except ConnectionResetError:
                break
            assert data == b"", data  # no answer: the request never completed
            break
        assert sent < 100, "the node kept a request whose headers never ended"
    finally:
        writer.close()


async def test_an_idle_connection_is_closed(strict):
    reader, writer = await asyncio.open_connection("127.0.0.1", strict.server.port)
    try:
        assert await closed_by_server(reader)
    finally:
        writer.close()


async def test_connections_past_the_cap_are_closed_and_room_comes_back(tmp_path, clock):
    node = await start_node(
        tmp_path / "node", clock, http=HttpConfig("127.0.0.1", 0, max_connections=16)
    )
    held = []
    try:
        for _ in range(16):
            held.append(await asyncio.open_connection("127.0.0.1", node.server.port))
        await until(lambda: node.server.open_connections("127.0.0.1") == 16, BOUND)
        reader, writer = await asyncio.open_connection("127.0.0.1", node.server.port)
        assert await closed_by_server(reader)
        writer.close()
        for _, held_writer in held[:2]:
            held_writer.close()
        await until(lambda: node.server.open_connections("127.0.0.1") == 14, BOUND)
        async with node.session.get(f"{node.url}/healthz") as r:
            assert r.status == 200
    finally:
        for _, held_writer in held:
            held_writer.close()
        await node.close()


def presenting(creds) -> ssl.SSLContext:
    """A client that shows `creds`' certificate and checks nothing of the server's."""
    context = client_ssl_context(creds)
    context.verify_mode = ssl.CERT_NONE
    return context


async def test_peers_refused_at_the_tls_handshake_are_logged_once_for_a_burst(caplog):
    store_a, store_b = create_store("s1", "node-1"), create_store("s2", "node-9")
    server = HttpServer(
        web.Application(), "127.0.0.1", 0, ssl_context=server_ssl_context(store_a),
        name="peer links",
    )  # fmt: skip
    await server.start()
    caplog.set_level(logging.WARNING, logger="edge.http.server")

    def refusals():
        return [r.getMessage() for r in caplog.records if "at the TLS handshake" in r.getMessage()]

    try:
        no_certificate = ssl._create_unverified_context()  # shows none, checks nothing
        for client in [no_certificate, presenting(store_b)] * 3:
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=client)
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert await closed_by_server(reader)
            await until(refusals, BOUND)
        [line] = refusals()
        assert "peer links refused 127.0.0.1 at the TLS handshake: PEER_DID_NOT_RETURN" in line
    finally:
        await server.stop()


async def test_a_body_that_trickles_in_is_answered_408(node, monkeypatch):
    monkeypatch.setattr(bodies, "BODY_TIMEOUT", 1.0)
    reader, writer = await asyncio.open_connection("127.0.0.1", node.server.port)
    try:
        writer.write(
            b"POST /api/v1/pair HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), BOUND)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"urn:posedge:problem:body-timeout" in answer
