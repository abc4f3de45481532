"""The OpenAPI description of the API's WebSockets: a live replica of one document (the Yjs
sync protocol, edge/http/api/sync.py) and the order changes (edge/http/api/events.py)."""

from __future__ import annotations

from edge.http.api.openapi.operations import operation, path_param, query
from edge.http.websocket import Close

SYNC = f"""The Yjs sync protocol (y-protocols: step 1, step 2, update), framed as
`y-websocket` frames it, for one document per socket: a web terminal connects a
`WebsocketProvider` to `/api/v1/sync` with the document's guid as the room and its token as
`params: {{access_token}}`. Day documents are readable and writable (see docs/orders.md for
their schema), the catalog is read-only. Frames are binary and bounded; a bad frame closes
the socket with {Close.BAD_MESSAGE}, a change to a read-only or closed document with
{Close.REFUSED}, a revoked token with {Close.REVOKED}, a terminal too far behind with
{Close.TOO_SLOW} (reconnect: the next sync catches it up); nothing of a refused frame is stored."""

EVENTS = f"""Order changes pushed over a WebSocket (upgrade with GET). Each text frame is
an `EventMessage` (components/schemas):

- `{{"type": "hello", "cursor": C, "terminal": {{...}}}}` first, C the newest cursor;
- `{{"type": "orders", "cursor": N, "orders": [Order, ...]}}`: these orders changed, each as
  GET /api/v1/orders/{{order_id}} shows it now;
- `{{"type": "catalog", "cursor": N}}`: the catalog changed; fetch it again;
- `{{"type": "availability", "cursor": N, "items": [...], "modifiers": [...]}}`: what is
  unavailable store-wide (86) changed, here or on another node: all that is unavailable now;
- `{{"type": "resync", "cursor": C}}`: the changes after `since` are not all known here;
  fetch what you show again.

Keep the `cursor` of the last message handled and reconnect with `?since=<cursor>`: every
order changed since comes first (once each, as it is now), then live messages. Browsers,
which cannot set headers on a WebSocket, may pass the token as `access_token`. The server
closes with {Close.REVOKED} when the token is revoked, {Close.TOO_SLOW} when the terminal
fell too far behind (reconnect with `since`), and {Close.GOING_AWAY} when the
node stops."""


def events_paths() -> dict[str, dict]:
    """The sync and events WebSockets."""
    return {
        "/api/v1/sync/{guid}": {
            "get": operation(
                "sync",
                "A live replica of one document, over a WebSocket (Yjs sync protocol)",
                "events",
                {"101": {"description": "switching to the WebSocket protocol"}},
                problems=("unknown-document", "bad-request"),
                params=(
                    path_param(
                        "guid",
                        "the document: <store id>/orders/<business date>, or <store id>/catalog",
                    ),
                ),
                security=[{"bearer": []}, {"access_token": []}],
                description=SYNC,
            )
        },
        "/api/v1/events": {
            "get": operation(
                "events",
                "Order changes, pushed over a WebSocket",
                "events",
                {"101": {"description": "switching to the WebSocket protocol"}},
                problems=("invalid-parameter", "bad-request"),
                params=(
                    query(
                        "since",
                        "the cursor of the last message handled",
                        {"type": "integer", "minimum": 0, "maximum": 2**62},
                    ),
                ),
                security=[{"bearer": []}, {"access_token": []}],
                description=EVENTS,
            )
        },
    }
