"""The emulated ESC/POS printer's engine, shared by the network and the serial emulators.

It behaves like an Epson TM printer wherever a driver could otherwise cheat: real-time
commands (DLE EOT, DLE DC4) are answered the moment they arrive, even while printing is paused;
everything else goes through one receive buffer processed in order, which stops at paper out,
cover open or error and resumes when fixed; GS r 1 is answered only once everything before it
has been printed; a link the printer drops loses what it had not processed yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.escpos.commands import CLEAR_BUFFER, RealtimeScanner, parse_command
from drivers.escpos.decoder import Control, Cut, DrawerPulse, EscPosDecoder, Event, Paper, Unknown
from drivers.escpos.printout import Barcode, Feed, QrCode, RasterImage
from drivers.escpos.printout_image import render_png

log = logging.getLogger(__name__)

CLEAR_RESPONSE = b"\x37\x25\x00"  # what an Epson printer answers once DLE DC4 fn 8 is done
SWITCHES = ("paper_out", "cover_open", "paper_near_end", "drawer_open", "error")


class Notifier:
    """Wakes every waiter whenever something changes (a Condition without the lock)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(
        self,
        ready: Callable[[], bool],
        timeout: float,  # noqa: ASYNC109 (the emulators' API: one deadline per wait)
        what: Callable[[], str],
    ) -> None:
        """Return once `ready()`; TimeoutError saying `what()` after `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while not ready():
                    await self._event.wait()
        except TimeoutError:
            raise TimeoutError(f"after {timeout} s: {what()}") from None


async def finish(task: asyncio.Task | None) -> None:
    """Cancel an owned task and wait for it (without swallowing our own cancellation)."""
    if task is None:
        return
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        log.error("emulator task failed", exc_info=task.exception())


class Source:
    """One link into the printer (a TCP connection, a serial line): its scanner and its replies."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self.scanner = RealtimeScanner()
        self.open = True

    def reply(self, data: bytes) -> None:
        if self.open:
            self._write(data)


