"""The daemon's errors: one root (`EdgeError`) over a family per subject (orders, config,
devices, storage; terminals and UI users in edge/access/).

Each carries a message a cashier, manager or field tech can act on; `InvalidInput` also
names the offending field as a JSON pointer, so the HTTP layer can point at it.
"""


class EdgeError(Exception):
    """Root of every error the daemon's own code raises (drivers and sync have theirs:
    DriverError, SyncError). Each family below is one subject; the faces (HTTP, CLI)
    render them where someone can act on them."""


class OrderError(EdgeError):
    """Root of every error the order domain raises.

    `field`, when set, is the JSON pointer of the request field the error is about.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidInput(OrderError):
    """A value given to an operation is malformed or out of range."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field)
        self.reason = reason


class UnknownOrder(OrderError):
    """No order with this id exists on this node."""


class UnknownItem(OrderError):
    """The catalog has no item (or modifier) with this code."""


class ItemUnavailable(OrderError):
    """The item or modifier is unavailable store-wide for now ("86"): a till cannot sell it."""


class ModifierRejected(OrderError):
    """The modifiers chosen break a rule of the item's modifier groups (too few, too many,
    one taken too often)."""


class UnknownLine(OrderError):
    """The order has no line with this id."""


class OrderNotEditable(OrderError):
    """The order's status does not allow this change (e.g. it is closed or void)."""


class BusinessDayClosed(OrderError):
    """The order's business day is closed and read-only."""


class BalanceDue(OrderError):
    """The order cannot be closed while money is still owed."""


class PaymentRejected(OrderError):
    """A payment cannot be taken as asked (e.g. a card over-payment)."""


class RefundRejected(OrderError):
    """A refund or a payment reversal cannot be made as asked (e.g. more than was paid)."""


class UnknownDrawerSession(OrderError):
    """No cash drawer session has this id."""


class DrawerSessionConflict(OrderError):
    """The drawer session cannot do this now (e.g. its drawer has one open already)."""


class IdempotencyConflict(OrderError):
    """The idempotency key was already used for a different request."""


class NothingToFire(OrderError):
    """Every line of the order has already been sent to the kitchen."""


class OrderFull(OrderError):
    """The order holds as many entries of this kind (lines, discounts, payments) as it may."""


class ManagerRequired(OrderError):
    """Only a manager may do this."""


class ConfigError(EdgeError):
    """The configuration file is invalid; names the file, the key and what is wrong."""

    def __init__(self, path: str, key: str, reason: str) -> None:
        super().__init__(f"{path}: {key}: {reason}")
        self.path = path
        self.key = key
        self.reason = reason


class DeviceError(EdgeError):
    """Root of the errors of this node's devices and print jobs, as the API reports them."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownDevice(DeviceError):
    """This node has no device with this id (or not of the kind asked for)."""


class UnknownJob(DeviceError):
    """This node has no print job with this id."""


class DeviceFailed(DeviceError):
    """The device could not do it now (unreachable, not ready); nothing was done."""


class StorageError(EdgeError):
    """A database file of this node (print.db, node.db, requests.db) could not be read or
    written: disk full, I/O error, damaged file. Carries what was being done, the file, the
    cause and a hint (None when the cause gives one)."""

    def __init__(self, doing: str, path: object, cause: object, hint: str | None) -> None:
        said = f"could not {doing} in {path}: {cause}"
        super().__init__(said if hint is None else f"{said} ({hint})")
        self.doing = doing
        self.path = path
        self.cause = cause
        self.hint = hint
