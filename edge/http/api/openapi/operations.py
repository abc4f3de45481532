"""How the OpenAPI document describes an operation: parameters, answers, problems.

Each operation lists the problem types its own checks can raise; `operation` adds those of
its body, its Idempotency-Key and its authentication, so no operation can forget them.
"""

from __future__ import annotations

from edge.http.api.openapi.schemas import IDEMPOTENCY_KEY_PATTERN, SCHEMAS, ref
from edge.http.bodies import BODY_TIMEOUT, MAX_BODY
from edge.http.problems import CONTENT_TYPE, TYPE_PREFIX

# Every problem type: its status, and when it is the answer.
PROBLEMS: dict[str, tuple[int, str]] = {
    "malformed-json": (400, "the body is not JSON (or holds NaN, Infinity or a lone surrogate)"),
    "invalid-parameter": (400, "a query or path parameter is invalid; `parameter` names it"),
    "invalid-idempotency-key": (400, "the Idempotency-Key is not 1-128 visible ASCII characters"),
    "idempotency-key-refused": (
        400,
        "the route takes no Idempotency-Key: its answer shows a secret, of which no copy is kept",
    ),
    "bad-request": (400, "the request is malformed (e.g. /api/v1/events without an upgrade)"),
    "invalid-approval": (
        400,
        "the Manager-Approval header is not `<employee id>:<PIN>` (a PIN is 4-8 digits)",
    ),
    "unauthorized": (401, "no bearer token, or one that is unknown or revoked"),
    "employee-session-refused": (
        401,
        "the Employee-Session is unknown, expired, signed out, of another terminal, or its "
        "employee changed since: sign in again",
    ),
    "sign-in-required": (
        401,
        "the store has a cashier terminal write orders only with an employee signed in "
        "(`staff.sign_in_required`)",
    ),
    "manager-required": (
        403,
        "needs a manager: a manager's terminal, a manager signed in, or a manager's "
        "Manager-Approval",
    ),
    "pin-refused": (403, "the employee is unknown or removed, or the PIN is not theirs"),
    "role-not-allowed": (
        403,
        "a kitchen screen's token may only show tickets, bump and recall them, and 86 its "
        "station's items",
    ),
    "pairing-refused": (
        403,
        "the pairing code is wrong, expired or already used (or pairs a role other than `kds` "
        "over plain HTTP)",
    ),
    "https-required": (
        403,
        "this request came over plain HTTP from the LAN: send it over HTTPS "
        "([HTTPS](#https-and-the-store-ca))",
    ),
    "unknown-order": (404, "no order with this id on this node"),
    "unknown-line": (404, "the order has no such line (or, for a discount, no such live line)"),
    "unknown-terminal": (404, "no live terminal has this id or name"),
    "unknown-employee": (404, "no employee of the store has this id"),
    "unknown-document": (404, "no document with this guid that a terminal may sync"),
    "unknown-device": (404, "this node has no such device (of that kind); `pointer` names it"),
    "unknown-job": (404, "this node has no print job with this id"),
    "not-found": (404, "no such route"),
    "method-not-allowed": (405, "the route takes other methods: those `Allow` lists"),
    "order-not-editable": (409, "the order's status does not allow this (e.g. it is closed)"),
    "business-day-closed": (409, "the order's business day is closed and read-only"),
    "balance-due": (409, "the order cannot close while it still owes money"),
    "key-conflict": (409, "the payment or tip key was used for a different payment or tip"),
    "nothing-to-fire": (409, "every line of the order was already sent to the kitchen"),
    "already-clocked-in": (409, "the employee is on the clock already: clock out first"),
    "not-clocked-in": (409, "the employee is not on the clock: clock in first"),
    "order-full": (409, "the order holds the most lines, discounts or payments an order may"),
    "order-error": (409, "any other change the order cannot take"),
    "device-error": (409, "any other device request that cannot be done"),
    "body-too-large": (413, f"the body is larger than {MAX_BODY} bytes"),
    "body-timeout": (408, f"the body took over {BODY_TIMEOUT:.0f} s to arrive after the headers"),
    "unsupported-media-type": (415, "a body was sent without Content-Type: application/json"),
    "invalid-input": (422, "a body field is missing, unknown or invalid; `pointer` names it"),
    "unknown-item": (
        422,
        "no such item, or no such modifier of it (or of a group it offers), in the catalog",
    ),
    "item-unavailable": (409, "the item or a modifier chosen is unavailable for now (86)"),
    "modifier-rejected": (
        422,
        "the modifiers break a rule of the item's groups: too few or too many of a group, or "
        "one taken more often than its group allows; `pointer` names it",
    ),
    "unknown-drawer-session": (404, "no cash drawer session has this id"),
    "drawer-session-conflict": (
        409,
        "the drawer has a session open already, or the session was closed",
    ),
    "refund-rejected": (
        422,
        "more than is left to refund on the tender, units not there to refund (void, or "
        "refunded already), or a tender the order was not paid by; `pointer` names the field",
    ),
    "payment-rejected": (
        422,
        "the order owes nothing, or a payment other than cash is more than the balance due",
    ),
    "idempotency-key-reused": (422, "the Idempotency-Key was used for a different request"),
    "terminal-error": (422, "any other terminal request that cannot be done"),
    "too-many-attempts": (
        429,
        "too many failed pairing or join attempts, or wrong PINs, lately: wait `Retry-After` s",
    ),
    "join-refused": (403, "the join request does not verify with a live join code"),
    "not-a-member": (409, "this node is not a member of a store yet (posedge init or join)"),
    "internal-error": (500, "a bug: the node logs it, the answer shows nothing of it"),
    "not-ready": (503, "the node is starting or stopping"),
    "disk-full": (503, "the node's disk is nearly full"),
    "device-failed": (
        503,
        "the device cannot do it now (offline, not ready): retry with the same Idempotency-Key",
    ),
    "store-unavailable": (
        503,
        "the order log or the node's own database cannot be used now; nothing changed",
    ),
}

