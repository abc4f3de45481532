"""The OpenAPI 3.1 description of the API, served at /api/v1/openapi.json.

Every route `make_app` serves is here (tests/test_openapi.py compares the two, and fuzzes
the server against this document). Its parts are built in openapi_operations.py
and openapi_schemas.py; the device routes in openapi_devices.py.
"""

from __future__ import annotations

import functools

from aiohttp import WSCloseCode

from sync.join import ANSWER_FIELDS, REQUEST_FIELDS

from ..order_index import MAX_PAGE
from ..status import Status
from .events import CLOSE_REVOKED, CLOSE_TOO_SLOW
from .openapi_devices import DEVICE_HEADERS, DEVICE_SCHEMAS, device_paths
from .openapi_kds import kds_paths
from .openapi_operations import (
    HEADERS,
    PARAMETERS,
    answer,
    operation,
    parameter,
    path_param,
    query,
)
from .openapi_schemas import SCHEMAS, array, closed, ref
from .sync import CLOSE_BAD_MESSAGE, CLOSE_REFUSED

ORDER = "/api/v1/orders/{order_id}"


def _join_operation() -> dict:
    """POST /join: its body is the join exchange of sync/join.py, authenticated by the code."""
    text = {"type": "string"}
    op = operation(
        "join",
        "A new node joins the store: its certificate request, authenticated by a join code",
        "node",
        {
            "200": answer(
                "admitted: the store's CA, the node's certificate and the sealed CA key",
                closed(
                    {name: text for name in sorted(ANSWER_FIELDS - {"version"})}
                    | {"version": {"type": "integer"}}
                ),
            )
        },
        problems=("join-refused", "too-many-attempts"),
        security=[],
    )
    op["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": closed(
                    {name: text for name in sorted(REQUEST_FIELDS - {"version"})}
                    | {"version": {"type": "integer"}}
                )
            }
        },
    }
    return op


REMOVE_PEER = closed(
    {"reason": {"type": "string", "minLength": 1, "pattern": r"\S", "maxLength": 200}},
    required=("reason",),
)
_SECONDS = {"type": ["number", "null"], "description": "Unix time, or null"}
PEERS = closed(
    {
        "member": {"type": "boolean", "description": "false until posedge init or join"},
        "node": {"type": "string", "description": "this node's name"},
        "removed": array({"type": "string", "description": "a node removed from the store"}),
        "peers": array(
            closed(
                {
                    "node": {"type": "string"},
                    "address": {"type": ["string", "null"], "description": "host:port"},
                    "seen": _SECONDS,
                    "connected": {"type": "boolean"},
                    "dialled_by": {
                        "type": ["string", "null"],
                        "description": "the node that dialled the live link",
                    },
                    "since": _SECONDS,
                    "last_sync": _SECONDS,
                    "waiting": {"type": "integer", "minimum": 0},
                    "last_error": {"type": ["string", "null"]},
                }
            )
        ),
    }
)

_COUNT = {"type": "integer", "minimum": 0}
UPSTREAM = {
    "oneOf": [
        closed({"enabled": {"const": False, "description": "no hub is configured"}}),
        closed(
            {
                "enabled": {"const": True},
                "url": {"type": "string", "description": "upstream.url"},
                "state": {"enum": ["connecting", "connected", "offline", "refused"]},
                "since": _SECONDS,
                "last_error": {"type": ["string", "null"]},
                "last_sync": _SECONDS,
                "backlog": closed(
                    {
                        "documents": _COUNT,
                        "orders": _COUNT,
                        "bytes": _COUNT,
                        "oldest_age": {
                            "type": ["number", "null"],
                            "description": "seconds since the oldest change not acknowledged",
                        },
                    }
                ),
            }
        ),
    ]
}

INFO = {
    "title": "posedge terminal API",
    "version": "1",
    "description": (
        "The API a store's terminals (tills, kitchen displays, handhelds) use on a posedge "
        "node. Amounts are integers in minor units (cents). Every request but /healthz, "
        "/readyz and /api/v1/pair carries `Authorization: Bearer <token>`, the token that "
        "pairing gave. A POST may carry an `Idempotency-Key`: its retries get the first "
        "answer again. Errors are RFC 9457 problem details. See docs/api.md."
    ),
}

