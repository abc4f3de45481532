"""`load()`: a node's configuration from its TOML file, and `from_values()` from flat values.

`load` applies the defaults, then the file, then validation, and has no side effects. A bad
file raises ConfigError naming the file, the key and what is wrong; the CLI exits with 78
(EX_CONFIG) so systemd's RestartPreventExitStatus=78 does not restart-loop on it.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from edge.config.devices import DeviceSettings, parse_devices
from edge.config.model import (
    Config,
    HttpConfig,
    KdsSettings,
    NodeConfig,
    PeersConfig,
    PrintSettings,
    ReceiptConfig,
    StoreConfig,
    UpstreamConfig,
    optional_path,
)
from edge.config.settings import BY_KEY, SETTINGS, Setting
from edge.config.store_settings import StoreTables, lay_over
from edge.runtime.errors import ConfigError

DEFAULT_PATH = Path("/etc/posedge/posedge.toml")


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
    for key in values:
        if key not in BY_KEY:
            raise ConfigError(source, key, "unknown setting; see docs/configuration.md")
    v = {key: _coerce(s, values.get(key, s.default), source) for key, s in BY_KEY.items()}
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
        http=HttpConfig(
            v["http.host"],
            v["http.port"],
            v["http.plain_kds"],
            v["http.idle_timeout"],
            v["http.max_connections_per_address"],
            v["http.max_connections"],
        ),
        state_dir=Path(v["paths.state_dir"]),
        log_level=v["log.level"],
        shutdown_timeout=v["daemon.shutdown_timeout"],
        status_interval=v["daemon.status_interval"],
        receipt=ReceiptConfig(
            v["receipt.printer"],
            tuple(v["receipt.header"]),
            tuple(v["receipt.footer"]),
            optional_path(v["receipt.logo"]),
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
            optional_path(v["upstream.ca"]),
            v["upstream.stagger"],
        ),
    )


def load(
    path: Path, store: StoreTables | None = None, elsewhere: frozenset[str] = frozenset()
) -> Config:
    """Read and validate the TOML file at `path`, with the `store`'s settings laid over it
    (store_settings.py) and stations free to name `elsewhere`, the printers of other nodes;
    raises ConfigError."""
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
    if store is not None:
        table = lay_over(table, store)
    devices = parse_devices(table.pop("devices", {}), table.pop("stations", {}), source, elsewhere)
    if store is not None:
        network = {device_id: store.owners.get(device_id, "") for device_id in store.devices}
        devices = dataclasses.replace(devices, network=network)
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
