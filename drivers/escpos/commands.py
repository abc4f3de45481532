"""The ESC/POS command table: where each command ends, and the real-time commands (pure).

`parse_command` only measures: it names the command at the front of a buffer and says how
long it is (None while it is incomplete). What a command does is `escpos_decoder`'s business.
"""

from __future__ import annotations

from collections.abc import Iterator

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10

# ESC t n -> Python codec; the first twelve are the contract's, the rest are Epson's TM-T88V list.
CODE_PAGES: dict[int, str] = {
    0: "cp437",
    2: "cp850",
    3: "cp860",
    4: "cp863",
    5: "cp865",
    13: "cp857",
    14: "cp737",
    15: "iso8859_7",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
    32: "cp720",
    33: "cp775",
    34: "cp855",
    35: "cp861",
    36: "cp862",
    37: "cp864",
    38: "cp869",
    39: "iso8859_2",
    40: "iso8859_15",
    45: "cp1250",
    46: "cp1251",
    47: "cp1253",
    48: "cp1254",
    49: "cp1255",
    50: "cp1256",
    51: "cp1257",
    52: "cp1258",
    53: "kz1048",
}

# A declared length beyond this is garbage, not an image: refuse it rather than swallow
# megabytes of what follows while waiting for data that will never come.
MAX_COMMAND = 4 * 1024 * 1024

_SINGLE = {0x0A: "LF", 0x0D: "CR", 0x09: "HT", 0x0C: "FF", 0x18: "CAN"}

# Total lengths of the fixed-size commands, by their first two bytes.
_FIXED: dict[bytes, int] = {
    **dict.fromkeys([b"\x1b@", b"\x1b2", b"\x1b<", b"\x1bL", b"\x1bS", b"\x1bi", b"\x1bm"], 2),
    **dict.fromkeys([b"\x1b\x0c", b"\x1bv", b"\x1d:", b"\x1dc", b"\x1c&", b"\x1c."], 2),
    **dict.fromkeys([bytes([ESC, c]) for c in b" !%-3=?EGJKMRTUVadefrtu{"], 3),
    **dict.fromkeys([bytes([GS, c]) for c in b"!/BHITabfhrw"], 3),
    **dict.fromkeys([bytes([FS, c]) for c in b"!-CW"], 3),
    **dict.fromkeys([b"\x10\x04", b"\x10\x05"], 3),
    **dict.fromkeys([b"\x1bB", b"\x1bc", b"\x1b$", b"\x1b\\", b"\x1cS", b"\x1cp"], 4),
    **dict.fromkeys([b"\x1d$", b"\x1dL", b"\x1dP", b"\x1dW", b"\x1d\\"], 4),
    **dict.fromkeys([b"\x1bp", b"\x1b7", b"\x1d^"], 5),
    b"\x1bW": 10,
}

# The commands whose answer (or action) belongs to the printer's I/O side, not to the paper.
CONTROL = {"DLE EOT", "DLE ENQ", "DLE DC4", "GS r", "GS I", "GS a", "ESC u", "ESC v"}

BARCODES_A = ("UPC-A", "UPC-E", "EAN13", "EAN8", "CODE39", "ITF", "CODABAR")
BARCODES_B = (*BARCODES_A, "CODE93", "CODE128", "GS1-128", "GS1 DATABAR OMNIDIRECTIONAL")
BARCODES_B += ("GS1 DATABAR TRUNCATED", "GS1 DATABAR LIMITED", "GS1 DATABAR EXPANDED", "CODE128")
SYMBOLS_2D = {48: "PDF417", 49: "QR", 50: "MAXICODE", 51: "GS1 DATABAR", 52: "COMPOSITE"}
SYMBOLS_2D |= {53: "AZTEC", 54: "DATAMATRIX"}

# Known commands that change nothing the decoder models (spacing, page mode, kanji, ...).
IGNORED = {"CR", "FF", "CAN", "GS b", "GS L", "GS P", "GS W", "GS T", "GS ^", "GS :", "GS c"}
IGNORED |= {"GS *", "GS /", "GS $", "GS \\", "ESC \x0c"}
IGNORED |= {f"ESC {c}" for c in " 23<LS=?%&RTUVcefKr{B7W"}
IGNORED_PREFIXES = ("FS ", "ESC (", "GS ( ")

