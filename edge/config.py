"""Configuration: every setting, its default and help, and `load()` from TOML.

`load` applies the defaults, then the file, then validation, and has no side effects. A bad
file raises ConfigError naming the file, the key and what is wrong; the CLI exits with 78
(EX_CONFIG) so systemd's RestartPreventExitStatus=78 does not restart-loop on it.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .device_config import DeviceSettings, parse_devices
from .errors import ConfigError

DEFAULT_PATH = Path("/etc/posedge/posedge.toml")


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


@dataclass(frozen=True, slots=True)
class StoreConfig:
    id: str
    name: str
    timezone: str
    rollover_hour: int

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class NodeConfig:
    name: str
    letter: str


@dataclass(frozen=True, slots=True)
class HttpConfig:
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class PrintSettings:
    """The `print.*` settings."""

    late_after: float = 120.0
    skip_tickets_after: float = 3600.0
    retry_max_interval: float = 5.0
    ack_timeout: float = 20.0
    status_interval: float = 2.0


@dataclass(frozen=True, slots=True)
class ReceiptConfig:
    """The `receipt.*` settings."""

    printer: str
    header: tuple[str, ...]
    footer: tuple[str, ...]
    logo: Path | None = None


@dataclass(frozen=True, slots=True)
class PeersConfig:
    """The `peers.*` settings."""

    host: str
    port: int
    interfaces: tuple[str, ...]
    static: tuple[str, ...]
    mdns: bool
    days: int


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """The `upstream.*` settings: the hub, if any."""

    url: str = ""
    token: str = ""
    ca: Path | None = None
    stagger: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.url)


@dataclass(frozen=True, slots=True)
class KdsSettings:
    """The `kds.*` settings: a ticket's colour thresholds, in minutes after its fire."""

    warn_after: float = 5.0
    late_after: float = 10.0


@dataclass(frozen=True, slots=True)
class Config:
    """The validated configuration of one posedge node."""

    store: StoreConfig
    node: NodeConfig
    http: HttpConfig
    state_dir: Path
    log_level: str
    shutdown_timeout: float
    status_interval: float
    receipt: ReceiptConfig
    print: PrintSettings
    peers: PeersConfig
    source: str  # the file it came from, or "<defaults>"
    devices: DeviceSettings = field(default_factory=DeviceSettings)
    kds: KdsSettings = field(default_factory=KdsSettings)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)

    @property
    def store_path(self) -> Path:
        return self.state_dir / "orders.db"

    @property
    def node_db_path(self) -> Path:
        """This node's own state: paired terminals and pairing codes."""
        return self.state_dir / "node.db"

    @property
    def requests_db_path(self) -> Path:
        """The first answers to keyed requests, replayed to their retries."""
        return self.state_dir / "requests.db"

    @property
    def trust_dir(self) -> Path:
        """The store's CA and this node's certificate, once it is a member."""
        return self.state_dir / "trust"

    @property
    def print_db_path(self) -> Path:
        """Print jobs: queued, in flight and recently printed."""
        return self.state_dir / "print.db"


def _type_name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list",
    }[kind]


def _coerce(setting: Setting, value: object, source: str) -> object:
    kind = setting.kind
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(
            source, setting.key, f"must be {_type_name(kind)}, not {type(value).__name__} {value!r}"
        )
    problem = setting.check(value)
    if problem:
        raise ConfigError(source, setting.key, f"{problem} (got {value!r})")
    return value


def _flatten(table: dict, source: str, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            if not any(s.key.startswith(key + ".") for s in SETTINGS):
                raise ConfigError(source, key, "unknown table; see docs/configuration.md")
            flat.update(_flatten(value, source, key + "."))
        else:
            flat[key] = value
    return flat


def from_values(
    values: dict[str, object],
    source: str = "<defaults>",
    devices: DeviceSettings | None = None,
) -> Config:
    """A Config from defaults overridden by flat `section.key` values; raises ConfigError."""
    known = {s.key: s for s in SETTINGS}
    for key in values:
        if key not in known:
            raise ConfigError(source, key, "unknown setting; see docs/configuration.md")
    v = {key: _coerce(s, values.get(key, s.default), source) for key, s in known.items()}
    if bool(v["upstream.url"]) != bool(v["upstream.token"]):
        missing = "upstream.token" if v["upstream.url"] else "upstream.url"
        raise ConfigError(source, missing, "upstream.url and upstream.token go together")
    if v["kds.late_after"] <= v["kds.warn_after"]:
        raise ConfigError(
            source,
            "kds.late_after",
            f"must be more than kds.warn_after ({v['kds.warn_after']}), not {v['kds.late_after']}",
        )
    return Config(
        store=StoreConfig(
            v["store.id"], v["store.name"], v["store.timezone"], v["store.rollover_hour"]
        ),
        node=NodeConfig(v["node.name"], v["node.letter"]),
        http=HttpConfig(v["http.host"], v["http.port"]),
        state_dir=Path(v["paths.state_dir"]),
        log_level=v["log.level"],
        shutdown_timeout=v["daemon.shutdown_timeout"],
        status_interval=v["daemon.status_interval"],
        receipt=ReceiptConfig(
            v["receipt.printer"],
            tuple(v["receipt.header"]),
            tuple(v["receipt.footer"]),
            Path(v["receipt.logo"]) if v["receipt.logo"] else None,
        ),
        print=PrintSettings(
            late_after=v["print.late_after"],
            skip_tickets_after=v["print.skip_tickets_after"],
            retry_max_interval=v["print.retry_max_interval"],
            ack_timeout=v["print.ack_timeout"],
            status_interval=v["print.status_interval"],
        ),
        peers=PeersConfig(
            v["peers.host"],
            v["peers.port"],
            tuple(v["peers.interfaces"]),
            tuple(v["peers.static"]),
            v["peers.mdns"],
            v["peers.days"],
        ),
        source=source,
        devices=devices or DeviceSettings(),
        kds=KdsSettings(v["kds.warn_after"], v["kds.late_after"]),
        upstream=UpstreamConfig(
            v["upstream.url"],
            v["upstream.token"],
            Path(v["upstream.ca"]) if v["upstream.ca"] else None,
            v["upstream.stagger"],
        ),
    )


def load(path: Path) -> Config:
    """Read and validate the TOML file at `path`; raises ConfigError."""
    source = str(path)
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise ConfigError(source, "(file)", f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "(file)", f"not UTF-8 text: {exc}") from exc
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "(syntax)", str(exc)) from exc
    devices = parse_devices(table.pop("devices", {}), table.pop("stations", {}), source)
    values = _flatten(table, source)
    from_values(values, source, devices)  # every value checked before paths are resolved
    # Relative paths are relative to the config file, not to wherever we started.
    here = Path(path).parent
    for key in ("paths.state_dir", "receipt.logo", "upstream.ca"):
        given = values.get(key)
        if isinstance(given, str) and given and not Path(given).is_absolute():
            values[key] = str((here / given).resolve())
    config = from_values(values, source, devices)
    if config.receipt.printer and config.receipt.printer not in devices.printers:
        raise ConfigError(source, "receipt.printer", "must name a printer of [devices]")
    ca = config.upstream.ca
    if ca is not None and not ca.is_file():
        raise ConfigError(source, "upstream.ca", f"{ca} is not a readable file")
    logo = config.receipt.logo
    if logo is not None and not logo.is_file():
        raise ConfigError(source, "receipt.logo", f"no such file: {logo}")
    return config
