"""`posedge pair` and `posedge terminals`: pairing codes made on this node, and the store's
terminals and kitchen screens (edge/access/terminals.py), whose tokens work on every node;
a revocation is queued for this node's daemon, which writes it into the store document."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys

from edge.access.pairing_codes import PairingCodes
from edge.access.terminals import KIND, matching, revocation, terminals_of
from edge.cli.common import EX_USAGE, Command, add_state_source, config_of, queued_store
from edge.runtime.process import utc_now


def _codes(args: argparse.Namespace) -> PairingCodes:
    config = config_of(args)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    return PairingCodes(config.node_db_path)


def _add_pair_arguments(parser: argparse.ArgumentParser) -> None:
    add_state_source(parser)
    parser.add_argument("name", help='the terminal\'s name, e.g. "Counter 1"')
    role = parser.add_mutually_exclusive_group()
    role.add_argument(
        "--manager", action="store_true", help="pair it as a manager's terminal (may reopen …)"
    )
    role.add_argument(
        "--kds", action="store_true", help="pair a kitchen screen (/kds/<station>): tickets only"
    )
    parser.add_argument(
        "--minutes", type=int, default=10, help="minutes the code stays valid (default 10)"
    )


def _pair(args: argparse.Namespace) -> int:
    if not 1 <= args.minutes <= 60:
        print("posedge: --minutes must be between 1 and 60", file=sys.stderr)
        return EX_USAGE
    role = "manager" if args.manager else "kds" if args.kds else "terminal"
    code = _codes(args).create_code(
        args.name, role, ttl=dt.timedelta(minutes=args.minutes), now=utc_now()
    )
    local = code.expires_at.astimezone().strftime("%H:%M")
    print(f"pairing code for {code.name!r} ({code.role}): {code.code}")
    if args.kds:
        print(f"valid once, until {local}; type it on the screen at /kds/<station>")
    else:
        print(f"valid once, until {local}; the terminal sends it to POST /api/v1/pair")
    return 0


def _add_terminals_arguments(parser: argparse.ArgumentParser) -> None:
    add_state_source(parser)
    parser.add_argument(
        "--revoke", metavar="ID_OR_NAME", help="revoke this terminal's token at once"
    )


def _terminals(args: argparse.Namespace) -> int:
    store = queued_store(config_of(args))
    found = terminals_of(store)
    if args.revoke:
        hits = matching(found, args.revoke)
        now = utc_now()
        asyncio.run(store.write({f"{KIND}:{t.id}": revocation(t, h, now) for t, h in hits}))
        for who, _ in hits:
            print(f"revoked {who.name!r} ({who.id}); its token no longer works on any node")
        return 0
    found = sorted((t for t, _ in found.values()), key=lambda t: (t.created_at, t.id))
    if not found:
        print("no terminals paired yet; pair one with: posedge pair NAME")
    for who in found:
        state = f"revoked {who.revoked_at}" if who.revoked_at else "active"
        print(f"{who.id}  {who.name:<24} {who.role:<8} paired {who.created_at}  {state}")
    return 0


PAIR = Command(
    "pair",
    "create a one-time code that pairs a terminal with this node",
    _add_pair_arguments,
    _pair,
)
TERMINALS = Command(
    "terminals",
    "list paired terminals, or revoke one",
    _add_terminals_arguments,
    _terminals,
)