BODY_PROBLEMS = (
    "malformed-json",
    "body-too-large",
    "body-timeout",
    "unsupported-media-type",
    "invalid-input",
)
KEY_PROBLEMS = ("invalid-idempotency-key", "idempotency-key-reused")
# what a terminal's Employee-Session and Manager-Approval can be refused with, on any route
STAFF_PROBLEMS = (
    "employee-session-refused",
    "sign-in-required",
    "invalid-approval",
    "pin-refused",
    "manager-required",
    "too-many-attempts",
)
NEVER_REPLAYED = {"401", "413", "429", "503"}  # answered before, or not kept by, idempotency
NO_RETRY_AFTER = {"device-failed"}  # 503s without Retry-After: when a device is back is unknown

HEADERS = {
    "Location": {
        "description": "the order's URL",
        "required": True,
        "schema": {"type": "string", "pattern": r"^/api/v1/orders/[0-9]{8}-[0-9a-f]{12}$"},
    },
    "Preference-Applied": {
        "description": "the answer holds the order in short, as `Prefer` asked",
        "schema": {"type": "string", "enum": ["return=minimal"]},
    },
    "Idempotent-Replayed": {
        "description": "this is the kept first answer to a request with this Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
    "WWW-Authenticate": {
        "description": (
            'Bearer realm="posedge"; for an employee\'s session, Employee-Session realm="posedge"'
        ),
        "required": True,
        "schema": {"type": "string"},
    },
}

PARAMETERS = {
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "description": (
            "1-128 visible ASCII characters (e.g. a UUID), new for each new request. Per "
            "terminal, the first answer is kept 24 h and replayed to a retry of the same "
            "request (method, path, query and body); another request under the key gets 422."
        ),
        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
    },
    "Prefer": {
        "name": "Prefer",
        "in": "header",
        "description": (
            "RFC 7240: `return=minimal` answers with the order in short (id, number, status, "
            "version, totals) instead of the whole order; other preferences are ignored"
        ),
        "schema": {"type": "string", "enum": ["return=minimal", "return=representation"]},
    },
    "OrderId": {
        "name": "order_id",
        "in": "path",
        "required": True,
        "description": "business date and 12 hex digits, e.g. 20261120-0a1b2c3d4e5f",
        "schema": {"type": "string"},
    },
}


