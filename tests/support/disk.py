"""Filling a small file system, for the full-disk tests."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def fill(directory: Path) -> Path:
    """Write a file until the file system is full; return it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(10_000):  # 40 MB: far beyond the 512 KiB disk
            os.write(fd, b"\x01" * 4096)
        raise AssertionError(f"{directory} never filled up")
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return filler
