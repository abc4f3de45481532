"""The Debian package: built from this checkout, lintian-clean, its unit verified and
hardened, installed with apt on this machine with no network (apt's proxy leads nowhere),
run as its service user on its packaged configuration, upgraded over an edited conffile,
removed, and purged.

systemd is not PID 1 here, so the maintainer scripts leave the service alone (they start it
only where /run/systemd/system exists); the test starts the unit's ExecStart itself as the
service user, in a network namespace of its own so that the packaged port 8420 is free. The
package is purged at the end, and the service user removed if the test made it.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import netns

ROOT = Path(__file__).resolve().parent.parent
UNIT = Path("/lib/systemd/system/posedge.service")
CONFFILE = Path("/etc/posedge/posedge.toml")
STATE = Path("/var/lib/posedge")
# apt through a proxy that is not there: an installation that needed the network would fail
OFFLINE = [
    "-o",
    "Acquire::http::Proxy=http://127.0.0.1:9",
    "-o",
    "Acquire::https::Proxy=http://127.0.0.1:9",
]
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=120", *OFFLINE]
AS_SERVICE = ["setpriv", "--reuid=posedge", "--regid=posedge", "--init-groups", "--"]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("dpkg-buildpackage") is None,
    reason="building and installing the package needs root and dpkg-dev (./dev installs it)",
)


def run(argv: list[str], *, timeout: float = 120, **env: str) -> str:
    """Run `argv` to its end; its standard output (failing with its output when it fails)."""
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive", **env},
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def installed_version() -> str | None:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Status} ${Version}", "posedge"],
        capture_output=True,
        text=True,
    )
    return done.stdout.split()[-1] if "ok installed" in done.stdout else None


@pytest.fixture(scope="session")
def debs(tmp_path_factory) -> tuple[Path, Path]:
    """The package built from this checkout, and a rebuild of it under a higher revision.

    The rebuild is a repack of the first package (build-deb --repack): the same files, a
    higher version and its changelog entry. That is what an upgrade test needs (dpkg's
    conffile and maintainer-script handling depend on versions, not on file contents) and
    saves a second build of the virtual environment.
    """
    out = tmp_path_factory.mktemp("dist")
    first = Path(
        run([str(ROOT / "packaging/build-deb"), "--out", str(out)], timeout=900).split()[-1]
    )
    second = run(
        [
            str(ROOT / "packaging/build-deb"),
            "--repack",
            str(first),
            "--revision",
            "2",
            "--out",
            str(out),
        ]
    )
    return first, Path(second.split()[-1])


@pytest.fixture(scope="module")
def installed(debs):
    """The package installed with apt; purged afterwards, whatever happened."""
    if installed_version() is not None or Path("/etc/posedge").exists():
        pytest.skip("posedge is installed on this machine already; these tests would purge it")
    made_user = not _user_exists()
    try:
        run([*APT, "install", str(debs[0])])
        yield debs
    finally:
        subprocess.run([*APT, "purge", "posedge"], capture_output=True, timeout=120)
        if made_user and _user_exists():
            subprocess.run(["userdel", "posedge"], capture_output=True, timeout=30)
            if _group_exists():
                subprocess.run(["groupdel", "posedge"], capture_output=True, timeout=30)


def _user_exists() -> bool:
    try:
        pwd.getpwnam("posedge")
    except KeyError:
        return False
    return True


def _group_exists() -> bool:
    try:
        grp.getgrnam("posedge")
    except KeyError:
        return False
    return True


def test_the_package_is_lintian_clean(debs):
    done = subprocess.run(
        ["lintian", "--fail-on", "none", str(debs[0])], capture_output=True, text=True, timeout=300
    )
    tags = [line for line in done.stdout.splitlines() if re.match(r"[EW]: ", line)]
    assert tags == [], "\n".join(tags)


def test_the_installed_unit_verifies_and_is_hardened(installed):
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, timeout=60
    )
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
    report = run(["systemd-analyze", "security", "--offline=yes", str(UNIT)])
    exposure = float(re.search(r"Overall exposure level for posedge.service: ([\d.]+)", report)[1])
    assert exposure <= 2.0, report


def test_the_installed_daemon_runs_as_its_user_and_prints_a_receipt(installed, tmp_path):
    assert run(["/usr/bin/posedge", "--version"]).strip() == "posedge 0.1.0"
    user = pwd.getpwnam("posedge")
    groups = {g.gr_name for g in grp.getgrall() if "posedge" in g.gr_mem}
    assert {"dialout", "lp"} <= groups and user.pw_shell == "/usr/sbin/nologin"
    assert STATE.stat().st_uid == user.pw_uid and STATE.stat().st_mode & 0o777 == 0o750
    assert CONFFILE.stat().st_mode & 0o777 == 0o660
    assert CONFFILE.parent.stat().st_mode & 0o777 == 0o770
    for path in (CONFFILE, CONFFILE.parent):
        assert grp.getgrgid(path.stat().st_gid).gr_name == "posedge"
    # The field tech's edit: the store's id, and a receipt printer on this node.
    CONFFILE.write_text(
        CONFFILE.read_text().replace("[store]\n", '[store]\nid = "pkg-test"\n', 1)
        + '\n[devices.front]\nkind = "printer"\nurl = "tcp://127.0.0.1:9100"\n'
    )
    paper = tmp_path / "paper"
    paper.mkdir()
    exec_start = shlex.split(
        next(line for line in UNIT.read_text().splitlines() if line.startswith("ExecStart="))[10:]
    )
    with netns.Network(1) as (ns,):
        ns.popen(
            "/usr/bin/posedge", "emulate", "printer", "--listen", "127.0.0.1:9100",
            "--out", str(paper), stdout=subprocess.DEVNULL,
        )  # fmt: skip
        ns.run(*AS_SERVICE, "/usr/bin/posedge", "catalog", "--sample", timeout=120)
        ns.run(*AS_SERVICE, "/usr/bin/posedge", "init", timeout=120)  # the LAN gets HTTPS
        daemon = ns.popen(*AS_SERVICE, *exec_start, stderr=subprocess.PIPE, text=True)
        code = ns.run(*AS_SERVICE, "/usr/bin/posedge", "pair", "Counter 1", capture_output=True)
        flow = ns.run(
            sys.executable, "-c", CASHIER, code.stdout.split(": ")[1].split()[0],
            str(STATE / "trust" / "ca.pem"), capture_output=True, timeout=120,
        )  # fmt: skip
        assert flow.stdout.strip() == "receipt queued", flow.stderr
        deadline = time.monotonic() + 60
        while not list(paper.glob("*.txt")) and time.monotonic() < deadline:
            time.sleep(0.1)
        [receipt] = paper.glob("*.txt")
        assert "Classic Burger" in receipt.read_text() and "TOTAL USD" in receipt.read_text()

        doctor = ns.run("/usr/bin/posedge", "doctor", "--json", capture_output=True, check=False)
        report = json.loads(doctor.stdout)
        assert doctor.returncode == 0, report
        assert report["user"] == "posedge"

        daemon.send_signal(signal.SIGTERM)
        _, log = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, log
    assert "ready: store pkg-test" in log
    # The web UI's save, as the service user: a new file beside the old, renamed over it.
    run([*AS_SERVICE, "/usr/lib/posedge/bin/python3", "-c", SAVE_AS_THE_UI, str(CONFFILE)])
    assert 'name = "Saved by the UI"' in CONFFILE.read_text()
    assert {p.owner() for p in STATE.iterdir()} == {"posedge"}


SAVE_AS_THE_UI = """
import asyncio, pathlib, sys
from edge.config.edit import ConfigEditor, set_settings
async def nothing_live(config):
    return []
