"""The JSON Schemas of the API's request bodies and answers (components of openapi.py).

Limits, formats and choices come from the code that enforces them, so the two cannot
disagree; tests/http/test_openapi.py checks the order id pattern, written out here, against its.
"""

from __future__ import annotations

from edge.access.pairing_codes import CODE_ALPHABET, CODE_LENGTH, MAX_NAME, ROLES
from edge.access.terminals import TOKEN_PREFIX
from edge.http import idempotency
from edge.http.api.terminals import DEFAULT_CODE_MINUTES, MAX_CODE_MINUTES
from edge.http.problems import TYPE_PREFIX
from edge.orders.rules import CHANNELS
from edge.orders.status import Status
from edge.orders.validation import KEY_FORMAT, MAX_AMOUNT, MAX_QTY, MAX_TEXT, PERCENT_FORMAT

# JSON Schema patterns match anywhere, so the server's whole-string formats are anchored.
KEY_PATTERN = f"^{KEY_FORMAT.pattern}$"
PERCENT_PATTERN = f"^{PERCENT_FORMAT.pattern}$"
IDEMPOTENCY_KEY_PATTERN = f"^{idempotency.KEY_FORMAT.pattern}$"
ORDER_ID_PATTERN = r"^[0-9]{8}-[0-9a-f]{12}$"  # edge/orders/ids.py
_HALF_CODE = f"[{CODE_ALPHABET}]{{{CODE_LENGTH // 2}}}"
PAIRING_CODE_PATTERN = f"^{_HALF_CODE}-{_HALF_CODE}$"  # as pairing_codes.py shows codes
MAX_GUESTS = 99  # edge/orders/book.py open_order


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    return {**schema, "type": [schema["type"], "null"]}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


def closed(properties: dict, *, required: tuple[str, ...] | None = None, **extra) -> dict:
    """An object of exactly these properties: all of them required unless told otherwise."""
    names = list(properties) if required is None else list(required)
    schema: dict = {"type": "object", "properties": properties, "additionalProperties": False}
    return {**schema, "required": names, **extra} if names else {**schema, **extra}


def money(description: str = "", low: int = 0, high: int | None = None) -> dict:
    """An amount in minor units (cents): always an integer."""
    schema = {"type": "integer", "minimum": low, "description": description or "minor units"}
    return schema if high is None else {**schema, "maximum": high}


def string(description: str, **extra) -> dict:
    return {"type": "string", "description": description, **extra}


TEXT = string("non-blank text", minLength=1, maxLength=MAX_TEXT, pattern=r"\S")
KEY = string("1-64 letters, digits and . _ : -", pattern=KEY_PATTERN)
STAMP = string("when: a hybrid-logical-clock timestamp; sorts as a string")
WHO = string('who: the terminal, as "name (id)", or the node\'s own actor')
DATE = string("a business date", format="date")
DECIMAL = string('a decimal number as text, e.g. "8.875"')
INSTANT = string("UTC time", format="date-time")
VERSION = string(
    "names the entries the order holds: it changes whenever one is added",
    pattern="^[0-9a-f]{16}$",
)
OPTIONAL_KEY = nullable(
    {
        **KEY,
        "description": "a key of your own, so a retry finds its first write (default: "
        "derived from the Idempotency-Key, else random)",
    }
)