CLEAR_BUFFER = b"\x10\x14\x08\x01\x03\x14\x01\x06\x02\x08"


def _name(prefix: int, second: int) -> str:
    head = {ESC: "ESC", GS: "GS", FS: "FS", DLE: "DLE"}[prefix]
    if prefix == DLE:
        return {0x04: "DLE EOT", 0x05: "DLE ENQ", 0x14: "DLE DC4"}.get(second, "unknown")
    return f"{head} {chr(second)}"


def parse_command(buf: bytes | bytearray, start: int = 0) -> tuple[str, int] | None:
    """Name and end offset of the command at `buf[start]`, or None if more bytes are needed."""
    size = len(buf)
    if start >= size:
        return None
    first = buf[start]
    if first >= 0x20:
        end = start + 1
        while end < size and buf[end] >= 0x20:
            end += 1
        return "text", end
    if first not in (ESC, GS, FS, DLE):
        return _SINGLE.get(first, "unknown"), start + 1
    if start + 1 >= size:
        return None
    second = buf[start + 1]
    fixed = _FIXED.get(bytes((first, second)))
    if fixed is not None:
        name = _name(first, second)
        return (name, start + fixed) if start + fixed <= size else None
    measured = _measure(buf, start, first, second)
    if measured is None:
        return None
    name, length = measured
    if length > MAX_COMMAND:
        return "unknown", start + 2
    return (name, start + length) if start + length <= size else None


def _byte(buf: bytes | bytearray, index: int) -> int | None:
    return buf[index] if index < len(buf) else None


def _measure(buf: bytes | bytearray, i: int, first: int, second: int) -> tuple[str, int] | None:
    """Length of a variable-size command; ("unknown", 2) for anything not in the table."""
    key = bytes((first, second))
    if key in (b"\x1d(", b"\x1c(", b"\x1b("):
        if i + 5 > len(buf):
            return None
        name = f"{_name(first, second)} {chr(buf[i + 2])}"
        return name, 5 + buf[i + 3] + buf[i + 4] * 256
    arg = _byte(buf, i + 2)
    if arg is None:
        return None
    if key == b"\x1dV":  # cut: function A has no argument, B/C/D one
        if arg in (0, 1, 48, 49):
            return "GS V", 3
        return ("GS V", 4) if arg in (65, 66, 97, 98, 103, 104) else ("unknown", 3)
    if key == b"\x1dk":
        return _barcode_length(buf, i, arg)
    if key == b"\x1dv":
        if arg != 0x30:
            return "unknown", 2
        if i + 8 > len(buf):
            return None
        width = buf[i + 4] + buf[i + 5] * 256
        height = buf[i + 6] + buf[i + 7] * 256
        return "GS v 0", 8 + width * height
    if key == b"\x1d8":
        if arg != ord("L"):
            return "unknown", 3
        if i + 7 > len(buf):
            return None
        return "GS 8 L", 7 + int.from_bytes(buf[i + 3 : i + 7], "little")
    if key == b"\x1d*":
        rows = _byte(buf, i + 3)
        return None if rows is None else ("GS *", 4 + arg * rows * 8)
    if key == b"\x1b*":
        per_column = {0: 1, 1: 1, 32: 3, 33: 3}.get(arg)
        if per_column is None:
            return "unknown", 3
        if i + 5 > len(buf):
            return None
        return "ESC *", 5 + (buf[i + 3] + buf[i + 4] * 256) * per_column
    if key == b"\x1bD":  # tab stops: up to 32 values, then NUL
        return _until_nul(buf, i + 2, 33, "ESC D", i)
    if key == b"\x1b&":
        return _user_chars_length(buf, i)
    if key == b"\x10\x14":
        length = {1: 5, 2: 5, 3: 8, 7: 4, 8: 10}.get(arg)
        return ("DLE DC4", length) if length else ("unknown", 3)
    return "unknown", 2


