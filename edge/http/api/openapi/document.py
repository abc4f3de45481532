"""The OpenAPI 3.1 description of the API, served at /api/v1/openapi.json.

Every route `make_app` (edge/http/application.py) serves is here (tests/http/test_openapi.py
compares the two, and fuzzes the server against this document). Its paths are built by
subject beside it (node.py, catalog.py, events.py, terminals.py, staff.py, orders.py,
devices.py, cash.py, kds.py) out of operations.py and schemas.py.
"""

from __future__ import annotations

import functools

from edge.http.api.openapi.cash import CASH_SCHEMAS, cash_paths
from edge.http.api.openapi.catalog import CATALOG_SCHEMAS, catalog_paths
from edge.http.api.openapi.devices import DEVICE_HEADERS, DEVICE_SCHEMAS, device_paths
from edge.http.api.openapi.events import events_paths
from edge.http.api.openapi.kds import kds_paths
from edge.http.api.openapi.node import REMOVE_PEER, node_paths
from edge.http.api.openapi.operations import HEADERS, PARAMETERS
from edge.http.api.openapi.orders import order_paths
from edge.http.api.openapi.schemas import SCHEMAS
from edge.http.api.openapi.staff import STAFF_PARAMETERS, STAFF_SCHEMAS, staff_paths
from edge.http.api.openapi.terminals import terminal_paths

INFO = {
    "title": "posedge terminal API",
    "version": "1",
    "description": (
        "The API a store's terminals (tills, kitchen displays, handhelds) use on a posedge "
        "node. Amounts are integers in minor units (cents). Every request but /healthz, "
        "/readyz and /api/v1/pair carries `Authorization: Bearer <token>`, the token that "
        "pairing gave; a terminal's request may also name the employee signed in on it "
        "(`Employee-Session`) and a manager's approval (`Manager-Approval`). A POST may carry "
        "an `Idempotency-Key`: its retries get the first answer again. Errors are RFC 9457 "
        "problem details. See docs/api.md."
    ),
}


@functools.cache
def openapi_document() -> dict:
    """The whole document: one dict shared by every caller, to read and not to change."""
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "tags": [
            {"name": name}
            for name in (
                "orders",
                "catalog",
                "cash",
                "terminals",
                "staff",
                "devices",
                "events",
                "kds",
                "node",
            )
        ],
        "security": [{"bearer": []}],
        "paths": {
            **node_paths(),
            **catalog_paths(),
            **events_paths(),
            **terminal_paths(),
            **staff_paths(),
            **order_paths(),
            **device_paths(),
            **cash_paths(),
            **kds_paths(),
        },
        "components": {
            "schemas": {
                **SCHEMAS,
                **DEVICE_SCHEMAS,
                **CASH_SCHEMAS,
                **CATALOG_SCHEMAS,
                **STAFF_SCHEMAS,
                "RemovePeer": REMOVE_PEER,
            },
            "parameters": {**PARAMETERS, **STAFF_PARAMETERS},
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
