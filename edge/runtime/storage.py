"""SQLite's errors as the node's StorageError: the one wrapper round edge's database files
(print.db, node.db, requests.db), so that no caller sees an adapter's exception type."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from edge.runtime.errors import StorageError
from sync.errors import StoreError
from sync.sqlite import hint


@contextlib.contextmanager
def storage_errors(path: Path, doing: str) -> Iterator[None]:
    """Raise an error of SQLite, or of the opener (sync.sqlite: a file too new, a journal
    mode refused), in the block as StorageError: `doing` failed in `path`."""
    try:
        yield
    except StorageError:
        raise  # already one (print.db's ChangeNotKept is a sqlite3 error too)
    except sqlite3.Error as exc:
        raise StorageError(doing, path, exc, hint(exc)) from exc
    except StoreError as exc:  # its message names the file and what to do
        raise StorageError(doing, path, exc, None) from exc