def _until_nul(buf: bytes | bytearray, begin: int, limit: int, name: str, i: int):
    end = buf.find(b"\x00", begin, begin + limit)
    if end >= 0:
        return name, end + 1 - i
    return None if len(buf) < begin + limit else ("unknown", begin - i)


def _barcode_length(buf: bytes | bytearray, i: int, kind: int) -> tuple[str, int] | None:
    if kind <= 6:  # function A: data up to NUL
        return _until_nul(buf, i + 3, 256, "GS k", i)
    if 65 <= kind <= 79:  # function B: a length byte
        count = _byte(buf, i + 3)
        return None if count is None else ("GS k", 4 + count)
    return "unknown", 3


def _user_chars_length(buf: bytes | bytearray, i: int) -> tuple[str, int] | None:
    """ESC & y c1 c2 [x d1...d(y*x)]...: one (x, data) group per character c1..c2."""
    if i + 5 > len(buf):
        return None
    rows, c1, c2 = buf[i + 2], buf[i + 3], buf[i + 4]
    if not 1 <= rows <= 3 or not 32 <= c1 <= c2 <= 126:
        return "unknown", 2
    pos = i + 5
    for _ in range(c2 - c1 + 1):
        columns = _byte(buf, pos)
        if columns is None:
            return None
        pos += 1 + rows * columns
    return "ESC &", pos - i


class RealtimeScanner:
    """Finds real-time commands anywhere in one connection's byte stream.

    A printer acts on DLE EOT, DLE ENQ and DLE DC4 as the bytes arrive, even inside another
    command's data (Epson: "the data will be also processed as the Real-time command"); the
    same bytes still go to the receive buffer, where in-order processing ignores them.
    """

    def __init__(self) -> None:
        self._held = b""

    def scan(self, data: bytes) -> Iterator[tuple[bool, bytes]]:
        """Yield (is_realtime, bytes) pieces in order; holds back a trailing partial command."""
        buf = self._held + data
        self._held = b""
        plain_from = 0
        i = buf.find(DLE)
        while i >= 0:
            length = realtime_length(buf, i)
            if length < 0:  # could still become a real-time command: wait for more
                self._held = buf[i:]
                buf = buf[:i]
                break
            if length > 0:
                if i > plain_from:
                    yield False, buf[plain_from:i]
                yield True, buf[i : i + length]
                plain_from = i + length
                i = buf.find(DLE, plain_from)
            else:
                i = buf.find(DLE, i + 1)
        if plain_from < len(buf):
            yield False, buf[plain_from:]


_REALTIME_SHAPES: list[tuple[bytes, ...]] = [
    (b"\x10", b"\x04", b"\x01\x02\x03\x04"),
    (b"\x10", b"\x05", b"\x01\x02\x03\x04"),
    (b"\x10", b"\x14", b"\x01", b"\x00\x01", bytes(range(1, 9))),
    tuple(CLEAR_BUFFER[k : k + 1] for k in range(len(CLEAR_BUFFER))),
]


def realtime_length(buf: bytes, i: int) -> int:
    """Length of the real-time command at buf[i]: >0 found, 0 none, -1 incomplete."""
    incomplete = False
    for shape in _REALTIME_SHAPES:
        for offset, allowed in enumerate(shape):
            if i + offset >= len(buf):
                incomplete = True
                break
            if buf[i + offset] not in allowed:
                break
        else:
            return len(shape)
    return -1 if incomplete else 0


def columns_to_rows(data: bytes, columns: int, depth: int) -> bytes:
    """Turn ESC * column data (depth bytes per column, top bit first) into raster rows."""
    height, row_len = depth * 8, (columns + 7) // 8
    out = bytearray(row_len * height)
    for column in range(columns):
        for k in range(depth):
            byte = data[column * depth + k]
            for bit in range(8):
                if byte & (0x80 >> bit):
                    out[(k * 8 + bit) * row_len + column // 8] |= 0x80 >> (column % 8)
    return bytes(out)
