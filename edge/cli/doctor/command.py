"""`posedge doctor`: the command line of the node's checks (edge/cli/doctor/report.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.cli.common import Command
from edge.cli.doctor import report
from edge.cli.doctor.findings import SERVICE_USER
from edge.config.load import DEFAULT_PATH


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_PATH, help=f"configuration (default {DEFAULT_PATH})"
    )
    parser.add_argument(
        "--user",
        help=f"judge file and device access for this user (default: {SERVICE_USER} "
        "when it exists, else you)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document, for scripts")


def _run(args: argparse.Namespace) -> int:
    return report.run(args.config, args.user, args.json)


COMMAND = Command(
    "doctor",
    "check this node: configuration, state directory, disk, devices, ports, mDNS, "
    "peers, hub, clock; exit status 0 all ok, 1 warnings, 2 problems",
    _add_arguments,
    _run,
)
