"""`posedge doctor` against a good node (in a network namespace, with an emulated printer, the
daemon stopped and then running) and broken ones: a bad configuration, an unreachable
printer, a state directory the service user cannot write, a port another program holds, a
missing interface, a hub that refuses the token or is down, a clock gone back."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from edge.cli.doctor.system import check_clock
from edge.config.load import load
from tests.support import netns
from tests.support.processes import free_port
from tests.support.store_documents import open_document

POSEDGE = [sys.executable, "-m", "edge.cli.main"]
ME = pwd.getpwuid(os.geteuid()).pw_name
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown and namespaces need root")


def write_config(path: Path, body: str) -> Path:
    path.write_text(f'[store]\nid = "s3"\n[paths]\nstate_dir = "{path.parent / "state"}"\n{body}')
    (path.parent / "state").mkdir(exist_ok=True)
    return path


def host_config(tmp_path: Path, extra: str = "", *, printer_port: int | None = None) -> Path:
    """A node on 127.0.0.1 without mDNS (the namespace test covers it) and one printer."""
    port = printer_port or free_port()  # nothing listens there unless the test says so
    return write_config(
        tmp_path / "posedge.toml",
        f'[http]\nhost = "127.0.0.1"\nport = {free_port()}\n[peers]\nmdns = false\n{extra}\n'
        f'[devices.front]\nkind = "printer"\nurl = "tcp://127.0.0.1:{port}"\n',
    )


def doctor(config: Path, *args: str, argv=lambda a: a) -> tuple[int, dict[str, dict]]:
    """Run `posedge doctor --json`; its exit status and its findings by id."""
    done = subprocess.run(
        argv([*POSEDGE, "doctor", "--config", str(config), "--json", *args]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout)
    assert report["exit_code"] == done.returncode, done.stderr
    return done.returncode, {f["id"]: f for f in report["findings"]}


def verdicts(findings: dict[str, dict]) -> dict[str, str]:
    return {name: f["verdict"] for name, f in findings.items()}


@needs_root
async def test_a_good_first_node_is_ok_but_for_peers_whether_its_daemon_runs_or_not(tmp_path):
    config = write_config(
        tmp_path / "posedge.toml",
        '[peers]\ninterfaces = ["eth0"]\n'
        '[devices.front]\nkind = "printer"\nurl = "tcp://127.0.0.1:9100"\n'
        '[stations]\ngrill = "front"\n',
    )
    await asyncio.to_thread(
        subprocess.run, [*POSEDGE, "init", "--config", str(config)], check=True, timeout=60
    )
    async with netns.Network(1) as (ns,):
        printer = await ns.spawn(
            *POSEDGE, "emulate", "printer", "--listen", "127.0.0.1:9100", stdout=subprocess.PIPE
        )
        await wait_for_line(printer.stdout, "printer listening")

        def inside(argv):
            return ns.argv(*argv)

        code, findings = await asyncio.to_thread(doctor, config, "--user", ME, argv=inside)
        assert verdicts(findings) == {
            name: "ok"
            for name in (
                "config",
                "state-dir",
                "disk",
                "groups",
                "printer.front",
                "port.http",
                "port.peers",
                "https",
                "mdns",
                "hub",
                "clock",
            )
        } | {"peers": "warning"}, findings  # the store's first node: no other seen yet
        assert code == 1  # warnings
        assert findings["printer.front"]["found"] == "tcp://127.0.0.1:9100: ready"
        assert findings["mdns"]["found"] == f"announcing and resolving on eth0 {ns.address}"
        assert findings["port.http"]["found"] == "0.0.0.0:8420 is free"
        assert "the API answers the LAN over HTTPS under the store CA" in findings["https"]["found"]

        daemon = await ns.spawn(*POSEDGE, "run", "--config", str(config), stderr=subprocess.PIPE)
        await wait_for_line(daemon.stderr, "ready:")
        code, findings = await asyncio.to_thread(doctor, config, "--user", ME, argv=inside)
        assert code == 1 and worst_but_peers(findings) == "ok", findings
        assert (
            findings["port.http"]["found"] == "0.0.0.0:8420 is in use by this node's running daemon"
        )
        assert "the running daemon has no job waiting" in findings["printer.front"]["found"]
        # the daemon moved the network printer into the store document, preferring this node
        assert findings["driver.front"]["found"] == "driven by this node now; this node prefers it"
        daemon.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await daemon.wait() == 0


def worst_but_peers(findings: dict) -> str:
    """The worst verdict of the findings other than the peers' (a lone node sees none)."""
    rank = ("ok", "warning", "problem")
    return max((f["verdict"] for k, f in findings.items() if k != "peers"), key=rank.index)


async def wait_for_line(stream: asyncio.StreamReader, text: str) -> None:
    async with asyncio.timeout(30):
        while text not in (await stream.readline()).decode():
            pass


def test_a_bad_configuration_is_named_and_stops_the_other_checks(tmp_path):
    config = host_config(tmp_path, "[print]\nretry_max_interval = 0")
    code, findings = doctor(config)
    assert code == 2
    assert verdicts(findings) == {"config": "problem", "other-checks": "problem"}
    assert findings["config"]["found"].startswith(f"{config}: print.retry_max_interval: must be")
    assert findings["config"]["todo"].startswith(f"fix print.retry_max_interval in {config}")


def test_an_unreachable_printer_is_a_problem(tmp_path):
    code, findings = doctor(host_config(tmp_path))
    assert code == 2
    assert [n for n, v in verdicts(findings).items() if v != "ok"] == ["printer.front"]
    assert "connection refused" in findings["printer.front"]["found"]
    assert "check its power, cable and address" in findings["printer.front"]["todo"]


