"""The printer driver against real sockets.

The driver is tested against the network printer emulator (drivers/emulators), and against
tiny raw TCP servers in this file for peers no printer emulator plays: one that answers
garbage, one that never answers.
"""

import asyncio

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
from drivers.escpos.printout import DrawerPulse
from drivers.escpos.status import (
    ACK_REQUEST,
    REQUEST_PRINTER,
    PrinterStatus,
    encode_status,
)
from drivers.printer import EscPosPrinter
from tests.support.device_ends import fake_usblp
from tests.support.raw_escpos import FLAGS
from tests.support.tcp_peer import RawPeer

# -- peers that no printer emulator plays ----------------------------------------------------


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
    # The sysfs tree is made up (see tests/support/device_ends.py); its node is the
    # emulator's pty.
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
