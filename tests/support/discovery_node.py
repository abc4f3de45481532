"""A discovery node for the namespace tests and bench/converge.py: announces itself in its
namespace and prints, as JSON lines, "starting", "started", the peers it sees, and "closed".

Run as `python -m tests.support.discovery_node STORE NODE PORT FINGERPRINT [--poll S] ...`.
It stops on SIGTERM as the daemon does (edge/runtime/lifecycle.py): the task that holds
discovery open is cancelled, and closes it on its way out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import threading
from dataclasses import asdict

from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from edge.runtime.lifecycle import Stopping, run_until_stopped
from sync.discovery import (
    SERVICE_TYPE,
    Discovery,
    DiscoveryError,
    PeerAnnouncement,
    choose_interfaces,
    read_interfaces,
)


async def run_node(args: argparse.Namespace) -> None:
    if os.environ.get("DISCOVERY_DEBUG"):  # to see what zeroconf sends and hears
        logging.basicConfig(
            level=logging.DEBUG, format=f"%(relativeCreated)d {args.node} %(message)s"
        )
        logging.getLogger("zeroconf").setLevel(logging.DEBUG)
    stopping = Stopping()
    with stopping.on_signals():  # before "started": a test may send SIGTERM right after it
        await announce(args, stopping)
    print(json.dumps({"closed": True}), flush=True)


async def announce(args: argparse.Namespace, stopping: Stopping) -> None:
    """Announce and print the peers seen until `stopping` stops the task holding it open."""

    def show(peers: dict[str, PeerAnnouncement]) -> None:
        print(json.dumps({"peers": {k: asdict(v) for k, v in peers.items()}}), flush=True)

    discovery = Discovery(
        store_id=args.store,
        node_id=args.node,
        port=args.port,
        fingerprint=args.fingerprint,
        interfaces=args.interfaces,
        on_change=show,
        address_poll_interval=args.poll,
    )
    print(json.dumps({"starting": True}), flush=True)  # bench/converge.py times from here
    try:
        await discovery.start()
    except DiscoveryError as exc:
        print(json.dumps({"refused": str(exc)}), flush=True)
        sys.exit(3)
    malformed = None
    if args.also_malformed:
        addresses = [i.address for i in choose_interfaces(read_interfaces(), None)]
        malformed = AsyncZeroconf(interfaces=addresses)
        txt = {"store": args.also_malformed, "node": "bad", "proto": "1"}  # no fp
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"malformed.{SERVICE_TYPE}",
            server="malformed.posedge.local.",
            port=1,
            properties=txt,
            parsed_addresses=addresses,
        )
        await malformed.async_register_service(info)
    threads = [t.name for t in threading.enumerate()]
    print(json.dumps({"started": True, "threads": threads}), flush=True)
    try:
        await run_until_stopped({"discovery": hold(discovery)}, stopping.stop)
    finally:
        if malformed is not None:
            await malformed.async_close()
        await discovery.close()  # safe twice


async def hold(discovery: Discovery) -> None:
    """Keep `discovery` open until cancelled, then close it, as the peer links do."""
    try:
        await asyncio.Event().wait()
    finally:
        await discovery.close()


def node_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.discovery_node")
    parser.add_argument("store")
    parser.add_argument("node")
    parser.add_argument("port", type=int)
    parser.add_argument("fingerprint")
    parser.add_argument("--interfaces", nargs="*", default=None)
    parser.add_argument("--poll", type=float, default=10.0)
    parser.add_argument("--also-malformed", metavar="STORE", default=None)
    asyncio.run(run_node(parser.parse_args(argv)))


if __name__ == "__main__":
    node_main(sys.argv[1:])
