"""TCP peers a test scripts, on 127.0.0.1 with a port the OS picks: the far end of a device
connection where no emulator plays the part (an echo, silence, garbage, a hang-up)."""

from __future__ import annotations

import asyncio

from drivers.device_url import parse_device_url


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()


class TcpPeer:
    """A server running `handler(reader, writer)` for each connection (default: echo)."""

    def __init__(self, handler=echo) -> None:
        self.handler = handler
        self.tasks: list[asyncio.Task] = []

    async def _serve(self, reader, writer):
        self.tasks.append(asyncio.current_task())
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = parse_device_url(f"tcp://127.0.0.1:{self.port}")
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()


class RawPeer(TcpPeer):
    """A peer whose answers a test scripts: `answer(received)` gets every byte received so
    far on the connection and returns the bytes to send back now."""

    def __init__(self, answer) -> None:
        super().__init__(self._answer)
        self.answer = answer
        self.received = b""

    async def _answer(self, reader, writer):
        received = b""
        while data := await reader.read(4096):
            received += data
            self.received += data
            if reply := self.answer(received):
                writer.write(reply)
                await writer.drain()
