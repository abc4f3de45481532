"""The device emulators, driven with raw bytes over real TCP sockets and real ptys.

No driver code here: the emulators are the independent check of the drivers, so these tests
speak ESC/POS themselves (built by python-escpos' Dummy printer) and read the raw answers.
"""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import AsyncIterator

import aiohttp
import pytest
from escpos.printer import Dummy
from PIL import Image, ImageDraw

from drivers.emulators import (
    NetworkPrinterEmulator,
)
from drivers.escpos.decoder import DrawerPulse
from tests.support.raw_escpos import ACK, STATUS, WAIT, connected, job, read

CLEAR = b"\x10\x14\x08\x01\x03\x14\x01\x06\x02\x08"


def fixed_bits_ok(byte: int) -> bool:
    return byte & 0x93 == 0x12  # bit0 = 0, bit1 = 1, bit4 = 1, bit7 = 0


@pytest.fixture
async def printer() -> AsyncIterator[NetworkPrinterEmulator]:
    emulator = NetworkPrinterEmulator()
    await emulator.start()
    yield emulator
    await emulator.close()


async def at_eof(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(100), WAIT) == b""
    except ConnectionResetError:
        return True


# -- network printer: printing ------------------------------------------------------------


async def test_a_receipt_sent_over_tcp_is_decoded(printer):
    logo = Image.new("1", (48, 16), 1)
    ImageDraw.Draw(logo).rectangle((4, 4, 43, 11), fill=0)
    p = Dummy(profile="TM-T88V")
    p.set(align="center", bold=True, double_height=True, double_width=True)
    p.text("CAFÉ POSEDGE\n")
    p.set(normal_textsize=True, bold=False, align="left")
    for line in ("Café crème   3.50", "Größe L      € 12", "Ñandú        1.00"):
        p.text(line + "\n")
    p.qr("https://posedge.example/r/B-042", native=True)
    p.barcode("4006381333931", "EAN13")
    p.image(logo)
    p.cashdraw(2)
    p.cut()
    async with connected(printer.port) as (_, writer):
        writer.write(p.output + b"\x10\x14\x01\x01\x02")  # and a real-time pulse on pin 5
        (paper,) = await printer.wait_for_papers(1, WAIT)
    assert paper.text.splitlines()[:4] == [
        "CAFÉ POSEDGE",
        "Café crème   3.50",
        "Größe L      € 12",
        "Ñandú        1.00",
    ]
    title = paper.lines[0]
    assert (title.align, title.bold, title.double_width, title.double_height) == (
        "center",
        True,
        True,
        True,
    )
    assert paper.qr_codes == ["https://posedge.example/r/B-042"]
    assert paper.barcodes == [("EAN13", "4006381333931")]
    assert paper.images == [(48, 16)]
    assert paper.cut and paper.unknown == []
    assert DrawerPulse(2, 100, 100) in printer.pulses
    assert DrawerPulse(5, 200, 200, realtime=True) in printer.pulses
    assert printer.received.startswith(p.output)


SWITCH_STATUS = {
    None: (0x12, 0x12, 0x12),
    "paper_out": (0x1A, 0x32, 0x72),
    "cover_open": (0x1A, 0x16, 0x12),
    "paper_near_end": (0x12, 0x12, 0x1E),
    "drawer_open": (0x16, 0x12, 0x12),
    "error": (0x1A, 0x52, 0x12),
}


@pytest.mark.parametrize("switch", list(SWITCH_STATUS))
async def test_dle_eot_answers_carry_the_exact_bits_of_each_switch(printer, switch):
    if switch is not None:
        getattr(printer, switch)(True)
    async with connected(printer.port) as (reader, writer):
        writer.write(STATUS)
        answer = await read(reader, 3)
        assert tuple(answer) == SWITCH_STATUS[switch]
        assert all(fixed_bits_ok(byte) for byte in answer)
        if switch is not None:
            getattr(printer, switch)(False)
            writer.write(STATUS)
            assert tuple(await read(reader, 3)) == SWITCH_STATUS[None]


async def test_gs_r_1_is_answered_only_after_the_paper_is_loaded(printer):
    printer.paper_out(True)
    async with connected(printer.port) as (reader, writer):
        writer.write(job("Order B-042", "1 Latte") + ACK + b"\x10\x04\x04")
        status = await read(reader, 1)  # had the ack been sent, it would come first
        assert status == b"\x72" and fixed_bits_ok(status[0])
        assert printer.papers == [] and printer.state["pending_bytes"] > 0
        writer.write(b"\x10\x04\x01")
        assert await read(reader, 1) == b"\x1a"  # still answered while paused
        printer.paper_out(False)
        ack = await read(reader, 1)
        assert ack == b"\x00" and not ack[0] & 0x10  # bit 4 clear: an ack, not a status
        (paper,) = await printer.wait_for_papers(1, WAIT)
    assert paper.text == "Order B-042\n1 Latte"


