"""What the API's handlers share: the order book and its companions, one per application."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from ..config_edit import ConfigEditor
from ..devices import Devices
from ..order_feed import OrderFeed
from ..order_index import OrderIndex
from ..orderbook import Actor, OrderBook
from ..peers import PeerManager
from ..terminals import Terminal, TerminalRegistry
from ..upstream import UpstreamLink
from .problems import Problem


@dataclass(slots=True)
class ApiContext:
    """The node's parts the API works on, and whether the node takes requests yet."""

    book: OrderBook
    feed: OrderFeed
    index: OrderIndex
    terminals: TerminalRegistry
    devices: Devices
    now: Callable[[], dt.datetime]
    peers: PeerManager | None = None  # None until this node is a member of a store
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
