"""`posedge init`, `posedge join-code` and `posedge join`: a store's nodes, made members with
the store's CA and a certificate each (sync/membership/)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from edge.access.join_codes import StoredJoinCodes
from edge.cli.common import EX_CONFIG, EX_USAGE, Command, add_state_source, config_of
from sync.membership.credentials import load as load_credentials
from sync.membership.credentials import save as save_credentials
from sync.membership.join import join as join_credentials
from sync.membership.trust import create_store, fingerprint


def _init(args: argparse.Namespace) -> int:
    config = config_of(args)
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
    config = config_of(args)
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


def _add_join_arguments(parser: argparse.ArgumentParser) -> None:
    add_state_source(parser)
    parser.add_argument("code", help="the code, e.g. K7M2-9XQF")
    parser.add_argument(
        "--from",
        dest="member",
        required=True,
        metavar="HOST[:PORT]",
        help="the node that made the code: its terminal API address (port 8420 by default)",
    )


def _run_join(args: argparse.Namespace) -> int:
    return asyncio.run(_join(args))


async def _join(args: argparse.Namespace) -> int:
    config = config_of(args)
    if (config.trust_dir / "node.pem").exists():
        print(f"posedge: this node is already a member ({config.trust_dir})", file=sys.stderr)
        return EX_USAGE
    host, _, port = args.member.partition(":")
    creds = await join_credentials(
        f"https://{host}:{port or 8420}", args.code, config.node.name, timeout=30
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


INIT = Command(
    "init",
    "make a new store on this node: the store's CA and this node's certificate "
    "(the store's other nodes then join it)",
    add_state_source,
    _init,
)
JOIN_CODE = Command(
    "join-code",
    "a one-time code (valid 10 minutes) with which a new node joins this node's store",
    add_state_source,
    _join_code,
)
JOIN = Command(
    "join",
    "join a store with a code from one of its nodes (posedge join-code)",
    _add_join_arguments,
    _run_join,
)
