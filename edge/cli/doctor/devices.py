"""`posedge doctor`'s checks of the configured devices: whether the service user may open
the local ones (serial ports, USB printers), which node drives each of the store's network
printers now and which prefers it, and how each printer fares.

A printer is asked for its status only while no daemon runs, and a store printer only if
no other node drives it: the driving daemon keeps its own connection to the printer, and a
network printer serves one connection at a time. While the daemon runs, its print jobs tell
instead: jobs waiting for a printer, and what the last try at them said.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import grp
from pathlib import Path

from drivers.device_url import DeviceUrl
from drivers.errors import DriverError
from drivers.printer import EscPosPrinter
from drivers.transport import find_usb_printer
from edge.cli.doctor.findings import Finding, ServiceUser, ok, problem, warning
from edge.cli.doctor.system import can_access
from edge.config.layers import read_store
from edge.config.model import Config
from edge.devices.ownership import driver_of, store_printers
from edge.printing.jobs import read_waiting
from edge.runtime.errors import StorageError

PROBE_TIMEOUT = 3.0  # seconds for one printer to answer its status
GROUPS = {"serial": "dialout", "file": "lp", "usb": "lp"}  # who owns such device nodes


async def check_devices(
    config: Config, user: ServiceUser, *, daemon_running: bool
) -> list[Finding]:
    devices = config.devices
    urls = {p.id: p.url for p in devices.printers.values()}
    urls |= {d.id: d.url for d in devices.drawers.values() if d.url is not None}
    urls |= {d.id: d.url for d in devices.displays.values()}
    urls |= {b.id: b.url for b in devices.bump_bars.values()}
    findings = [check_groups(user, {url.scheme for url in urls.values()})]
    findings += [access(i, url, user) for i, url in urls.items() if url.scheme != "tcp"]
    drivers = store_drivers(config)
    findings += [driven(config, printer, *nodes) for printer, nodes in drivers.items()]
    if daemon_running:
        findings += jobs_waiting(config, dt.datetime.now(dt.UTC).timestamp())
    else:
        mine = [
            p
            for p in devices.printers.values()
            if drivers.get(p.id, (config.node.name,))[0] == config.node.name
        ]
        findings += await asyncio.gather(*(probe(p.id, p.url) for p in mine))
    return findings


def store_drivers(config: Config) -> dict[str, tuple[str, str]]:
    """The store's network printers: id -> (the node driving it now, the node preferring
    it), from the node's copy of the store document."""
    registers = read_store(config)
    found = {}
    for printer, (preferred, _) in store_printers(config.devices).items():
        driver = preferred if registers is None else driver_of(registers, printer, preferred)
        found[printer] = (driver, preferred)
    return found


def driven(config: Config, printer: str, driver: str, preferred: str) -> Finding:
    """Which node drives the store printer `printer` now, and which prefers it."""
    me = config.node.name
    by = "this node" if driver == me else driver
    found = f"driven by {by} now; {'this node' if preferred == me else preferred} prefers it"
    if driver != me:
        found += " (it is not probed from here: the printer takes one connection at a time)"
    return ok(f"driver.{printer}", found)


def check_groups(user: ServiceUser, schemes: set[str]) -> Finding:
    needed = {GROUPS[s] for s in schemes if s in GROUPS}
    missing = sorted(g for g in ("dialout", "lp") if not _member(user, g))
    if not missing:
        return ok("groups", f"{user.name} is in dialout and lp (serial devices, USB printers)")
    found = f"{user.name} is not in {' and '.join(missing)}"
    todo = f"sudo usermod -aG {','.join(missing)} {user.name}, then restart posedge"
    if needed & set(missing):
        return problem("groups", found + ", which the configured devices need", todo)
    return warning("groups", found + " (no configured device needs it yet)", todo)


def _member(user: ServiceUser, group: str) -> bool:
    try:
        return user.uid == 0 or grp.getgrnam(group).gr_gid in user.gids
    except KeyError:
        return False


def access(device_id: str, url: DeviceUrl, user: ServiceUser) -> Finding:
    """Whether `user` may open the device node of a serial, file or usb device."""
    name = f"access.{device_id}"
    try:
        path = local_path(url)
    except DriverError as exc:
        return problem(name, str(exc), f"plug in and power on {device_id}, or fix its url")
    if not path.exists():
        return problem(name, f"{path} does not exist", f"plug in {device_id}, or fix its url")
    if not can_access(path, user, write=True):
        info = path.stat()
        return problem(
            name,
            f"{user.name} cannot open {path} (group {_group_name(info.st_gid)}, "
            f"mode {info.st_mode & 0o777:o})",
            f"add {user.name} to that group, or check the udev rules (60-posedge.rules)",
        )
    return ok(name, f"{user.name} can open {path}")


def local_path(url: DeviceUrl) -> Path:
    if url.scheme == "usb":
        assert url.vendor_id is not None and url.product_id is not None
        return find_usb_printer(url.vendor_id, url.product_id)
    assert url.path is not None
    return Path(url.path)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


async def probe(printer_id: str, url: DeviceUrl) -> Finding:
    """Ask the printer for its status (DLE EOT)."""
    name = f"printer.{printer_id}"
    printer = EscPosPrinter(url, timeout=PROBE_TIMEOUT)
    try:
        status = await printer.status()
    except DriverError as exc:
        return problem(name, str(exc), "check its power, cable and address (its url)")
    finally:
        await printer.close()
    problems = status.problems()
    if not status.ready:
        return problem(name, f"{url}: {', '.join(problems)}", "see to the printer: paper, cover")
    if problems:
        return warning(name, f"{url}: ready, {', '.join(problems)}", "load paper soon")
    return ok(name, f"{url}: ready")


def jobs_waiting(config: Config, now: float) -> list[Finding]:
    """Each printer's jobs not printed yet, from print.db (read only)."""
    try:
        waiting = read_waiting(config.print_db_path)
    except StorageError as exc:
        return [
            warning("printers", f"cannot read {config.print_db_path}: {exc.cause}", "run as root")
        ]
    findings = []
    for printer_id, printer in config.devices.printers.items():
        name = f"printer.{printer_id}"
        if printer_id not in waiting:
            findings.append(ok(name, f"{printer.url}: the running daemon has no job waiting"))
            continue
        jobs = waiting[printer_id]
        age = now - jobs.oldest
        found = f"{printer.url}: {jobs.count} job(s) waiting, the oldest for {age / 60:.0f} min"
        if jobs.last_error:
            found += f"; the last try said: {jobs.last_error}"
        verdict = problem if age > 60 or jobs.last_error else warning
        findings.append(verdict(name, found, "check its power, cable, paper and address"))
    return findings
