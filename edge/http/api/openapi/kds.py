"""The OpenAPI description of the kitchen display screens (edge/http/api/kds.py): their page,
its assets and their live WebSocket. Recall and rush are order actions, in orders.py.
"""

from __future__ import annotations

from edge.http.api.kds import ASSETS, KEEPALIVE
from edge.http.api.openapi.operations import operation, path_param
from edge.http.websocket import Close

SCREEN = f"""The live tickets of one kitchen station, or with station `expo` every order's
progress across the stations, pushed over a WebSocket (upgrade with GET). Each text frame is
JSON:

- `{{"type": "snapshot", "view": "station", "now": ms, "warn_after": s, "late_after": s,
  "station": {{"id", "name"}}, "tickets": [...], "all_day": [{{"name", "qty"}}],
  "recent_bumps": [...]}}` on connect and whenever the station's tickets may have changed:
  the station's open tickets in the order the kitchen works them (rushed first, then oldest
  fire first), each with its order number, channel, table, lines (with modifiers, notes,
  and `voided`), `fired_ms` and `rush`; what is left to make of each item (`all_day`); and
  the latest bumps, newest first, which a recall brings back;
- for `expo`: `{{"type": "snapshot", "view": "expo", "now", "warn_after", "late_after",
  "stations": [...], "orders": [{{"number", "channel", "table", "rush", "void",
  "fired_ms", "done_ms", "stations": [{{"station", "open", "done"}}]}}]}}`;
- `{{"type": "tick", "now": ms}}` every {KEEPALIVE:g} s without a snapshot.

`now` is the node's clock in Unix milliseconds: time tickets against it, not the screen's.
A snapshot replaces everything shown. What the screen sends is ignored. Browsers pass the
token as `access_token`. The node closes the socket with {Close.UNKNOWN_STATION} when the
catalog has no such station (the reason lists those it has), {Close.REVOKED} when the token
is revoked, and {Close.GOING_AWAY} when the node stops: reconnect."""


def kds_paths() -> dict[str, dict]:
    station = path_param("station", "a station's id in the catalog, or expo")
    return {
        "/kds/{station}": {
            "get": operation(
                "kds_page",
                "The kitchen display page of a station (or expo), for a browser",
                "kds",
                {
                    "200": {
                        "description": "the page: it pairs itself, then shows live tickets",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
                params=(station,),
                security=[],
            )
        },
        "/kds/assets/{name}": {
            "get": operation(
                "kds_asset",
                "A script or style sheet of the kitchen display page",
                "kds",
                {
                    "200": {
                        "description": "the file",
                        "content": {
                            kind: {"schema": {"type": "string"}}
                            for kind in sorted(set(ASSETS.values()))
                        },
                    }
                },
                problems=("not-found",),
                params=(path_param("name", f"one of {', '.join(ASSETS)}"),),
                security=[],
            )
        },
        "/api/v1/kds/{station}": {
            "get": operation(
                "kds_screen",
                "A kitchen station's live tickets (or expo's orders), over a WebSocket",
                "kds",
                {"101": {"description": "switching to the WebSocket protocol"}},
                problems=("bad-request",),
                params=(station,),
                security=[{"bearer": []}, {"access_token": []}],
                description=SCREEN,
                kds=True,
            )
        },
    }