def _order_schemas() -> dict[str, dict]:
    entry_times = {"at": STAMP, "by": WHO}
    employee = {"employee": nullable(string("the employee signed in on the terminal, if any"))}
    approved = {"approved_by": nullable(string("the manager who approved it by PIN, if any"))}
    return {
        "Status": string(
            "open < fired < ready < paid < closed; void absorbs all",
            enum=[status.label for status in Status],
        ),
        "Modifier": closed(
            {
                "code": string("modifier code"),
                "name": string(""),
                "price": money("the price of one"),
                "qty": {"type": "integer", "minimum": 1, "description": "how many on each unit"},
            },
            required=("code", "name", "price"),
        ),
        "Line": closed(
            {
                "id": string("line id"),
                "sku": string("the item's sku"),
                "name": string("copied from the catalog when the line was added"),
                "qty": {"type": "integer", "minimum": 1},
                "unit_price": money(),
                "modifiers": array(ref("Modifier")),
                "note": string("the note, or empty"),
                "tax_rate": DECIMAL,
                "tax_included": {"type": "boolean"},
                "station": nullable(string("the kitchen station it is sent to")),
                **entry_times,
                **employee,
                "gross": money("qty × (unit_price + Σ modifier prices)"),
                "net": money("gross less discounts; 0 once voided"),
                "fired": {"type": "boolean"},
                "voided": {"type": "boolean"},
                "void_reason": nullable(string("")),
            }
        ),
        "Void": closed(
            {
                "line": string("line id"),
                "reason": string(""),
                **entry_times,
                **employee,
                **approved,
            }
        ),
        "Discount": closed(
            {
                "id": string("discount id"),
                "line": nullable(string("the line discounted; null for the whole order")),
                "amount": nullable(money()),
                "percent": nullable(DECIMAL),
                "reason": string(""),
                **entry_times,
                **employee,
                **approved,
            }
        ),
        "Payment": closed(
            {
                "key": string("payment key"),
                "tender": string("e.g. cash, card"),
                "amount": money(),
                "tip": money(),
                "reference": nullable(string("e.g. a card authorization")),
                **entry_times,
                **employee,
            }
        ),
        "Tip": closed(
            {
                "key": string("tip key"),
                "payment": nullable(string("the payment key it belongs to")),
                "amount": money(),
                **entry_times,
                **employee,
            }
        ),
        "Event": closed(
            {
                "id": string("event id (a fire's is the fire_id)"),
                "kind": string(
                    "fire, bump, recall, rush, close, void, reopen, drawer, refund, reversal"
                ),
                **entry_times,
                "epoch": {"type": "integer", "minimum": 0, "description": "reopens so far"},
                "detail": {"type": "object", "description": "fields of the kind"},
            }
        ),
        "Totals": closed(
            {
                "subtotal": money("Σ gross of lines not voided"),
                "discount": money("Σ discounts applied"),
                "tax": money("Σ tax, included in prices or added"),
                "tax_added": money("the part of tax added on top of prices"),
                "total": money("subtotal − discount + tax_added"),
                "paid": money("Σ payments, tips excluded"),
                "tips": money(),
                "balance_due": money("max(0, total − paid)"),
                "change_due": money("max(0, paid − total)"),
                "taxes": array(
                    closed(
                        {
                            "rate": DECIMAL,
                            "included": {"type": "boolean"},
                            "base": money(),
                            "tax": money(),
                        }
                    )
                ),
            }
        ),
        "Refunds": closed(
            {
                "refunded": money("Σ refunds counted"),
                "over_refunded": money(
                    "Σ refunds past what their tender held: made on nodes cut off from each "
                    "other, for a manager to settle"
                ),
                "refundable": money("what may still be refunded, over all tenders"),
                "reversed_payments": array(string("the key of a payment reversed")),
                "tenders": array(
                    closed(
                        {
                            "tender": string(""),
                            "paid": money("payments not reversed"),
                            "change": money("change given out of it"),
                            "refunded": money(),
                            "over_refunded": money(),
                            "refundable": money("paid − change − refunded"),
                        }
                    )
                ),
                "refunds": array(ref("Refund")),
            }
        ),
        "Refund": closed(
            {
                "id": string("the refund's id (its event's)"),
                "tender": string(""),
                "amount": money("what went back"),
                "items": array(closed({"line": string("line id"), "qty": {"type": "integer"}})),
                "reason": string(""),
                "reference": nullable(string("the card processor's reference")),
                **entry_times,
                **employee,
                **approved,
                "counted": {
                    "type": "boolean",
                    "description": "false: over what was left to refund (see over_refunded)",
                },
            }
        ),
        "HistoryStep": {
            "type": "object",
            "description": "what happened; further fields depend on `what`",
            "properties": {"at": STAMP, "by": WHO, "what": string("open, line, void_line, …")},
            "required": ["at", "by", "what"],
        },
        "Order": closed(
            {
                "id": string("business date and 12 hex digits", pattern=ORDER_ID_PATTERN),
                "number": string("short and human: the node's letter and counter, e.g. A-042"),
                "business_date": DATE,
                "channel": string(", ".join(CHANNELS)),
                "table": nullable(string("")),
                "guests": {"type": "integer", "minimum": 0},
                "opened_at": STAMP,
                "opened_by": WHO,
                "server": nullable(string("the employee who opened it, if one was signed in")),
                "status": ref("Status"),
                "lines": array(ref("Line")),
                "voids": array(ref("Void")),
                "discounts": array(ref("Discount")),
                "payments": array(ref("Payment")),
                "tips": array(ref("Tip")),
                "events": array(ref("Event")),
                "totals": ref("Totals"),
                "refunds": ref("Refunds"),
                "ignored": array(
                    string("an entry left out: it does not parse, or is past the order's caps")
                ),
                "version": VERSION,
                "history": array(ref("HistoryStep")),
            },
            description="An order as it now is; amounts in minor units",
        ),
        "OrderBrief": closed(
            {
                "id": string("business date and 12 hex digits", pattern=ORDER_ID_PATTERN),
                "number": string("short and human: the node's letter and counter, e.g. A-042"),
                "status": ref("Status"),
                "version": VERSION,
                "totals": ref("Totals"),
            },
            description="An order in short, as a write answers with `Prefer: return=minimal`",
        ),
        "OrderSummary": closed(
            {
                "id": string("order id", pattern=ORDER_ID_PATTERN),
                "number": string(""),
                "business_date": DATE,
                "status": ref("Status"),
                "channel": string(""),
                "table": nullable(string("")),
                "guests": {"type": "integer", "minimum": 0},
                "opened_at": STAMP,
                "lines": {"type": "integer", "minimum": 0, "description": "lines not voided"},
                "total": money(),
                "paid": money(),
                "balance_due": money(),
            }
        ),
        "OrderPage": closed(
            {
                "business_date": DATE,
                "orders": array(ref("OrderSummary")),
                "next": nullable(string("`after` for the next page; null on the last")),
            }
        ),
    }


