"""`posedge demo`: the daemon on the embedded default, with emulated devices, the sample
catalog and a simulated cashier; nothing to configure."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import os
import sys
from pathlib import Path

from edge.access.pairing_codes import PairingCodes
from edge.access.users import UserStore
from edge.app import Daemon
from edge.cli.common import Command, log, queued_store
from edge.cli.demo.cashier import demo_manager, simulate_cashier
from edge.cli.demo.devices import emulated_devices
from edge.config.edit import configuration_text
from edge.config.load import from_values, load
from edge.devices.assembly import Devices
from edge.orders.book import OrderBook
from edge.orders.catalog import sample_catalog
from edge.runtime.logs import configure_logging
from edge.runtime.process import utc_now

DEMO_CONFIG_NOTE = (
    "posedge demo's configuration, written anew at each start (the emulated devices' ports "
    "change); changes made in the manager UI last until then."
)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local/state"))
        / "posedge-demo",
        help="where the demo keeps its order log",
    )
    parser.add_argument(
        "--interval", type=float, default=5.0, help="seconds between simulated orders (default 5)"
    )
    parser.add_argument(
        "--port", type=int, default=8420, help="port of the API on 127.0.0.1 (default 8420)"
    )


def _demo(args: argparse.Namespace) -> int:
    values = {
        "paths.state_dir": str(args.state_dir.resolve()),
        "store.name": "posedge demo burgers",
        "http.host": "127.0.0.1",
        "http.port": args.port,
        "receipt.printer": "front",
        "receipt.header": ["12 Main St, Springfield", "Tel 555-0100"],
    }
    config = from_values(values)
    configure_logging(config.log_level)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    registry = PairingCodes(config.node_db_path)
    code = registry.create_code(
        "demo terminal", "manager", ttl=dt.timedelta(minutes=60), now=utc_now()
    )
    screen = registry.create_code(
        "demo kitchen screen", "kds", ttl=dt.timedelta(minutes=60), now=utc_now()
    )
    users = UserStore(config.node_db_path, queued_store(config))
    manager, password = asyncio.run(demo_manager(users, utc_now()))
    api = f"http://127.0.0.1:{args.port}/api/v1"
    print(
        f"posedge demo: order log in {config.store_path}; stop with Ctrl-C.\n"
        f"List today's orders with: posedge orders --state-dir {config.state_dir}\n"
        f"Terminal API on {api}; pair a terminal (code valid for an hour) with:\n"
        f"  curl -s -X POST -H 'Content-Type: application/json' "
        f'-d \'{{"code": "{code.code}"}}\' {api}/pair\n'
        f"then: curl -s -H 'Authorization: Bearer <token>' {api}/orders\n"
        f"Kitchen screen: open http://127.0.0.1:{args.port}/kds/grill (or /kds/expo) and "
        f"enter {screen.code}\n"
        f"Manager's web UI: http://127.0.0.1:{args.port}/ui/ (sign in as {manager!r}, "
        f"password {password})",
        file=sys.stderr,
    )
    return asyncio.run(_demo_with_devices(values, args.interval))


async def _demo_with_devices(values: dict, interval: float) -> int:
    """Start the emulated devices, then the daemon driving them and a simulated cashier."""
    state_dir = Path(str(values["paths.state_dir"]))
    async with emulated_devices(state_dir / "paper") as (devices, about):
        for line in about:
            print(f"  {line}", file=sys.stderr)
        print(f"  Printed paper is also saved under {state_dir / 'paper'}", file=sys.stderr)
        # a file of its own, so the manager UI can change the demo's devices and settings
        config_path = state_dir / "posedge.toml"
        config_path.write_text(configuration_text(values, devices, DEMO_CONFIG_NOTE))
        config = load(config_path)
        daemon = Daemon(config, services=(functools.partial(_demo_service, interval=interval),))
        await daemon.run()
    return 1 if daemon.failed else 0


async def _demo_service(book: OrderBook, devices: Devices, interval: float) -> None:
    """Load the sample catalog into an empty store, then ring up orders until stopped."""
    if not (await book.catalog()).items:
        catalog = await book.import_catalog(sample_catalog())
        log.info("demo: loaded the sample catalog (%d items)", len(catalog.items))
    await simulate_cashier(book, interval, devices=devices)


COMMAND = Command(
    "demo",
    "run the daemon on the embedded default, with a sample catalog and "
    "a simulated cashier; nothing to configure",
    _add_arguments,
    _demo,
)
