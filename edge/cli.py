"""The `posedge` command line: run, demo, orders."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import json
import logging
import os
import sqlite3
import sys
import tomllib
from pathlib import Path

from drivers.emulators import command as emulator_command
from sync.errors import SyncError
from sync.join import join as join_credentials
from sync.replica import Replica
from sync.store import DocStore
from sync.trust import TrustError, create_store, fingerprint
from sync.trust import load as load_credentials
from sync.trust import save as save_credentials

from . import __version__
from . import doctor as doctor_command
from .catalog import sample_catalog
from .config import DEFAULT_PATH, Config, from_values, load
from .config_edit import configuration_text
from .daemon import Daemon, order_book, state_dir_lock, utc_now
from .demo import demo_manager, simulate_cashier
from .demo_devices import emulated_devices
from .devices import Devices
from .errors import ConfigError
from .hub_cli import add_hub_parser, run_hub_command
from .join_codes import StoredJoinCodes
from .logs import configure_logging
from .money import format_money
from .orderbook import OrderBook
from .terminals import TerminalError, TerminalRegistry
from .ui import user_cli
from .ui.users import UserError

log = logging.getLogger("posedge")

EX_USAGE = 64
EX_CONFIG = 78  # sysexits.h: configuration error; systemd is told not to restart on it
EX_IOERR = 74
DEMO_CONFIG_NOTE = (
    "posedge demo's configuration, written anew at each start (the emulated devices' ports "
    "change); changes made in the manager UI last until then."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posedge", description="Point-of-sale daemon: devices, order log, replication."
    )
    parser.add_argument("--version", action="version", version=f"posedge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the daemon")
    run.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_PATH,
        help=f"TOML configuration file (default {DEFAULT_PATH})",
    )

    demo = commands.add_parser(
        "demo",
        help="run the daemon on the embedded default, with a sample catalog and "
        "a simulated cashier; nothing to configure",
    )
    demo.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local/state"))
        / "posedge-demo",
        help="where the demo keeps its order log",
    )
    demo.add_argument(
        "--interval", type=float, default=5.0, help="seconds between simulated orders (default 5)"
    )
    demo.add_argument(
        "--port", type=int, default=8420, help="port of the API on 127.0.0.1 (default 8420)"
    )

    init = commands.add_parser(
        "init",
        help="make a new store on this node: the store's CA and this node's certificate "
        "(the store's other nodes then join it)",
    )
    _add_state_source(init)

    join_code = commands.add_parser(
        "join-code",
        help="a one-time code (valid 10 minutes) with which a new node joins this node's store",
    )
    _add_state_source(join_code)

    join = commands.add_parser(
        "join", help="join a store with a code from one of its nodes (posedge join-code)"
    )
    _add_state_source(join)
    join.add_argument("code", help="the code, e.g. K7M2-9XQF")
    join.add_argument(
        "--from",
        dest="member",
        required=True,
        metavar="HOST[:PORT]",
        help="the node that made the code: its terminal API address (port 8420 by default)",
    )

    catalog = commands.add_parser(
        "catalog",
        help="import a catalog (items, prices, taxes, stations) from a TOML file into a store "
        "not managed by a hub; run it while the daemon is stopped",
    )
    _add_state_source(catalog)
    which = catalog.add_mutually_exclusive_group(required=True)
    which.add_argument("--import", dest="file", type=Path, help="TOML file in the sample's shape")
    which.add_argument(
        "--sample", action="store_true", help="import the demo's sample catalog (burgers)"
    )

    emulate = commands.add_parser(
        "emulate",
        help="run an emulated device: a network or serial ESC/POS printer, a customer display, "
        "a bump bar or a cash drawer",
    )
    emulator_command.add_arguments(emulate)

    orders = commands.add_parser("orders", help="list the orders of a business day")
    _add_state_source(orders)
    orders.add_argument(
        "--date", type=dt.date.fromisoformat, help="business date YYYY-MM-DD (default: today's)"
    )
    orders.add_argument("--json", action="store_true", help="one JSON object per order")

    pair = commands.add_parser(
        "pair", help="create a one-time code that pairs a terminal with this node"
    )
    _add_state_source(pair)
    pair.add_argument("name", help='the terminal\'s name, e.g. "Counter 1"')
    pair_role = pair.add_mutually_exclusive_group()
    pair_role.add_argument(
        "--manager", action="store_true", help="pair it as a manager's terminal (may reopen …)"
    )
    pair_role.add_argument(
        "--kds", action="store_true", help="pair a kitchen screen (/kds/<station>): tickets only"
    )
    pair.add_argument(
        "--minutes", type=int, default=10, help="minutes the code stays valid (default 10)"
    )

    terms = commands.add_parser("terminals", help="list paired terminals, or revoke one")
    _add_state_source(terms)
    terms.add_argument(
        "--revoke", metavar="ID_OR_NAME", help="revoke this terminal's token at once"
    )
    add_hub_parser(commands)

    user = commands.add_parser(
        "user", help="add, list or remove the users of the manager UI (/ui/), or set a password"
    )
    user_cli.add_arguments(user, _add_state_source)

    doctor = commands.add_parser(
        "doctor",
        help="check this node: configuration, state directory, disk, devices, ports, mDNS, "
        "peers, hub, clock; exit status 0 all ok, 1 warnings, 2 problems",
    )
    doctor.add_argument(
        "--config", type=Path, default=DEFAULT_PATH, help=f"configuration (default {DEFAULT_PATH})"
    )
    doctor.add_argument(
        "--user",
        help=f"judge file and device access for this user (default: {doctor_command.SERVICE_USER} "
        "when it exists, else you)",
    )
    doctor.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    return parser


def _add_state_source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", type=Path, help=f"configuration file (default {DEFAULT_PATH})")
    source.add_argument("--state-dir", type=Path, help="use this state dir (e.g. the demo's)")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `posedge` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(load(args.config))
        if args.command == "demo":
            return _demo(args)
        if args.command == "pair":
            return _pair(args)
        if args.command == "terminals":
            return _terminals(args)
        if args.command == "init":
            return _init(args)
        if args.command == "join-code":
            return _join_code(args)
        if args.command == "join":
            return asyncio.run(_join(args))
        if args.command == "catalog":
            return _catalog(args)
        if args.command == "hub":
            return run_hub_command(args)
        if args.command == "user":
            config = _config_of(args)
            config.state_dir.mkdir(parents=True, exist_ok=True)
            return user_cli.run(args, config.node_db_path, config.http.port, utc_now)
        if args.command == "doctor":
            return doctor_command.run(args.config, args.user, args.json)
        if args.command == "emulate":
            return asyncio.run(emulator_command.run(args))
        return _orders(args)
    except ConfigError as exc:
        print(f"posedge: configuration error: {exc}", file=sys.stderr)
        return EX_CONFIG
    except TrustError as exc:  # the node's store credentials do not fit its configuration
        print(f"posedge: {exc}", file=sys.stderr)
        return EX_CONFIG
    except (SyncError, TerminalError, UserError) as exc:
        print(f"posedge: {exc}", file=sys.stderr)
        return EX_IOERR if isinstance(exc, SyncError) else EX_USAGE
    except sqlite3.Error as exc:
        print(f"posedge: cannot use {args.state_dir or args.config}: {exc}", file=sys.stderr)
        return EX_IOERR


def _run(config: Config) -> int:
    configure_logging(config.log_level)
    daemon = Daemon(config)
    asyncio.run(daemon.run())
    return 1 if daemon.failed else 0


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
    registry = TerminalRegistry(config.node_db_path)
    code = registry.create_code(
        "demo terminal", "manager", ttl=dt.timedelta(minutes=60), now=utc_now()
    )
    screen = registry.create_code(
        "demo kitchen screen", "kds", ttl=dt.timedelta(minutes=60), now=utc_now()
    )
    manager, password = demo_manager(config.node_db_path, utc_now())
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


def _config_of(args: argparse.Namespace) -> Config:
    """The configuration a command names by --state-dir or --config."""
    if args.state_dir is not None:
        return from_values({"paths.state_dir": str(args.state_dir.resolve())})
    return load(args.config or DEFAULT_PATH)


def _registry(args: argparse.Namespace) -> TerminalRegistry:
    config = _config_of(args)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    return TerminalRegistry(config.node_db_path)


def _pair(args: argparse.Namespace) -> int:
    if not 1 <= args.minutes <= 60:
        print("posedge: --minutes must be between 1 and 60", file=sys.stderr)
        return EX_USAGE
    registry = _registry(args)
    role = "manager" if args.manager else "kds" if args.kds else "terminal"
    code = registry.create_code(
        args.name, role, ttl=dt.timedelta(minutes=args.minutes), now=utc_now()
    )
    local = code.expires_at.astimezone().strftime("%H:%M")
    print(f"pairing code for {code.name!r} ({code.role}): {code.code}")
    if args.kds:
        print(f"valid once, until {local}; type it on the screen at /kds/<station>")
    else:
        print(f"valid once, until {local}; the terminal sends it to POST /api/v1/pair")
    return 0


def _terminals(args: argparse.Namespace) -> int:
    registry = _registry(args)
    if args.revoke:
        for who in registry.revoke(args.revoke, now=utc_now()):
            print(f"revoked {who.name!r} ({who.id}); its token no longer works")
        return 0
    found = registry.terminals()
    if not found:
        print("no terminals paired yet; pair one with: posedge pair NAME")
    for who in found:
        state = f"revoked {who.revoked_at}" if who.revoked_at else "active"
        print(f"{who.id}  {who.name:<24} {who.role:<8} paired {who.created_at}  {state}")
    return 0


def _init(args: argparse.Namespace) -> int:
    config = _config_of(args)
    if (config.trust_dir / "node.pem").exists():
        current = load_credentials(config.trust_dir)
        print(
            f"posedge: this node is already node {current.node_id!r} of store "
            f"{current.store_id!r} ({config.trust_dir})",
            file=sys.stderr,
        )
        return EX_USAGE
    config.state_dir.mkdir(parents=True, exist_ok=True)
    creds = create_store(config.store.id, config.node.name)
    save_credentials(creds, config.trust_dir)
    print(
        f"store {creds.store_id} made; this node is {creds.node_id}, its certificate "
        f"{fingerprint(creds.node_cert_pem)[:16]}…; credentials in {config.trust_dir}"
    )
    return 0


def _join_code(args: argparse.Namespace) -> int:
    config = _config_of(args)
    if not (config.trust_dir / "node.pem").exists():
        print(
            f"posedge: this node is not a member of a store ({config.trust_dir} is empty); "
            "run posedge init on the store's first node",
            file=sys.stderr,
        )
        return EX_USAGE
    code = StoredJoinCodes(config.node_db_path).create()
    print(f"join code: {code}")
    print(
        "valid once, for 10 minutes; on the new node run: "
        f"posedge join {code} --from <this node's address>:{config.http.port}"
    )
    return 0


async def _join(args: argparse.Namespace) -> int:
    config = _config_of(args)
    if (config.trust_dir / "node.pem").exists():
        print(f"posedge: this node is already a member ({config.trust_dir})", file=sys.stderr)
        return EX_USAGE
    host, _, port = args.member.partition(":")
    creds = await join_credentials(
        f"http://{host}:{port or 8420}", args.code, config.node.name, timeout=30
    )
    if creds.store_id != config.store.id:
        print(
            f"posedge: the code is for store {creds.store_id!r}, but {config.source} says "
            f"store.id = {config.store.id!r}; set store.id and join again",
            file=sys.stderr,
        )
        return EX_CONFIG
    config.state_dir.mkdir(parents=True, exist_ok=True)
    save_credentials(creds, config.trust_dir)
    print(
        f"node {creds.node_id} joined store {creds.store_id}; restart its daemon to link "
        "with the store's other nodes"
    )
    return 0


def _catalog(args: argparse.Namespace) -> int:
    config = _config_of(args)
    if args.sample:
        data = sample_catalog()
    else:
        try:
            data = tomllib.loads(args.file.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            print(f"posedge: cannot read the catalog {args.file}: {exc}", file=sys.stderr)
            return EX_USAGE
    config.state_dir.mkdir(parents=True, exist_ok=True)
    with state_dir_lock(config.state_dir) as free:
        if not free:
            print(
                f"posedge: a daemon is running on {config.state_dir}; stop it first",
                file=sys.stderr,
            )
            return EX_USAGE
        return asyncio.run(_import_catalog(config, data))


async def _import_catalog(config: Config, data: dict) -> int:
    store = await DocStore.open(config.store_path)
    try:
        book = order_book(config, Replica(store))
        await book.start()
        catalog = await book.import_catalog(data)
    finally:
        await store.close()
    print(
        f"catalog of store {config.store.id}: {len(catalog.items)} items, "
        f"{len(catalog.taxes)} taxes, {len(catalog.stations)} stations"
    )
    for problem in catalog.problems:
        print(f"  left out: {problem}")
    return 0 if not catalog.problems else EX_USAGE


def _orders(args: argparse.Namespace) -> int:
    config = _config_of(args)
    if not config.store_path.exists():
        print(f"posedge: no order log at {config.store_path}", file=sys.stderr)
        return EX_IOERR
    return asyncio.run(_print_orders(config, args.date, args.json))


async def _print_orders(config: Config, day: dt.date | None, as_json: bool) -> int:
    store = await DocStore.open(config.store_path, compact_after=sys.maxsize)
    try:
        store_ids = {d.guid.split("/")[0] for d in store.documents("orders")} or {config.store.id}
        for store_id in sorted(store_ids):
            book = order_book(config, Replica(store), store_id)
            views = await book.list_orders(day)
            currency = (await book.catalog()).currency
            if as_json:
                for view in views:
                    print(json.dumps(view.to_dict(), default=str))
                continue
            print(
                f"store {store_id}, business day {day or book.business_date()}: {len(views)} orders"
            )
            for v in views:
                print(
                    f"  {v.number:>7}  {v.status.label:<7} {v.channel:<9} "
                    f"{len([ln for ln in v.lines if not ln.voided]):>2} lines  "
                    f"total {format_money(v.totals.total, currency):>12}  "
                    f"due {format_money(v.totals.balance_due, currency):>12}  {v.id}"
                )
    finally:
        await store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