editor = ConfigEditor(pathlib.Path(sys.argv[1]), nothing_live)
asyncio.run(editor.change(set_settings({"store.name": "Saved by the UI"})))
"""

# A terminal over HTTPS, trusting the store CA alone and checking the host name.
CASHIER = """
import json, ssl, sys, time, urllib.error, urllib.request
API = "https://localhost:8420"
TLS = ssl.create_default_context(cafile=sys.argv[2])

def call(method, path, body=None, token=None):
    request = urllib.request.Request(API + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json",
                 **({"Authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(request, timeout=30, context=TLS) as response:
        return json.load(response)

deadline = time.monotonic() + 60
while True:
    try:
        if call("GET", "/readyz")["status"] == "ready":
            break
    except (urllib.error.URLError, ConnectionError):
        pass
    if time.monotonic() > deadline:
        sys.exit("the daemon never got ready")
    time.sleep(0.2)
token = call("POST", "/api/v1/pair", {"code": sys.argv[1]})["token"]
order = call("POST", "/api/v1/orders", {"channel": "takeaway"}, token)["order"]
call("POST", f"/api/v1/orders/{order['id']}/lines", {"sku": "BURGER"}, token)
job = call("POST", f"/api/v1/orders/{order['id']}/receipt", {}, token)
print("receipt queued" if job else job)
"""


def test_upgrade_keeps_the_edited_conffile_remove_keeps_it_and_purge_removes_everything(
    installed,
):
    _, second = installed
    edited = CONFFILE.read_text() + "# edited on site\n"
    CONFFILE.write_text(edited)

    run([*APT, "install", str(second)])
    assert installed_version() == "0.1.0-2"
    assert CONFFILE.read_text() == edited
    assert not Path(f"{CONFFILE}.dpkg-dist").exists()
    assert run(["/usr/bin/posedge", "--version"]).strip() == "posedge 0.1.0"

    run([*APT, "remove", "posedge"])
    assert installed_version() is None and not Path("/usr/bin/posedge").exists()
    assert CONFFILE.read_text() == edited and STATE.is_dir()

    run([*APT, "purge", "posedge"])
    assert not Path("/etc/posedge").exists() and not STATE.exists()
    assert "posedge" not in run(["dpkg-query", "-W", "-f", "${Package}\\n"]).split()
