"""ESC/POS status bytes (pure), and the printer driver against real sockets.

The driver is tested against the network printer emulator (drivers/emulators), and against
tiny raw TCP servers in this file for peers no printer emulator plays: one that answers
garbage, one that never answers.
"""

import asyncio
import itertools

import pytest
from escpos.printer import Dummy

from drivers.device_url import parse_device_url
from drivers.emulators.network_printer import NetworkPrinterEmulator
from drivers.emulators.serial_devices import SerialPrinterEmulator
from drivers.errors import (
    ConnectionLost,
    DeviceAnsweredNonsense,
    DeviceTimeout,
    DeviceUnreachable,
    PrinterNotReady,
)
from drivers.escpos_paper import DrawerPulse
from drivers.escpos_status import (
    ACK_REQUEST,
    CLEAR_BUFFER,
    REQUEST_ALL,
    REQUEST_OFFLINE_CAUSE,
    REQUEST_PAPER,
    REQUEST_PRINTER,
    PrinterStatus,
    ack_paper_out,
    drawer_pulse,
    encode_status,
    is_ack,
    is_status_byte,
    is_valid_ack,
    parse_status,
    realtime_drawer_pulse,
)
from drivers.printer import EscPosPrinter

from .test_transport import fake_usblp

FLAGS = ("online", "cover_open", "paper_near_end", "paper_out", "drawer_open", "error")
STATUS_BYTES = [b for b in range(256) if b & 0x93 == 0x12]  # the 16 well-formed answers

# -- status bytes --------------------------------------------------------------------------


def test_request_bytes_are_the_epson_commands():
    assert REQUEST_PRINTER == bytes.fromhex("100401")
    assert REQUEST_OFFLINE_CAUSE == bytes.fromhex("100402")
    assert REQUEST_PAPER == bytes.fromhex("100404")
    assert REQUEST_ALL == REQUEST_PRINTER + REQUEST_OFFLINE_CAUSE + REQUEST_PAPER
    assert ACK_REQUEST == bytes.fromhex("1d7201")
    assert CLEAR_BUFFER == bytes.fromhex("10140801031401060208")


def test_a_printer_with_nothing_to_report_is_ready():
    status = parse_status(0x12, 0x12, 0x12)
    assert status == PrinterStatus()
    assert status.ready
    assert status.problems() == []


@pytest.mark.parametrize(
    ("answers", "flags", "problems"),
    [
        ((0x16, 0x12, 0x12), {"drawer_open"}, []),
        ((0x1A, 0x12, 0x12), {"offline"}, ["offline"]),
        ((0x1A, 0x16, 0x12), {"offline", "cover_open"}, ["cover open"]),
        ((0x1A, 0x32, 0x72), {"offline", "paper_out"}, ["paper out"]),
        ((0x12, 0x12, 0x72), {"paper_out"}, ["paper out"]),
        ((0x12, 0x32, 0x12), {"paper_out"}, ["paper out"]),  # stopped by paper end
        ((0x12, 0x12, 0x1E), {"paper_near_end"}, ["paper low"]),
        ((0x12, 0x12, 0x7E), {"paper_near_end", "paper_out"}, ["paper out"]),
        ((0x1A, 0x52, 0x12), {"offline", "error"}, ["error"]),
        ((0x12, 0x1A, 0x12), set(), []),  # paper fed by the FEED button: not a problem
        (
            (0x1E, 0x76, 0x7E),
            {"offline", "cover_open", "paper_near_end", "paper_out", "drawer_open", "error"},
            ["paper out", "cover open", "error"],
        ),
    ],
)
def test_each_status_bit_means_what_the_epson_manual_says(answers, flags, problems):
    status = parse_status(*answers)
    got = {name for name in FLAGS if getattr(status, name) != (name == "online")}
    got = {"offline" if name == "online" else name for name in got}
    assert got == flags
    assert status.problems() == problems
    assert status.ready == (not flags & {"offline", "cover_open", "paper_out", "error"})


def test_every_well_formed_answer_decodes_consistently():
    for printer, offline, paper in itertools.product(STATUS_BYTES, repeat=3):
        status = parse_status(printer, offline, paper)
        assert status.online == (not printer & 0x08)
        assert status.drawer_open == bool(printer & 0x04)
        assert status.cover_open == bool(offline & 0x04)
        assert status.error == bool(offline & 0x40)
        assert status.paper_near_end == bool(paper & 0x0C)
        assert status.paper_out == bool(paper & 0x60 or offline & 0x20)
        trouble = status.paper_out or status.cover_open or status.error
        assert status.ready == (status.online and not trouble)
        assert ("offline" in status.problems()) == (not status.online and not trouble)


