"""Every configuration setting: its key, TOML type, default, help text and value check.

This table is the one place a default is written; the dataclasses of edge/config/model.py draw
theirs from it, and docs/configuration.md documents every row (tests/config/test_config.py).
Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True, slots=True)
class Setting:
    """One configuration key: its TOML type, default, help text and value check."""

    key: str
    kind: type
    default: object
    help: str
    check: Callable[[object], str | None] = lambda _value: None


def _pattern(regex: str, what: str) -> Callable[[object], str | None]:
    compiled = re.compile(regex)
    return lambda value: None if compiled.fullmatch(str(value)) else f"must be {what}"


def _between(low: float, high: float) -> Callable[[object], str | None]:
    return lambda value: None if low <= value <= high else f"must be between {low} and {high}"


def _timezone(value: object) -> str | None:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        return "must be an IANA time zone such as Europe/Paris or America/New_York"
    return None


def _host(value: object) -> str | None:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return "must be an IP address such as 0.0.0.0, 127.0.0.1 or 192.168.1.20"
    return None


def _lines(value: object) -> str | None:
    if all(isinstance(line, str) and len(line) <= 64 for line in value):
        return None
    return "must be a list of strings of at most 64 characters"


def _addresses(value: object) -> str | None:
    wrong = [v for v in value if not (isinstance(v, str) and re.fullmatch(r"[^:\s]+:\d{1,5}", v))]
    return f'must be a list of "host:port" (not {wrong[0]!r})' if wrong else None


def _log_level(value: object) -> str | None:
    return (
        None
        if value in ("debug", "info", "warning", "error")
        else ("must be one of debug, info, warning, error")
    )


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "store.id",
        str,
        "demo-store",
        "The store's id; prefixes every document guid. Letters, digits, '-' and '_'.",
        _pattern(r"[A-Za-z0-9_-]{1,64}", "1-64 letters, digits, '-' or '_'"),
    ),
    Setting("store.name", str, "Demo Store", "The store's name, printed on receipts."),
    Setting(
        "store.timezone",
        str,
        "UTC",
        "IANA time zone of the store; business days and receipts use it.",
        _timezone,
    ),
    Setting(
        "store.rollover_hour",
        int,
        4,
        "Local hour (0-23) at which one business day ends and the next begins.",
        _between(0, 23),
    ),
    Setting(
        "node.name",
        str,
        "node-1",
        "This node's name, unique in the store; recorded on what it writes.",
        _pattern(r"[A-Za-z0-9_.-]{1,64}", "1-64 letters, digits, '.', '-' or '_'"),
    ),
    Setting(
        "node.letter",
        str,
        "A",
        "Letter prefixing the order numbers this node gives out (A-001); unique per node.",
        _pattern(r"[A-Z]", "one capital letter A-Z"),
    ),
    Setting(
        "paths.state_dir",
        str,
        "/var/lib/posedge",
        "Directory holding the order log (orders.db) and other state.",
    ),
    Setting(
        "http.host",
        str,
        "0.0.0.0",
        "Address the terminal API listens on; 0.0.0.0 is every interface of this node.",
        _host,
    ),
    Setting(
        "http.port",
        int,
        8420,
        "TCP port of the terminal API, the metrics and the health checks (0: any free port).",
        _between(0, 65535),
    ),
    Setting(
        "http.plain_kds",
        bool,
        False,
        "Also serve the kitchen screens (/kds) over plain HTTP on the LAN, for a screen whose "
        "browser cannot be given the store CA; sign-in, the manager UI and every other token "
        "stay HTTPS only.",
    ),
    Setting(
        "http.idle_timeout",
        float,
        15.0,
        "Seconds a connection may sit idle, and the most a request's headers may take to "
        "arrive, before the node closes it.",
        _between(1, 300),
    ),
    Setting(
        "http.max_connections_per_address",
        int,
        64,
        "Connections one client address may hold open to the API at once.",
        _between(1, 10000),
    ),
    Setting(
        "http.max_connections",
        int,
        900,
        "Connections the API holds open at once from the LAN, and as many again from this "
        "machine (the service's LimitNOFILE=4096 leaves room for them and its files).",
        _between(16, 60000),
    ),
    Setting(
        "receipt.printer",
        str,
        "",
        "Printer (a [devices] id) that receipts go to when a request names none; empty: the "
        "node's only printer.",
    ),
    Setting(
        "receipt.logo",
        str,
        "",
        "Image file (PNG, at most 384 dots wide after scaling) printed at the top of every "
        "receipt; empty: none.",
    ),
    Setting(
        "receipt.header",
        list,
        [],
        "Lines printed under the store's name at the top of every receipt (address, phone).",
        _lines,
    ),
    Setting(
        "receipt.footer",
        list,
        ["Thank you!"],
        "Lines printed at the bottom of every receipt.",
        _lines,
    ),
    Setting(
        "print.late_after",
        float,
        120.0,
        "Seconds after a fire (or a print request) past which a job prints marked LATE.",
        _between(1, 86400),
    ),
    Setting(
        "print.skip_tickets_after",
        float,
        3600.0,
        "Seconds after a fire past which its kitchen ticket is recorded as skipped, not printed.",
        _between(60, 7 * 86400),
    ),
    Setting(
        "print.retry_max_interval",
        float,
        5.0,
        "Longest wait, in seconds, between attempts at a job on a failing printer.",
        _between(0.1, 300),
    ),
    Setting(
        "print.ack_timeout",
        float,
        20.0,
        "Seconds a printer may take to confirm it printed a job (paper may run out mid-job) "
        "before the job is taken back and printed again marked REPRINT.",
        _between(1, 600),
    ),
    Setting(
        "print.status_interval",
        float,
        2.0,
        "Seconds between status checks of an idle printer (paper, cover, drawer).",
        _between(0.2, 300),
    ),
    Setting(
        "peers.host",
        str,
        "0.0.0.0",
        "Address the store's other nodes link to (mutual TLS; this node must be a member: "
        "posedge init or posedge join).",
        _host,
    ),
    Setting(
        "peers.port",
        int,
        8421,
        "TCP port of the links with the store's other nodes (0: any free port).",
        _between(0, 65535),
    ),
    Setting(
        "peers.interfaces",
        list,
        [],
        "Network interfaces (names or IPv4 addresses) to announce this node on and look for "
        "peers; empty: every interface but loopback, docker's and VPNs'.",
        _lines,
    ),
    Setting(
        "peers.static",
        list,
        [],
        'Peers to link with where multicast does not pass, as "host:port".',
        _addresses,
    ),
    Setting(
        "peers.mdns",
        bool,
        True,
        "Announce this node and find its peers by mDNS (_posedge._tcp).",
    ),
    Setting(
        "peers.days",
        int,
        3,
        "Business days, today's included, that peers keep in sync.",
        _between(1, 31),
    ),
    Setting(
        "upstream.url",
        str,
        "",
        'The hub this store syncs with, e.g. "wss://hub.example.com:8443" (empty: none).',
        _pattern(r"(wss?://[^\s/]+(/\S*)?)?", 'a ws:// or wss:// URL such as "wss://hub:8443"'),
    ),
    Setting(
        "upstream.token",
        str,
        "",
        "The store's token at the hub (posedge hub store add on the hub prints it).",
        _pattern(r"(ph_[A-Za-z0-9_-]{20,})?", "a hub store token (ph_...)"),
    ),
    Setting(
        "upstream.ca",
        str,
        "",
        "Certificate file to trust for the hub (a copy of its hub.pem when it made its own); "
        "empty: the system's CAs.",
    ),
    Setting(
        "upstream.stagger",
        float,
        10.0,
        "Seconds each node waits per node ranked before it (by id, among the linked nodes) "
        "before it sends the hub what the hub lacks, so one node uploads and the rest find "
        "the hub up to date.",
        _between(0, 300),
    ),
    Setting(
        "kds.warn_after",
        float,
        5.0,
        "Minutes after its fire at which a ticket on a kitchen screen turns amber.",
        _between(0.5, 240),
    ),
    Setting(
        "kds.late_after",
        float,
        10.0,
        "Minutes after its fire at which a ticket on a kitchen screen turns red (more than "
        "kds.warn_after).",
        _between(0.5, 240),
    ),
    Setting(
        "staff.sign_in_required",
        bool,
        False,
        "Cashier terminals must have an employee signed in (docs/staff.md) to open or change "
        "orders; managers' terminals and kitchen screens need not.",
    ),
    Setting(
        "log.level",
        str,
        "info",
        "Least severe log level written: debug, info, warning or error.",
        _log_level,
    ),
    Setting(
        "daemon.shutdown_timeout",
        float,
        10.0,
        "Seconds allowed for in-flight work to finish on SIGTERM before it is abandoned.",
        _between(0.1, 300),
    ),
    Setting(
        "daemon.status_interval",
        float,
        15.0,
        "Seconds between refreshes of the status line shown by systemctl status.",
        _between(1, 3600),
    ),
)

BY_KEY: dict[str, Setting] = {setting.key: setting for setting in SETTINGS}


def default(key: str) -> Any:
    """The default of the setting `key`, as the table writes it."""
    return BY_KEY[key].default