def header(name: str) -> dict:
    return {"$ref": f"#/components/headers/{name}"}


def parameter(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def path_param(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def query(name: str, description: str, schema: dict, **extra) -> dict:
    return {"name": name, "in": "query", "description": description, "schema": schema, **extra}


def answer(description: str, schema: dict, *, headers: tuple[str, ...] = ()) -> dict:
    """A JSON response."""
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = {name: header(name) for name in headers}
    return response


def problem_responses(slugs: tuple[str, ...]) -> dict[str, dict]:
    """The problem+json responses of these problem types, one per status."""
    by_status: dict[int, list[str]] = {}
    for slug in dict.fromkeys(slugs):
        by_status.setdefault(PROBLEMS[slug][0], []).append(slug)
    responses = {}
    for status, kinds in sorted(by_status.items()):
        schema = {
            "allOf": [
                ref("Problem"),
                {
                    "properties": {
                        "type": {"enum": [TYPE_PREFIX + slug for slug in kinds]},
                        "status": {"const": status},
                    }
                },
            ]
        }
        response = {
            "description": "; ".join(f"`{slug}`: {PROBLEMS[slug][1]}" for slug in kinds),
            "content": {CONTENT_TYPE: {"schema": schema}},
        }
        if status == 401:
            response["headers"] = {"WWW-Authenticate": header("WWW-Authenticate")}
        elif status in (429, 503) and NO_RETRY_AFTER.isdisjoint(kinds):
            response["headers"] = {"Retry-After": header("Retry-After")}
        elif status == 503:
            optional = {**HEADERS["Retry-After"], "required": False}
            optional["description"] += " (not sent with device-failed)"
            response["headers"] = {"Retry-After": optional}
        responses[str(status)] = response
    return responses


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    answers: dict[str, dict],
    *,
    problems: tuple[str, ...] = (),
    body: str | None = None,
    params: tuple[dict, ...] = (),
    keyed: bool = False,
    security: list | None = None,
    description: str | None = None,
    schemas: dict[str, dict] = SCHEMAS,
    kds: bool = False,
) -> dict:
    """One operation: its answers, then the problems its checks, body and key can give.

    `body` names a schema of `schemas` (components/schemas holds them all). `kds`: a
    kitchen screen's token may call it too (edge/http/auth.py KDS_ROUTES).
    """
    slugs = problems + (BODY_PROBLEMS if body else ()) + (KEY_PROBLEMS if keyed else ())
    if security != []:  # the token is looked up in node.db
        slugs += ("unauthorized", "store-unavailable")
        if not kds:
            slugs += ("role-not-allowed",)
        slugs += STAFF_PROBLEMS  # edge/http/staff_auth.py, on every terminal's request
        params = (*params, parameter("EmployeeSession"), parameter("ManagerApproval"))
    responses = {**answers, **problem_responses(slugs)}
    op: dict = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    if description:
        op["description"] = description
    if keyed:
        params = (*params, parameter("IdempotencyKey"))
        for status, response in responses.items():
            if status not in NEVER_REPLAYED:
                response.setdefault("headers", {})["Idempotent-Replayed"] = header(
                    "Idempotent-Replayed"
                )
    if params:
        op["parameters"] = list(params)
    if body:
        content = {"application/json": {"schema": ref(body)}}
        op["requestBody"] = {"required": "required" in schemas[body], "content": content}
    op["responses"] = responses
    if security is not None:
        op["security"] = security
    return op