def test_encoding_a_status_decodes_back_to_it():
    for values in itertools.product((False, True), repeat=len(FLAGS)):
        status = PrinterStatus(**dict(zip(FLAGS, values, strict=True)))
        assert parse_status(*encode_status(status)) == status


@pytest.mark.parametrize("position", range(3))
def test_a_byte_without_the_fixed_bits_is_nonsense(position):
    for byte in range(256):
        answers = [0x12, 0x12, 0x12]
        answers[position] = byte
        if byte in STATUS_BYTES:
            parse_status(*answers)
        else:
            with pytest.raises(DeviceAnsweredNonsense, match=f"0x{byte:02x}"):
                parse_status(*answers)


def test_ack_and_status_bytes_never_look_alike():
    for byte in range(256):
        assert is_ack(byte) == (not byte & 0x10)
        assert not (is_status_byte(byte) and is_ack(byte))
        assert is_valid_ack(byte) == (byte & 0x90 == 0)
    assert not ack_paper_out(0x00) and not ack_paper_out(0x03)
    assert ack_paper_out(0x0C) and ack_paper_out(0x04)


def test_problems_and_to_dict_speak_plain_words():
    status = PrinterStatus(online=False, cover_open=True, paper_near_end=True)
    assert status.problems() == ["cover open", "paper low"]
    assert status.to_dict() == {
        "online": False,
        "cover_open": True,
        "paper_near_end": True,
        "paper_out": False,
        "drawer_open": False,
        "error": False,
        "ready": False,
        "problems": ["cover open", "paper low"],
    }
    assert PrinterStatus(paper_near_end=True).ready
    error = PrinterNotReady(PrinterStatus(paper_out=True), "tcp://kitchen:9100")
    assert str(error) == "tcp://kitchen:9100 is not ready: paper out; nothing was sent"
    assert error.status.paper_out


def test_drawer_pulse_is_esc_p_with_pin_and_times_in_2ms_units():
    assert drawer_pulse() == bytes.fromhex("1b700032fa")
    assert drawer_pulse(pin=5, on_ms=50, off_ms=50) == bytes.fromhex("1b70011919")
    assert drawer_pulse(on_ms=2, off_ms=510) == bytes.fromhex("1b700001ff")
    for bad in ({"pin": 3}, {"on_ms": 0}, {"on_ms": 600}, {"off_ms": 1}):
        with pytest.raises(ValueError):
            drawer_pulse(**bad)


def test_realtime_drawer_pulse_is_dle_dc4_1_in_100ms_units():
    assert realtime_drawer_pulse() == bytes.fromhex("1014010001")
    assert realtime_drawer_pulse(pin=5, on_ms=800) == bytes.fromhex("1014010108")
    for bad in ({"pin": 0}, {"on_ms": 50}, {"on_ms": 900}):
        with pytest.raises(ValueError):
            realtime_drawer_pulse(**bad)


# -- peers that no printer emulator plays ----------------------------------------------------


class RawPeer:
    """A TCP server on 127.0.0.1:0 whose answers a test scripts.

    `answer(received)` gets every byte received so far on the connection and returns the
    bytes to send back now.
    """

    def __init__(self, answer) -> None:
        self.answer = answer
        self.received = b""
        self.tasks: list[asyncio.Task] = []

    async def _serve(self, reader, writer):
        self.tasks.append(asyncio.current_task())
        received = b""
        try:
            while data := await reader.read(4096):
                received += data
                self.received += data
                if reply := self.answer(received):
                    writer.write(reply)
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = parse_device_url(f"tcp://127.0.0.1:{port}")
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()


async def test_a_peer_answering_garbage_is_nonsense_and_gets_no_job():
    async with RawPeer(lambda received: b"HTTP/1.1 400 Bad Request\r\n\r\n") as peer:
        printer = EscPosPrinter(peer.url, timeout=2)
        with pytest.raises(DeviceAnsweredNonsense, match="0x48"):  # "H"
            await printer.status()
        with pytest.raises(DeviceAnsweredNonsense):
            await printer.print_job(b"RECEIPT\n", ack_timeout=2)
        assert b"RECEIPT" not in peer.received
        await printer.close()


