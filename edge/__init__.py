"""The posedge daemon: config, lifecycle, the order domain, and the command line."""

__version__ = "0.1.0"
