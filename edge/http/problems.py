"""Every HTTP error, rendered in one place as RFC 9457 problem+json.

A problem has a machine-readable `type` (`urn:posedge:problem:<slug>`), a `title` that
names the kind of error, a `detail` about this occurrence, the HTTP `status`, and, when
one field of the request is at fault, its JSON `pointer` (RFC 6901) into the request body,
or its query parameter as `parameter`. The client's mistakes are 4xx; a store that cannot
write is 503 with Retry-After; anything unexpected is a 500 that shows no traceback (it is
logged instead).
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from edge.access.pairing_codes import InvalidTerminalName, PairingRefused, TerminalError
from edge.access.staff.errors import (
    AlreadyClockedIn,
    InvalidEmployee,
    NotClockedIn,
    PinRefused,
    UnknownEmployee,
)
from edge.access.terminals import UnknownTerminal
from edge.runtime.errors import (
    BalanceDue,
    BusinessDayClosed,
    DeviceError,
    DeviceFailed,
    DrawerSessionConflict,
    IdempotencyConflict,
    InvalidInput,
    ItemUnavailable,
    ManagerRequired,
    ModifierRejected,
    NothingToFire,
    OrderError,
    OrderFull,
    OrderNotEditable,
    PaymentRejected,
    RefundRejected,
    StorageError,
    UnknownDevice,
    UnknownDrawerSession,
    UnknownItem,
    UnknownJob,
    UnknownLine,
    UnknownOrder,
)
from sync.errors import StoreCorrupt, StoreUnavailable

log = logging.getLogger(__name__)

TYPE_PREFIX = "urn:posedge:problem:"
CONTENT_TYPE = "application/problem+json"
STORE_RETRY_AFTER = 5  # seconds a terminal should wait before retrying a 503


class Problem(Exception):
    """An error to answer with: status, slug of its type, title, and what went wrong."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.headers = headers or {}

    def body(self) -> dict:
        body: dict[str, object] = {
            "type": TYPE_PREFIX + self.slug,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if self.pointer is not None:
            body["pointer"] = self.pointer
        if self.parameter is not None:
            body["parameter"] = self.parameter
        return body

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps(self.body(), ensure_ascii=False),
            content_type=CONTENT_TYPE,
            headers=self.headers,
        )


def invalid_input(detail: str, *, pointer: str) -> Problem:
    """A 422 about one field of the request body."""
    return Problem(
        422, "invalid-input", "A field of the request is invalid", detail, pointer=pointer
    )


def invalid_parameter(detail: str, *, parameter: str) -> Problem:
    """A 400 about one query parameter."""
    return Problem(
        400, "invalid-parameter", "A query parameter is invalid", detail, parameter=parameter
    )


# Each domain error class: (status, slug, title). Subclasses before their parents.
_DOMAIN: tuple[tuple[type[Exception], int, str, str], ...] = (
    (InvalidInput, 422, "invalid-input", "A field of the request is invalid"),
    (UnknownOrder, 404, "unknown-order", "No such order"),
    (UnknownLine, 404, "unknown-line", "No such line on this order"),
    (UnknownItem, 422, "unknown-item", "No such item or modifier in the catalog"),
    (ItemUnavailable, 409, "item-unavailable", "The item or modifier is unavailable for now"),
    (ModifierRejected, 422, "modifier-rejected", "The modifiers break the item's rules"),
    (OrderNotEditable, 409, "order-not-editable", "The order's status does not allow this"),
    (BusinessDayClosed, 409, "business-day-closed", "The business day is closed"),
    (BalanceDue, 409, "balance-due", "The order still owes money"),
    (PaymentRejected, 422, "payment-rejected", "The payment cannot be taken"),
    (RefundRejected, 422, "refund-rejected", "The refund cannot be made"),
    (UnknownDrawerSession, 404, "unknown-drawer-session", "No such cash drawer session"),
    (DrawerSessionConflict, 409, "drawer-session-conflict", "The drawer session cannot do this"),
    (IdempotencyConflict, 409, "key-conflict", "This key was used for something else"),
    (NothingToFire, 409, "nothing-to-fire", "Nothing new to send to the kitchen"),
    (OrderFull, 409, "order-full", "The order holds as many of these as it may"),
    (ManagerRequired, 403, "manager-required", "Only a manager may do this"),
    (OrderError, 409, "order-error", "The order cannot change this way"),
    (UnknownDevice, 404, "unknown-device", "No such device on this node"),
    (UnknownJob, 404, "unknown-job", "No such print job on this node"),
    (DeviceFailed, 503, "device-failed", "The device cannot do this now"),
    (DeviceError, 409, "device-error", "The device cannot do this"),
    (PairingRefused, 403, "pairing-refused", "The pairing code is not valid"),
    (UnknownTerminal, 404, "unknown-terminal", "No such terminal"),
    (InvalidTerminalName, 422, "invalid-input", "A field of the request is invalid"),
    (TerminalError, 422, "terminal-error", "The terminal request cannot be done"),
    (InvalidEmployee, 422, "invalid-input", "A field of the request is invalid"),
    (UnknownEmployee, 404, "unknown-employee", "No such employee"),
    (PinRefused, 403, "pin-refused", "The PIN is not valid"),
    (AlreadyClockedIn, 409, "already-clocked-in", "The employee is on the clock already"),
    (NotClockedIn, 409, "not-clocked-in", "The employee is not on the clock"),
)

_HTTP: dict[int, tuple[str, str]] = {
    400: ("bad-request", "The request is malformed"),
    404: ("not-found", "No such resource"),
    405: ("method-not-allowed", "This resource does not allow that method"),
    413: ("body-too-large", "The request body is too large"),
    415: ("unsupported-media-type", "The request body must be JSON"),
}


def problem_for(exc: BaseException) -> Problem:
    """The problem to answer `exc` with (logging it when it is not the client's doing)."""
    if isinstance(exc, Problem):
        return exc
    for kind, status, slug, title in _DOMAIN:
        if isinstance(exc, kind):
            return Problem(status, slug, title, str(exc), pointer=getattr(exc, "field", None))
    if isinstance(exc, StoreUnavailable | StoreCorrupt | StorageError):
        log.error("cannot use the node's storage: %s", exc)
        return Problem(
            503,
            "store-unavailable",
            "The store cannot save changes right now",
            "nothing was changed; retry shortly (the node's operator is told why in its log)",
            headers={"Retry-After": str(STORE_RETRY_AFTER)},
        )
    if isinstance(exc, web.HTTPException) and exc.status in _HTTP:
        slug, title = _HTTP[exc.status]
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return Problem(exc.status, slug, title, headers=allow)
    log.error("unexpected error answering a request", exc_info=exc)
    return Problem(500, "internal-error", "Something went wrong on this node")


@web.middleware
async def problem_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Answer every error raised below with problem+json."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_for(exc).response()
    except Exception as exc:
        return problem_for(exc).response()
