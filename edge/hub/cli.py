"""`posedge hub`: run the hub, and `posedge hub store add|list|revoke` to manage the stores
allowed to sync with it (edge/hub/app.py)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path

from edge.hub.app import prepare_hub, run_hub
from edge.runtime.logs import configure_logging
from sync.hub.tokens import HubStores

DEFAULT_DIR = Path("/var/lib/posedge-hub")


def add_arguments(hub: argparse.ArgumentParser) -> None:
    """Add the hub command's arguments, and its `store` subcommands, to `hub`."""
    hub.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"default {DEFAULT_DIR}")
    hub.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    hub.add_argument("--port", type=int, default=8443, help="TLS port (default 8443)")
    hub.add_argument("--cert", type=Path, help="TLS certificate chain (default: made once)")
    hub.add_argument("--key", type=Path, help="TLS key of --cert")
    hub.add_argument(
        "--name", action="append", help="host name or address nodes reach the hub by, for "
        "the certificate it makes (repeat; default: this host's name, localhost, 127.0.0.1)",
    )  # fmt: skip
    hub.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    sub = hub.add_subparsers(dest="hub_command", metavar="store")
    store = sub.add_parser("store", help="add, list or revoke the stores that sync with the hub")
    store.add_argument("--dir", type=Path, default=argparse.SUPPRESS, help="the hub's directory")
    actions = store.add_subparsers(dest="store_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="register a store; prints its token once")
    add.add_argument("store_id")
    add.add_argument("--name", dest="store_name", help="the store's name for HQ")
    actions.add_parser("list", help="every store, and when it last synced")
    revoke = actions.add_parser("revoke", help="refuse the store's token from now on")
    revoke.add_argument("store_id")


def run(args: argparse.Namespace) -> int:
    """Run the hub until stopped, or do the `store` subcommand `args` asks for."""
    if args.hub_command == "store":
        return _store(args)
    if (args.cert is None) != (args.key is None):
        print("posedge: --cert and --key go together", file=sys.stderr)
        return 64
    configure_logging(args.log_level)
    setup = prepare_hub(args.dir, cert=args.cert, key=args.key, names=args.name)
    asyncio.run(run_hub(setup, host=args.host, port=args.port))
    return 0


def _store(args: argparse.Namespace) -> int:
    args.dir.mkdir(parents=True, exist_ok=True)
    stores = HubStores(args.dir / "stores.db")
    if args.store_action == "add":
        token = stores.add(args.store_id, args.store_name)
        print(f"store {args.store_id}: token {token}")
        print("put it in the store's nodes as upstream.token (shown once)")
    elif args.store_action == "revoke":
        stores.revoke(args.store_id)
        print(f"store {args.store_id}: token revoked; its links end within seconds")
    else:
        for store in stores.list():
            contact = (
                dt.datetime.fromtimestamp(store.last_contact).isoformat(timespec="seconds")
                if store.last_contact
                else "never"
            )
            state = "revoked" if store.revoked_at else "active"
            print(f"{store.store_id:<20} {store.name:<24} {state:<8} last contact {contact}")
    return 0
