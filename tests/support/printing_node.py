"""A node driving three emulated network printers over real TCP sockets, for the printing
tests and the pages that print: kitchen (backed by front), bar and front (receipts, the
drawer)."""

from __future__ import annotations

import contextlib

from drivers.device_url import parse_device_url
from drivers.emulators.network_printer import NetworkPrinterEmulator
from edge.config.devices import DeviceSettings, DrawerConfig, PrinterConfig
from tests.support.api_node import ApiNode, Terminal, start_node

FAST = {"retry_max_interval": 0.2, "status_interval": 0.2, "ack_timeout": 3.0}


def printer(printer_id: str, name: str, port: int, **extra) -> PrinterConfig:
    return PrinterConfig(
        id=printer_id,
        name=name,
        url=parse_device_url(f"tcp://127.0.0.1:{port}"),
        profile="TM-T88V",
        width=48,
        backup=extra.get("backup"),
        failover_after=extra.get("failover_after", 30.0),
    )


class Store:
    """A node with three emulated printers: kitchen (backed by front), bar and front."""

    def __init__(self, node: ApiNode, kitchen, bar, front) -> None:
        self.node = node
        self.kitchen: NetworkPrinterEmulator = kitchen
        self.bar: NetworkPrinterEmulator = bar
        self.front: NetworkPrinterEmulator = front

    async def job(self, till: Terminal, job_id: int) -> dict:
        return (await till.get(f"/print-jobs/{job_id}"))["job"]

    async def jobs(self, till: Terminal, **query) -> list[dict]:
        text = "&".join(f"{k}={v}" for k, v in query.items())
        return (await till.get(f"/print-jobs?{text}"))["jobs"]

    async def device(self, till: Terminal, device_id: str) -> dict:
        devices = (await till.get("/devices"))["devices"]
        return next(d for d in devices if d["id"] == device_id)


def devices_for(kitchen: int, bar: int, front: int, failover_after: float = 1.0):
    return DeviceSettings(
        printers={
            "kitchen": printer(
                "kitchen", "Kitchen printer", kitchen, backup="front", failover_after=failover_after
            ),
            "bar": printer("bar", "Bar printer", bar),
            "front": printer("front", "Front printer", front),
        },
        drawers={"till": DrawerConfig("till", "Till", "front", 2, None, b"\x07")},
        stations={"grill": "kitchen", "fryer": "kitchen", "bar": "bar"},
    )


@contextlib.asynccontextmanager
async def running_store(state_dir, clock, *, logo=None, **settings):
    async with contextlib.AsyncExitStack() as stack:
        emulators = [await stack.enter_async_context(NetworkPrinterEmulator()) for _ in range(3)]
        kitchen, bar, front = emulators
        failover = settings.pop("failover_after", 1.0)
        node = await start_node(
            state_dir,
            clock,
            devices_for(kitchen.port, bar.port, front.port, failover),
            receipt_printer="front",
            receipt_logo=logo,
            **{**FAST, **settings},
        )
        stack.push_async_callback(node.close)
        yield Store(node, kitchen, bar, front)
