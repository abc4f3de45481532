"""`posedge catalog` and `posedge orders`: a store's catalog imported, and its orders listed,
straight from the order log in the state directory."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tomllib
from pathlib import Path

from edge.app import order_book
from edge.cli.common import EX_IOERR, EX_USAGE, Command, add_state_source, config_of
from edge.config.model import Config
from edge.orders.catalog import CATALOG_ROOTS, change_problems, sample_catalog
from edge.orders.money import format_money
from edge.runtime.process import state_dir_lock
from sync.replica import Replica
from sync.store import DocStore


def _add_catalog_arguments(parser: argparse.ArgumentParser) -> None:
    add_state_source(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--import", dest="file", type=Path, help="TOML file in the sample's shape")
    which.add_argument(
        "--sample", action="store_true", help="import the demo's sample catalog (burgers)"
    )


def _catalog(args: argparse.Namespace) -> int:
    config = config_of(args)
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
        return asyncio.run(_import_catalog(config, data, args.file or "the sample catalog"))


async def _import_catalog(config: Config, data: dict, source: object) -> int:
    store = await DocStore.open(config.store_path)
    try:
        book = order_book(config, Replica(store))
        await book.start()
        problems = [
            f"{name}: not a table of a catalog (those are {', '.join(CATALOG_ROOTS)})"
            for name in data
            if name not in CATALOG_ROOTS
        ] or change_problems(await book.catalog_entries(), data)
        if problems:  # nothing written: the store keeps the catalog it had
            print(f"posedge: {source} not imported, it would break the catalog:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            return EX_USAGE
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


def _add_orders_arguments(parser: argparse.ArgumentParser) -> None:
    add_state_source(parser)
    parser.add_argument(
        "--date", type=dt.date.fromisoformat, help="business date YYYY-MM-DD (default: today's)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per order")


def _orders(args: argparse.Namespace) -> int:
    config = config_of(args)
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


CATALOG = Command(
    "catalog",
    "import a catalog (items, prices, taxes, stations) from a TOML file into a store "
    "not managed by a hub; run it while the daemon is stopped",
    _add_catalog_arguments,
    _catalog,
)
ORDERS = Command("orders", "list the orders of a business day", _add_orders_arguments, _orders)
