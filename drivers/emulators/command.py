"""`posedge emulate DEVICE`: run one emulated device until SIGINT or SIGTERM.

    posedge emulate printer --listen 127.0.0.1:9100 [--control 127.0.0.1:9101] [--out DIR]
    posedge emulate serial-printer|display|bump-bar|drawer [--out DIR]

Serial devices print their pty path (use it in a serial:// or file:// device URL); the display
prints its screen when it changes; the bump bar sends the keys typed on stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import termios
import tty
from collections.abc import Iterator
from typing import Any

from drivers.emulators.network_printer import NetworkPrinterEmulator
from drivers.emulators.serial_devices import (
    BumpBarEmulator,
    LineDisplayEmulator,
    SerialDrawerEmulator,
    SerialPrinterEmulator,
)
from drivers.escpos.printout import Paper

DEVICES = ("printer", "serial-printer", "display", "bump-bar", "drawer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulate command's arguments to `parser`."""
    parser.add_argument("device", choices=DEVICES, help="the device to emulate")
    parser.add_argument(
        "--listen", default="127.0.0.1:9100", metavar="HOST:PORT", help="printer: TCP address"
    )
    parser.add_argument(
        "--control", metavar="HOST:PORT", help="printer: serve a control page at this address"
    )
    parser.add_argument(
        "--out", metavar="DIR", help="printers: save each cut piece as NNNN.txt and NNNN.png"
    )
    parser.add_argument(
        "--open-bytes", default="07", metavar="HEX", help="drawer: the bytes that open it (hex)"
    )


def parse_address(text: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); ValueError naming the problem."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:9100)")
    return host.strip("[]"), int(port)


async def run(args: argparse.Namespace) -> int:
    """Run the device named by args.device until SIGINT or SIGTERM; the exit status."""
    try:
        device = _make(args)
    except ValueError as exc:
        print(f"posedge emulate: {exc}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await device.start()
        except OSError as exc:
            print(f"posedge emulate {args.device}: cannot start: {exc}", file=sys.stderr)
            return 1
        try:
            _announce(args, device)
            with _keys_from_stdin(device):
                await stop.wait()
        finally:
            await device.close()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0


def _make(args: argparse.Namespace) -> Any:
    if args.device == "printer":
        host, port = parse_address(args.listen)
        control_host, control_port = parse_address(args.control) if args.control else (None, None)
        return NetworkPrinterEmulator(
            host,
            port,
            out_dir=args.out,
            control_host=control_host,
            control_port=control_port,
            on_paper=_show_paper,
        )
    if args.device == "serial-printer":
        return SerialPrinterEmulator(out_dir=args.out, on_paper=_show_paper)
    if args.device == "display":
        return LineDisplayEmulator(on_change=_show_screen)
    if args.device == "bump-bar":
        return BumpBarEmulator()
    try:
        open_bytes = bytes.fromhex(args.open_bytes)
    except ValueError:
        raise ValueError(f"--open-bytes {args.open_bytes!r} is not hex (e.g. 07)") from None
    if not open_bytes:
        raise ValueError("--open-bytes must not be empty")
    return SerialDrawerEmulator(open_bytes, on_open=lambda n: _say(f"drawer opened ({n})"))


def _announce(args: argparse.Namespace, device: Any) -> None:
    if isinstance(device, NetworkPrinterEmulator):
        host = f"[{device.host}]" if ":" in device.host else device.host
        _say(f"printer listening on tcp://{host}:{device.port}")
        if device.control_port is not None:
            control_host = args.control.rpartition(":")[0]
            _say(f"control page at http://{control_host}:{device.control_port}/")
    else:
        _say(f"{args.device} on serial://{device.device_path}")
        if isinstance(device, BumpBarEmulator):
            _say("type keys to send them: 1-9 select, B bump, R recall, N/P pages, H home")


@contextlib.contextmanager
def _keys_from_stdin(device: Any) -> Iterator[None]:
    """For the bump bar: send what is typed on stdin (key by key on a terminal)."""
    if not isinstance(device, BumpBarEmulator):
        yield
        return
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    if saved is not None:
        tty.setcbreak(fd)

    def readable() -> None:
        data = os.read(fd, 64)
        if not data:  # end of input: keep running until a signal
            loop.remove_reader(fd)
            return
        keys = data.replace(b"\n", b"").replace(b"\r", b"")
        if keys:
            device.send(keys)

    loop.add_reader(fd, readable)
    try:
        yield
    finally:
        loop.remove_reader(fd)
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _say(text: str) -> None:
    print(text, flush=True)


def _show_paper(paper: Paper) -> None:
    _say(f"--- paper ({len(paper.lines)} lines) ---\n{paper.text}\n--- cut ---")


def _show_screen(lines: tuple[str, str]) -> None:
    _say(f"|{lines[0]}|\n|{lines[1]}|")


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m drivers.emulators.command` (before `posedge emulate` exists)."""
    parser = argparse.ArgumentParser(prog="posedge emulate", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