SYNC = f"""The Yjs sync protocol (y-protocols: step 1, step 2, update), framed as
`y-websocket` frames it, for one document per socket: a web terminal connects a
`WebsocketProvider` to `/api/v1/sync` with the document's guid as the room and its token as
`params: {{access_token}}`. Day documents are readable and writable (see docs/orders.md for
their schema), the catalog is read-only. Frames are binary and bounded; a bad frame closes
the socket with {CLOSE_BAD_MESSAGE}, a change to a read-only or closed document with
{CLOSE_REFUSED}, a revoked token with {CLOSE_REVOKED}, a terminal too far behind with
{CLOSE_TOO_SLOW} (reconnect: the next sync catches it up); nothing of a refused frame is stored."""

EVENTS = f"""Order changes pushed over a WebSocket (upgrade with GET). Each text frame is
an `EventMessage` (components/schemas):

- `{{"type": "hello", "cursor": C, "terminal": {{...}}}}` first, C the newest cursor;
- `{{"type": "orders", "cursor": N, "orders": [Order, ...]}}`: these orders changed, each as
  GET /api/v1/orders/{{order_id}} shows it now;
- `{{"type": "catalog", "cursor": N}}`: the catalog changed; fetch it again;
- `{{"type": "resync", "cursor": C}}`: the changes after `since` are not all known here;
  fetch what you show again.

Keep the `cursor` of the last message handled and reconnect with `?since=<cursor>`: every
order changed since comes first (once each, as it is now), then live messages. Browsers,
which cannot set headers on a WebSocket, may pass the token as `access_token`. The server
closes with {CLOSE_REVOKED} when the token is revoked, {CLOSE_TOO_SLOW} when the terminal
fell too far behind (reconnect with `since`), and {WSCloseCode.GOING_AWAY.value} when the
node stops."""


def order_answer(extra: dict | None = None) -> dict:
    return closed({"order": ref("Order"), **(extra or {})})


def order_action(
    operation_id: str,
    summary: str,
    body: str,
    *,
    problems: tuple[str, ...],
    created: bool = False,
    extra: dict | None = None,
    params: tuple[dict, ...] = (),
    kds: bool = False,
) -> dict:
    """A POST that changes an order and answers with it as it now is."""
    status, headers = ("201", ("Location",)) if created else ("200", ())
    return operation(
        operation_id,
        summary,
        "orders",
        {status: answer("the order as it now is", order_answer(extra), headers=headers)},
        problems=("unknown-order", *problems, "business-day-closed", "store-unavailable"),
        body=body,
        params=(parameter("OrderId"), *params),
        keyed=True,
        kds=kds,
    )


def _list_orders() -> dict:
    labels = [status.label for status in Status]
    return operation(
        "list_orders",
        "Search a business day's orders, oldest first, a page at a time",
        "orders",
        {"200": answer("one page of orders", ref("OrderPage"))},
        problems=("invalid-parameter", "store-unavailable"),
        params=(
            query("date", "business date (default: today's)", {"type": "string", "format": "date"}),
            query(
                "status",
                "only orders of these statuses (comma-separated)",
                {"type": "array", "items": {"enum": labels}, "minItems": 1},
                style="form",
                explode=False,
            ),
            query("number", "order numbers containing this, any case", {"type": "string"}),
            query("table", "orders at this table, any case", {"type": "string"}),
            query("open", "only orders not closed or void", {"type": "boolean", "default": False}),
            query(
                "limit",
                "orders per page",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50},
            ),
            query(
                "after",
                "the `next` of the previous page (another value: 400 invalid-parameter)",
                {"type": "string"},
            ),
        ),
    )


