"""Device addresses as URLs: tcp://, serial://, usb:// and file://.

Pure parsing and validation; nothing here opens a device.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from drivers.errors import BadDeviceUrl

DEFAULT_TCP_PORT = 9100
SCHEMES = ("tcp", "serial", "usb", "file")

_BYTESIZES = (5, 6, 7, 8)
_PARITIES = ("N", "E", "O", "M", "S")
_STOPBITS = {"1": 1, "1.5": 1.5, "2": 2}
_FLAGS = {"0": False, "1": True, "false": False, "true": True, "no": False, "yes": True}
_USB_ID = re.compile(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})")
_EXAMPLES = {
    "tcp": "tcp://10.0.0.31:9100",
    "serial": "serial:///dev/ttyUSB0?baudrate=19200",
    "usb": "usb://04b8:0e15",
    "file": "file:///dev/usb/lp0",
}


@dataclass(frozen=True)
class SerialSettings:
    """Line settings of a serial port (pyserial's names and values)."""

    baudrate: int = 19200
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    rtscts: bool = False
    xonxoff: bool = False


@dataclass(frozen=True)
class DeviceUrl:
    """A parsed device address; `text` is the URL as written."""

    text: str
    scheme: str
    host: str | None = None
    port: int | None = None
    path: str | None = None
    serial: SerialSettings | None = None
    vendor_id: int | None = None
    product_id: int | None = None

    def __str__(self) -> str:
        return self.text


def parse_device_url(text: str) -> DeviceUrl:
    """Parse a device URL; raises BadDeviceUrl naming the part that is wrong."""
    if not isinstance(text, str):
        raise BadDeviceUrl(repr(text), "a device URL must be a string")
    if text != text.strip() or not text:
        raise BadDeviceUrl(text, "empty, or spaces around the URL")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        raise BadDeviceUrl(text, "spaces or control characters inside the URL")
    if "://" not in text:
        raise BadDeviceUrl(text, f"not scheme://address; e.g. {_EXAMPLES['tcp']}")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise BadDeviceUrl(text, str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise BadDeviceUrl(
            text, f"unknown scheme {parts.scheme!r}; use one of {', '.join(SCHEMES)}"
        )
    if parts.fragment or text.endswith("#"):
        raise BadDeviceUrl(text, "a device URL has no #fragment")
    if scheme == "tcp":
        return _tcp(text, parts)
    if scheme == "serial":
        return _serial(text, parts)
    if scheme == "usb":
        return _usb(text, parts)
    return _file(text, parts)


def _tcp(text: str, parts) -> DeviceUrl:
    if parts.path not in ("", "/"):
        raise BadDeviceUrl(text, f"a tcp URL has no path ({parts.path!r}); e.g. {_EXAMPLES['tcp']}")
    if parts.query or text.endswith("?"):
        raise BadDeviceUrl(text, "a tcp URL takes no ?parameters")
    if "@" in parts.netloc:
        raise BadDeviceUrl(text, "a tcp URL takes no user or password")
    host = parts.hostname
    if not host:
        raise BadDeviceUrl(text, f"no host; e.g. {_EXAMPLES['tcp']}")
    try:
        port = parts.port
    except ValueError:
        port_text = parts.netloc.rpartition(":")[2]
        raise BadDeviceUrl(text, f"port {port_text!r} is not a number from 1 to 65535") from None
    if port is None:
        if parts.netloc.endswith(":"):
            raise BadDeviceUrl(text, "empty port after ':'")
        port = DEFAULT_TCP_PORT
    if port == 0:
        raise BadDeviceUrl(text, "port 0 is not a printer's port; use 1 to 65535 (usually 9100)")
    return DeviceUrl(text, "tcp", host=host, port=port)


def _device_path(text: str, parts, example: str) -> str:
    if parts.netloc:
        raise BadDeviceUrl(
            text, f"the device path must start right after '//' with '/' (e.g. {example})"
        )
    path = parts.path
    if not path.startswith("/") or path == "/":
        raise BadDeviceUrl(text, f"no device path; e.g. {example}")
    if path.endswith("/"):
        raise BadDeviceUrl(text, f"device path {path!r} names a directory")
    return path


def _serial(text: str, parts) -> DeviceUrl:
    path = _device_path(text, parts, _EXAMPLES["serial"])
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise BadDeviceUrl(text, f"malformed parameters {parts.query!r}") from None
    values: dict[str, str] = {}
    for key, value in pairs:
        if key in values:
            raise BadDeviceUrl(text, f"parameter {key!r} given twice")
        values[key] = value
    fields = {}
    for key, value in values.items():
        fields[key] = _serial_value(text, key, value)
    return DeviceUrl(text, "serial", path=path, serial=SerialSettings(**fields))


def _serial_value(text: str, key: str, value: str) -> object:
    if key == "baudrate":
        if not value.isdigit() or not 50 <= int(value) <= 4_000_000:
            raise BadDeviceUrl(text, f"baudrate {value!r} is not a number from 50 to 4000000")
        return int(value)
    if key == "bytesize":
        if not value.isdigit() or int(value) not in _BYTESIZES:
            raise BadDeviceUrl(text, f"bytesize {value!r} is not one of 5, 6, 7, 8")
        return int(value)
    if key == "parity":
        if value.upper() not in _PARITIES:
            raise BadDeviceUrl(text, f"parity {value!r} is not one of N, E, O, M, S")
        return value.upper()
    if key == "stopbits":
        if value not in _STOPBITS:
            raise BadDeviceUrl(text, f"stopbits {value!r} is not one of 1, 1.5, 2")
        return _STOPBITS[value]
    if key in ("rtscts", "xonxoff"):
        if value.lower() not in _FLAGS:
            raise BadDeviceUrl(text, f"{key} {value!r} is not 0 or 1")
        return _FLAGS[value.lower()]
    known = "baudrate, bytesize, parity, stopbits, rtscts, xonxoff"
    raise BadDeviceUrl(text, f"unknown parameter {key!r}; known: {known}")


def _usb(text: str, parts) -> DeviceUrl:
    if parts.path or parts.query or text.endswith("?"):
        raise BadDeviceUrl(text, f"a usb URL is only vendor:product, e.g. {_EXAMPLES['usb']}")
    match = _USB_ID.fullmatch(parts.netloc)
    if not match:
        raise BadDeviceUrl(
            text,
            f"{parts.netloc!r} is not vendor:product in 4-digit hex, e.g. {_EXAMPLES['usb']}",
        )
    vendor, product = (int(group, 16) for group in match.groups())
    return DeviceUrl(text, "usb", vendor_id=vendor, product_id=product)


def _file(text: str, parts) -> DeviceUrl:
    path = _device_path(text, parts, _EXAMPLES["file"])
    if parts.query or text.endswith("?"):
        raise BadDeviceUrl(text, "a file URL takes no ?parameters")
    return DeviceUrl(text, "file", path=path)
