"""Errors raised by device drivers.

Each message names the device and says what an operator can check; callers (the print queue,
`posedge doctor`) show it as is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drivers.escpos.status import PrinterStatus


class DriverError(Exception):
    """Root of every error raised by `drivers`."""


class BadDeviceUrl(DriverError):
    """A device URL is malformed; `.reason` names the bad part."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"bad device URL {url!r}: {reason}")
        self.url = url
        self.reason = reason


class DeviceUnreachable(DriverError):
    """The device could not be opened: refused, no such device, no permission, or timed out."""


class DeviceTimeout(DriverError):
    """The device was reached but did not answer (or take data) in time."""


class ConnectionLost(DriverError):
    """The connection dropped mid-exchange; `.partial` is true when a job was partly written."""

    def __init__(self, message: str, *, partial: bool = False) -> None:
        super().__init__(message)
        self.partial = partial


class DeviceAnsweredNonsense(DriverError):
    """The device answered bytes that are not a valid reply (wrong device or protocol?)."""


class PrinterNotReady(DriverError):
    """The printer answered but cannot print now (paper out, cover open...); nothing was sent."""

    def __init__(self, status: PrinterStatus, device: str = "printer") -> None:
        problems = ", ".join(status.problems()) or "not ready"
        super().__init__(f"{device} is not ready: {problems}; nothing was sent")
        self.status = status
