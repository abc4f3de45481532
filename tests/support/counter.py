"""A node at the counter, over real ptys into the emulators: a customer line display, a
bump bar, a serial cash drawer and a serial receipt printer."""

from __future__ import annotations

import contextlib

from drivers.device_url import DeviceUrl, parse_device_url
from drivers.emulators.serial_devices import (
    BumpBarEmulator,
    LineDisplayEmulator,
    SerialDrawerEmulator,
    SerialPrinterEmulator,
)
from edge.config.devices import (
    BumpBarConfig,
    DeviceSettings,
    DisplayConfig,
    DrawerConfig,
    PrinterConfig,
)
from tests.support.api_node import Terminal, start_node
from tests.support.clocks import LiveClock
from tests.support.printing_node import FAST


def serial(path: str) -> DeviceUrl:
    return parse_device_url(f"serial://{path}?baudrate=9600")


@contextlib.asynccontextmanager
async def counter(tmp_path, follows: str | None = None, *, manager: bool = False):
    """A node with a pole display, a grill bump bar, a serial drawer and a serial printer,
    and a terminal paired with it (as a manager's, if `manager`)."""
    async with contextlib.AsyncExitStack() as stack:
        display = await stack.enter_async_context(LineDisplayEmulator())
        bump_bar = await stack.enter_async_context(BumpBarEmulator())
        drawer = await stack.enter_async_context(SerialDrawerEmulator())
        printer = await stack.enter_async_context(SerialPrinterEmulator())
        devices = DeviceSettings(
            printers={
                "front": PrinterConfig(
                    "front", "Front printer", serial(printer.device_path), "TM-T20II", 42, None, 30
                )
            },
            drawers={
                "till": DrawerConfig("till", "Till", None, 2, serial(drawer.device_path), b"\x07")
            },
            displays={"pole": DisplayConfig("pole", "Pole", serial(display.device_path), follows)},
            bump_bars={
                "grill-bar": BumpBarConfig(
                    "grill-bar", "Grill bar", serial(bump_bar.device_path), "grill"
                )
            },
            stations={"grill": "front"},
        )
        node = await start_node(tmp_path / "node", LiveClock(), devices, **FAST)
        stack.push_async_callback(node.close)
        till = Terminal(node, await node.pair("Counter 1", manager=manager))
        yield till, display, bump_bar, drawer, printer
