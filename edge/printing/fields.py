"""Reading a print document: typed fields, each error naming the field's JSON pointer. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

_T = TypeVar("_T")


class LayoutError(ValueError):
    """A document cannot be laid out: unknown kind or printer profile, missing or bad field.

    `field`, when set, is the JSON pointer of the offending field in the document.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def label(code: str) -> str:
    """A code as people read it: `"dine_in"` → `"Dine in"`, `"gift_card"` → `"Gift card"`."""
    return code.replace("_", " ").capitalize()


def person_name(actor: str) -> str:
    """`"Counter 1 (t-3fa2c1d0)"` → `"Counter 1"`: the name without its id."""
    name, sep, rest = actor.rpartition(" (")
    return name if sep and name and rest.endswith(")") else actor


# --- Reading the document --------------------------------------------------------------------


class Fields:
    """Typed reads from one object of a document; a bad field raises LayoutError naming it."""

    def __init__(self, data: Any, pointer: str, kind: str) -> None:
        if not isinstance(data, dict):
            where = pointer or "the document"
            raise LayoutError(f"{kind} document: {where} must be an object", field=pointer or "/")
        self._data, self._pointer, self._kind = data, pointer, kind

    def error(self, key: str, problem: str) -> LayoutError:
        """The error for field `key`, which `problem` describes ("is missing")."""
        pointer = f"{self._pointer}/{key}"
        return LayoutError(f"{self._kind} document: {pointer} {problem}", field=pointer)

    def text(self, key: str) -> str:
        """A required text field (a number is taken as its digits)."""
        return self._required(key, self.optional_text(key))

    def optional_text(self, key: str) -> str | None:
        """A text field that may be absent or null."""
        value = self._data.get(key)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise self.error(key, f"must be text, got {_type(value)}")

    def count(self, key: str) -> int:
        """A required integer field (a quantity, or an amount in minor units)."""
        return self._required(key, self.optional_count(key))

    def optional_count(self, key: str, default: int | None = None) -> int | None:
        """An integer field that may be absent or null (then `default`)."""
        value = self._data.get(key)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise self.error(key, f"must be an integer, got {_type(value)}")

    def flag(self, key: str) -> bool:
        """A boolean field; absent or null is false."""
        value = self._data.get(key)
        if value is None or isinstance(value, bool):
            return bool(value)
        raise self.error(key, f"must be true or false, got {_type(value)}")

    def when(self, key: str) -> datetime:
        """A required timestamp: ISO 8601 with a UTC offset (or Z)."""
        text = self.text(key)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise self.error(key, f"is not an ISO 8601 timestamp: {text!r}") from None
        if moment.tzinfo is None:
            raise self.error(key, f"has no UTC offset: {text!r}")
        return moment

    def order_id(self) -> str:
        """The order id: printable ASCII, short enough for a QR code a scanner reads."""
        value = self.text("order_id")
        if not (0 < len(value) <= 64 and value.isascii() and value.isprintable()):
            raise self.error("order_id", f"is not an order id: {value[:80]!r}")
        return value

    def child(self, key: str) -> Fields:
        """A required nested object."""
        return Fields(
            self._required(key, self._data.get(key)), f"{self._pointer}/{key}", self._kind
        )

    def objects(self, key: str, *, required: bool = True) -> list[Fields]:
        """A list of objects (absent is an error when `required`, else empty)."""
        return [
            Fields(item, f"{self._pointer}/{key}/{i}", self._kind)
            for i, item in enumerate(self._list(key, required))
        ]

    def texts(self, key: str) -> list[str]:
        """An optional list of text."""
        items = self._list(key, False)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.error(f"{key}/{i}", f"must be text, got {_type(item)}")
        return items

    def _list(self, key: str, required: bool) -> list[Any]:
        value = self._data.get(key)
        if value is None:
            return self._required(key, None) if required else []
        if not isinstance(value, list):
            raise self.error(key, f"must be a list, got {_type(value)}")
        return value

    def _required(self, key: str, value: _T | None) -> _T:
        if value is None:
            raise self.error(key, "is missing")
        return value


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__