async def test_a_store_printer_another_node_drives_is_named_and_not_probed(tmp_path):
    config = host_config(tmp_path)  # nothing answers at the printer's address
    node = load(config).node.name
    front = load(config).devices.printers["front"]
    async with open_document(tmp_path / "state", store="s3", node="n2") as document:
        await document.write(  # as this node's daemon moved it, and n2 then took it over
            {
                "device:front": {"kind": "printer", "url": str(front.url)},
                "owner:front": node,
                "driver:front": {"node": "n2", "from": node, "why": "it stopped"},
            }
        )
    code, findings = await asyncio.to_thread(doctor, config)
    assert findings["driver.front"] == {
        "id": "driver.front",
        "verdict": "ok",
        "found": "driven by n2 now; this node prefers it (it is not probed from here: the "
        "printer takes one connection at a time)",
        "todo": None,
    }, findings
    assert "printer.front" not in findings  # n2's connection is the printer's only one
    assert code != 2, findings  # nothing is wrong with this node, though nothing answers there


@pytest.fixture
def open_dir():
    """A directory every user can reach (pytest's tmp_path is closed to other users)."""
    path = Path(tempfile.mkdtemp(prefix="posedge-doctor-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@needs_root
def test_a_state_dir_the_service_user_cannot_write_is_a_problem(tmp_path, open_dir):
    config = host_config(tmp_path)
    code, findings = doctor(config, "--user", "nobody")
    assert findings["state-dir"]["found"].startswith(f"nobody cannot reach {tmp_path}/state: ")

    # A state directory nobody can reach, but made by root: nobody cannot write in it.
    state = open_dir
    config.write_text(config.read_text().replace(f"{tmp_path}/state", str(state)))
    code, findings = doctor(config, "--user", "nobody")
    assert code == 2
    assert findings["state-dir"]["found"] == f"nobody cannot write to {state}"
    assert findings["state-dir"]["todo"].startswith(f"sudo chown -R nobody: {state}")

    # The directory is the user's, but a file in it was made by root (posedge pair, as root).
    os.chown(state, pwd.getpwnam("nobody").pw_uid, -1)
    (state / "node.db").write_bytes(b"")
    code, findings = doctor(config, "--user", "nobody")
    assert findings["state-dir"]["found"] == f"nobody cannot write node.db in {state}"
    os.chown(state / "node.db", pwd.getpwnam("nobody").pw_uid, -1)
    code, findings = doctor(config, "--user", "nobody")
    assert findings["state-dir"]["verdict"] == "ok"


def test_a_port_another_program_holds_is_a_problem(tmp_path):
    config = host_config(tmp_path)
    port = load(config).http.port
    with socket.create_server(("127.0.0.1", port)):
        code, findings = doctor(config)
    assert code == 2
    assert findings["port.http"]["found"] == f"127.0.0.1:{port} is taken by another program"
    assert f"sudo ss -ltnp 'sport = :{port}'" in findings["port.http"]["todo"]


def test_an_interface_without_an_address_is_an_mdns_problem(tmp_path):
    config = host_config(tmp_path)
    config.write_text(config.read_text().replace("mdns = false", 'interfaces = ["nosuch0"]'))
    code, findings = doctor(config)
    assert code == 2
    assert findings["mdns"]["found"] == "peers.interfaces: no IPv4 address on nosuch0"


def test_the_hub_check_tells_an_accepted_token_a_refused_one_and_a_hub_that_is_down(tmp_path):
    hub_dir = tmp_path / "hub"
    added = subprocess.run(
        [*POSEDGE, "hub", "--dir", str(hub_dir), "store", "add", "s3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = re.search(r"token (ph_\S+)", added.stdout).group(1)
    port = free_port()
    upstream = f'[upstream]\nurl = "wss://127.0.0.1:{port}"\nca = "{hub_dir / "hub.pem"}"\n'
    config = host_config(tmp_path, upstream + f'token = "{token}"')
    hub = subprocess.Popen(
        [*POSEDGE, "hub", "--dir", str(hub_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not listening(port):
            assert time.monotonic() < deadline and hub.poll() is None, "the hub did not start"
            time.sleep(0.1)
        _, findings = doctor(config)
        assert findings["hub"]["verdict"] == "ok"
        assert findings["hub"]["found"] == (
            f"https://127.0.0.1:{port}/sync/store answers and accepts the store's token"
        )
        config.write_text(config.read_text().replace(token, "ph_" + "x" * 40))
        _, findings = doctor(config)
        assert findings["hub"]["verdict"] == "problem", findings["hub"]
        assert "refused the store's token" in findings["hub"]["found"]
    finally:
        hub.terminate()
        hub.wait(timeout=30)
    _, findings = doctor(config)
    assert findings["hub"]["verdict"] == "warning"
    assert "cannot be reached now" in findings["hub"]["found"]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_clock_behind_what_the_node_wrote_is_a_problem(tmp_path):
    config = load(host_config(tmp_path))
    now = dt.datetime.now(dt.UTC)
    assert check_clock(config, now).verdict == "ok"
    written = tmp_path / "state" / "orders.db"
    written.write_bytes(b"")
    os.utime(written, (now.timestamp() + 86400, now.timestamp() + 86400))
    behind = check_clock(config, now)
    assert behind.verdict == "problem"
    assert f"{written} was written at" in behind.found
    assert check_clock(config, dt.datetime(2001, 1, 1, tzinfo=dt.UTC)).verdict == "problem"
