"""The Debian package: built from this checkout, lintian-clean, with its offline bundle.

On a fresh Debian 12 (debootstrap --variant=minbase bookworm, cached between runs, see
tests/support/debian_root.py) with no network: the bundle installs, `posedge doctor` runs,
the unit's ExecStart serves /readyz over HTTPS as the service user, ExecReload reloads, no
command leaves a file in /tmp, and purge removes it all. On another such root: the previous
release (commit PREVIOUS, built with its own build-deb) fills a state directory with an order
paid and its receipt queued, a paired terminal and a manager, and the bundle upgrades it; the
order, the job (which then prints), the terminal's token and the password are kept.

On this machine, which has every dependency: the bundle installs posedge alone (apt's proxy
leads nowhere), its unit verifies and is hardened, it runs as its service user on its packaged
configuration, an upgrade keeps an edited conffile, remove keeps it, purge removes everything.
systemd is not PID 1 here, so the maintainer scripts leave the service alone; the tests start
the unit's commands themselves, in a network namespace of their own (port 8420 is free there).
The package is purged at the end, and the service user removed if the test made it.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import debian_root, netns
from tests.support import installed_node as node

ROOT = Path(__file__).resolve().parent.parent
PREVIOUS = "4eb5d05"  # the previous release (there are no tags): before the house's migrations
CONFFILE = Path("/etc/posedge/posedge.toml")
STATE = Path("/var/lib/posedge")
SITE = Path("/usr/lib/posedge/lib/python3.11/site-packages")
DOC = Path("/usr/share/doc/posedge")
# apt through a proxy that is not there: an installation that needed the network would fail
OFFLINE = [
    "-o",
    "Acquire::http::Proxy=http://127.0.0.1:9",
    "-o",
    "Acquire::https::Proxy=http://127.0.0.1:9",
]
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=120", *OFFLINE]
TECH_EDIT = '[store]\nid = "pkg-test"\n'  # the field tech's edit: the store's id
PRINTER = '\n[devices.front]\nkind = "printer"\nurl = "tcp://127.0.0.1:9100"\n'
ROOT_PYTHON = "/usr/lib/posedge/bin/python3"  # in a fresh root, the package's Python
# apt-get as the bundle's install runs it: the bundle's index its only source
BUNDLE_APT = [
    "apt-get",
    "install",
    "--no-install-recommends",
    "-o",
    "Dir::Etc::SourceList=/dev/null",
    "-o",
    "Dir::Etc::SourceParts=/dev/null",
]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("dpkg-buildpackage") is None or debian_root.available(),
    reason="building and installing the package needs root, dpkg-dev and debootstrap (./dev)",
)


def run(argv: list[str], *, timeout: float = 120, cwd: Path | None = None, **env: str) -> str:
    """Run `argv` to its end; its standard output (failing with its output when it fails)."""
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
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


DPKG_LIST = ["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\n"]


def _packages(listed: str) -> set[str]:
    """The packages installed ("ii") in DPKG_LIST's output, as "NAME VERSION"."""
    return {" ".join(f[1:]) for f in map(str.split, listed.splitlines()) if f[0] == "ii"}


@pytest.fixture(scope="session")
def debs(tmp_path_factory) -> tuple[Path, Path]:
    """The package built from this checkout, and a rebuild of it under a higher revision.

    The rebuild is a repack of the first package (build-deb --repack, given a path relative to
    where it runs): the same files, a higher version and its changelog entry. That is what an
    upgrade test needs (dpkg's conffile and maintainer-script handling depend on versions, not
    on file contents) and saves a second build of the virtual environment.
    """
    out = tmp_path_factory.mktemp("dist")
    first = Path(
        run([str(ROOT / "packaging/build-deb"), "--out", str(out)], timeout=900).split()[-1]
    )
    repack = [str(ROOT / "packaging/build-deb"), "--repack", first.name, "--revision", "2"]
    second = run([*repack, "--out", "."], cwd=out)
    return first, Path(second.split()[-1])


@pytest.fixture(scope="session")
def bundle(debs, tmp_path_factory) -> Path:
    """The offline bundle of the first package, against the cached fresh Debian 12."""
    out = tmp_path_factory.mktemp("bundle")
    build = [str(ROOT / "packaging/build-bundle"), str(debs[0]), "--out", str(out)]
    return Path(run([*build, "--base", str(debian_root.cached_root())], timeout=900).split()[-1])


