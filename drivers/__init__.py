"""Device I/O: transports, printers, drawers, displays, and their emulators.

Knows nothing of orders; never imports `edge` or `sync`.
"""
