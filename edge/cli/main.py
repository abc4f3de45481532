"""The `posedge` command line: the parser built from the registry of commands, and `main()`.

Each command is declared once, as a `Command` (edge/cli/common.py) in its own module; the
registry below lists them in the order `posedge --help` shows them.
"""

from __future__ import annotations

import argparse
import os
import sys

import drivers.escpos  # noqa: F401  first: python-escpos loaded without leaving a temp dir
from edge import __version__
from edge.access.pairing_codes import TerminalError
from edge.access.staff.errors import StaffError
from edge.access.users import UserError
from edge.cli import employees, emulate, hub, membership, run, store, terminals, users
from edge.cli.common import EX_CONFIG, EX_IOERR, EX_USAGE, Command
from edge.cli.demo import command as demo
from edge.cli.doctor import command as doctor
from edge.runtime.errors import ConfigError, StorageError
from sync.errors import SyncError
from sync.membership.trust import TrustError

COMMANDS: tuple[Command, ...] = (
    run.COMMAND,
    demo.COMMAND,
    membership.INIT,
    membership.JOIN_CODE,
    membership.JOIN,
    store.CATALOG,
    emulate.COMMAND,
    store.ORDERS,
    terminals.PAIR,
    terminals.TERMINALS,
    hub.COMMAND,
    users.COMMAND,
    employees.COMMAND,
    doctor.COMMAND,
)


def parser() -> argparse.ArgumentParser:
    """The parser of `posedge` and of every command in COMMANDS."""
    root = argparse.ArgumentParser(
        prog="posedge", description="Point-of-sale daemon: devices, order log, replication."
    )
    root.add_argument("--version", action="version", version=f"posedge {__version__}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_arguments(commands.add_parser(command.name, help=command.help))
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `posedge` console script."""
    os.umask(0o077)  # state, keys and databases are the posedge user's alone (0700/0600)
    args = parser().parse_args(argv)
    command = next(command for command in COMMANDS if command.name == args.command)
    try:
        return command.run(args)
    except ConfigError as exc:
        print(f"posedge: configuration error: {exc}", file=sys.stderr)
        return EX_CONFIG
    except TrustError as exc:  # the node's store credentials do not fit its configuration
        print(f"posedge: {exc}", file=sys.stderr)
        return EX_CONFIG
    except (SyncError, StorageError, TerminalError, UserError, StaffError) as exc:  # each says why
        print(f"posedge: {exc}", file=sys.stderr)
        return EX_IOERR if isinstance(exc, SyncError | StorageError) else EX_USAGE


if __name__ == "__main__":
    sys.exit(main())
