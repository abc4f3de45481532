"""A server for one aiohttp application on one address (the API, the peer links, the hub),
that bounds what clients may hold and stops in order: stop accepting, close sockets, let
in-flight requests finish.

posedge accepts connections itself rather than through `loop.create_server`, for three
reasons a store's LAN needs:
- a cap on the connections one address and all addresses may hold open, so that slow or
  idle clients cannot use up the daemon's file descriptors (`ConnectionLimits`);
- a refused TLS handshake (no certificate, another store's CA, an expired certificate) is
  logged with the address, rate-limited, instead of vanishing inside asyncio;
- the API answers HTTPS and plain HTTP on one port: a connection whose first byte starts
  a TLS handshake (0x16) gets TLS, any other plain HTTP, which the API then accepts only
  where the guard in edge/http/application.py allows it (loopback, or a documented setting).

aiohttp's keep-alive timeout, set to `idle_timeout`, is also the header timeout: it runs from
the connection's start (or the previous answer) until a request's headers are complete.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass

from aiohttp import web

from edge.runtime.logs import LogLimiter

log = logging.getLogger(__name__)

TLS_HANDSHAKE = 0x16  # the first byte of every TLS record that opens a handshake
ACCEPT_PAUSE = 0.1  # seconds to wait when accept() fails (out of descriptors, say)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What clients may hold open (docs/operations.md, "Connections")."""

    per_address: int = 64  # a terminal holds 2-3; a KDS 2 (loopback: no limit of its own)
    total: int = 900  # from the LAN, and as many from this machine: within LimitNOFILE=4096
    idle_timeout: float = 15.0  # seconds: an idle connection, or headers still arriving
    handshake_timeout: float = 10.0  # seconds for a TLS handshake


class HttpServer:
    """An application listening on one address; `stop` lets in-flight requests finish.

    With an `ssl_context`, connections speak TLS; with `plain_too` as well, a connection
    that does not open with a TLS handshake is served plain HTTP.
    """

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        shutdown_timeout: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        plain_too: bool = False,
        limits: ConnectionLimits = ConnectionLimits(),
        name: str = "API",
    ) -> None:
        self.app = app
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._plain_too = plain_too or ssl_context is None
        self._limits = limits
        self._name = name
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=shutdown_timeout,
            keepalive_timeout=limits.idle_timeout,
        )  # fmt: skip
        self._listening: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._handovers: set[asyncio.Task[None]] = set()
        self._open: dict[str, list[socket.socket]] = {}  # client address → its sockets
        self._refusals = LogLimiter(log)

    async def start(self) -> None:
        """Listen; raises OSError when the address is taken."""
        await self._runner.setup()
        family, kind, proto, _, address = socket.getaddrinfo(
            self._host, self._port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        listening = socket.socket(family, kind, proto)
        try:
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.bind(address)
            listening.listen(128)
            listening.setblocking(False)
        except OSError:
            listening.close()
            raise
        self._listening = listening
        self._accepting = asyncio.create_task(self._accept(), name=f"{self._name} accept")
        scheme = "https" if self._ssl else "http"
        log.info("%s listening on %s://%s:%d", self._name, scheme, self._host, self.port)

    @property
    def port(self) -> int:
        """The bound port (the one the OS chose, when asked for 0)."""
        return self._listening.getsockname()[1] if self._listening else self._port

    def open_connections(self, address: str) -> int:
        """How many connections `address` holds open now."""
        return len(self._live(address))

    async def stop(self) -> None:
        """Stop accepting, close sockets, wait for in-flight requests (safe twice)."""
        tasks = [t for t in (self._accepting, *self._handovers) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._accepting = None
        if self._listening is not None:
            self._listening.close()
        await self._runner.cleanup()

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._listening is not None
        while True:
            try:
                conn, peer = await loop.sock_accept(self._listening)
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS: wait for connections to end
                self._refusals.warning(
                    f"accept {exc.errno}", "%s cannot accept a connection: %s", self._name, exc
                )
                await asyncio.sleep(ACCEPT_PAUSE)
                continue
            address = peer[0]
            if (refusal := self._over_limit(address)) is not None:
                conn.close()
                self._refusals.warning(
                    f"cap {address}", "%s refused a connection from %s: %s",
                    self._name, address, refusal,
                )  # fmt: skip
                continue
            self._open.setdefault(address, []).append(conn)
            task = asyncio.create_task(self._hand_over(conn, address))
            self._handovers.add(task)
            task.add_done_callback(self._handovers.discard)

    def _live(self, address: str) -> list[socket.socket]:
        """The sockets of `address` still open (a closed socket's descriptor is -1)."""
        live = [s for s in self._open.get(address, ()) if s.fileno() != -1]
        if live:
            self._open[address] = live
        else:
            self._open.pop(address, None)
        return live

    def _over_limit(self, address: str) -> str | None:
        """Why a new connection from `address` is refused, or None. This machine's own
        programs (health checks, a terminal app on the node, a local proxy) have no limit per
        address and a total of their own, so a LAN that fills its share never locks them out."""
        local = _loopback(address)
        if not local and len(self._live(address)) >= self._limits.per_address:
            return f"it holds {self._limits.per_address} open, the most one address may"
        held = sum(len(self._live(a)) for a in list(self._open) if _loopback(a) == local)
        if held >= self._limits.total:
            where = "from this machine" if local else "from the LAN"
            return f"{self._limits.total} connections {where} are open, the most it takes"
        return None

    async def _hand_over(self, conn: socket.socket, address: str) -> None:
        """Give the connection to aiohttp, over TLS or not; refusals are logged."""
        loop = asyncio.get_running_loop()
        tls = self._ssl
        try:
            if tls is not None and self._plain_too:
                async with asyncio.timeout(self._limits.idle_timeout):
                    first = await _peek(loop, conn)
                if first != TLS_HANDSHAKE:
                    tls = None
        except (OSError, TimeoutError, EOFError) as exc:
            conn.close()  # gone before its first byte, or silent past idle_timeout
            log.debug("%s: %s sent nothing: %r", self._name, address, exc)
            return
        try:
            await loop.connect_accepted_socket(
                self._runner.server,
                conn,
                ssl=tls,
                ssl_handshake_timeout=self._limits.handshake_timeout if tls else None,
            )
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            conn.close()
            if tls is not None:
                why = exc.reason if isinstance(exc, ssl.SSLError) else None
                self._refusals.warning(
                    f"tls {address}", "%s refused %s at the TLS handshake: %s",
                    self._name, address, why or f"it broke the handshake off ({exc!r}); it may "
                    "not trust this node's certificate (another store's node?)",
                )  # fmt: skip


def _loopback(address: str) -> bool:
    return ipaddress.ip_address(address.removeprefix("::ffff:")).is_loopback


async def _peek(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> int:
    """The connection's first byte, left in place; raises EOFError if it closes first."""
    conn.setblocking(False)
    while True:
        try:
            data = conn.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EINTR):
                raise
        else:
            if not data:
                raise EOFError("closed before sending anything")
            return data[0]
        readable = loop.create_future()
        loop.add_reader(conn.fileno(), _wake, readable)
        try:
            await readable
        finally:
            loop.remove_reader(conn.fileno())


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
