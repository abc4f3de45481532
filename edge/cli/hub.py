"""`posedge hub`: the chain's hub, its own program with its own room (edge/hub/cli.py)."""

from __future__ import annotations

from edge.cli.common import Command
from edge.hub import cli as hub_cli

COMMAND = Command(
    "hub", "run the chain's hub, or manage its stores", hub_cli.add_arguments, hub_cli.run
)
