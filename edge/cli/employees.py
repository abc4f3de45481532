"""`posedge employees add|list|set-pin|remove`: the store's employees, from a node's shell.

Employees belong to the store: one added here signs in on every node's terminals (the
change is queued for this node's daemon, which writes it into the store document:
edge/access/outbox.py). The daemon need not be stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import sys
from collections.abc import Callable

from edge.access.staff.employees import check_pin
from edge.access.staff.errors import InvalidEmployee
from edge.access.staff.roles import ROLES
from edge.access.staff.store import EmployeeStore
from edge.cli.common import EX_USAGE, Command, add_state_source, config_of, queued_store
from edge.runtime.process import utc_now


class PinUnreadable(Exception):
    """No PIN could be read (the two typed differ, or stdin was empty)."""


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `employees` command's actions, each taking the node's --config or --state-dir."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add an employee, who signs in on terminals by PIN")
    add.add_argument("name", help="the employee's name, as terminals and receipts show it")
    add.add_argument("--role", choices=ROLES, required=True, help="cashier, server or manager")
    _pin_source(add)
    listing = actions.add_parser("list", help="list the employees")
    set_pin = actions.add_parser("set-pin", help="give an employee a new PIN and sign them out")
    set_pin.add_argument("employee", help="the employee's id (e-…), or their name")
    _pin_source(set_pin)
    remove = actions.add_parser("remove", help="remove an employee and sign them out")
    remove.add_argument("employee", help="the employee's id (e-…), or their name")
    for action in (add, listing, set_pin, remove):
        add_state_source(action)


def _pin_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pin-stdin",
        action="store_true",
        help="read the PIN (4-8 digits) from the first line of stdin instead of asking twice",
    )


def _run(args: argparse.Namespace) -> int:
    config = config_of(args)
    return asyncio.run(_manage(args, EmployeeStore(queued_store(config)), utc_now))


async def _manage(
    args: argparse.Namespace, staff: EmployeeStore, now: Callable[[], dt.datetime]
) -> int:
    """Do what `args` asks on the store's employees; raises StaffError on refusal."""
    if args.action == "list":
        found = staff.employees()
        if not found:
            print("no employees yet; add one with: posedge employees add NAME --role ROLE")
        for employee in found:
            print(
                f"{employee.id}  {employee.name:<24} {employee.role:<8} added {employee.created_at}"
            )
        return 0
    if args.action == "remove":
        employee = staff.find(args.employee)
        await staff.remove(employee.id)
        print(f"removed {employee.name!r} ({employee.id}); their sessions are signed out")
        return 0
    try:
        pin = _read_pin(args.pin_stdin)
    except PinUnreadable as exc:
        print(f"posedge: {exc}", file=sys.stderr)
        return EX_USAGE
    if args.action == "add":
        employee = await staff.add(args.name, args.role, pin, now=now())
        print(
            f"added {employee.name!r} ({employee.role}) as {employee.id}: they sign in on a "
            "terminal with this id and their PIN"
        )
    else:
        employee = staff.find(args.employee)
        await staff.change(employee.id, pin=pin)
        print(f"new PIN for {employee.name!r} ({employee.id}); their sessions are signed out")
    return 0


def _read_pin(from_stdin: bool) -> str:
    if from_stdin:
        pin = sys.stdin.readline().strip()
        if not pin:
            raise PinUnreadable("no PIN on stdin")
    else:
        pin = getpass.getpass("PIN (4-8 digits): ")
        if getpass.getpass("Same PIN again: ") != pin:
            raise PinUnreadable("the two PINs differ; nothing was changed")
    try:
        return check_pin(pin)
    except InvalidEmployee as exc:
        raise PinUnreadable(str(exc)) from None


COMMAND = Command(
    "employees",
    "add, list or remove the store's employees (who sign in on terminals), or set a PIN",
    _add_arguments,
    _run,
)
