"""What is unavailable store-wide for now ("86"): an item, or a modifier wherever it is
offered. It is the store's operational state, not the catalog's (HQ's menu): registers of
the store document (edge/config/store_document.py), which every node of the store holds.

| key | value |
| --- | --- |
| `unavailable:<sku>` | `{reason, by, at}` while the item is unavailable; null once it is back |
| `unavailable:modifier:<code>` | the same, for a modifier |

Each register holds its latest write, made on any node (last writer wins, by hybrid logical
clock), like the store's settings. A value that is not null but not of that shape (a bad
peer's) still counts as unavailable, with what it says left blank: a till never sells
what someone meant to stop.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from edge.orders.menu_rules import Mark, Unavailable

log = logging.getLogger(__name__)

KIND = "unavailable"
MODIFIER = "modifier:"
ITEM_KIND, MODIFIER_KIND = "item", "modifier"


class Register(Protocol):
    """One register of the store document (edge/config/registers.py Entry)."""

    @property
    def value(self) -> object: ...


class Registers(Protocol):
    """The store document as availability uses it (edge/config/store_document.py)."""

    def group(self, kind: str) -> Mapping[str, Register]: ...

    async def write(self, changes: dict[str, object]) -> str: ...

    def subscribe(self, listener: Callable[[set[str]], None]) -> Callable[[], None]: ...


def register_key(kind: str, code: str) -> str:
    """The register of item `code` (a sku) or of modifier `code`."""
    if kind == ITEM_KIND:
        return f"{KIND}:{code}"
    if kind == MODIFIER_KIND:
        return f"{KIND}:{MODIFIER}{code}"
    raise ValueError(f"not an item or a modifier: {kind!r}")


def _mark(value: object) -> Mark:
    fields = value if isinstance(value, dict) else {}
    return Mark(*(str(fields.get(name) or "") for name in ("reason", "by", "at")))


def read_unavailable(registers: Mapping[str, Register]) -> Unavailable:
    """What the live `unavailable` registers (by name, as the store document groups them)
    say is unavailable."""
    items, modifiers = {}, {}
    for name, register in registers.items():
        if register.value is None:
            continue
        if name.startswith(MODIFIER):
            modifiers[name.removeprefix(MODIFIER)] = _mark(register.value)
        else:
            items[name] = _mark(register.value)
    return Unavailable(dict(sorted(items.items())), dict(sorted(modifiers.items())))


Listener = Callable[[Unavailable], None]


class Availability:
    """The store's unavailable items and modifiers, read from and written to its store
    document; listeners hear the whole new state after each change, made on this node or
    on another. Lives on the event loop, as the store document does."""

    def __init__(self, registers: Registers) -> None:
        self._registers = registers
        self._now: Unavailable | None = None
        self._listeners: list[Listener] = []
        registers.subscribe(self._changed)

    def now(self) -> Unavailable:
        """What is unavailable now."""
        if self._now is None:
            self._now = read_unavailable(self._registers.group(KIND))
        return self._now

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(what is unavailable)` after each change; returns how to stop."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def mark(self, kind: str, code: str, *, reason: str, by: str, now: dt.datetime) -> Mark:
        """Make item or modifier `code` unavailable store-wide (a durable write), saying
        why, who, and when (`now`, kept as ISO 8601 in UTC to the second)."""
        at = now.astimezone(dt.UTC).isoformat(timespec="seconds")
        await self._registers.write(
            {register_key(kind, code): {"reason": reason, "by": by, "at": at}}
        )
        return Mark(reason, by, at)

    async def clear(self, kind: str, code: str) -> bool:
        """Make item or modifier `code` available again; whether it was unavailable (if it
        was not, nothing is written)."""
        key = register_key(kind, code)
        now = self.now()
        if code not in (now.items if kind == ITEM_KIND else now.modifiers):
            return False
        await self._registers.write({key: None})
        return True

    def _changed(self, keys: set[str]) -> None:
        if not any(key.startswith(f"{KIND}:") for key in keys):
            return
        self._now = None
        now = self.now()
        for listener in list(self._listeners):
            try:
                listener(now)
            except Exception:
                log.exception("availability listener %r failed", listener)
