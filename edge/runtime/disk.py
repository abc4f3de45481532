"""How much room the disk has where the node keeps its state."""

from __future__ import annotations

import shutil
from pathlib import Path

MIN_FREE_BYTES = 64 * 1024 * 1024
"""Below this, the node reports that it cannot take orders (/readyz, posedge doctor)."""


def free_bytes(directory: Path) -> int:
    """Bytes free to unprivileged writers on the file system holding `directory`."""
    return shutil.disk_usage(directory).free