def _request_schemas() -> dict[str, dict]:
    amount = money(low=1, high=MAX_AMOUNT)
    either = [
        {"required": [name], "properties": {name: {"type": kinds}}}
        for name, kinds in (("amount", "integer"), ("percent", ["string", "integer"]))
    ]
    return {
        "OpenOrder": closed(
            {
                "channel": {"enum": list(CHANNELS), "default": "counter"},
                "table": nullable(TEXT),
                "guests": {"type": "integer", "minimum": 0, "maximum": MAX_GUESTS, "default": 0},
            },
            required=(),
        ),
        "NewLine": closed(
            {
                "sku": string("an item's sku in the catalog"),
                "qty": {"type": "integer", "minimum": 1, "maximum": MAX_QTY, "default": 1},
                "modifiers": {**array(ref("LineModifier")), "default": []},
                "note": nullable(TEXT),
                "price": nullable(money("an open-priced item's, in its range", high=MAX_AMOUNT)),
            },
            required=("sku",),
        ),
        "Reason": closed({"reason": TEXT}),
        "NewDiscount": closed(
            {
                "reason": TEXT,
                "amount": nullable(amount),
                "percent": {
                    "type": ["string", "integer", "null"],
                    "description": "more than 0 and at most 100",
                    "pattern": PERCENT_PATTERN,
                    "minimum": 1,
                    "maximum": 100,
                },
                "line_id": nullable(string("discount this line; absent: the whole order")),
            },
            required=("reason",),
            oneOf=either,
            description="an amount or a percent, not both",
        ),
        "NewPayment": closed(
            {
                "tender": {
                    **KEY,
                    "description": "cash, or e.g. card: only cash may exceed the balance due",
                },
                "amount": amount,
                "tip": {**money(high=MAX_AMOUNT), "default": 0},
                "reference": nullable(TEXT),
                "key": OPTIONAL_KEY,
            },
            required=("tender", "amount"),
        ),
        "NewRefund": closed(
            {
                "tender": {**KEY, "description": "the tender it goes back on: cash, card, …"},
                "reason": TEXT,
                "amount": {
                    **nullable(amount),
                    "description": "what to give back; absent: what the items come to",
                },
                "items": nullable(
                    array(
                        closed(
                            {
                                "line_id": string("a line of the order, not void"),
                                "qty": {**amount, "maximum": MAX_QTY, "default": 1},
                            },
                            required=("line_id",),
                        )
                    )
                ),
                "reference": nullable({**TEXT, "description": "needed for all but cash"}),
                "drawer": nullable(string("the cash drawer to open (default: the only one)")),
            },
            required=("tender", "reason"),
        ),
        "NewTip": closed(
            {
                "amount": amount,
                "payment_key": nullable(string("the payment this tip belongs to")),
                "key": OPTIONAL_KEY,
            },
            required=("amount",),
        ),
        "Bump": closed({"fire_id": string("the fire's id"), "station": string("station id")}),
        "Recall": closed({"bump_id": string("the id of the bump event to undo")}),
        "Rush": closed({"reason": nullable(TEXT)}, required=()),
        "NoFields": closed({}, description="no fields: send {} or no body at all"),
        "PairRequest": closed({"code": string("the pairing code, e.g. K7M2-9XQF")}),
        "NewPairingCode": closed(
            {
                "name": string(
                    "the terminal's name", minLength=1, maxLength=MAX_NAME, pattern=r"\S"
                ),
                "role": {"enum": list(ROLES), "default": "terminal"},
                "minutes": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_CODE_MINUTES,
                    "default": DEFAULT_CODE_MINUTES,
                },
            },
            required=("name",),
        ),
    }


def _other_schemas() -> dict[str, dict]:
    terminal = closed(
        {
            "id": string("terminal id", pattern=r"^t-[0-9a-f]{8}$"),
            "name": string(""),
            "role": {"enum": list(ROLES)},
            "created_at": INSTANT,
            "revoked_at": nullable(INSTANT),
        }
    )
    messages = {
        "hello": {"terminal": ref("Terminal")},
        "orders": {"orders": array(ref("Order"))},
        "catalog": {},
        "availability": {
            "items": array(ref("UnavailableItem")),
            "modifiers": array(ref("UnavailableModifier")),
        },
        "resync": {},
    }
    return {
        "Terminal": terminal,
        "PairingCode": closed(
            {
                "code": string(
                    "show it once to whoever sets up the terminal", pattern=PAIRING_CODE_PATTERN
                ),
                "name": string(""),
                "role": {"enum": list(ROLES)},
                "expires_at": INSTANT,
            }
        ),
        "Paired": closed(
            {
                "token": string(
                    "the bearer token: shown only this once", pattern=f"^{TOKEN_PREFIX}"
                ),
                "terminal": ref("Terminal"),
            }
        ),
        "Problem": closed(
            {
                "type": string("urn:posedge:problem:<slug>", pattern=f"^{TYPE_PREFIX}[a-z-]+$"),
                "title": string("the kind of error"),
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": string("this occurrence"),
                "pointer": string("the body field at fault, as a JSON pointer (RFC 6901)"),
                "parameter": string("the query parameter at fault"),
            },
            required=("type", "title", "status"),
            description="RFC 9457 problem details",
        ),
        "EventMessage": {
            "oneOf": [
                closed(
                    {"type": {"const": kind}, "cursor": {"type": "integer", "minimum": 0}, **fields}
                )
                for kind, fields in messages.items()
            ],
            "description": "one text frame of /api/v1/events",
        },
    }


SCHEMAS = {**_order_schemas(), **_request_schemas(), **_other_schemas()}