class PrinterEngine:
    """Status switches, the receive buffer and in-order processing, for any transport.

    Switches are plain methods that take effect at once; `papers` are the finished (cut)
    pieces, `current` the piece still in the printer; out_dir gets NNNN.txt and NNNN.png.
    """

    def __init__(
        self,
        *,
        out_dir: str | Path | None = None,
        on_paper: Callable[[Paper], None] | None = None,
    ) -> None:
        self.decoder = EscPosDecoder()
        self.pulses: list[DrawerPulse] = []
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self._on_paper = on_paper
        self._switches = dict.fromkeys(SWITCHES, False)
        self._seconds_per_line = 0.0
        self._drop_budget: int | None = None
        self._pending = bytearray()
        self._head = 0  # processing position in _pending (compacted now and then)
        self._owners: deque[list[Any]] = deque()  # [source, byte count] runs after _head
        self._received = bytearray()
        self._wake = asyncio.Event()
        self._paper_changes = Notifier()
        self._processor: asyncio.Task | None = None
        self._file_number: int | None = None

    # -- switches -------------------------------------------------------------------------

    def paper_out(self, value: bool = True) -> None:
        """Paper end: the printer goes offline and stops printing (buffering what comes)."""
        self._switch("paper_out", value)

    def cover_open(self, value: bool = True) -> None:
        """Cover open: offline and paused like paper out."""
        self._switch("cover_open", value)

    def paper_near_end(self, value: bool = True) -> None:
        """Paper low: reported, still printing."""
        self._switch("paper_near_end", value)

    def drawer_open(self, value: bool = True) -> None:
        """The drawer sensor (kick connector pin 3); a kick pulse also opens the drawer."""
        self._switch("drawer_open", value)

    def error(self, value: bool = True) -> None:
        """A mechanical error (e.g. cutter jam): offline and paused."""
        self._switch("error", value)

    def slow(self, seconds_per_line: float) -> None:
        """Take this long per printed line (0: as fast as possible)."""
        self._seconds_per_line = max(float(seconds_per_line), 0.0)

    def _switch(self, name: str, value: bool) -> None:
        self._switches[name] = bool(value)
        self._wake.set()

    @property
    def ready(self) -> bool:
        """Whether the printer is printing (online: paper in, cover closed, no error)."""
        s = self._switches
        return not (s["paper_out"] or s["cover_open"] or s["error"])

    @property
    def state(self) -> dict[str, Any]:
        """The switches and counters, as the control server shows them."""
        return {
            **self._switches,
            "slow": self._seconds_per_line,
            "papers": len(self.papers),
            "pending_bytes": len(self._pending) - self._head,
        }

    def set_state(self, changes: dict[str, Any]) -> None:
        """Apply a JSON object of switches (all or none); ValueError naming a bad one."""
        for key, value in changes.items():
            if not self._valid(key, value):
                raise ValueError(f"cannot set {key!r} to {value!r}")
        for key, value in changes.items():
            self._apply(key, value)

    def _valid(self, key: str, value: Any) -> bool:
        if key in SWITCHES:
            return isinstance(value, bool)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return key == "slow" and number and value >= 0

    def _apply(self, key: str, value: Any) -> None:
        if key == "slow":
            self.slow(value)
        else:
            self._switch(key, value)

    # -- status bytes ---------------------------------------------------------------------

    def status_byte(self, n: int) -> int:
        """The answer to DLE EOT n (fixed bits 0x12 set)."""
        s = self._switches
        if n == 1:
            return 0x12 | (0x04 if s["drawer_open"] else 0) | (0x00 if self.ready else 0x08)
        if n == 2:
            return (
                0x12
                | (0x04 if s["cover_open"] else 0)
                | (0x20 if s["paper_out"] else 0)
                | (0x40 if s["error"] else 0)
            )
        if n == 3:
            return 0x12 | (0x08 if s["error"] else 0)
        return 0x12 | (0x0C if s["paper_near_end"] else 0) | (0x60 if s["paper_out"] else 0)

    def ack_byte(self) -> int:
        """The answer to GS r 1 (bit 4 clear, unlike every DLE EOT answer)."""
        s = self._switches
        return (0x03 if s["paper_near_end"] else 0) | (0x0C if s["paper_out"] else 0)

    # -- what was printed -----------------------------------------------------------------

    @property
    def papers(self) -> list[Paper]:
        return self.decoder.papers

    @property
    def current(self) -> Paper:
        return self.decoder.current

    @property
    def received(self) -> bytes:
        """Every byte processed so far, in order."""
        return bytes(self._received)

    async def wait_for_papers(self, n: int, timeout: float) -> list[Paper]:  # noqa: ASYNC109
        """Wait until at least n pieces have been cut; returns them all."""
        await self._paper_changes.wait_for(
            lambda: len(self.papers) >= n,
            timeout,
            lambda: f"{len(self.papers)} of {n} papers cut; in the printer: {self.current.text!r}",
        )
        return list(self.papers)

    # -- receiving ------------------------------------------------------------------------

    def receive(self, source: Source, data: bytes) -> bool:
        """Take bytes from `source`; True when the printer drops it (drop_after reached)."""
        for realtime, piece in source.scanner.scan(data):
            if realtime:
                self._realtime(source, piece)
                if piece != CLEAR_BUFFER:
                    self._append(source, piece)  # in order, a real-time command is a no-op
                continue
            if self._drop_budget is not None:
                if len(piece) >= self._drop_budget:
                    self._drop_budget = None
                    self.discard(source)
                    return True
                self._drop_budget -= len(piece)
            self._append(source, piece)
        self._wake.set()
        return False

    def _realtime(self, source: Source, command: bytes) -> None:
        if command[1] == 0x04:  # DLE EOT n
            source.reply(bytes([self.status_byte(command[2])]))
        elif command == CLEAR_BUFFER:
            self.clear()
            source.reply(CLEAR_RESPONSE)
        elif command[1] == 0x14:  # DLE DC4 fn 1: a pulse now, t x 100 ms on and off
            pin, ticks = (2 if command[3] == 0 else 5), command[4]
            self._pulse(DrawerPulse(pin, ticks * 100, ticks * 100, realtime=True))
        elif command[1] == 0x05 and command[2] == 2:  # DLE ENQ 2: recover, clearing buffers
            self.clear()

    def _append(self, source: Source, data: bytes) -> None:
        self._pending += data
        if self._owners and self._owners[-1][0] is source:
            self._owners[-1][1] += len(data)
        else:
            self._owners.append([source, len(data)])

    def clear(self) -> None:
        """Forget everything received but not yet printed (DLE DC4 fn 8)."""
        self._pending.clear()
        self._head = 0
        self._owners.clear()
        self.decoder.clear_print_buffer()

    def discard(self, source: Source) -> None:
        """Forget what `source` sent that was not processed yet (its link was dropped)."""
        kept, owners, pos = bytearray(), deque(), self._head
        for owner, count in self._owners:
            if owner is not source:
                kept += self._pending[pos : pos + count]
                owners.append([owner, count])
            pos += count
        self._pending, self._head, self._owners = kept, 0, owners

    # -- processing -----------------------------------------------------------------------

    def start_processing(self) -> None:
        if self._processor is None:
            self._processor = asyncio.get_running_loop().create_task(self._process())

    async def stop_processing(self) -> None:
        task, self._processor = self._processor, None
        await finish(task)

    async def _process(self) -> None:
        while True:
            name, end = await self._next_command()
            raw = bytes(self._pending[self._head : end])
            source = self._consume(end - self._head)
            self._received += raw
            try:
                events = self.decoder.execute(name, raw)
            except Exception:  # a decoder bug must not stop the printer: count the bytes unknown
                log.exception("emulated printer could not decode %r", raw[:32])
                self.current.unknown.append(raw[:64])
                events = []
            for event in events:
                await self._handle(event, source)

    async def _next_command(self) -> tuple[str, int]:
        while True:
            self._wake.clear()
            if self.ready:
                parsed = parse_command(self._pending, self._head)
                if parsed is not None:
                    return parsed
            await self._wake.wait()

    def _consume(self, count: int) -> Source | None:
        owner = self._owners[0][0] if self._owners else None
        self._head += count
        while count > 0 and self._owners:
            run = self._owners[0]
            taken = min(count, run[1])
            run[1] -= taken
            count -= taken
            if run[1] == 0:
                self._owners.popleft()
        if self._head > 65536 and self._head * 2 > len(self._pending):
            del self._pending[: self._head]
            self._head = 0
        return owner

    async def _handle(self, event: Event, source: Source | None) -> None:
        if isinstance(event, Cut):
            self._finished(event.paper)
        elif isinstance(event, DrawerPulse):
            self._pulse(event)
        elif isinstance(event, Control):
            if event.command == "GS r" and source is not None:
                if event.raw[2] in (1, 49):
                    source.reply(bytes([self.ack_byte()]))
                elif event.raw[2] in (2, 50):
                    source.reply(b"\x01" if self._switches["drawer_open"] else b"\x00")
        elif isinstance(event, Unknown):
            log.debug("emulated printer: unknown %r", event.raw[:32])
        elif self._seconds_per_line > 0:
            await asyncio.sleep(self._seconds_per_line * _lines(event))

    def _pulse(self, pulse: DrawerPulse) -> None:
        self.pulses.append(pulse)
        self._switches["drawer_open"] = True  # the drawer springs open; someone closes it

    def _finished(self, paper: Paper) -> None:
        self._paper_changes.notify()
        if self.out_dir is not None:
            try:
                self._save(paper)
            except OSError as exc:  # a full disk must not stop the printer
                log.error("emulated printer cannot save paper in %s: %s", self.out_dir, exc)
        if self._on_paper is not None:
            try:
                self._on_paper(paper)
            except Exception:
                log.exception("on_paper callback failed")

    def _save(self, paper: Paper) -> None:
        assert self.out_dir is not None
        if self._file_number is None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            names = (p.stem for p in self.out_dir.glob("*.txt"))
            self._file_number = max((int(n) for n in names if n.isdigit()), default=0)
        self._file_number += 1
        stem = self.out_dir / f"{self._file_number:04d}"
        stem.with_suffix(".txt").write_text(paper.text + "\n", encoding="utf-8")
        render_png(paper, stem.with_suffix(".png"))


def _lines(event: Event) -> float:
    """How many text lines' worth of paper an item takes (for the slow switch)."""
    if isinstance(event, RasterImage):
        return max(event.height * event.scale[1] / 30, 1)
    if isinstance(event, QrCode | Barcode):
        return 3
    if isinstance(event, Feed):
        return event.dots / 30
    return 1
