"""The pty emulators (serial printer, line display, bump bar, drawer) driven with raw bytes
through real ptys, and the `posedge emulate` command as a process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator

from drivers.emulators import (
    BumpBarEmulator,
    LineDisplayEmulator,
    SerialDrawerEmulator,
    SerialPrinterEmulator,
)
from tests.support.raw_escpos import ACK, STATUS, WAIT, connected, job, read

# -- pty emulators -------------------------------------------------------------------------


class PtyHost:
    """The host's end of an emulated serial line: the pty slave, raw and non-blocking."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self._data = bytearray()
        self._arrived = asyncio.Event()
        asyncio.get_running_loop().add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._data += os.read(self.fd, 4096)
            self._arrived.set()

    async def write(self, data: bytes) -> None:
        async with asyncio.timeout(WAIT):
            while data:
                try:
                    data = data[os.write(self.fd, data) :]
                except BlockingIOError:
                    await asyncio.sleep(0.01)  # the pty is full until the emulator reads

    async def read(self, n: int) -> bytes:
        async with asyncio.timeout(WAIT):
            while len(self._data) < n:
                self._arrived.clear()
                await self._arrived.wait()
        data = bytes(self._data[:n])
        del self._data[:n]
        return data

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.fd)
        os.close(self.fd)


@contextlib.asynccontextmanager
async def host_of(emulator) -> AsyncIterator[PtyHost]:
    async with emulator:
        host = PtyHost(emulator.device_path)
        try:
            yield host
        finally:
            host.close()


async def test_serial_printer_prints_and_answers_status_and_acks():
    emulator = SerialPrinterEmulator()
    async with host_of(emulator) as host:
        assert emulator.device_path.startswith("/dev/pts/")
        await host.write(STATUS)
        assert await host.read(3) == b"\x12\x12\x12"
        emulator.cover_open(True)
        await host.write(job("Größe € 12", "\n\r\x0a binary safe") + ACK + b"\x10\x04\x02")
        assert await host.read(1) == b"\x16"  # cover open, paused
        emulator.cover_open(False)
        assert await host.read(1) == b"\x00"
        (paper,) = await emulator.wait_for_papers(1, WAIT)
    assert paper.text.startswith("Größe € 12")
    await emulator.close()  # safe twice


async def test_line_display_shows_frames_of_the_display_protocol():
    display = LineDisplayEmulator()
    async with host_of(display) as host:
        frame = b"\x0c" + b"Caf\x82 cr\x8ame".ljust(20) + b"\x1f$\x01\x02" + b"Total 3.50".ljust(20)
        await host.write(frame)
        await display.wait_for_text("Total 3.50", WAIT)
        assert display.lines == ("Café crème          ", "Total 3.50          ")
        await host.write(b"\x1f")  # a command cut in two writes
        await host.write(b"$\x01\x01" + b"x" * 25)  # overwrite mode: past column 20 dropped
        await display.wait_for_text("xxxx", WAIT)
        assert display.lines == ("x" * 20, "Total 3.50          ")
        await host.write(b"\x1b@\x1bt\x00abc\rZ\nQ\x0bH")
        await display.wait_for_text("Q", WAIT)
        assert display.lines == ("Hbc".ljust(20), " Q".ljust(20))
    assert display.frames[0] == ("Café crème          ", "Total 3.50          ")
    assert display.unknown == 0


async def test_bump_bar_presses_reach_the_host():
    bump_bar = BumpBarEmulator()
    async with host_of(bump_bar) as host:
        await bump_bar.press("1B")
        await bump_bar.press(b"R")
        assert await host.read(3) == b"1BR"
        await host.write(b"\x07")  # a beep from the host: taken, ignored
        for _ in range(500):
            if bump_bar.received:
                break
            await asyncio.sleep(0.01)
        assert bump_bar.received == b"\x07"


async def test_serial_drawer_counts_opens_even_split_across_writes():
    drawer = SerialDrawerEmulator()
    async with host_of(drawer) as host:
        await host.write(b"\x07")
        await host.write(b"xx\x07")
        assert await drawer.wait_for_opens(2, WAIT) == 2
    custom = SerialDrawerEmulator(b"\x1bp")
    async with host_of(custom) as host:
        await host.write(b"\x1b")
        await host.write(b"p\x1b")
        await host.write(b"p")
        assert await custom.wait_for_opens(2, WAIT) == 2


# -- posedge emulate -----------------------------------------------------------------------


async def start_command(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "drivers.emulators.command",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def line_of(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(process.stdout.readline(), 30)).decode()


async def stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
    assert process.returncode is not None
    return process.returncode


async def test_emulate_printer_command_prints_pieces_and_stops_on_sigterm():
    process = await start_command("printer", "--listen", "127.0.0.1:0")
    try:
        listening = await line_of(process)
        assert listening.startswith("printer listening on tcp://127.0.0.1:")
        port = int(listening.rsplit(":", 1)[1])
        async with connected(port) as (reader, writer):
            writer.write(job("from the command") + ACK)
            assert await read(reader, 1) == b"\x00"
        shown = [await line_of(process) for _ in range(3)]
        assert shown[1:] == ["from the command\n", "--- cut ---\n"]
    finally:
        assert await stop(process) == 0


async def test_emulate_bump_bar_sends_keys_typed_on_stdin():
    process = await start_command("bump-bar")
    try:
        path = (await line_of(process)).strip().rsplit("serial://", 1)[1]
        await line_of(process)  # the key help
        host = PtyHost(path)
        try:
            assert process.stdin is not None
            process.stdin.write(b"3B\n")
            await process.stdin.drain()
            assert await host.read(2) == b"3B"
        finally:
            host.close()
    finally:
        assert await stop(process) == 0


async def test_emulate_rejects_a_bad_address():
    process = await start_command("printer", "--listen", "nowhere")
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        await stop(process)
    assert process.returncode == 2
    assert b"'nowhere' is not HOST:PORT" in stderr
