"""What the API's handlers share: the order book and its companions, one per application."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from edge.access.staff import roles
from edge.access.staff.employees import Employee
from edge.access.staff.sessions import StaffSession
from edge.access.staff.store import EmployeeStore
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
    staff: EmployeeStore  # the store's employees and their sessions on terminals
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
# set by edge/http/staff_auth.py: the employee signed in on the terminal (Employee-Session),
# and the manager who approved this one request (Manager-Approval)
STAFF_SESSION = web.RequestKey("staff_session", StaffSession)
APPROVER = web.RequestKey("approver", Employee)


def context(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]


def terminal(request: web.Request) -> Terminal:
    """The authenticated terminal making this request."""
    return request[TERMINAL]


def employee(request: web.Request) -> Employee | None:
    """The employee signed in on the terminal making this request, if any."""
    session = request.get(STAFF_SESSION)
    return session.employee if session is not None else None


def actor(request: web.Request) -> Actor:
    """The order log's author of this request's writes: the terminal, by name and id, the
    employee signed in on it, and the manager who approved the request. It acts with a
    manager's authority when the terminal is a manager's, its employee is a manager, or a
    manager approved it."""
    who = terminal(request)
    signed_in = employee(request)
    approver = request.get(APPROVER)
    return Actor(
        who.label,
        manager=who.manager
        or (signed_in is not None and signed_in.manager)
        or (approver is not None and approver.manager),
        employee=signed_in.label if signed_in is not None else None,
        approved_by=approver.label if approver is not None else None,
    )


def allows(request: web.Request, action: str) -> bool:
    """Whether this request may do `action` (edge/access/staff/roles.py): a manager approved it,
    the terminal is a manager's, or the employee signed in may, or, with nobody signed in,
    the terminal's own role may (a cashier's terminal as a cashier). A kitchen screen may
    do none. Raises ValueError for an action that is not one of roles.ACTIONS."""
    roles.check_action(action)
    who = terminal(request)
    if who.role not in roles.TERMINAL_ROLES:
        return False
    approver = request.get(APPROVER)
    if who.manager or (approver is not None and roles.may(approver.role, action)):
        return True
    signed_in = employee(request)
    role = signed_in.role if signed_in is not None else roles.TERMINAL_ROLES[who.role]
    return roles.may(role, action)


def require(request: web.Request, action: str) -> None:
    """Refuse this request with 403 manager-required unless it may do `action` (allows)."""
    if allows(request, action):
        return
    who = terminal(request)
    signed_in = employee(request)
    asking = (
        f"{signed_in.name} ({signed_in.role})"
        if signed_in is not None
        else f"terminal {who.name!r} ({roles.TERMINAL_ROLES.get(who.role, who.role)})"
    )
    raise Problem(
        403,
        "manager-required",
        "Only a manager may do this",
        f"{asking} may not {action}: a manager signs in, or approves this request by "
        "sending Manager-Approval: <manager's employee id>:<PIN>",
    )


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
