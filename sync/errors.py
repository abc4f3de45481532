"""Errors raised by the document store, the replica and the SQLite opener."""


class SyncError(Exception):
    """Root of every error raised by `sync`."""


class StoreError(SyncError):
    """The document store could not do what was asked."""


class StoreUnavailable(StoreError):
    """The store cannot write now (disk full, I/O error, closed); nothing was stored."""


class StoreCorrupt(StoreError):
    """The database file is not a posedge store, or its contents cannot be decoded."""


class SchemaTooNew(StoreCorrupt):
    """The file was written by a newer posedge: its schema version is above what this one knows."""


class UnknownDocument(SyncError):
    """No document with this guid is registered in the store."""


class DocumentClosed(SyncError):
    """The document is closed (read-only) and refuses further updates."""


class InvalidUpdate(SyncError):
    """An update could not be decoded (corrupt, truncated or not a Yjs update)."""