async def test_ack_reports_paper_near_end(printer):
    printer.paper_near_end(True)
    async with connected(printer.port) as (reader, writer):
        writer.write(job("low paper") + ACK)
        assert await read(reader, 1) == b"\x03"


async def test_acks_come_back_in_order_on_their_own_connections(printer):
    async with (
        connected(printer.port) as (reader_a, writer_a),
        connected(printer.port) as (reader_b, writer_b),
    ):
        writer_a.write(job("job A") + ACK)
        assert await read(reader_a, 1) == b"\x00"
        writer_b.write(job("job B") + ACK + job("job C") + ACK)
        assert await read(reader_b, 2) == b"\x00\x00"
    assert [paper.text for paper in printer.papers] == ["job A", "job B", "job C"]
    assert printer.connections == 2


async def test_paper_out_mid_job_pauses_and_the_job_completes_after(printer):
    lines = [f"line {n:02d}" for n in range(4)]
    printer.slow(0.2)  # a line every 0.2 s: time enough to pull the paper after the first
    async with connected(printer.port) as (reader, writer):
        writer.write(job(*lines, cut=False) + b"\x1dV\x00" + ACK)
        for _ in range(500):  # bounded: 5 s at most
            if printer.current.lines:
                break
            await asyncio.sleep(0.01)
        printer.paper_out(True)
        writer.write(b"\x10\x04\x04")
        assert await read(reader, 1) == b"\x72"  # no ack before the status: still paused
        assert [line.text for line in printer.current.lines] == lines[:1]
        printer.paper_out(False)
        assert await read(reader, 1) == b"\x00"
    assert printer.papers[0].text == "\n".join(lines)


async def test_slow_printer_answers_status_before_the_ack(printer):
    printer.slow(0.05)  # five lines and the feed before the cut: over half a second
    async with connected(printer.port) as (reader, writer):
        writer.write(job(*(f"slow {n}" for n in range(5))) + ACK + b"\x10\x04\x01")
        answers = await read(reader, 2)
    assert answers == b"\x12\x00"  # status at once, ack once printed
    assert printer.state["slow"] == 0.05


# -- network printer: failures ------------------------------------------------------------


async def test_drop_after_closes_the_connection_and_loses_the_unprocessed_job(printer):
    printer.paper_out(True)  # nothing gets processed before the drop
    printer.drop_after(40)
    async with connected(printer.port) as (reader, writer):
        writer.write(job("lost " * 20))
        assert await at_eof(reader)
    assert printer.state["drop_after"] is None  # it happens once
    printer.paper_out(False)
    async with connected(printer.port) as (reader, writer):
        writer.write(job("reprint") + ACK)
        assert await read(reader, 1) == b"\x00"
    assert [paper.text for paper in printer.papers] == ["reprint"]
    assert printer.connections == 2


async def test_a_job_the_client_leaves_behind_still_prints(printer):
    printer.paper_out(True)
    async with connected(printer.port) as (reader, writer):
        writer.write(job("left behind") + ACK)
        writer.write(b"\x10\x04\x01")
        await read(reader, 1)  # the job is in the printer
    printer.paper_out(False)
    (paper,) = await printer.wait_for_papers(1, WAIT)
    assert paper.text == "left behind"  # which is why a driver clears before failing over


async def test_clear_buffer_discards_a_paused_job(printer):
    printer.paper_out(True)
    async with connected(printer.port) as (reader, writer):
        writer.write(job("stuck") + ACK)
        writer.write(CLEAR)
        assert await read(reader, 3) == b"\x37\x25\x00"  # Epson's clear response
        assert printer.state["pending_bytes"] == 0
        printer.paper_out(False)
        writer.write(job("after clear") + ACK)
        assert await read(reader, 1) == b"\x00"  # one ack: the stuck job's never comes
    assert [paper.text for paper in printer.papers] == ["after clear"]


async def test_offline_refuses_connections_and_online_listens_on_the_same_port(printer):
    port = printer.port
    async with connected(port) as (reader, writer):
        printer.go_offline()
        assert await at_eof(reader)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
    assert printer.state["online"] is False
    printer.go_online()
    assert printer.port == port
    async with connected(port) as (reader, writer):
        writer.write(STATUS)
        assert await read(reader, 3) == b"\x12\x12\x12"


