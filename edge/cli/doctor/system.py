"""`posedge doctor`'s checks of the configuration, the state directory, the disk and the
clock; and the permission and lock probes the other checks share. Nothing here writes."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import stat
from pathlib import Path

from edge import __file__ as package_file
from edge.cli.doctor.findings import Finding, ServiceUser, ok, problem, warning
from edge.config.layers import read_effective
from edge.config.load import load
from edge.config.model import Config
from edge.runtime.disk import MIN_FREE_BYTES
from edge.runtime.errors import ConfigError
from sync.errors import StoreError
from sync.store_file import peek

LOW_DISK_BYTES = 1024**3  # below this a warning: the order log grows by the day
CLOCK_SLACK = 120.0  # seconds a clock may be behind what it wrote before, e.g. after NTP steps
OLDEST_PLAUSIBLE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def check_config(path: Path) -> tuple[Config | None, Finding]:
    try:
        config = read_effective(load(path))  # with the store's settings: what the node runs
    except ConfigError as exc:
        what = "the file" if exc.key.startswith("(") else exc.key
        return None, problem(
            "config",
            str(exc),
            f"fix {what} in {exc.path} (docs: /usr/share/doc/posedge/docs/configuration.md)",
        )
    except StoreError as exc:
        return None, problem(
            "config", f"the store's settings cannot be read: {exc}", "check the state directory"
        )
    count = len(config.devices.names())
    found = f"{path} is valid: store {config.store.id}, node {config.node.name}, {count} device(s)"
    if config.store.id == "demo-store":
        return config, warning(
            "config", found + ", but store.id is the default", "set store.id in [store]: the "
            "same on every node of the store, e.g. bk-0042",
        )  # fmt: skip
    return config, ok("config", found)


def daemon_running(state_dir: Path) -> bool:
    """Whether a daemon holds the state directory's lock (without creating the lock file)."""
    try:
        fd = os.open(state_dir / "posedge.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken here
    return False


def can_access(path: Path, user: ServiceUser, *, write: bool) -> bool:
    """Whether `user` may read (and, with `write`, write) `path`, judged from its mode bits,
    owner and group (ACLs aside) and the mount's read-only flag."""
    if write and os.statvfs(path).f_flag & os.ST_RDONLY:
        return False
    want = stat.S_IRUSR | (stat.S_IWUSR if write else 0)
    if path.is_dir():
        want |= stat.S_IXUSR
    return _allows(path, user, want)


def _allows(path: Path, user: ServiceUser, want: int) -> bool:
    """Whether `path`'s owner, group or other bits (whichever apply to `user`) grant `want`,
    given as owner bits."""
    if user.uid == 0:
        return True
    info = path.stat()
    if info.st_uid == user.uid:
        bits = info.st_mode & 0o700
    elif info.st_gid in user.gids:
        bits = (info.st_mode & 0o070) << 3
    else:
        bits = (info.st_mode & 0o007) << 6
    return bits & want == want


def check_state_dir(config: Config, user: ServiceUser) -> list[Finding]:
    state = config.state_dir
    fix = f"sudo chown -R {user.name}: {state} (or run posedge commands as {user.name})"
    if not state.exists():
        parent = next(p for p in state.parents if p.exists())
        if can_access(parent, user, write=True):
            return [warning("state-dir", f"{state} does not exist yet", "it is made at start")]
        return [
            problem(
                "state-dir",
                f"{state} does not exist and {user.name} cannot make it in {parent}",
                f"sudo install -d -o {user.name} -g {user.name} -m 0750 {state}",
            )
        ]
    if not state.is_dir():
        return [problem("state-dir", f"{state} is not a directory", "set paths.state_dir")]
    closed = [p for p in reversed(state.parents) if not _allows(p, user, stat.S_IXUSR)]
    if closed:
        return [
            problem(
                "state-dir",
                f"{user.name} cannot reach {state}: {closed[0]} is closed to it",
                f"put paths.state_dir where {user.name} can reach it, e.g. /var/lib/posedge",
            )
        ]
    if not can_access(state, user, write=True):
        return [problem("state-dir", f"{user.name} cannot write to {state}", fix)]
    stuck = [
        p.name
        for p in sorted(state.iterdir())
        if p.is_file() and not p.is_symlink() and not can_access(p, user, write=True)
    ]
    if stuck:
        files = ", ".join(stuck)
        return [problem("state-dir", f"{user.name} cannot write {files} in {state}", fix)]
    return [ok("state-dir", f"{state} is writable by {user.name}")]


def check_disk(config: Config) -> Finding:
    where = next(p for p in (config.state_dir, *config.state_dir.parents) if p.exists())
    free = shutil.disk_usage(where).free
    found = f"{free / 1024**3:.1f} GiB free for {config.state_dir}"
    todo = "free some space (old logs, apt clean) or give the node a larger disk"
    if free < MIN_FREE_BYTES:
        return problem("disk", found + ": the node refuses orders (/readyz: disk-full)", todo)
    if free < LOW_DISK_BYTES:
        return warning("disk", found + ", less than 1 GiB", todo)
    return ok("disk", found)


def newest_record(state_dir: Path) -> tuple[float, str] | None:
    """The latest wall-clock time this node wrote down, and where: its order log's records
    of documents and sync progress, and the modification times of its files."""
    found: list[tuple[float, str]] = []
    for path in (state_dir / name for name in ("orders.db", "orders.db-wal", "print.db")):
        try:
            found.append((path.stat().st_mtime, f"{path} was written"))
        except OSError:
            pass
    try:
        seen = peek(state_dir / "orders.db")
    except StoreError:
        return max(found, default=None)  # no order log yet, or one this user cannot read
    if seen.newest_document is not None:
        found.append((float(seen.newest_document), "the order log began a document"))
    if seen.link_contacts:
        found.append((float(max(seen.link_contacts.values())), "a peer or the hub last synced"))
    return max(found, default=None)


def check_clock(config: Config, now: dt.datetime) -> Finding:
    built = dt.datetime.fromtimestamp(Path(package_file).stat().st_mtime, dt.UTC)
    floor = max(built, OLDEST_PLAUSIBLE)
    todo = (
        "set the time (timedatectl set-ntp true, or date -s) and check the clock battery; "
        "orders carry this clock's times"
    )
    if now < floor:
        found = f"the clock says {now:%Y-%m-%d %H:%M} UTC, before {floor:%Y-%m-%d}"
        return problem("clock", found, todo)
    newest = newest_record(config.state_dir)
    if newest is not None and newest[0] > now.timestamp() + CLOCK_SLACK:
        then = dt.datetime.fromtimestamp(newest[0], dt.UTC)
        return problem(
            "clock",
            f"the clock says {now:%Y-%m-%d %H:%M} UTC, but {newest[1]} at {then:%Y-%m-%d %H:%M}",
            todo,
        )
    return ok("clock", f"{now:%Y-%m-%d %H:%M} UTC, not behind anything this node wrote")
