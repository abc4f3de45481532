"""The OpenAPI description of the node's own routes: health, readiness and metrics, joining
the store (sync/membership/join.py), its peers and upstream link, and this document (the
catalog is catalog.py's)."""

from __future__ import annotations

from edge.http.api.openapi.operations import answer, operation, path_param
from edge.http.api.openapi.schemas import SCHEMAS, array, closed
from sync.membership.join import ANSWER_FIELDS, REQUEST_FIELDS

PROOFS = array({"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}) | {
    "description": "[salt, mac] per live code the joining node was offered"
}
JOIN_OFFER = closed(
    {"version": {"type": "integer"}, "salts": array({"type": "string", "format": "byte"})}
)
STORE_CA = closed(
    {
        "ca_cert": {"type": "string", "description": "the store CA, PEM"},
        "fingerprint": {"type": "string", "description": "hex SHA-256 of the CA's DER"},
        "scrypt": closed(
            {
                "n": {"type": "integer"},
                "r": {"type": "integer"},
                "p": {"type": "integer"},
                "dklen": {"type": "integer"},
                "salt_prefix": {"type": "string"},
            }
        ),
        "proofs": array(closed({"salt": {"type": "string"}, "mac": {"type": "string"}}))
        | {"description": "per live pairing code: HMAC-SHA256 of ca_cert under the code's key"},
    }
)


def _join_operation() -> dict:
    """POST /join: its body is the join exchange of sync/membership/join.py, authenticated by
    the code."""
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
                    {name: text for name in sorted(REQUEST_FIELDS - {"version", "proofs"})}
                    | {"version": {"type": "integer"}, "proofs": PROOFS}
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
        "nodes": {
            **array(
                closed(
                    {
                        "node": {"type": "string"},
                        "api": array(
                            {"type": "string", "description": "an HTTPS URL of the node's API"}
                        ),
                        "this_node": {"type": "boolean"},
                    }
                )
            ),
            "description": "every node of the store with its API's addresses, from the store "
            "document: where a terminal goes when its node goes away",
        },
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


def node_paths() -> dict[str, dict]:
    """The node's own paths, from /healthz to this document."""
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
        "/join": {
            "get": operation(
                "join_offer",
                "The salts of the live join codes, for a new node to derive its code's key",
                "node",
                {"200": answer("the salts, base64", JOIN_OFFER)},
                security=[],
            ),
            "post": _join_operation(),
        },
        "/api/v1/pair/ca": {
            "get": operation(
                "store_ca",
                "The store CA, with a proof of it for each live pairing code",
                "node",
                {"200": answer("the CA and its proofs (docs/api.md)", STORE_CA)},
                problems=("not-a-member",),
                security=[],
            )
        },
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
    }
