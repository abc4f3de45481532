"""Replication: the CRDT document store on SQLite and the node's live replica of its documents.

Knows nothing of restaurants; never imports `edge` or `drivers`.
"""
