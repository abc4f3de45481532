"""An emulated ESC/POS network printer (TCP; a real one listens on 9100).

It can be switched offline (connections dropped, connecting refused) and back online on the
same port, and told to drop a connection after n bytes; a dropped connection loses what the
printer had not processed yet, while a connection the client closes still gets printed.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.emulators.printer_engine import PrinterEngine, Source, finish
from drivers.escpos.printout import Paper


class _Connection(asyncio.Protocol):
    def __init__(self, printer: NetworkPrinterEmulator) -> None:
        self.printer = printer
        self.transport: asyncio.Transport | None = None
        self.source: Source | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.printer.online:  # accepted in the instant the printer went offline
            transport.abort()
            return
        self.source = Source(transport.write)
        self.printer.connections += 1
        self.printer._links.add(self)

    def data_received(self, data: bytes) -> None:
        if self.source is not None and self.source.open and self.printer.receive(self.source, data):
            self.drop()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.source is not None:
            self.source.open = False  # what it sent is still printed: only a drop loses it
        self.printer._links.discard(self)

    def drop(self) -> None:
        """The printer's side fails: the link resets and its unprocessed data is lost."""
        if self.source is not None:
            self.source.open = False
            self.printer.discard(self.source)
        if self.transport is not None:
            self.transport.abort()


class NetworkPrinterEmulator(PrinterEngine):
    """An ESC/POS printer on TCP (a real one listens on 9100); async context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        out_dir: str | Path | None = None,
        control_port: int | None = None,
        control_host: str | None = None,
        on_paper: Callable[[Paper], None] | None = None,
    ) -> None:
        super().__init__(out_dir=out_dir, on_paper=on_paper)
        self.host, self.port = host, port
        self.connections = 0
        self.online = False
        self._links: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._sock: socket.socket | None = None
        self._serving: set[asyncio.Task] = set()  # listeners being set up (see go_online)
        self._closed = False
        self._control_address = (control_host or host, control_port)
        self._control: Any = None
        self.control_port: int | None = None

    async def __aenter__(self) -> NetworkPrinterEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen (`.port` is then the actual port) and start printing."""
        try:
            self.start_processing()
            self.go_online()
            for task in list(self._serving):
                await task
            if self._control_address[1] is not None:
                from drivers.emulators.control import ControlServer  # aiohttp only when asked for

                self._control = ControlServer(self, *self._control_address)
                await self._control.start()
                self.control_port = self._control.port
        except BaseException:
            await self.close()
            raise

    def drop_after(self, n_bytes: int | None) -> None:
        """Drop the connection once n more bytes of print data arrive (once; None: never)."""
        self._drop_budget = n_bytes

    def go_online(self) -> None:
        """Listen again on the same port (connections queue until accepted)."""
        if self.online or self._closed:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(16)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self._sock, self.online = sock, True
        task = asyncio.get_running_loop().create_task(self._serve(sock))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        # No await before self._server is set, so go_offline always closes what is serving.
        server = await loop.create_server(lambda: _Connection(self), sock=sock, start_serving=False)
        self._server = server
        await server.start_serving()

    def go_offline(self) -> None:
        """Drop every connection and stop listening: connecting is refused."""
        if not self.online:
            return
        self.online = False
        for task in self._serving:
            task.cancel()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._sock is not None:
            self._sock.close()  # not registered with the loop unless _server was set above
        for link in list(self._links):
            link.drop()

    @property
    def state(self) -> dict[str, Any]:
        return {
            **super().state,
            "online": self.online,
            "drop_after": self._drop_budget,
            "connections": self.connections,
        }

    def _valid(self, key: str, value: Any) -> bool:
        if key == "online":
            return isinstance(value, bool)
        if key == "drop_after":
            count = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            return value is None or count
        return super()._valid(key, value)

    def _apply(self, key: str, value: Any) -> None:
        if key == "online":
            self.go_online() if value else self.go_offline()
        elif key == "drop_after":
            self.drop_after(value)
        else:
            super()._apply(key, value)

    async def close(self) -> None:
        """Stop listening, drop connections, stop printing; safe twice."""
        if self._closed:
            return
        self._closed = True
        self.go_offline()
        for task in list(self._serving):
            await finish(task)
        if self._control is not None:
            await self._control.close()
        await self.stop_processing()