async def test_a_peer_that_never_answers_times_out():
    async with RawPeer(lambda received: b"") as peer:
        printer = EscPosPrinter(peer.url, timeout=0.3)
        async with asyncio.timeout(30):  # bounds the test, asserts nothing about speed
            with pytest.raises(DeviceTimeout, match="did not answer"):
                await printer.status()
            with pytest.raises(DeviceUnreachable, match="did not answer"):  # nothing sent
                await printer.print_job(b"RECEIPT\n", ack_timeout=2)
            with pytest.raises(DeviceTimeout):
                await printer.kick_drawer()
        assert peer.received.count(REQUEST_PRINTER) == 3  # one status request each
        assert b"RECEIPT" not in peer.received
        await printer.close()
        await printer.close()


async def test_a_printer_that_answers_status_but_never_prints_times_out_the_job():
    # Answers each status request as a ready printer, and never acks (GS r 1).
    answered = 0

    def ready_printer(received: bytes) -> bytes:
        nonlocal answered
        asked = [
            received[i + 2] for i in range(len(received) - 2) if received[i : i + 2] == DLE_EOT
        ]
        new, answered = asked[answered:], len(asked)
        ready = encode_status(PrinterStatus())  # the answers to DLE EOT 1, 2 and 4
        return bytes(ready[{1: 0, 2: 1, 4: 2}[n]] for n in new)

    async with RawPeer(ready_printer) as peer:
        printer = EscPosPrinter(peer.url, timeout=2)
        seen: list[PrinterStatus] = []
        async with asyncio.timeout(30):
            with pytest.raises(DeviceTimeout, match="did not finish printing"):
                await printer.print_job(
                    b"RECEIPT\n", ack_timeout=0.5, poll_interval=0.1, on_status=seen.append
                )
        assert b"RECEIPT\n" + ACK_REQUEST in peer.received
        assert seen and all(status.ready for status in seen)
        await printer.close()


DLE_EOT = b"\x10\x04"


# -- against the network printer emulator ----------------------------------------------------


def receipt(*lines: str) -> bytes:
    """The ESC/POS bytes of a cut receipt with these lines, as python-escpos builds them."""
    dummy = Dummy(profile="TM-T88V")
    for line in lines:
        dummy.text(line + "\n")
    dummy.cut()
    return dummy.output


@pytest.fixture
async def emulator():
    async with NetworkPrinterEmulator() as emulator:
        yield emulator


@pytest.fixture
async def printer(emulator):
    printer = EscPosPrinter(parse_device_url(f"tcp://127.0.0.1:{emulator.port}"), timeout=5)
    yield printer
    await printer.close()


