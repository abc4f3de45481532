"""The OpenAPI description of the order routes: searching a day's orders, opening one, and
every action on an order (lines, voids, discounts, payments, tips, the kitchen's fire, bump,
recall and rush, closing, reopening)."""

from __future__ import annotations

from edge.http.api.openapi.operations import answer, operation, parameter, path_param, query
from edge.http.api.openapi.schemas import array, closed, ref, string
from edge.orders.index import MAX_PAGE
from edge.orders.status import Status

ORDER = "/api/v1/orders/{order_id}"


def order_answer(extra: dict | None = None, *, brief: bool = True) -> dict:
    """An answer holding the order as it now is (whole, or in short if `brief` may be
    asked for), and `extra` fields."""
    order = {"oneOf": [ref("Order"), ref("OrderBrief")]} if brief else ref("Order")
    return closed({"order": order, **(extra or {})})


def _write_answer(status: str, extra: dict | None = None) -> dict:
    headers = ("Location", "Preference-Applied") if status == "201" else ("Preference-Applied",)
    return {status: answer("the order as it now is", order_answer(extra), headers=headers)}


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
    return operation(
        operation_id,
        summary,
        "orders",
        _write_answer("201" if created else "200", extra),
        problems=("unknown-order", *problems, "business-day-closed", "store-unavailable"),
        body=body,
        params=(parameter("OrderId"), *params, parameter("Prefer")),
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


def order_paths() -> dict[str, dict]:
    """/api/v1/orders and every action on one order."""
    line = path_param("line_id", "the line's id")
    return {
        "/api/v1/orders": {
            "get": _list_orders(),
            "post": operation(
                "open_order",
                "Open an order on today's business day",
                "orders",
                _write_answer("201"),
                problems=("business-day-closed", "store-unavailable"),
                body="OpenOrder",
                params=(parameter("Prefer"),),
                keyed=True,
            ),
        },
        ORDER: {
            "get": operation(
                "get_order",
                "An order as it now is",
                "orders",
                {"200": answer("the order", order_answer(brief=False))},
                problems=("unknown-order", "store-unavailable"),
                params=(parameter("OrderId"),),
            )
        },
        ORDER + "/lines": {
            "post": order_action(
                "add_line",
                "Add a line of an item, with price and tax from the catalog",
                "NewLine",
                problems=(
                    "order-not-editable",
                    "order-full",
                    "unknown-item",
                    "item-unavailable",
                    "modifier-rejected",
                ),
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
                problems=("unknown-line", "order-not-editable", "order-full"),
                created=True,
            )
        },
        ORDER + "/payments": {
            "post": order_action(
                "add_payment",
                "Take a payment (a retry with the same key is one payment)",
                "NewPayment",
                problems=("order-not-editable", "order-full", "key-conflict", "payment-rejected"),
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
                "Mark a kitchen ticket (a fire at a station) done (twice is once)",
                "Bump",
                problems=(),
                kds=True,
            )
        },
        ORDER + "/recall": {
            "post": order_action(
                "recall",
                "Undo a bump: the ticket is open again on its station's screens (twice is once)",
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
                "Close a paid order (closing it twice is one close)",
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
        ORDER + "/refunds": {
            "post": order_action(
                "refund",
                "Give money back on a tender: an amount, or what some lines' units come to "
                "(managers, or with a manager's approval); prints the slip, opens the drawer "
                "for cash",
                "NewRefund",
                problems=(
                    "manager-required",
                    "order-not-editable",
                    "refund-rejected",
                    "unknown-line",
                    "key-conflict",
                ),
                created=True,
                extra={
                    "refund_id": {"type": "string"},
                    "print_job": {"type": ["object", "null"]},
                    "drawer_open": {"type": ["object", "null"]},
                    "warnings": array(string("what this node could not do: print, open")),
                },
            )
        },
        ORDER + "/payments/{payment_key}/reverse": {
            "post": order_action(
                "reverse_payment",
                "Undo a payment taken in error before the order closed (managers; twice is once)",
                "Reason",
                problems=("manager-required", "order-not-editable", "refund-rejected"),
                params=(path_param("payment_key", "the payment's key"),),
            )
        },
        ORDER + "/reopen": {
            "post": order_action(
                "reopen",
                "Reopen a closed order (managers only; twice, with no close between, is once)",
                "Reason",
                problems=("manager-required", "order-not-editable"),
            )
        },
    }
