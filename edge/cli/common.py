"""What the `posedge` commands share: the shape a command is declared in, the exit statuses,
the configuration a command names by --config or --state-dir, the store document as the
command line sees it, and the logger."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.access.outbox import QueuedStore
from edge.config.load import DEFAULT_PATH, from_values, load
from edge.config.model import Config
from edge.config.store_document import KIND
from edge.orders.documents import store_guid
from sync.store_file import registered

log = logging.getLogger("posedge")

EX_USAGE = 64
EX_CONFIG = 78  # sysexits.h: configuration error; systemd is told not to restart on it
EX_IOERR = 74


@dataclass(frozen=True, slots=True)
class Command:
    """One `posedge` command: its name and line in `posedge --help`, its arguments, and what it
    does with them (returning the exit status; errors main() knows are reported there)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def add_state_source(parser: argparse.ArgumentParser) -> None:
    """Add --config and --state-dir, the two ways a command names the node it works on."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", type=Path, help=f"configuration file (default {DEFAULT_PATH})")
    source.add_argument("--state-dir", type=Path, help="use this state dir (e.g. the demo's)")


def queued_store(config: Config) -> QueuedStore:
    """The store document of the node of `config` as the command line sees it (its
    changes are queued for the daemon: edge/access/outbox.py)."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    found = registered(config.store_path, KIND)  # --state-dir alone does not say the store
    guid = found[0] if found else store_guid(config.store.id)
    return QueuedStore(config.node_db_path, config.store_path, guid)


def config_of(args: argparse.Namespace) -> Config:
    """The configuration a command names by --state-dir or --config."""
    if args.state_dir is not None:
        return from_values({"paths.state_dir": str(args.state_dir.resolve())})
    return load(args.config or DEFAULT_PATH)
