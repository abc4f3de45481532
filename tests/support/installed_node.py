"""An installed posedge package, driven as its service would be, for tests/test_package.py.

The unit's own command lines are read from the installed posedge.service and run as the
service user, in a network namespace (netns) or a Debian root (debian_root); the terminal is
tests/support/store_client.py, run there by the local Python.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import signal
import subprocess
import time
from pathlib import Path

AS_SERVICE = ["setpriv", "--reuid=posedge", "--regid=posedge", "--init-groups", "--"]
CLIENT = Path(__file__).with_name("store_client.py")
UNIT = "/lib/systemd/system/posedge.service"
CA = "/var/lib/posedge/trust/ca.pem"
HTTPS = ["https://localhost:8420", "--ca", CA]  # a member's API, checked against the store CA
HTTP = ["http://127.0.0.1:8420"]  # a release before HTTPS


def unit_command(unit: Path, key: str) -> list[str]:
    """The argv of the unit file's `key=` line (ExecStart, ExecReload)."""
    line = next(line for line in unit.read_text().splitlines() if line.startswith(f"{key}="))
    return shlex.split(line.removeprefix(f"{key}="))


def pairing_code(printed: str) -> str:
    """The code in `posedge pair`'s output: "pairing code for 'Counter 1' (cashier): CODE"."""
    return printed.split(": ")[1].split()[0]


def client_json(done: subprocess.CompletedProcess[str]) -> dict:
    """What a store_client step printed, failing with what it said when it failed."""
    assert done.returncode == 0, f"store_client: {done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return json.loads(done.stdout)


def wait_for_text(log: Path, text: str, within: float = 60.0) -> None:
    """Wait until `text` is in the file `log` (a daemon's stderr), `within` seconds at most."""
    deadline = time.monotonic() + within
    while text not in log.read_text():
        assert time.monotonic() < deadline, (
            f"{text!r} not in {log} after {within} s:\n" + (log.read_text()[-3000:])
        )
        time.sleep(0.1)


def stop(daemon: subprocess.Popen, log: Path) -> str:
    """SIGTERM the daemon, as systemd stops it; it must exit 0. Its log."""
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=60)
    assert daemon.returncode == 0, log.read_text()[-3000:]
    return log.read_text()


def order_facts(order: dict) -> dict:
    """What an upgrade must keep of an order: its identity, what was sold and paid, its
    status and totals (not fields a new version may add)."""
    return {
        "id": order["id"],
        "number": order["number"],
        "business_date": order["business_date"],
        "status": order["status"],
        "lines": [(ln["id"], ln["sku"], ln["qty"], ln["unit_price"]) for ln in order["lines"]],
        "payments": [(paid["tender"], paid["amount"]) for paid in order["payments"]],
        "totals": {k: order["totals"][k] for k in ("subtotal", "tax", "total", "paid")},
    }


def job_facts(job: dict) -> dict:
    """What an upgrade must keep of a print job; its time as this release writes it (ISO 8601
    in UTC, to the second; the previous one wrote Unix time)."""
    facts = {k: job[k] for k in ("id", "kind", "printer", "order_id", "requested_by")}
    made = job["created_at"]
    if isinstance(made, int | float):
        made = dt.datetime.fromtimestamp(made, dt.UTC).isoformat(timespec="seconds")
    return {**facts, "created_at": made}


VERIFY_PASSWORD = """
import sys
from pathlib import Path
from edge.access.users import UserStore
from edge.cli.common import queued_store
from edge.config.load import load
config = load(Path("/etc/posedge/posedge.toml"))
users = UserStore(config.node_db_path, queued_store(config))
right, wrong = users.verify(sys.argv[1], sys.argv[2]), users.verify(sys.argv[1], "not it")
print(right.role if right else "refused", "refused" if wrong is None else "let in")
"""