async def test_garbage_never_stops_the_printer(printer):
    garbage = random.Random(4).randbytes(20_000)
    async with connected(printer.port) as (reader, writer):
        for start in range(0, len(garbage), 997):
            writer.write(garbage[start : start + 997])
        writer.write(b"\x1b\x01\x01" + CLEAR)  # throw away whatever half command is left
        answers = b""
        for _ in range(1000):  # the garbage's own status answers come first (bounded)
            answers += await asyncio.wait_for(reader.read(4096), WAIT)
            if answers.endswith(b"\x37\x25\x00"):
                break
        assert answers.endswith(b"\x37\x25\x00")
    async with connected(printer.port) as (reader, writer):
        writer.write(b"\x1b@" + job("still alive") + ACK)
        assert await read(reader, 1) == b"\x00"
    assert printer.papers[-1].text.endswith("still alive")
    assert printer.state["pending_bytes"] == 0


async def test_unknown_commands_are_recorded_on_the_paper(printer):
    async with connected(printer.port) as (reader, writer):
        writer.write(b"\x1b\x01\x01\x1d\x99" + job("odd") + ACK)
        await read(reader, 1)
    assert printer.papers[0].unknown == [b"\x1b\x01", b"\x01", b"\x1d\x99"]


async def test_kick_pulses_open_the_drawer_sensor(printer):
    async with connected(printer.port) as (reader, writer):
        writer.write(b"\x1bp\x00\x32\xfa" + ACK + b"\x10\x04\x01")
        assert await read(reader, 2) == b"\x12\x00"  # real-time status first: not kicked yet
        writer.write(b"\x10\x04\x01")
        assert await read(reader, 1) == b"\x16"  # after the ack, pin 3 reads HIGH
    assert printer.pulses == [DrawerPulse(2, 100, 500)]
    printer.drawer_open(False)
    assert printer.status_byte(1) == 0x12


# -- network printer: files, control server, lifecycle ------------------------------------


async def test_out_dir_gets_numbered_text_and_png(tmp_path):
    async with NetworkPrinterEmulator(out_dir=tmp_path) as emulator:
        async with connected(emulator.port) as (reader, writer):
            writer.write(job("first") + job("Größe €") + ACK)
            await read(reader, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "0001.png",
        "0001.txt",
        "0002.png",
        "0002.txt",
    ]
    assert (tmp_path / "0002.txt").read_text(encoding="utf-8") == "Größe €\n"
    assert Image.open(tmp_path / "0001.png").width == 576
    async with NetworkPrinterEmulator(out_dir=tmp_path) as emulator:  # numbering goes on
        async with connected(emulator.port) as (reader, writer):
            writer.write(job("third") + ACK)
            await read(reader, 1)
    assert (tmp_path / "0003.txt").read_text(encoding="utf-8") == "third\n"


async def test_control_server_state_papers_and_page():
    async with (
        NetworkPrinterEmulator(control_port=0) as emulator,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as http,
    ):
        base = f"http://127.0.0.1:{emulator.control_port}"
        async with http.get(f"{base}/state") as response:
            state = await response.json()
        assert state["paper_out"] is False and state["online"] is True
        async with http.post(f"{base}/state", json={"paper_out": True, "slow": 0}) as response:
            assert response.status == 200
            assert (await response.json())["paper_out"] is True
        assert emulator.status_byte(4) == 0x72
        async with http.post(f"{base}/state", json={"paper_out": False, "jam": 1}) as response:
            assert response.status == 400
            assert "jam" in (await response.json())["detail"]
        assert emulator.status_byte(4) == 0x72  # nothing applied from a bad request
        async with http.post(f"{base}/state", json={"paper_out": False}):
            pass
        async with connected(emulator.port) as (reader, writer):
            writer.write(job("on the page") + ACK)
            await read(reader, 1)
        async with http.get(f"{base}/papers") as response:
            assert await response.json() == ["on the page"]
        async with http.get(f"{base}/papers/0.png") as response:
            assert response.content_type == "image/png"
            assert Image.open(io.BytesIO(await response.read())).width == 576
        async with http.get(f"{base}/papers/1.png") as response:
            assert response.status == 404
        async with http.get(f"{base}/") as response:
            page = await response.text()
        assert "/papers/" in page and "setInterval(refresh, 2000)" in page
        assert "http://" not in page and "https://" not in page and "//cdn" not in page


async def test_close_is_safe_twice_and_leaves_no_task():
    emulator = NetworkPrinterEmulator(control_port=0)
    await emulator.start()
    port = emulator.port
    await emulator.close()
    await emulator.close()
    assert asyncio.all_tasks() == {asyncio.current_task()}
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)


async def test_wait_for_papers_times_out_saying_what_is_in_the_printer(printer):
    async with connected(printer.port) as (reader, writer):
        writer.write(job("not cut", cut=False) + ACK)
        await read(reader, 1)
    with pytest.raises(TimeoutError, match="not cut"):
        await printer.wait_for_papers(1, 0.05)