@pytest.fixture(scope="session")
def previous_deb(tmp_path_factory) -> Path:
    """The previous release's package, built from its commit by its own build-deb under
    Debian revision 0, so that this checkout's (revision 1) is an upgrade of it. The commit's
    tree (from git archive: nothing is written to the repository) is deleted once built."""
    out = tmp_path_factory.mktemp("previous")
    tree = out / "tree"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", PREVIOUS], capture_output=True, timeout=120
    )
    assert archive.returncode == 0, f"git archive {PREVIOUS} (a shallow clone lacks it): " + (
        archive.stderr.decode()
    )
    try:
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        build = [str(tree / "packaging/build-deb"), "--revision", "0", "--out", str(out)]
        return Path(run(build, timeout=900).split()[-1])
    finally:
        shutil.rmtree(tree)


def test_the_package_is_lintian_clean(debs):
    done = subprocess.run(
        ["lintian", "--fail-on", "none", str(debs[0])], capture_output=True, text=True, timeout=300
    )
    tags = [line for line in done.stdout.splitlines() if re.match(r"[EW]: ", line)]
    assert tags == [], "\n".join(tags)


def _unpack(bundle: Path, debian: debian_root.DebianRoot) -> str:
    """The bundle copied into the root's /root and unpacked there: its install command."""
    shutil.copy(bundle, debian.path("/root"))
    debian.run("tar", "-xf", f"/root/{bundle.name}", "-C", "/root")
    return f"/root/{bundle.name.removesuffix('.tar')}/install"


def _terminal(debian: debian_root.DebianRoot, *args: str) -> dict:
    """A step of tests/support/store_client.py, run in the root by the package's Python."""
    code = node.CLIENT.read_text()
    return node.client_json(debian.run(ROOT_PYTHON, "-c", code, *args, check=False))


def test_the_bundle_installs_on_a_fresh_debian_with_no_network_and_the_service_runs(
    bundle, tmp_path
):
    with debian_root.debian_root(tmp_path / "debian") as debian:
        install = _unpack(bundle, debian)
        before = _packages(debian.run(*DPKG_LIST).stdout)
        started = time.monotonic()
        debian.run(install, "-y", timeout=600)
        took = time.monotonic() - started
        index = debian.path(install).with_name("Packages").read_text()
        carried = re.findall(r"^Package: (\S+)$", index, re.M)
        added = _packages(debian.run(*DPKG_LIST).stdout) - before
        assert sorted(p.split()[0] for p in added) == sorted(carried)  # each one was needed
        size = debian.run("du", "-sk", "/usr/lib/posedge").stdout.split()[0]
        print(f"\noffline install on a fresh Debian 12: {took:.1f} s; /usr/lib/posedge {size} KiB")
        assert debian.run("posedge", "--version").stdout == "posedge 0.1.0\n"

        conffile = debian.path(str(CONFFILE))
        conffile.write_text(conffile.read_text().replace("[store]\n", TECH_EDIT, 1))
        doctor = debian.run("posedge", "doctor", "--json", check=False)
        report = json.loads(doctor.stdout)
        findings = {f["id"]: f for f in report["findings"]}
        # loopback alone: mDNS is the one problem, and the finding says what to do
        assert [f for f in findings if findings[f]["verdict"] == "problem"] == ["mdns"], report
        assert "peers.mdns = false" in findings["mdns"]["todo"]
        assert doctor.returncode == 2 and report["user"] == "posedge"

        debian.run("posedge", "init", user="posedge")  # the LAN gets HTTPS
        unit = debian.path(node.UNIT)
        log = tmp_path / "daemon.log"
        with log.open("w") as stderr:
            start = node.unit_command(unit, "ExecStart")
            daemon = debian.popen(*start, user="posedge", stderr=stderr)
        assert _terminal(debian, *node.HTTPS, "ready")["status"] == "ready"
        reload = node.unit_command(unit, "ExecReload")  # systemd gives it the daemon's pid
        debian.run(*reload, user="posedge", env={"MAINPID": str(daemon.pid)})
        node.wait_for_text(log, "reloaded /etc/posedge/posedge.toml")
        assert "ready: store pkg-test" in node.stop(daemon, log)
        assert os.listdir(debian.path("/tmp")) == []  # nothing posedge ran left a file

        debian.run("apt-get", "purge", "-y", "posedge")
        assert not debian.path("/etc/posedge").exists()
        assert not debian.path(str(STATE)).exists()


