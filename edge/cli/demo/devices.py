"""The demo's devices: emulated printers, cash drawer, customer display and bump bar.

Three network printers (kitchen for the grill and fryer, bar, front for receipts and the
cash drawer) listen on 127.0.0.1 with a control page each that shows the paper they printed
and switches their faults; the customer display is a pty pair whose screen is logged. Each
printed piece of paper is also saved as text and PNG under the state directory.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from drivers.device_url import DeviceUrl, parse_device_url
from drivers.emulators.network_printer import NetworkPrinterEmulator
from drivers.emulators.serial_devices import LineDisplayEmulator
from edge.config.devices import (
    DeviceSettings,
    DisplayConfig,
    DrawerConfig,
    PrinterConfig,
)

log = logging.getLogger(__name__)

PRINTERS = {
    "kitchen": ("Kitchen printer", "front"),
    "bar": ("Bar printer", None),
    "front": ("Front printer", None),
}


@contextlib.asynccontextmanager
async def emulated_devices(paper_dir: Path) -> AsyncIterator[tuple[DeviceSettings, list[str]]]:
    """Start the demo's emulated devices; yields their settings and a line about each."""
    async with contextlib.AsyncExitStack() as stack:
        printers: dict[str, PrinterConfig] = {}
        about = []
        for printer_id, (name, backup) in PRINTERS.items():
            out = paper_dir / printer_id
            out.mkdir(parents=True, exist_ok=True)
            emulator = await stack.enter_async_context(
                NetworkPrinterEmulator(out_dir=out, control_port=0)
            )
            printers[printer_id] = PrinterConfig(
                printer_id,
                name,
                parse_device_url(f"tcp://127.0.0.1:{emulator.port}"),
                "TM-T88V",
                48,
                backup,
                30.0,
            )
            about.append(
                f"{name}: tcp://127.0.0.1:{emulator.port}, paper and faults at "
                f"http://127.0.0.1:{emulator.control_port}/"
            )
        display = await stack.enter_async_context(LineDisplayEmulator(on_change=_log_screen))
        about.append(f"Customer display on {display.device_path} (its screen is logged)")
        yield (
            DeviceSettings(
                printers=printers,
                drawers={"till": DrawerConfig("till", "Till", "front", 2, None, b"\x07")},
                displays={
                    "pole": DisplayConfig(
                        "pole", "Customer display", _pty(display.device_path), None
                    )
                },
                stations={"grill": "kitchen", "fryer": "kitchen", "bar": "bar"},
            ),
            about,
        )


def _pty(path: str) -> DeviceUrl:
    return parse_device_url(f"serial://{path}?baudrate=9600")


def _log_screen(lines: tuple[str, str]) -> None:
    log.info("customer display: [%s] [%s]", *lines)
