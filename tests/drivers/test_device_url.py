"""Device URLs: every scheme, its defaults, and each way to get one wrong."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.device_url import DeviceUrl, SerialSettings, parse_device_url
from drivers.errors import BadDeviceUrl, DriverError


def test_tcp_url_with_port():
    url = parse_device_url("tcp://10.0.0.31:9101")
    assert url == DeviceUrl("tcp://10.0.0.31:9101", "tcp", host="10.0.0.31", port=9101)
    assert str(url) == "tcp://10.0.0.31:9101"


def test_tcp_port_defaults_to_9100_and_a_trailing_slash_is_fine():
    assert parse_device_url("tcp://kitchen-printer.local").port == 9100
    assert parse_device_url("tcp://kitchen-printer.local/").port == 9100


def test_tcp_ipv6_host_and_case_insensitive_scheme():
    url = parse_device_url("TCP://[fd00::31]:9100")
    assert (url.scheme, url.host, url.port) == ("tcp", "fd00::31", 9100)
    assert url.text == "TCP://[fd00::31]:9100"


def test_serial_url_defaults_are_19200_8n1_without_flow_control():
    url = parse_device_url("serial:///dev/ttyUSB0")
    assert url.scheme == "serial"
    assert url.path == "/dev/ttyUSB0"
    assert url.serial == SerialSettings(19200, 8, "N", 1, False, False)
    assert url.host is None and url.port is None


def test_serial_url_takes_every_line_setting():
    url = parse_device_url(
        "serial:///dev/ttyS1?baudrate=9600&bytesize=7&parity=e&stopbits=2&rtscts=1&xonxoff=true"
    )
    assert url.serial == SerialSettings(
        baudrate=9600, bytesize=7, parity="E", stopbits=2, rtscts=True, xonxoff=True
    )
    assert parse_device_url("serial:///dev/ttyS1?stopbits=1.5").serial.stopbits == 1.5


def test_serial_path_may_be_a_udev_link_with_colons():
    path = "/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0"
    assert parse_device_url(f"serial://{path}").path == path


def test_usb_url_is_hex_vendor_and_product():
    url = parse_device_url("usb://04B8:0e15")
    assert (url.scheme, url.vendor_id, url.product_id) == ("usb", 0x04B8, 0x0E15)
    assert url.path is None


def test_file_url_is_a_device_path():
    url = parse_device_url("file:///dev/usb/lp0")
    assert (url.scheme, url.path) == ("file", "/dev/usb/lp0")


def test_device_url_is_frozen_and_hashable():
    url = parse_device_url("tcp://p:9100")
    with pytest.raises(AttributeError):
        url.port = 1  # type: ignore[misc]
    assert {url, parse_device_url("tcp://p:9100")} == {url}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", "empty"),
        (" tcp://p", "spaces"),
        ("tcp://p q", "spaces"),
        ("tcp://p\n", "spaces"),
        ("10.0.0.31:9100", "scheme://"),
        ("tcp:/p", "scheme://"),
        ("http://p", "unknown scheme 'http'"),
        ("lpt://1", "unknown scheme"),
        ("tcp://", "no host"),
        ("tcp://:9100", "no host"),
        ("tcp://p:", "empty port"),
        ("tcp://p:abc", "port 'abc'"),
        ("tcp://p:-1", "port '-1'"),
        ("tcp://p:70000", "port '70000'"),
        ("tcp://p:0", "port 0"),
        ("tcp://[fd00::1", "IPv6"),
        ("tcp://p/queue", "no path"),
        ("tcp://p?x=1", "no ?parameters"),
        ("tcp://p?", "no ?parameters"),
        ("tcp://user:pw@p", "no user"),
        ("tcp://p#frag", "fragment"),
        ("serial://", "no device path"),
        ("serial:///", "no device path"),
        ("serial://ttyUSB0", "start right after"),
        ("serial:///dev/", "directory"),
        ("serial:///dev/ttyS0?baud=9600", "unknown parameter 'baud'"),
        ("serial:///dev/ttyS0?baudrate", "malformed"),
        ("serial:///dev/ttyS0?baudrate=", "baudrate ''"),
        ("serial:///dev/ttyS0?baudrate=fast", "baudrate 'fast'"),
        ("serial:///dev/ttyS0?baudrate=10", "baudrate '10'"),
        ("serial:///dev/ttyS0?bytesize=9", "bytesize '9'"),
        ("serial:///dev/ttyS0?parity=X", "parity 'X'"),
        ("serial:///dev/ttyS0?stopbits=3", "stopbits '3'"),
        ("serial:///dev/ttyS0?rtscts=maybe", "rtscts 'maybe'"),
        ("serial:///dev/ttyS0?xonxoff=2", "xonxoff '2'"),
        ("serial:///dev/ttyS0?baudrate=9600&baudrate=19200", "given twice"),
        ("usb://", "vendor:product"),
        ("usb://04b8", "vendor:product"),
        ("usb://4b8:e15", "vendor:product"),
        ("usb://04b8:0e1g", "vendor:product"),
        ("usb://04b8:0e15:1", "vendor:product"),
        ("usb://04b8:0e15/lp0", "only vendor:product"),
        ("usb://04b8:0e15?serial=1", "only vendor:product"),
        ("file://", "no device path"),
        ("file://lp0", "start right after"),
        ("file://host/dev/lp0", "start right after"),
        ("file:///dev/usb/lp0?x=1", "no ?parameters"),
    ],
)
def test_a_bad_url_is_refused_naming_the_bad_part(text, names):
    with pytest.raises(BadDeviceUrl) as caught:
        parse_device_url(text)
    assert names in caught.value.reason
    assert caught.value.url == text
    assert isinstance(caught.value, DriverError)
    assert repr(text) in str(caught.value)


def test_a_url_that_is_not_a_string_is_refused():
    with pytest.raises(BadDeviceUrl, match="string"):
        parse_device_url(b"tcp://p")  # type: ignore[arg-type]


@given(st.text(max_size=60))
def test_any_text_parses_or_raises_bad_device_url(text):
    try:
        url = parse_device_url(text)
    except BadDeviceUrl as exc:
        assert exc.reason
        return
    assert url.text == text
    assert url.scheme in ("tcp", "serial", "usb", "file")


@given(
    host=st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True),
    port=st.integers(1, 65535),
)
def test_every_host_and_port_round_trips(host, port):
    url = parse_device_url(f"tcp://{host}:{port}")
    assert (url.host, url.port) == (host, port)


@given(vendor=st.integers(0, 0xFFFF), product=st.integers(0, 0xFFFF))
def test_every_usb_id_round_trips(vendor, product):
    url = parse_device_url(f"usb://{vendor:04x}:{product:04X}")
    assert (url.vendor_id, url.product_id) == (vendor, product)