def test_an_upgrade_from_the_previous_release_keeps_orders_jobs_tokens_and_passwords(
    bundle, previous_deb, tmp_path
):
    with debian_root.debian_root(tmp_path / "debian") as debian:
        install = _unpack(bundle, debian)
        shutil.copy(previous_deb, debian.path("/root"))
        # the previous release, its dependencies from the bundle, as the bundle's install does
        index = str(Path(install).with_name("Packages"))
        old = f"/root/{previous_deb.name}"
        debian.run(*BUNDLE_APT, "-y", "--with-source", index, old, timeout=600)
        version = ["dpkg-query", "-W", "-f", "${Version}", "posedge"]
        assert debian.run(*version).stdout == "0.1.0-0"
        conffile = debian.path(str(CONFFILE))
        edited = conffile.read_text().replace("[store]\n", TECH_EDIT, 1) + PRINTER
        conffile.write_text(edited)
        debian.run("posedge", "catalog", "--sample", user="posedge")
        log = tmp_path / "previous.log"
        with log.open("w") as stderr:
            start = node.unit_command(debian.path(node.UNIT), "ExecStart")
            daemon = debian.popen(*start, user="posedge", stderr=stderr)
        paired = debian.run("posedge", "pair", "Counter 1", user="posedge").stdout
        password = "correct horse battery"
        add = ["posedge", "user", "add", "ann", "--role", "manager", "--password-stdin"]
        debian.run(*add, user="posedge", stdin=password + "\n")
        assert _terminal(debian, *node.HTTP, "ready")["status"] == "ready"
        sold = _terminal(debian, *node.HTTP, "sale", node.pairing_code(paired))
        kept = [sold["token"], sold["order"]["id"], str(sold["job"]["id"])]
        before = _terminal(debian, *node.HTTP, "show", *kept)
        assert before["order"]["status"] == "paid" and before["job"]["printed_at"] is None
        node.stop(daemon, log)  # the printer was off: the receipt is still queued

        started = time.monotonic()
        debian.run(install, "-y", "-o", "Dpkg::Options::=--force-confold", timeout=600)
        took = time.monotonic() - started
        print(f"\nupgrade from {PREVIOUS} (0.1.0-0) to 0.1.0-1: {took:.1f} s")
        assert debian.run(*version).stdout == "0.1.0-1" and conffile.read_text() == edited

        debian.run("posedge", "init", user="posedge")  # this release serves HTTPS to members
        debian.run("mkdir", "/root/paper")
        emulate = ["posedge", "emulate", "printer", "--listen", "127.0.0.1:9100"]
        debian.popen(*emulate, "--out", "/root/paper", stdout=subprocess.DEVNULL)
        log = tmp_path / "daemon.log"
        with log.open("w") as stderr:
            start = node.unit_command(debian.path(node.UNIT), "ExecStart")
            daemon = debian.popen(*start, user="posedge", stderr=stderr)
        assert _terminal(debian, *node.HTTPS, "ready")["status"] == "ready"
        after = _terminal(debian, *node.HTTPS, "show", *kept, "--printed")  # the old token
        assert node.order_facts(after["order"]) == node.order_facts(before["order"])
        assert node.job_facts(after["job"]) == node.job_facts(before["job"])
        [receipt] = debian.path("/root/paper").glob("*.txt")
        assert "Classic Burger" in receipt.read_text()
        assert "Counter 1" in debian.run("posedge", "terminals", user="posedge").stdout
        verify = [ROOT_PYTHON, "-c", node.VERIFY_PASSWORD, "ann", password]
        assert debian.run(*verify, user="posedge").stdout.split() == ["manager", "refused"]
        orders = debian.run("posedge", "orders", "--json", user="posedge").stdout
        assert sold["order"]["id"] in orders
        assert "ready: store pkg-test" in node.stop(daemon, log)


@pytest.fixture(scope="module")
def installed(debs, bundle, tmp_path_factory):
    """The package installed on this machine from its bundle; as this machine has every
    dependency, posedge alone is installed. Purged afterwards, whatever happened."""
    if installed_version() is not None or Path("/etc/posedge").exists():
        pytest.skip("posedge is installed on this machine already; these tests would purge it")
    made_user = not _user_exists()
    unpacked = tmp_path_factory.mktemp("unpacked")
    run(["tar", "-xf", str(bundle), "-C", str(unpacked)])
    [install] = unpacked.glob("*/install")
    before = _packages(run(DPKG_LIST))
    try:
        run([str(install), "-y", "-q", "-o", "DPkg::Lock::Timeout=120", *OFFLINE], timeout=300)
        assert _packages(run(DPKG_LIST)) - before == {"posedge 0.1.0-1"}
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


def test_the_installed_unit_verifies_and_is_hardened(installed):
    verified = subprocess.run(
        ["systemd-analyze", "verify", node.UNIT], capture_output=True, text=True, timeout=60
    )
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
    report = run(["systemd-analyze", "security", "--offline=yes", node.UNIT])
    exposure = float(re.search(r"Overall exposure level for posedge.service: ([\d.]+)", report)[1])
    assert exposure <= 2.0, report


