"""What the pages that change the configuration file share: the file's editor, and what a
change's message says about when it takes effect."""

from __future__ import annotations

from aiohttp import web

from edge.config.layers import ConfigEditor
from edge.http.context import context
from edge.http.ui.pages import UiError

# The settings the running daemon applies at once (the same as SIGHUP); the rest at restart.
LIVE_PREFIXES = ("devices.", "stations.", "receipt.", "print.", "kds.", "store.name")


class NoConfigFile(UiError):
    """The node runs on built-in defaults, with no file to write changes to."""

    status = 409
    title = "This node has no configuration file"


def editor(request: web.Request) -> ConfigEditor:
    """The node's configuration file; raises NoConfigFile when it has none."""
    found = context(request).config_editor
    if found is None:
        raise NoConfigFile(
            "it runs on built-in settings; start it with posedge run --config FILE to change "
            "them here"
        )
    return found


def when_applied(changed: dict[str, str]) -> str:
    """When the changed settings (key → what people call it) take effect: now, or after a
    restart of the node."""
    now = [name for key, name in changed.items() if key.startswith(LIVE_PREFIXES)]
    later = [name for key, name in changed.items() if not key.startswith(LIVE_PREFIXES)]
    said = [f"applied now: {', '.join(now)}"] if now else []
    if later:
        said.append(f"after a restart of posedge: {', '.join(later)}")
    return "; ".join(said)
