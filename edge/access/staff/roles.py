"""What each role of the staff may do, as data: docs/staff.md shows this table, and a test
holds the two together. Pure.

Other parts of posedge name these actions when they check someone's authority (the HTTP
layer's `require(request, action)`, edge/http/context.py). A manager may do everything; a
cashier all but the managers' actions; a server what a cashier may, less the cash drawer's
own business (a drawer session, paid-ins and drops).
"""

from __future__ import annotations

ROLES = ("cashier", "server", "manager")

ACTIONS: dict[str, str] = {  # action -> what it covers
    "ring_up": "open orders, add lines, fire, take payments and tips, close",
    "discount": "discount a line or an order up to the store's limit",
    "discount_over_limit": "discount more than the store's limit, comps included",
    "void_unfired": "void a line or an order the kitchen was not sent",
    "void_fired": "void a line or an order the kitchen was sent",
    "refund": "give money back on a tender",
    "reverse_payment": "undo a payment taken in error",
    "reopen": "reopen a closed order",
    "no_sale": "open the cash drawer without a sale",
    "drawer_session": "open and close a cash drawer's session, count the drawer",
    "paid_in": "put cash into the drawer (paid in)",
    "drop": "take cash from the drawer to the safe (drop)",
    "paid_out": "pay cash out of the drawer (paid out)",
    "report_x": "print the X report: the day so far",
    "report_z": "print the Z report: the day's close",
    "eighty_six": "mark an item sold out (86), or back",
    "manage_staff": "add, change and remove employees; read the time clock",
}

MANAGER_ACTIONS = frozenset(
    {
        "discount_over_limit",
        "void_fired",
        "refund",
        "reverse_payment",
        "reopen",
        "no_sale",
        "paid_out",
        "report_z",
        "manage_staff",
    }
)
"""The actions only a manager may do (or approve, with a PIN)."""

_DRAWER = frozenset({"drawer_session", "paid_in", "drop"})  # a cashier's, not a server's

ALLOWED: dict[str, frozenset[str]] = {
    "manager": frozenset(ACTIONS),
    "cashier": frozenset(ACTIONS) - MANAGER_ACTIONS,
    "server": frozenset(ACTIONS) - MANAGER_ACTIONS - _DRAWER,
}

TERMINAL_ROLES = {"terminal": "cashier", "manager": "manager"}
"""The role a paired terminal acts as when nobody is signed in on it (a kitchen screen, kds,
has none: it may do none of these)."""


def check_action(action: str) -> str:
    """`action` if it is one of ACTIONS; raises ValueError (a typo in the code asking)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown staff action {action!r}; see edge/access/staff/roles.py ACTIONS")
    return action


def may(role: str, action: str) -> bool:
    """Whether `role` (cashier, server, manager) may do `action`; an unknown role may do
    nothing. Raises ValueError for an action that is not one of ACTIONS."""
    return check_action(action) in ALLOWED.get(role, frozenset())