def test_the_package_ships_the_documents_it_points_to_and_no_unused_python(installed, tmp_path):
    pages = [DOC / "README.md", *(DOC / "docs").glob("*.md")]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s:]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page} links to {target}, not installed"
    manual = run(["zcat", "/usr/share/man/man1/posedge.1.gz"])
    cited = re.findall(r"/usr/share/doc/posedge/\S+\.md", CONFFILE.read_text() + manual)
    assert len(cited) == 2 and all(Path(path).is_file() for path in cited), cited
    unused = ["setuptools", "pkg_resources", "_distutils_hack", "docs", "tests"]
    assert [name for name in unused if (SITE / name).exists()] == []
    empty = tmp_path / "tmp"
    empty.mkdir()
    assert run(["/usr/bin/posedge", "--version"], TMPDIR=str(empty)) == "posedge 0.1.0\n"
    doctor = ["/usr/bin/posedge", "doctor"]  # which writes nothing, as root
    subprocess.run(
        doctor, capture_output=True, timeout=120, env={**os.environ, "TMPDIR": str(empty)}
    )
    assert list(empty.iterdir()) == []  # not even python-escpos's pickle of printer profiles


def test_the_installed_daemon_runs_as_its_user_and_prints_a_receipt(installed, tmp_path):
    user = pwd.getpwnam("posedge")
    groups = {g.gr_name for g in grp.getgrall() if "posedge" in g.gr_mem}
    assert {"dialout", "lp"} <= groups and user.pw_shell == "/usr/sbin/nologin"
    assert STATE.stat().st_uid == user.pw_uid and STATE.stat().st_mode & 0o777 == 0o750
    assert CONFFILE.stat().st_mode & 0o777 == 0o660
    assert CONFFILE.parent.stat().st_mode & 0o777 == 0o770
    for path in (CONFFILE, CONFFILE.parent):
        assert grp.getgrgid(path.stat().st_gid).gr_name == "posedge"
    # The field tech's edit: the store's id, and a receipt printer on this node.
    CONFFILE.write_text(CONFFILE.read_text().replace("[store]\n", TECH_EDIT, 1) + PRINTER)
    paper = tmp_path / "paper"
    paper.mkdir()
    with netns.Network(1) as (ns,):
        ns.popen(
            "/usr/bin/posedge", "emulate", "printer", "--listen", "127.0.0.1:9100",
            "--out", str(paper), stdout=subprocess.DEVNULL,
        )  # fmt: skip
        ns.run(*node.AS_SERVICE, "/usr/bin/posedge", "catalog", "--sample", timeout=120)
        ns.run(*node.AS_SERVICE, "/usr/bin/posedge", "init", timeout=120)  # the LAN gets HTTPS
        start = node.unit_command(Path(node.UNIT), "ExecStart")
        daemon = ns.popen(*node.AS_SERVICE, *start, stderr=subprocess.PIPE, text=True)
        code = ns.run(
            *node.AS_SERVICE, "/usr/bin/posedge", "pair", "Counter 1", capture_output=True
        )
        terminal = [sys.executable, str(node.CLIENT), "https://localhost:8420", "--ca", node.CA]
        ready = ns.run(*terminal, "ready", capture_output=True, check=False, timeout=120)
        assert node.client_json(ready)["status"] == "ready"
        sale = ns.run(*terminal, "sale", node.pairing_code(code.stdout), check=False, timeout=120)
        sold = node.client_json(sale)
        show = ["show", sold["token"], sold["order"]["id"], str(sold["job"]["id"]), "--printed"]
        shown = ns.run(*terminal, *show, check=False, timeout=120)
        assert node.client_json(shown)["job"]["state"] == "printed"
        [receipt] = paper.glob("*.txt")
        assert "Classic Burger" in receipt.read_text() and "TOTAL USD" in receipt.read_text()

        doctor = ns.run("/usr/bin/posedge", "doctor", "--json", capture_output=True, check=False)
        report = json.loads(doctor.stdout)
        flagged = {f["id"]: f["verdict"] for f in report["findings"] if f["verdict"] != "ok"}
        assert flagged == {"peers": "warning"}, report  # the store's first node, alone so far
        assert doctor.returncode == 1 and report["user"] == "posedge"

        daemon.terminate()
        _, log = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, log
    assert "ready: store pkg-test" in log
    # The web UI's save, as the service user: a new file beside the old, renamed over it.
    run([*node.AS_SERVICE, "/usr/lib/posedge/bin/python3", "-c", SAVE_AS_THE_UI, str(CONFFILE)])
    assert "late_after = 123.0" in CONFFILE.read_text()
    assert {p.owner() for p in STATE.iterdir()} == {"posedge"}


SAVE_AS_THE_UI = """
import pathlib, sys, tomlkit
from edge.config.edit import read_document, set_settings, write_checked
path = pathlib.Path(sys.argv[1])
doc = read_document(path)
set_settings({"print.late_after": 123.0})(doc)
write_checked(path, tomlkit.dumps(doc))
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
