"""ESC/POS receipt and kitchen printers over any transport (tcp, serial, usb, file).

The printer's own answers drive everything: DLE EOT for its state, GS r 1 to learn that a job
has been printed (not merely received), DLE DC4 8 to take back what it has not printed yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from drivers.device_url import DeviceUrl
from drivers.errors import (
    ConnectionLost,
    DeviceAnsweredNonsense,
    DeviceTimeout,
    DeviceUnreachable,
    PrinterNotReady,
)
from drivers.escpos.status import (
    ACK_REQUEST,
    CLEAR_BUFFER,
    REQUEST_ALL,
    REQUEST_OFFLINE_CAUSE,
    REQUEST_PAPER,
    REQUEST_PRINTER,
    PrinterStatus,
    drawer_pulse,
    is_ack,
    is_status_byte,
    is_valid_ack,
    parse_status,
    realtime_drawer_pulse,
)
from drivers.transport import Transport, open_transport

StatusCallback = Callable[[PrinterStatus], None]


class EscPosPrinter:
    """One ESC/POS printer, reached through one connection.

    The connection is opened on demand and reused; operations are serialised by a lock, so a
    drawer kick waits for the job in flight. After any error the connection is dropped and
    the next operation opens a new one. Every wait is bounded by `timeout` (seconds) or by
    the job's `ack_timeout`.
    """

    def __init__(self, url: DeviceUrl, *, timeout: float = 5.0, sysfs: Path = Path("/sys")):
        self.url = url
        self.timeout = timeout
        self._sysfs = sysfs
        self._transport: Transport | None = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        """The printer's URL, as written in the config."""
        return self.url.text

    async def status(self) -> PrinterStatus:
        """Ask the printer for its state (DLE EOT 1, 2, 4)."""
        async with self._lock:
            try:
                return await self._fresh_status()
            except BaseException:
                await self._drop()
                raise

    async def print_job(
        self,
        data: bytes,
        *,
        ack_timeout: float,
        poll_interval: float = 1.0,
        on_status: StatusCallback | None = None,
    ) -> None:
        """Print `data` and return once the printer says it has printed all of it.

        Checks the status first and raises PrinterNotReady (nothing sent) unless the printer
        is ready, or DeviceUnreachable if it does not answer (nothing sent either). While
        waiting for the GS r 1 answer, polls the status every `poll_interval` and passes
        each one (the first check included) to `on_status`: paper
        may run out mid-job, and the job completes once paper is loaded. Raises
        ConnectionLost(partial=True) if the connection drops after writing began, and
        DeviceTimeout if the job is not printed within `ack_timeout` seconds; in both cases
        the printer may have printed part of it, and may still print the rest (see
        `clear_buffer`). An exception raised by `on_status` abandons the wait the same way.
        """
        if ack_timeout <= 0 or poll_interval <= 0:
            raise ValueError("ack_timeout and poll_interval must be positive")
        loop = asyncio.get_running_loop()
        async with self._lock:
            try:
                try:
                    status = await self._fresh_status()
                except DeviceTimeout as exc:  # nothing of the job was sent: say so
                    raise DeviceUnreachable(str(exc)) from None
                if on_status is not None:
                    on_status(status)
                if not status.ready:
                    raise PrinterNotReady(status, self.name)
                transport = self._current()
                deadline = loop.time() + ack_timeout
                try:
                    try:
                        await transport.write(data + ACK_REQUEST, timeout=ack_timeout)
                    except DeviceTimeout:
                        raise DeviceTimeout(
                            f"{self.name} did not take the whole job within {ack_timeout:g} s "
                            "(paused, or out of paper?); it may have printed in part"
                        ) from None
                    await self._await_ack(transport, deadline, poll_interval, on_status)
                except ConnectionLost as exc:
                    raise ConnectionLost(
                        f"{self.name}: connection lost during the job, which may have printed "
                        f"in part ({exc})",
                        partial=True,
                    ) from exc
            except PrinterNotReady:
                raise  # the exchange went well; the connection stays usable
            except BaseException:
                await self._drop()
                raise

    async def clear_buffer(self) -> None:
        """Discard what the printer has received but not printed (DLE DC4 8); drops the line.

        Waits for an operation in flight: cancel a print_job before taking its job back.
        """
        async with self._lock:
            # A fresh connection: a reused one may have been closed by the printer unseen, and
            # this command must arrive.
            await self._drop()
            try:
                transport = await self._open()
                await transport.write(CLEAR_BUFFER, timeout=self.timeout)
            finally:
                await self._drop()

    async def kick_drawer(self, pin: int = 2) -> None:
        """Pulse the cash drawer on connector pin 2 or 5; returns once the printer did it.

        Normally an ESC p processed in order after any job, confirmed by GS r 1. When the
        printer is not ready (paper out, cover open) it would hold ESC p until fixed and open
        the drawer later, unasked; then the real-time pulse DLE DC4 1 is sent instead.
        """
        pulse = drawer_pulse(pin)
        async with self._lock:
            try:
                status = await self._fresh_status()
                transport = self._current()
                if status.ready:
                    await transport.write(pulse + ACK_REQUEST, timeout=self.timeout)
                    deadline = asyncio.get_running_loop().time() + self.timeout
                    await self._await_ack(transport, deadline, self.timeout * 2, None)
                else:
                    # The status answer comes after the pulse, so it confirms the pulse
                    # command was taken.
                    await transport.write(
                        realtime_drawer_pulse(pin) + REQUEST_PRINTER, timeout=self.timeout
                    )
                    answer = await self._read_exact(transport, 1)
                    if not is_status_byte(answer[0]):
                        raise self._nonsense(answer[0], "a drawer pulse")
            except BaseException:
                await self._drop()
                raise

    async def close(self) -> None:
        """Close the connection; an operation in flight fails with ConnectionLost. Safe twice."""
        await self._drop()

    # -- the exchanges --------------------------------------------------------------------

    async def _fresh_status(self) -> PrinterStatus:
        reused = self._transport is not None
        transport = await self._open()
        try:
            return await self._query_status(transport)
        except ConnectionLost:
            if not reused:
                raise
        # The printer closed the idle connection (restart, idle timeout): one more try on a
        # new one. Nothing had been sent but the status request.
        await self._drop()
        return await self._query_status(await self._open())

    async def _query_status(self, transport: Transport) -> PrinterStatus:
        # One request, one answer, three times: sent together, the three answers leave the
        # printer as separate small segments, and a TCP stack with Nagle's algorithm holds
        # the second until the first is acknowledged, which the client delays (~40 ms).
        answer = b""
        for request in (REQUEST_PRINTER, REQUEST_OFFLINE_CAUSE, REQUEST_PAPER):
            await transport.write(request, timeout=self.timeout)
            answer += await self._read_exact(transport, 1)
        return parse_status(*answer)

    async def _read_exact(self, transport: Transport, count: int) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        data = b""
        while len(data) < count:
            try:
                data += await transport.read(count - len(data), timeout=deadline - loop.time())
            except DeviceTimeout:
                raise DeviceTimeout(
                    f"{self.name} did not answer a status request within {self.timeout:g} s "
                    "(not an ESC/POS printer, or wrong serial settings?)"
                ) from None
        return data

    async def _await_ack(
        self,
        transport: Transport,
        deadline: float,
        poll_interval: float,
        on_status: StatusCallback | None,
    ) -> None:
        """Read until the GS r 1 answer, polling the status every `poll_interval`."""
        loop = asyncio.get_running_loop()
        acked = False
        answers: list[int] = []  # status bytes of the poll in progress
        expected = 0  # status bytes still owed by the printer
        answer_by = poll_at = loop.time() + poll_interval
        while not acked or expected:
            if acked:
                wake = answer_by
            elif expected:
                wake = min(answer_by, deadline)
            else:
                wake = min(poll_at, deadline)
            try:
                chunk = await transport.read(64, timeout=max(0.0, wake - loop.time()))
            except DeviceTimeout:
                now = loop.time()
                if not acked and now >= deadline:
                    raise DeviceTimeout(
                        f"{self.name} did not finish printing within the job's time limit; "
                        "it may have printed in part"
                    ) from None
                if expected:
                    raise DeviceTimeout(
                        f"{self.name} stopped answering status requests while printing"
                    ) from None
                await transport.write(REQUEST_ALL, timeout=max(0.001, deadline - now))
                expected, answer_by, poll_at = 3, now + self.timeout, now + poll_interval
                continue
            for byte in chunk:
                if expected and is_status_byte(byte):
                    answers.append(byte)
                    expected -= 1
                    if not expected:
                        status = parse_status(*answers)
                        answers.clear()
                        if on_status is not None:
                            on_status(status)
                elif is_ack(byte) and is_valid_ack(byte) and not acked:
                    acked = True
                else:
                    raise self._nonsense(byte, "a print job")

    def _nonsense(self, byte: int, during: str) -> DeviceAnsweredNonsense:
        return DeviceAnsweredNonsense(
            f"{self.name} answered 0x{byte:02x} during {during}, which is no ESC/POS reply "
            "(is this an ESC/POS printer, on the right port and serial settings?)"
        )

    # -- the connection -------------------------------------------------------------------

    async def _open(self) -> Transport:
        if self._transport is None:
            self._transport = await open_transport(
                self.url, timeout=self.timeout, sysfs=self._sysfs
            )
        return self._transport

    def _current(self) -> Transport:
        if self._transport is None:  # dropped by close() from another task
            raise ConnectionLost(f"{self.name}: the connection was closed")
        return self._transport

    async def _drop(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()
