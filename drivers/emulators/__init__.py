"""Emulated devices for tests and the demo: ESC/POS printers (TCP and serial), a customer line
display, a bump bar and a serial cash drawer. They stand alone (no driver code), so that they
check the drivers rather than mirror them.
"""

from drivers.emulators.network_printer import NetworkPrinterEmulator
from drivers.emulators.printer_engine import PrinterEngine
from drivers.emulators.serial_devices import (
    BumpBarEmulator,
    LineDisplayEmulator,
    SerialDrawerEmulator,
    SerialPrinterEmulator,
)

__all__ = [
    "BumpBarEmulator",
    "LineDisplayEmulator",
    "NetworkPrinterEmulator",
    "PrinterEngine",
    "SerialDrawerEmulator",
    "SerialPrinterEmulator",
]
