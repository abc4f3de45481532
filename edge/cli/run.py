"""`posedge run`: the daemon, as the service runs it."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from edge.app import Daemon
from edge.cli.common import Command
from edge.config.load import DEFAULT_PATH, load
from edge.runtime.logs import configure_logging


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_PATH,
        help=f"TOML configuration file (default {DEFAULT_PATH})",
    )


def _run(args: argparse.Namespace) -> int:
    config = load(args.config)
    configure_logging(config.log_level)
    daemon = Daemon(config)
    asyncio.run(daemon.run())
    return 1 if daemon.failed else 0


COMMAND = Command("run", "run the daemon", _add_arguments, _run)