def _order_paths() -> dict[str, dict]:
    line = path_param("line_id", "the line's id")
    return {
        "/api/v1/orders": {
            "get": _list_orders(),
            "post": operation(
                "open_order",
                "Open an order on today's business day",
                "orders",
                {"201": answer("the new order", order_answer(), headers=("Location",))},
                problems=("business-day-closed", "store-unavailable"),
                body="OpenOrder",
                keyed=True,
            ),
        },
        ORDER: {
            "get": operation(
                "get_order",
                "An order as it now is",
                "orders",
                {"200": answer("the order", order_answer())},
                problems=("unknown-order", "store-unavailable"),
                params=(parameter("OrderId"),),
            )
        },
        ORDER + "/lines": {
            "post": order_action(
                "add_line",
                "Add a line of an item, with price and tax from the catalog",
                "NewLine",
                problems=("order-not-editable", "unknown-item"),
                created=True,
                extra={"line_id": {"type": "string"}},
            )
        },
        ORDER + "/lines/{line_id}/void": {
            "post": order_action(
                "void_line",
                "Void a line (voiding it twice is one void)",
                "Reason",
                problems=("unknown-line", "order-not-editable"),
                params=(line,),
            )
        },
        ORDER + "/discounts": {
            "post": order_action(
                "add_discount",
                "Discount a line or the whole order by an amount or a percent",
                "NewDiscount",
                problems=("unknown-line", "order-not-editable"),
                created=True,
            )
        },
        ORDER + "/payments": {
            "post": order_action(
                "add_payment",
                "Take a payment (a retry with the same key is one payment)",
                "NewPayment",
                problems=("order-not-editable", "key-conflict", "payment-rejected"),
                created=True,
                extra={"payment_key": {"type": "string"}},
            )
        },
        ORDER + "/tips": {
            "post": order_action(
                "add_tip",
                "Add a tip, also to a closed order",
                "NewTip",
                problems=("order-not-editable", "key-conflict"),
                created=True,
                extra={"tip_key": {"type": "string"}},
            )
        },
        ORDER + "/fire": {
            "post": order_action(
                "fire",
                "Send the lines not yet sent to the kitchen",
                "NoFields",
                problems=("order-not-editable", "nothing-to-fire"),
                extra={"fire_id": {"type": "string"}},
            )
        },
        ORDER + "/bump": {
            "post": order_action(
                "bump",
                "Mark a kitchen ticket (a fire at a station) done",
                "Bump",
                problems=(),
                kds=True,
            )
        },
        ORDER + "/recall": {
            "post": order_action(
                "recall",
                "Undo a bump: the ticket is open again on its station's screens",
                "Recall",
                problems=(),
                kds=True,
            )
        },
        ORDER + "/rush": {
            "post": order_action(
                "rush",
                "Mark the order rush: its tickets go first in the kitchen (twice is once)",
                "Rush",
                problems=("order-not-editable",),
            )
        },
        ORDER + "/close": {
            "post": order_action(
                "close",
                "Close a paid order",
                "NoFields",
                problems=("order-not-editable", "balance-due"),
            )
        },
        ORDER + "/void": {
            "post": order_action(
                "void_order",
                "Void the whole order (refused once money was taken)",
                "Reason",
                problems=("order-not-editable",),
            )
        },
        ORDER + "/reopen": {
            "post": order_action(
                "reopen",
                "Reopen a closed order (managers only)",
                "Reason",
                problems=("manager-required", "order-not-editable"),
            )
        },
    }


def _terminal_paths() -> dict[str, dict]:
    terminal = {"terminal": ref("Terminal")}
    return {
        "/api/v1/pair": {
            "post": operation(
                "pair",
                "Exchange a one-time pairing code for this terminal's bearer token",
                "terminals",
                {"201": answer("paired: keep the token secret", ref("Paired"))},
                problems=("pairing-refused", "too-many-attempts", "store-unavailable"),
                body="PairRequest",
                security=[],
            )
        },
        "/api/v1/terminals/me": {
            "get": operation(
                "me",
                "The terminal this token belongs to",
                "terminals",
                {"200": answer("this terminal", closed(terminal))},
                kds=True,
            )
        },
        "/api/v1/terminals": {
            "get": operation(
                "list_terminals",
                "Every terminal ever paired, revoked ones included (managers only)",
                "terminals",
                {"200": answer("the terminals", closed({"terminals": array(ref("Terminal"))}))},
                problems=("manager-required",),
            )
        },
        "/api/v1/terminals/pairing-codes": {
            "post": operation(
                "create_pairing_code",
                "Create a one-time code that pairs a new terminal (managers only)",
                "terminals",
                {"201": answer("the code, valid once until expires_at", ref("PairingCode"))},
                problems=("manager-required",),
                body="NewPairingCode",
                keyed=True,
            )
        },
        "/api/v1/terminals/{terminal_id}": {
            "delete": operation(
                "revoke_terminal",
                "Revoke the terminal with this id, or every live one with this name",
                "terminals",
                {"200": answer("those revoked", closed({"revoked": array(ref("Terminal"))}))},
                problems=("manager-required", "unknown-terminal"),
                params=(path_param("terminal_id", "a terminal's id, or name"),),
            )
        },
    }


