"""ESC/POS status bytes, acknowledgements and drawer pulses, as Epson's manual defines them.
Pure logic."""

import itertools

import pytest

from drivers.errors import DeviceAnsweredNonsense, PrinterNotReady
from drivers.escpos.status import (
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
from tests.support.raw_escpos import FLAGS

STATUS_BYTES = [b for b in range(256) if b & 0x93 == 0x12]  # the 16 well-formed answers


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
