"""The validated configuration of a node: frozen dataclasses, one per section.

Their defaults are drawn from the table of settings (edge/config/settings.py); edge/config/load.py
builds them from a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.config.devices import DeviceSettings
from edge.config.settings import default


def optional_path(text: str) -> Path | None:
    """A path setting's value as a path; None when it is empty (the setting's "none")."""
    return Path(text) if text else None


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """The `store.*` settings."""

    id: str
    name: str
    timezone: str
    rollover_hour: int

    @property
    def zone(self) -> ZoneInfo:
        """The store's time zone."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The `node.*` settings."""

    name: str
    letter: str


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """The `http.*` settings: the terminal API's address and what its clients may hold."""

    host: str
    port: int
    plain_kds: bool = default("http.plain_kds")
    idle_timeout: float = default("http.idle_timeout")
    max_connections_per_address: int = default("http.max_connections_per_address")
    max_connections: int = default("http.max_connections")


@dataclass(frozen=True, slots=True)
class PrintSettings:
    """The `print.*` settings."""

    late_after: float = default("print.late_after")
    skip_tickets_after: float = default("print.skip_tickets_after")
    retry_max_interval: float = default("print.retry_max_interval")
    ack_timeout: float = default("print.ack_timeout")
    status_interval: float = default("print.status_interval")


@dataclass(frozen=True, slots=True)
class ReceiptConfig:
    """The `receipt.*` settings."""

    printer: str
    header: tuple[str, ...]
    footer: tuple[str, ...]
    logo: Path | None = optional_path(default("receipt.logo"))  # noqa: RUF009 (immutable)


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

    url: str = default("upstream.url")
    token: str = default("upstream.token")
    ca: Path | None = optional_path(default("upstream.ca"))  # noqa: RUF009 (immutable)
    stagger: float = default("upstream.stagger")

    @property
    def enabled(self) -> bool:
        """Whether the store syncs with a hub."""
        return bool(self.url)


@dataclass(frozen=True, slots=True)
class KdsSettings:
    """The `kds.*` settings: a ticket's colour thresholds, in minutes after its fire."""

    warn_after: float = default("kds.warn_after")
    late_after: float = default("kds.late_after")


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
        """The order log."""
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
