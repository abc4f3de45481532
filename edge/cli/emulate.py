"""`posedge emulate`: one emulated device, for trying things out (drivers/emulators/command.py)."""

from __future__ import annotations

import argparse
import asyncio

from drivers.emulators import command as emulators
from edge.cli.common import Command


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(emulators.run(args))


COMMAND = Command(
    "emulate",
    "run an emulated device: a network or serial ESC/POS printer, a customer display, "
    "a bump bar or a cash drawer",
    emulators.add_arguments,
    _run,
)
