"""A fresh Debian 12 for the package tests, with no network.

`cached_root()` is a root made with `debootstrap --variant=minbase bookworm`, kept between
runs under /var/cache/posedge-tests (or $POSEDGE_TEST_CACHE), outside the checkout. Its key is
made of this recipe's version, the architecture, debootstrap's version and the archive's
Release (its date and version, which change with each point release), so that a stale root is
made again and the stale ones deleted. Making it takes about a minute and needs root,
debootstrap and deb.debian.org; two runs at once make it once (a lock).

The root is what debootstrap makes, plus the /etc/hosts that Debian's installer writes (the
localhost lines; debootstrap writes none) and without the downloaded .debs it keeps.

`DebianRoot(base, where)` is a throwaway copy of it at `where`: a context manager that mounts
/proc, /sys and /dev into the copy and makes a network namespace that has loopback alone. Its
`run` and `popen` run a command chrooted into the copy inside that namespace, with a clean
environment, as root or as a user of the root (`user="posedge"`, through the root's setpriv).
On the way out, even after a failure half-way through, it kills whatever still runs in the
copy or the namespace, unmounts, deletes the namespace, then the copy.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

RECIPE = 1  # bump when cached_root() makes the root differently
SUITE = "bookworm"
VARIANT = "minbase"
MIRROR = "http://deb.debian.org/debian"
CACHE = Path(os.environ.get("POSEDGE_TEST_CACHE", "/var/cache/posedge-tests"))
HOSTS = "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
COMMAND_TIMEOUT = 120.0


def available() -> str | None:
    """Why a Debian root cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "a Debian root needs root (CI runs as root)"
    for tool in ("debootstrap", "ip", "chroot", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (./dev installs it)"
    return None


def _key() -> tuple[str, dict]:
    """The cache key of the root debootstrap would make now, and what it is made of."""
    arch = _output(["dpkg", "--print-architecture"])
    url = f"{MIRROR}/dists/{SUITE}/InRelease"
    with urllib.request.urlopen(url, timeout=60) as response:
        release = response.read().decode(errors="replace")
    fields = dict(
        line.split(": ", 1)
        for line in release.splitlines()
        if line.startswith(("Date:", "Version:"))
    )
    parts = {
        "recipe": RECIPE,
        "suite": SUITE,
        "variant": VARIANT,
        "arch": arch,
        "debootstrap": _output(["dpkg-query", "-W", "-f", "${Version}", "debootstrap"]),
        "release": fields,
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return f"debian-{SUITE}-{VARIANT}-{arch}-{digest}", parts


def cached_root() -> Path:
    """The pristine minbase root, made now if the cache has no fresh one; never modify it."""
    CACHE.mkdir(parents=True, exist_ok=True)
    name, parts = _key()
    entry = CACHE / name
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (entry / "made.json").exists():
            _make(entry, parts)
        for stale in CACHE.glob("debian-*"):
            if stale != entry:
                _delete_tree(stale)
    return entry / "root"


def _make(entry: Path, parts: dict) -> None:
    _delete_tree(entry)
    building = entry.with_name(entry.name + ".building")
    _delete_tree(building)
    building.mkdir()
    root = building / "root"
    _check(
        [
            "debootstrap",
            f"--variant={VARIANT}",
            f"--arch={parts['arch']}",
            SUITE,
            str(root),
            MIRROR,
        ],
        timeout=1200,
    )
    (root / "etc/hosts").write_text(HOSTS)
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    (building / "made.json").write_text(json.dumps(parts, indent=1) + "\n")
    building.rename(entry)


class DebianRoot:
    """A throwaway copy of a Debian root, run with no network (see the module docstring)."""

    def __init__(self, base: Path, where: Path) -> None:
        self.base = base
        self.root = where
        self.netns = f"pe{secrets.token_hex(3)}-deb"
        self.processes: list[subprocess.Popen] = []
        self._mounts: list[Path] = []
        self._netns_made = False

    def __enter__(self) -> DebianRoot:
        try:
            _check(["cp", "-a", "--reflink=auto", str(self.base), str(self.root)])
            self._mount(["-t", "proc", "proc"], "proc")
            self._mount(["-t", "sysfs", "sysfs"], "sys")
            self._mount(["--rbind", "/dev"], "dev")
            _check(["mount", "--make-rslave", str(self.root / "dev")])
            _check(["ip", "netns", "add", self.netns])
            self._netns_made = True
            _check(["ip", "-n", self.netns, "link", "set", "lo", "up"])
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _mount(self, how: list[str], inside: str) -> None:
        _check(["mount", *how, str(self.root / inside)])
        self._mounts.append(self.root / inside)

    def path(self, inside: str) -> Path:
        """The host's path of `inside`, a path in the root."""
        return self.root / inside.lstrip("/")

    def argv(self, *argv: str, user: str | None = None, env: dict[str, str] | None = None):
        """`argv` chrooted into the root inside its namespace, as `user` (default root)."""
        home = "/root" if user is None else self._home(user)
        environment = {"PATH": PATH, "HOME": home, "DEBIAN_FRONTEND": "noninteractive"}
        as_user = [] if user is None else ["setpriv", f"--reuid={user}", f"--regid={user}"]
        if as_user:
            as_user += ["--init-groups", "--"]
        return [
            "ip", "netns", "exec", self.netns, "chroot", str(self.root),
            "env", "-i", *(f"{k}={v}" for k, v in {**environment, **(env or {})}.items()),
            *as_user, *argv,
        ]  # fmt: skip

    def run(
        self,
        *argv: str,
        user: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = COMMAND_TIMEOUT,
        check: bool = True,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` in the root to its end (output captured); with `check`, fail saying
        what it printed unless it succeeds."""
        done = subprocess.run(
            self.argv(*argv, user=user, env=env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"in the Debian root, {list(argv)} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def popen(self, *argv: str, user: str | None = None, **kwargs) -> subprocess.Popen:
        """Start `argv` in the root; killed on the way out if still running. `ip netns exec`,
        chroot, env and setpriv each exec the next, so its pid is the command's own."""
        process = subprocess.Popen(self.argv(*argv, user=user), **kwargs)
        self.processes.append(process)
        return process

    def _home(self, user: str) -> str:
        for line in self.path("/etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == user:
                return fields[5]
        raise AssertionError(f"the Debian root has no user {user!r}")

    def close(self) -> None:
        """Kill what runs in the root, unmount, delete the namespace and the copy; safe twice."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=COMMAND_TIMEOUT)
        self._kill_the_rest()
        errors = []
        while self._mounts:
            mount = self._mounts.pop()
            done = _quiet(["umount", "-R", str(mount)])
            if done.returncode != 0 and _quiet(["umount", "-R", "-l", str(mount)]).returncode:
                errors.append(f"umount {mount}: {done.stderr.strip()}")
        if self._netns_made:
            done = _quiet(["ip", "netns", "del", self.netns])
            if done.returncode != 0:
                errors.append(f"ip netns del {self.netns}: {done.stderr.strip()}")
            self._netns_made = False
        left = _mounts_under(self.root)
        if left:  # never delete through a mount: /dev is the host's
            errors.append(f"still mounted, so not deleted: {', '.join(map(str, left))}")
        else:
            _delete_tree(self.root)
        if errors:
            raise RuntimeError("could not clean up the Debian root: " + "; ".join(errors))

    def _kill_the_rest(self) -> None:
        """Kill processes still in the namespace or chrooted into the root (a daemon's
        children), and wait, bounded, for them to go."""
        pids = set()
        if self._netns_made:
            pids |= {int(p) for p in _quiet(["ip", "netns", "pids", self.netns]).stdout.split()}
        for proc in Path("/proc").iterdir():
            with contextlib.suppress(OSError, ValueError):
                if proc.name.isdigit() and Path(os.readlink(proc / "root")).is_relative_to(
                    self.root
                ):
                    pids.add(int(proc.name))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)


def _mounts_under(root: Path) -> list[Path]:
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = Path(line.split()[4].encode().decode("unicode_escape"))
        if point == root or point.is_relative_to(root):
            found.append(point)
    return found


def _delete_tree(path: Path) -> None:
    """Delete `path` without crossing into another file system (a mount left by mistake)."""
    if path.exists():
        _check(["rm", "-rf", "--one-file-system", str(path)], timeout=600)


def _output(argv: list[str]) -> str:
    return _check(argv).stdout.strip()


def _check(argv: list[str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{argv} failed: {done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done


def _quiet(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)


@contextlib.contextmanager
def debian_root(where: Path) -> Iterator[DebianRoot]:
    """A throwaway copy of `cached_root()` at `where` (see `DebianRoot`)."""
    with DebianRoot(cached_root(), where) as root:
        yield root
