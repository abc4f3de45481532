"""A TLS peer-link server of a store's member on 127.0.0.1 with a port the OS picks, and a
client's exchange with it: the far end of mutual TLS 1.3 for the membership tests."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from sync.membership.peer_tls import MembershipPolicy, peer_of, server_ssl_context
from sync.membership.trust import NotAMember, StoreCredentials


class PeerServer:
    """A TLS peer-link server on 127.0.0.1: each connection it accepts is checked by the
    policy and answered with one line, "ok <store> <node>", then closed."""

    def __init__(self, creds: StoreCredentials, removed: frozenset[str] = frozenset()) -> None:
        self.creds = creds
        self.policy = MembershipPolicy(creds.store_id, lambda: removed)
        self.accepted: list[str] = []
        self.refused: list[Exception] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            node_id = self.policy.check(writer.get_extra_info("ssl_object"))
        except NotAMember as exc:
            self.refused.append(exc)
        else:
            self.accepted.append(node_id)
            writer.write(f"ok {self.creds.store_id} {self.creds.node_id}\n".encode())
            await writer.drain()
        writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()

    async def __aenter__(self) -> PeerServer:
        self.server = await asyncio.start_server(
            self._serve, "127.0.0.1", 0, ssl=server_ssl_context(self.creds)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.server.close()
        await self.server.wait_closed()


async def exchange(port: int, context: ssl.SSLContext) -> tuple[tuple[str, str] | None, bytes]:
    """Connect, handshake, read the server's line: (the server's (store, node), the line).

    The line is b"" when the server refused us (TLS 1.3 clients mostly learn of a refused
    certificate on their first read, but a reset may come sooner); when our side refuses
    the server's certificate, the SSLCertVerificationError propagates.
    """
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=None), 10
        )
    except ConnectionError:
        return None, b""
    try:
        server = peer_of(writer.get_extra_info("ssl_object"))
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
        except (ssl.SSLError, ConnectionError):
            line = b""
    finally:
        writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()
    return server, line
