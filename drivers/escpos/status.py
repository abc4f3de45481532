"""ESC/POS status: the real-time queries, their answers, the processed-in-order ack.

Pure: builds request bytes and decodes reply bytes; the printer driver does the I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from drivers.errors import DeviceAnsweredNonsense

REQUEST_PRINTER = b"\x10\x04\x01"  # DLE EOT 1: drawer pin 3, offline
REQUEST_OFFLINE_CAUSE = b"\x10\x04\x02"  # DLE EOT 2: cover open, paper end stop, error
REQUEST_PAPER = b"\x10\x04\x04"  # DLE EOT 4: paper roll near end, out
REQUEST_ALL = REQUEST_PRINTER + REQUEST_OFFLINE_CAUSE + REQUEST_PAPER
ACK_REQUEST = b"\x1d\x72\x01"  # GS r 1: answered once everything before it is printed
CLEAR_BUFFER = b"\x10\x14\x08\x01\x03\x14\x01\x06\x02\x08"  # DLE DC4 8: discard unprocessed

# Every DLE EOT answer has bit0=0, bit1=1, bit4=1, bit7=0; the ack has bit4=0 and bit7=0.
_STATUS_FIXED_MASK = 0x93
_STATUS_FIXED_VALUE = 0x12
_ACK_FIXED_MASK = 0x90

_DRAWER_PINS = {2: 0, 5: 1}


@dataclass(frozen=True)
class PrinterStatus:
    """What a printer reported about itself (DLE EOT 1, 2 and 4)."""

    online: bool = True
    cover_open: bool = False
    paper_near_end: bool = False
    paper_out: bool = False
    drawer_open: bool = False
    error: bool = False

    @property
    def ready(self) -> bool:
        """True when the printer can print now (paper low still prints)."""
        return self.online and not (self.cover_open or self.paper_out or self.error)

    def problems(self) -> list[str]:
        """What needs attention, in plain words; empty when all is well."""
        found = []
        if self.paper_out:
            found.append("paper out")
        if self.cover_open:
            found.append("cover open")
        if self.error:
            found.append("error")
        # A printer goes offline because of the causes above; name "offline" only when
        # nothing else explains it, so an operator reads the cause, not the symptom.
        if not self.online and not found:
            found.append("offline")
        if self.paper_near_end and not self.paper_out:
            found.append("paper low")
        return found

    def to_dict(self) -> dict[str, object]:
        """The flags plus `ready` and `problems`, for JSON."""
        return {**asdict(self), "ready": self.ready, "problems": self.problems()}


def is_status_byte(byte: int) -> bool:
    """True when `byte` has the fixed bits of a DLE EOT answer."""
    return byte & _STATUS_FIXED_MASK == _STATUS_FIXED_VALUE


def is_ack(byte: int) -> bool:
    """True when `byte` is a GS r 1 answer rather than a DLE EOT answer (bit4 is 0)."""
    return byte & 0x10 == 0


def is_valid_ack(byte: int) -> bool:
    """True when `byte` is a well-formed GS r 1 answer (bit4 and bit7 are 0)."""
    return byte & _ACK_FIXED_MASK == 0


def ack_paper_out(byte: int) -> bool:
    """True when a GS r 1 answer reports the paper end sensor (bits 2-3)."""
    return byte & 0x0C != 0


def parse_status(printer_byte: int, offline_byte: int, paper_byte: int) -> PrinterStatus:
    """Decode the answers to DLE EOT 1, 2 and 4; raises DeviceAnsweredNonsense."""
    for name, byte in (
        ("printer status", printer_byte),
        ("offline cause", offline_byte),
        ("paper sensor", paper_byte),
    ):
        if not 0 <= byte <= 0xFF or not is_status_byte(byte):
            raise DeviceAnsweredNonsense(
                f"the {name} answer 0x{byte:02x} is not an ESC/POS status byte "
                "(is this an ESC/POS printer, on the right port and baud rate?)"
            )
    return PrinterStatus(
        online=not printer_byte & 0x08,
        cover_open=bool(offline_byte & 0x04),
        paper_near_end=bool(paper_byte & 0x0C),
        paper_out=bool(paper_byte & 0x60) or bool(offline_byte & 0x20),
        drawer_open=bool(printer_byte & 0x04),
        error=bool(offline_byte & 0x40),
    )


def encode_status(status: PrinterStatus) -> bytes:
    """The three bytes a printer in `status` answers to REQUEST_ALL (for emulators, tests)."""
    printer = _STATUS_FIXED_VALUE | (0x04 if status.drawer_open else 0)
    printer |= 0 if status.online else 0x08
    offline = _STATUS_FIXED_VALUE | (0x04 if status.cover_open else 0)
    offline |= (0x20 if status.paper_out else 0) | (0x40 if status.error else 0)
    paper = _STATUS_FIXED_VALUE | (0x0C if status.paper_near_end else 0)
    paper |= 0x60 if status.paper_out else 0
    return bytes((printer, offline, paper))


def drawer_pulse(pin: int = 2, on_ms: int = 100, off_ms: int = 500) -> bytes:
    """ESC p: a drawer kick pulse on connector pin 2 or 5, processed in order."""
    if pin not in _DRAWER_PINS:
        raise ValueError(f"drawer pin must be 2 or 5, not {pin!r}")
    for name, ms in (("on_ms", on_ms), ("off_ms", off_ms)):
        if not 2 <= ms <= 510:
            raise ValueError(f"{name} must be from 2 to 510 ms, not {ms!r}")
    return bytes((0x1B, 0x70, _DRAWER_PINS[pin], on_ms // 2, off_ms // 2))


def realtime_drawer_pulse(pin: int = 2, on_ms: int = 100) -> bytes:
    """DLE DC4 1: a drawer pulse the printer fires at once, even while offline or paused."""
    if pin not in _DRAWER_PINS:
        raise ValueError(f"drawer pin must be 2 or 5, not {pin!r}")
    if not 100 <= on_ms <= 800:
        raise ValueError(f"on_ms must be from 100 to 800 ms, not {on_ms!r}")
    return bytes((0x10, 0x14, 0x01, _DRAWER_PINS[pin], on_ms // 100))
