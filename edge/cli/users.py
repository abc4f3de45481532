"""`posedge user add|list|remove|passwd`: the manager UI's users, from the node's shell.

The first manager of a store is made this way; the daemon need not be stopped. Users
belong to the store: one added here signs in on every node (the change is queued for this
node's daemon, which writes it into the store document: edge/access/outbox.py).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import sys
from collections.abc import Callable

from edge.access.users import ROLES, UserStore
from edge.cli.common import EX_USAGE, Command, add_state_source, config_of, queued_store
from edge.runtime.process import utc_now


class PasswordUnreadable(Exception):
    """No password could be read (the two typed differ, or stdin was empty)."""


def _add_arguments(user: argparse.ArgumentParser) -> None:
    """The `user` command's subcommands, each taking the node's --config or --state-dir."""
    actions = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user who may sign in to the manager UI")
    add.add_argument("name", help="the name to sign in with")
    add.add_argument("--role", choices=ROLES, required=True, help="manager or technician")
    _password_source(add)
    listing = actions.add_parser("list", help="list the users")
    remove = actions.add_parser("remove", help="remove a user and sign them out")
    remove.add_argument("name")
    passwd = actions.add_parser("passwd", help="set a user's password and sign them out")
    passwd.add_argument("name")
    _password_source(passwd)
    for action in (add, listing, remove, passwd):
        add_state_source(action)


def _password_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of asking twice",
    )


def _run(args: argparse.Namespace) -> int:
    config = config_of(args)
    users = UserStore(config.node_db_path, queued_store(config))
    return asyncio.run(_manage(args, users, config.http.port, utc_now))


async def _manage(
    args: argparse.Namespace, users: UserStore, port: int, now: Callable[[], dt.datetime]
) -> int:
    """Do what `args` asks on the store's `users` (of a node serving on `port`); raises
    UserError on refusal."""
    if args.action == "list":
        found = users.users()
        if not found:
            print("no users yet; add the first manager with: posedge user add NAME --role manager")
        for user in found:
            print(f"{user.name:<24} {user.role:<10} added {user.created_at}")
        return 0
    if args.action == "remove":
        await users.remove(args.name)
        print(f"removed {args.name!r}; their sessions are signed out")
        return 0
    try:
        password = _read_password(args.password_stdin)
    except PasswordUnreadable as exc:
        print(f"posedge: {exc}", file=sys.stderr)
        return EX_USAGE
    if args.action == "add":
        user = await users.add(args.name, args.role, password, now=now())
        print(f"added {user.name!r} ({user.role}); sign in at https://<any node>:{port}/ui/")
    else:
        await users.set_password(args.name, password)
        print(f"password of {args.name!r} changed; their sessions are signed out")
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise PasswordUnreadable("no password on stdin")
        return password
    password = getpass.getpass("Password: ")
    if getpass.getpass("Same password again: ") != password:
        raise PasswordUnreadable("the two passwords differ; nothing was changed")
    return password


COMMAND = Command(
    "user",
    "add, list or remove the users of the manager UI (/ui/), or set a password",
    _add_arguments,
    _run,
)
