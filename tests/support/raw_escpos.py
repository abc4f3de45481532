"""ESC/POS spoken raw, as a host speaks it, for the tests of the emulators and the printer
driver: the real-time status requests and an ACK request, a job built by python-escpos' Dummy
printer, the flags of a printer status, and a plain TCP connection whose every wait is
bounded (WAIT)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from escpos.printer import Dummy

STATUS = b"\x10\x04\x01\x10\x04\x02\x10\x04\x04"  # printer, offline cause, paper sensor
ACK = b"\x1dr\x01"
WAIT = 5.0  # seconds: the bound on every wait (nothing here takes that long when correct)
FLAGS = ("online", "cover_open", "paper_near_end", "paper_out", "drawer_open", "error")


def job(*lines: str, cut: bool = True) -> bytes:
    p = Dummy(profile="TM-T88V")
    for line in lines:
        p.text(line + "\n")
    if cut:
        p.cut()
    return p.output


@contextlib.asynccontextmanager
async def connected(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), WAIT)


async def read(reader: asyncio.StreamReader, n: int) -> bytes:
    return await asyncio.wait_for(reader.readexactly(n), WAIT)
