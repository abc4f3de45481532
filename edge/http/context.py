"""What the API's handlers share: the order book and its companions, one per application."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from edge.access.terminals import Terminal, TerminalRegistry
from edge.access.users import UserStore
from edge.config.layers import ConfigEditor
from edge.devices.assembly import Devices
from edge.http.problems import Problem
from edge.http.tls import ApiCertificate
from edge.orders.book import OrderBook
from edge.orders.feed import OrderFeed
from edge.orders.index import OrderIndex
from edge.orders.log import Actor
from edge.replication.directory import NodeDirectory
from edge.replication.peers import PeerManager
from edge.replication.upstream import UpstreamLink
from sync.replica import Replica


@dataclass(slots=True)
class ApiContext:
    """The node's parts the API works on, and whether the node takes requests yet."""

    book: OrderBook
    replica: Replica  # the store's documents, for terminals that hold a replica of a day
    feed: OrderFeed
    index: OrderIndex
    terminals: TerminalRegistry
    users: UserStore  # the manager UI's
    devices: Devices
    state_dir: Path  # where the order log is kept (its disk's room decides /readyz)
    now: Callable[[], dt.datetime]
    https: ApiCertificate | None = None  # None until this node is a member of a store
    peers: PeerManager | None = None  # None until this node is a member of a store
    directory: NodeDirectory | None = None  # None until this node is a member of a store
    upstream: UpstreamLink | None = None  # None when no hub is configured
    ready: bool = False  # set once started; cleared when the daemon begins to stop
    config_editor: ConfigEditor | None = None  # None when the node runs without a file


CONTEXT = web.AppKey("context", ApiContext)
TERMINAL = web.RequestKey("terminal", Terminal)  # the Terminal the bearer token belongs to


def context(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]


def terminal(request: web.Request) -> Terminal:
    """The authenticated terminal making this request."""
    return request[TERMINAL]


def actor(request: web.Request) -> Actor:
    """The order log's author of this request's writes: the terminal, by name and id."""
    who = terminal(request)
    return Actor(who.label, manager=who.manager)


def require_manager(request: web.Request) -> Terminal:
    who = terminal(request)
    if not who.manager:
        raise Problem(
            403,
            "manager-required",
            "Only a manager may do this",
            f"terminal {who.name!r} is not paired as a manager",
        )
    return who