def _node_paths() -> dict[str, dict]:
    health = closed({"status": {"const": "ok"}})
    ready = closed(
        {
            "status": {"const": "ready"},
            "business_date": {"type": "string", "format": "date"},
            "disk_free_bytes": {"type": "integer", "minimum": 0},
        }
    )
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "/healthz": {
            "get": operation(
                "healthz",
                "The process answers",
                "node",
                {"200": answer("alive", health)},
                security=[],
            )
        },
        "/readyz": {
            "get": operation(
                "readyz",
                "The node takes orders: started, not stopping, with disk to spare",
                "node",
                {"200": answer("ready", ready)},
                problems=("not-ready", "disk-full"),
                security=[],
            )
        },
        "/metrics": {
            "get": operation(
                "metrics",
                "Prometheus metrics of the node",
                "node",
                {"200": {"description": "Prometheus text exposition format", "content": text}},
            )
        },
        "/join": {"post": _join_operation()},
        "/api/v1/peers/{node_id}/remove": {
            "post": operation(
                "remove_peer",
                "Remove a node from the store (managers only): every node ends its link with it",
                "node",
                {
                    "200": answer(
                        "recorded in the store's members document",
                        closed(
                            {
                                "removed": closed(
                                    {
                                        "node": {"type": "string"},
                                        "by": {"type": "string"},
                                        "reason": {"type": "string"},
                                        "at": {"type": "string"},
                                    }
                                )
                            }
                        ),
                    )
                },
                problems=("manager-required", "not-a-member", "invalid-input"),
                body="RemovePeer",
                params=(path_param("node_id", "the node's name"),),
                schemas={**SCHEMAS, "RemovePeer": REMOVE_PEER},
            )
        },
        "/api/v1/peers": {
            "get": operation(
                "list_peers",
                "The store's other nodes, as this node knows them",
                "node",
                {"200": answer("whether this node is a member of a store, and its peers", PEERS)},
            )
        },
        "/api/v1/upstream": {
            "get": operation(
                "upstream_status",
                "The link with the hub and what the hub has not acknowledged yet",
                "node",
                {"200": answer("the hub link's state and backlog", UPSTREAM)},
            )
        },
        "/api/v1/openapi.json": {
            "get": operation(
                "openapi",
                "This document",
                "node",
                {"200": answer("the OpenAPI 3.1 document", {"type": "object"})},
            )
        },
        "/api/v1/catalog": {
            "get": operation(
                "get_catalog",
                "Items, modifiers, taxes and stations",
                "catalog",
                {"200": answer("the catalog", ref("Catalog"))},
                problems=("store-unavailable",),
            )
        },
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


@functools.cache
def openapi_document() -> dict:
    """The whole document: one dict shared by every caller, to read and not to change."""
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "tags": [
            {"name": name}
            for name in ("orders", "catalog", "terminals", "devices", "events", "kds", "node")
        ],
        "security": [{"bearer": []}],
        "paths": {
            **_node_paths(),
            **_terminal_paths(),
            **_order_paths(),
            **device_paths(),
            **kds_paths(),
        },
        "components": {
            "schemas": {**SCHEMAS, **DEVICE_SCHEMAS, "RemovePeer": REMOVE_PEER},
            "parameters": PARAMETERS,
            "headers": {**HEADERS, **DEVICE_HEADERS},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the token POST /api/v1/pair gave this terminal",
                },
                "access_token": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "access_token",
                    "description": (
                        "the same token, only on /api/v1/events, /api/v1/sync and /api/v1/kds "
                        "(for browsers)"
                    ),
                },
            },
        },
    }