async def until(condition, what: str) -> None:
    """Wait for `condition()`, polling within a bounded number of tries."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_status_of_a_printer_with_nothing_to_report(printer):
    status = await printer.status()
    assert status == PrinterStatus()
    assert status.ready


@pytest.mark.parametrize(
    ("switch", "flag", "ready"),
    [
        ("paper_out", "paper_out", False),
        ("cover_open", "cover_open", False),
        ("paper_near_end", "paper_near_end", True),
        ("drawer_open", "drawer_open", True),
        ("error", "error", False),
    ],
)
async def test_each_switch_shows_in_the_status(emulator, printer, switch, flag, ready):
    getattr(emulator, switch)(True)
    status = await printer.status()
    assert getattr(status, flag)
    assert status.ready == ready
    assert status.online == ready  # a paused printer reports itself offline
    assert [name for name in FLAGS[1:] if getattr(status, name)] == [flag]
    getattr(emulator, switch)(False)
    assert await printer.status() == PrinterStatus()
    assert emulator.connections == 1  # one connection, reused


async def test_problems_name_the_cause_not_the_symptom(emulator, printer):
    emulator.cover_open(True)
    emulator.paper_near_end(True)
    assert (await printer.status()).problems() == ["cover open", "paper low"]


async def test_an_offline_printer_is_unreachable_and_comes_back_on_the_same_url(emulator, printer):
    assert (await printer.status()).ready
    emulator.go_offline()
    with pytest.raises(DeviceUnreachable, match="refused"):
        await printer.status()
    with pytest.raises(DeviceUnreachable):
        await printer.print_job(receipt("LOST"), ack_timeout=5)
    emulator.go_online()
    assert (await printer.status()).ready
    assert emulator.papers == []


async def test_a_connection_the_printer_closed_while_idle_is_reopened(emulator, printer):
    assert (await printer.status()).ready
    emulator.go_offline()  # drops the idle connection
    emulator.go_online()
    assert (await printer.status()).ready
    assert emulator.connections == 2


async def test_print_job_returns_once_the_printer_has_printed_it(emulator, printer):
    seen: list[PrinterStatus] = []
    await printer.print_job(receipt("Table 4", "1 Burger"), ack_timeout=10, on_status=seen.append)
    # GS r 1 comes after the cut: by the time it is answered, the paper is out
    assert [paper.text for paper in emulator.papers] == ["Table 4\n1 Burger"]
    assert emulator.papers[0].cut
    assert seen == [PrinterStatus()]  # the check before sending
    await printer.print_job(receipt("Table 5"), ack_timeout=10)
    assert [paper.text for paper in emulator.papers][1:] == ["Table 5"]
    assert emulator.connections == 1


async def test_paper_running_out_mid_job_pauses_it_until_paper_is_loaded(emulator, printer):
    emulator.slow(0.05)
    lines = [f"line {n:02d}" for n in range(1, 21)]
    seen: list[PrinterStatus] = []
    job = asyncio.ensure_future(
        printer.print_job(
            receipt(*lines), ack_timeout=60, poll_interval=0.05, on_status=seen.append
        )
    )
    await until(lambda: len(emulator.current.lines) >= 2, "the job started printing")
    emulator.paper_out(True)
    await until(lambda: any(s.paper_out for s in seen), "the driver saw the paper run out")
    assert not job.done()
    emulator.paper_out(False)  # paper loaded
    await asyncio.wait_for(job, 60)
    assert [paper.text for paper in emulator.papers] == ["\n".join(lines)]  # once, complete
    assert seen[0].ready and seen[-1].ready
    assert any(not s.ready for s in seen)


async def test_a_printer_not_ready_gets_nothing(emulator, printer):
    emulator.paper_out(True)
    with pytest.raises(PrinterNotReady, match="paper out; nothing was sent") as caught:
        await printer.print_job(receipt("NEVER SENT"), ack_timeout=5)
    assert caught.value.status.paper_out
    emulator.paper_out(False)
    await printer.print_job(receipt("Next"), ack_timeout=10)
    assert [paper.text for paper in emulator.papers] == ["Next"]
    assert b"NEVER SENT" not in emulator.received
    assert emulator.connections == 1  # not being ready is no connection error


async def test_a_connection_dropped_mid_job_is_connection_lost_partial(emulator, printer):
    emulator.drop_after(8)
    with pytest.raises(ConnectionLost) as caught:
        await printer.print_job(receipt("Table 9", "2 Fries", "1 Shake"), ack_timeout=10)
    assert caught.value.partial
    assert "may have printed in part" in str(caught.value)
    await printer.print_job(receipt("Table 10"), ack_timeout=10)  # a new connection
    assert emulator.connections == 2
    assert emulator.papers[-1].text == "Table 10"


async def test_a_job_not_printed_in_time_times_out(emulator, printer):
    seen: list[PrinterStatus] = []

    def cover_opens_as_the_job_starts(status):
        seen.append(status)
        emulator.cover_open(True)

    with pytest.raises(DeviceTimeout, match="did not finish printing"):
        await printer.print_job(
            receipt("Stuck"),
            ack_timeout=0.5,
            poll_interval=0.1,
            on_status=cover_opens_as_the_job_starts,
        )
    assert seen[0].ready and any(s.cover_open for s in seen[1:])
    assert emulator.papers == []


async def test_clear_buffer_takes_back_a_paused_job(emulator, printer):
    def paper_runs_out_as_the_job_starts(status):
        emulator.paper_out(True)

    with pytest.raises(DeviceTimeout):
        await printer.print_job(
            receipt("JOB A"), ack_timeout=0.3, on_status=paper_runs_out_as_the_job_starts
        )
    await printer.clear_buffer()
    emulator.paper_out(False)
    await printer.print_job(receipt("JOB B"), ack_timeout=10)
    assert [paper.text for paper in emulator.papers] == ["JOB B"]
    assert b"JOB A" not in emulator.received


async def test_without_clear_buffer_a_paused_job_prints_when_paper_is_loaded(emulator, printer):
    # The counterpart of the test above: the printer keeps what it received.
    with pytest.raises(DeviceTimeout):
        await printer.print_job(
            receipt("JOB A"), ack_timeout=0.3, on_status=lambda _: emulator.paper_out(True)
        )
    emulator.paper_out(False)
    await emulator.wait_for_papers(1, timeout=10)
    assert emulator.papers[0].text == "JOB A"


async def test_a_cancelled_job_leaves_no_stale_answer_behind(emulator, printer):
    job = asyncio.ensure_future(
        printer.print_job(
            receipt("A"), ack_timeout=30, on_status=lambda _: emulator.paper_out(True)
        )
    )
    await until(lambda: emulator.state["pending_bytes"] > 0, "the job reached the printer")
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    emulator.paper_out(False)
    await emulator.wait_for_papers(1, timeout=10)  # its ack goes to the closed connection
    assert (await printer.status()).ready
    await printer.print_job(receipt("B"), ack_timeout=10)
    assert [paper.text for paper in emulator.papers] == ["A", "B"]


async def test_kick_drawer_sends_a_pulse_in_order(emulator, printer):
    await printer.kick_drawer()
    await printer.kick_drawer(pin=5)
    assert emulator.pulses == [DrawerPulse(2, 100, 500), DrawerPulse(5, 100, 500)]
    assert (await printer.status()).drawer_open


async def test_kick_drawer_waits_for_the_job_in_flight(emulator, printer):
    emulator.slow(0.02)
    job = asyncio.ensure_future(printer.print_job(receipt(*"abcdefghij"), ack_timeout=30))
    await until(lambda: emulator.state["pending_bytes"] > 0 or emulator.current.lines, "job sent")
    await printer.kick_drawer()
    assert job.done()
    await job
    assert len(emulator.papers) == 1 and len(emulator.pulses) == 1
    assert emulator.received.index(b"\x1bp") > emulator.received.index(b"j\n")


async def test_kick_drawer_while_paper_is_out_pulses_at_once(emulator, printer):
    emulator.paper_out(True)
    await printer.kick_drawer()
    assert emulator.pulses == [DrawerPulse(2, 100, 100, realtime=True)]
    emulator.paper_out(False)  # nothing was left queued to open the drawer again later
    await printer.print_job(receipt("after"), ack_timeout=10)
    assert len(emulator.pulses) == 1


async def test_close_is_safe_twice_and_the_printer_reopens_on_use(emulator, printer):
    assert (await printer.status()).ready
    await printer.close()
    await printer.close()
    assert (await printer.status()).ready
    assert emulator.connections == 2


# -- the same driver over a serial line and a USB printer node --------------------------------


@pytest.fixture
async def serial_emulator():
    async with SerialPrinterEmulator() as emulator:
        yield emulator


async def test_a_serial_printer_answers_status_and_prints(serial_emulator):
    url = parse_device_url(f"serial://{serial_emulator.device_path}?baudrate=38400")
    printer = EscPosPrinter(url, timeout=5)
    try:
        assert (await printer.status()).ready
        serial_emulator.paper_near_end(True)
        serial_emulator.drawer_open(True)
        status = await printer.status()
        assert status.ready and status.paper_near_end and status.drawer_open
        await printer.print_job(receipt("Serial receipt", "Crème brûlée"), ack_timeout=10)
        assert serial_emulator.papers[0].text == "Serial receipt\nCrème brûlée"
        serial_emulator.cover_open(True)
        with pytest.raises(PrinterNotReady, match="cover open"):
            await printer.print_job(receipt("no"), ack_timeout=10)
    finally:
        await printer.close()


async def test_a_serial_printer_that_goes_away_is_connection_lost_then_unreachable(
    serial_emulator,
):
    printer = EscPosPrinter(parse_device_url(f"serial://{serial_emulator.device_path}"), timeout=2)
    try:
        assert (await printer.status()).ready
        await serial_emulator.close()  # the cable is pulled: the line hangs up
        with pytest.raises((ConnectionLost, DeviceUnreachable)):
            await printer.status()
        with pytest.raises(DeviceUnreachable):
            await printer.status()
    finally:
        await printer.close()


async def test_a_usb_printer_is_found_through_sysfs_and_prints(tmp_path, serial_emulator):
    # The sysfs tree is made up (see tests/test_transport.py); its node is the emulator's pty.
    sysfs = tmp_path / "sys"
    fake_usblp(sysfs, 0, "04b8", "0e15", serial_emulator.device_path.removeprefix("/dev/"))
    printer = EscPosPrinter(parse_device_url("usb://04b8:0e15"), timeout=5, sysfs=sysfs)
    try:
        await printer.print_job(receipt("USB receipt"), ack_timeout=10)
        await printer.kick_drawer()
        assert serial_emulator.papers[0].text == "USB receipt"
        assert serial_emulator.pulses == [DrawerPulse(2, 100, 500)]
    finally:
        await printer.close()
