"""`posedge employees add|list|set-pin|remove` on a node's state directory: what it queues is
what the daemon writes into the store document, and the PIN it is given is the one that
verifies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edge.access.staff.store import EmployeeStore
from edge.cli.common import queued_store
from edge.config.load import from_values
from tests.support.api_node import Terminal
from tests.support.processes import posedge_cli
from tests.support.waiting import until


def posedge(state: Path, *args: str, pin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli.main", "employees", *args, "--state-dir", str(state)],
        input=pin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def staff_of(state: Path) -> EmployeeStore:
    """The employees as the command line sees them (the store file and what it queued)."""
    return EmployeeStore(queued_store(from_values({"paths.state_dir": str(state)})))


def test_the_employees_command_adds_lists_sets_pins_and_removes(tmp_path):
    assert "no employees yet" in posedge(tmp_path, "list").stdout
    added = posedge(tmp_path, "add", "Sam", "--role", "cashier", "--pin-stdin", pin="0417\n")
    assert added.returncode == 0, added.stderr
    sam = staff_of(tmp_path).find("Sam")
    assert f"as {sam.id}" in added.stdout and sam.role == "cashier"
    assert staff_of(tmp_path).verify(sam.id, "0417") == sam
    short = posedge(tmp_path, "add", "Kim", "--role", "server", "--pin-stdin", pin="41\n")
    assert short.returncode == 64 and "4 to 8 digits" in short.stderr
    wrong = posedge(tmp_path, "add", "Kim", "--role", "chef", "--pin-stdin", pin="4141\n")
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr
    listed = posedge(tmp_path, "list").stdout
    assert sam.id in listed and "Sam" in listed and "cashier" in listed
    changed = posedge(tmp_path, "set-pin", "sam", "--pin-stdin", pin="99887766\n")
    assert changed.returncode == 0, changed.stderr
    assert staff_of(tmp_path).verify(sam.id, "0417") is None
    assert staff_of(tmp_path).verify(sam.id, "99887766") is not None
    assert posedge(tmp_path, "remove", sam.id).returncode == 0
    again = posedge(tmp_path, "remove", sam.id)
    assert again.returncode == 64 and "no employee" in again.stderr
    assert "no employees yet" in posedge(tmp_path, "list").stdout


async def test_an_employee_added_beside_the_daemon_signs_in_on_its_terminals(node):
    added = await posedge_cli(
        "employees", "add", "Dana", "--role", "manager", "--pin-stdin",
        "--state-dir", str(node.state_dir), stdin="5190\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    employee_id = added.stdout.split(" as ")[1].split(":")[0]
    await until(lambda: node.context.staff.employees(), within=10)  # the outbox applied it
    till = Terminal(node, await node.pair())
    signed = await till.post("/staff/sign-in", {"employee": employee_id, "pin": "5190"})
    assert signed["employee"] == {**signed["employee"], "name": "Dana", "role": "manager"}
