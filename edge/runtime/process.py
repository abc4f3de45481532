"""What a posedge process needs of its host: the wall clock, one daemon per state
directory, enough file descriptors, and a garbage collector that leaves the long-lived
start-up objects alone."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import gc
import resource
from collections.abc import Iterator
from pathlib import Path


def freeze_startup_objects() -> None:
    """Exempt everything alive after start-up from garbage collection scans.

    Modules, the catalog and the loaded documents live as long as the daemon; without this
    every full collection walks them again, a pause of several milliseconds that showed as
    the p99 of bench/orderlog.py.
    """
    gc.freeze()


@contextlib.contextmanager
def state_dir_lock(state_dir: Path) -> Iterator[bool]:
    """Hold an exclusive lock on the state directory; yields whether it was free.

    The kernel drops the lock when the process dies, so a crash never leaves it behind.
    """
    with open(state_dir / "posedge.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def raise_file_limit(wanted: int) -> int:
    """Raise the soft limit on open files towards `wanted` (within the hard limit); returns
    the soft limit now. The service sets LimitNOFILE itself; this covers a daemon started
    by hand under the usual soft limit of 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft
