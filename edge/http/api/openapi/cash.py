"""The OpenAPI description of cash-up: cash drawer sessions, their movements and counts."""

from __future__ import annotations

from edge.http.api.openapi.operations import answer, operation, path_param, query
from edge.http.api.openapi.schemas import (
    DATE,
    KEY,
    STAMP,
    TEXT,
    array,
    closed,
    money,
    nullable,
    ref,
    string,
)
from edge.orders.cash.drawer_sessions import MAX_PIECES
from edge.orders.cash.sessions import MOVEMENTS
from edge.orders.validation import MAX_AMOUNT

SESSION = "/api/v1/drawer-sessions/{session_id}"
_PIECES = {
    "type": "object",
    "description": 'pieces per denomination in minor units, e.g. {"2000": 3, "25": 8}',
    "propertyNames": {"pattern": "^[0-9]{1,9}$"},
    "additionalProperties": {"type": "integer", "minimum": 0, "maximum": MAX_PIECES},
    "minProperties": 1,
}
_COUNT = closed(
    {"amount": money("the total counted", high=MAX_AMOUNT), "denominations": _PIECES},
    required=(),
    description="a count: the total, or the pieces per denomination, or both when they agree",
)


def _session_schema() -> dict:
    who = string("the employee, or the terminal, who did it")
    maybe_pieces = {**_PIECES, "type": ["object", "null"]}
    return closed(
        {
            "id": string("YYYYMMDD-…: the business day it was opened on, and an id"),
            "drawer": string("the cash drawer's id"),
            "state": string("open or closed", enum=["open", "closed"]),
            "opened_at": STAMP,
            "opened_by": who,
            "float": money(),
            "float_denominations": maybe_pieces,
            "cash_sales": money("cash of orders: payments less change, less cash refunds")
            | {"minimum": -MAX_AMOUNT},
            "orders": {"type": "integer", "minimum": 0},
            "paid_in": money(),
            "paid_out": money(),
            "drops": money(),
            "expected": {"type": "integer", "description": "float + cash sales + in − out − drops"},
            "counted": nullable(money()),
            "count_denominations": maybe_pieces,
            "over_short": {"type": ["integer", "null"], "description": "counted − expected"},
            "closed_at": nullable(STAMP),
            "closed_by": nullable(who),
            "movements": array(
                closed(
                    {
                        "id": string(""),
                        "kind": string("", enum=list(MOVEMENTS)),
                        "amount": money(),
                        "reason": string(""),
                        "at": STAMP,
                        "by": who,
                        "approved_by": nullable(string("")),
                    }
                )
            ),
        }
    )


CASH_SCHEMAS = {
    "DrawerSession": _session_schema(),
    "NewDrawerSession": closed(
        {**_COUNT["properties"], "drawer": nullable(KEY)},
        required=(),
        description="the float: its total or denominations; the drawer (default: the only one)",
    ),
    "DrawerCount": _COUNT,
    "CashMovement": closed(
        {
            "kind": string("paid_in, paid_out (managers) or drop", enum=list(MOVEMENTS)),
            "amount": money(low=1, high=MAX_AMOUNT),
            "reason": TEXT,
        }
    ),
}


def cash_paths() -> dict[str, dict]:
    session = closed({"session": ref("DrawerSession")})
    param = path_param("session_id", "the session's id")
    return {
        "/api/v1/drawer-sessions": {
            "get": operation(
                "list_drawer_sessions",
                "A business day's cash drawer sessions, with the cash expected in each",
                "cash",
                {
                    "200": answer(
                        "the sessions",
                        closed(
                            {
                                "business_date": DATE,
                                "sessions": array(ref("DrawerSession")),
                                "unassigned_cash": {"type": "integer"},
                                "unassigned_orders": array(string("an order's number")),
                            }
                        ),
                    )
                },
                problems=("invalid-parameter",),
                params=(query("date", "business date (default: today's)", DATE),),
            ),
            "post": operation(
                "open_drawer_session",
                "Open a session on a cash drawer with its float",
                "cash",
                {"201": answer("the session", session)},
                problems=("unknown-device", "drawer-session-conflict", "business-day-closed"),
                body="NewDrawerSession",
                schemas=CASH_SCHEMAS,
                keyed=True,
            ),
        },
        SESSION: {
            "get": operation(
                "get_drawer_session",
                "One cash drawer session",
                "cash",
                {"200": answer("the session", session)},
                problems=("unknown-drawer-session",),
                params=(param,),
            )
        },
        SESSION + "/movements": {
            "post": operation(
                "move_cash",
                "Pay cash in, pay it out (managers) or drop it to the safe",
                "cash",
                {"201": answer("the session", session)},
                problems=(
                    "unknown-drawer-session",
                    "drawer-session-conflict",
                    "manager-required",
                    "business-day-closed",
                ),
                body="CashMovement",
                schemas=CASH_SCHEMAS,
                params=(param,),
                keyed=True,
            )
        },
        SESSION + "/close": {
            "post": operation(
                "close_drawer_session",
                "Close a session with the cash counted: the answer shows over or short",
                "cash",
                {"200": answer("the session", session)},
                problems=("unknown-drawer-session", "business-day-closed"),
                body="DrawerCount",
                schemas=CASH_SCHEMAS,
                params=(param,),
                keyed=True,
            )
        },
    }
