"""What a line may take of its item: its modifiers by the rules of the item's modifier
groups, its price when the item is open-priced, and nothing unavailable. Pure logic.

A line request names its modifiers as a list of codes, or of `{"code": ..., "qty": n}`
objects (n of it on each unit of the line); a code named twice counts twice. Each one must
belong to a group the item offers, be available, and come at most the group's `max_each`
times; then each group the item offers must have from its `min` to its `max` modifiers,
counted with their quantities. The first refusal, in the order of the request and then of
the item's groups, is the answer: an OrderError whose `field` points at what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edge.orders.catalog import Catalog, Item
from edge.orders.catalog_groups import ModifierGroup
from edge.runtime.errors import InvalidInput, ItemUnavailable, ModifierRejected, UnknownItem

MAX_MODIFIER_QTY = 99  # of one modifier on one unit: far above any group's max_each


@dataclass(frozen=True, slots=True)
class Mark:
    """Why an item or a modifier is unavailable store-wide ("86"), who said so, and when."""

    reason: str
    by: str
    at: str


@dataclass(frozen=True, slots=True)
class Unavailable:
    """What is unavailable store-wide now: items by sku, modifiers by code."""

    items: Mapping[str, Mark] = field(default_factory=dict)
    modifiers: Mapping[str, Mark] = field(default_factory=dict)


NOTHING_UNAVAILABLE = Unavailable()


def _why(mark: Mark) -> str:
    return f": {mark.reason}" if mark.reason else ""


def requested(modifiers: object) -> list[tuple[int, str, int]]:
    """(index, code, qty) of each modifier the request names, as it names them."""
    if isinstance(modifiers, str) or not isinstance(modifiers, list | tuple):
        raise InvalidInput("/modifiers", "must be a list of modifier codes or {code, qty}")
    found = []
    for index, entry in enumerate(modifiers):
        where = f"/modifiers/{index}"
        if isinstance(entry, str):
            found.append((index, entry, 1))
            continue
        if not isinstance(entry, dict):
            raise InvalidInput(where, "must be a modifier code or an object {code, qty}")
        unknown = sorted(set(entry) - {"code", "qty"})
        if unknown:
            raise InvalidInput(f"{where}/{unknown[0]}", "is not a field of a modifier")
        code, qty = entry.get("code"), entry.get("qty", 1)
        if not isinstance(code, str):
            raise InvalidInput(f"{where}/code", "must be a modifier code (a string)")
        if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= MAX_MODIFIER_QTY:
            raise InvalidInput(f"{where}/qty", f"must be an integer from 1 to {MAX_MODIFIER_QTY}")
        found.append((index, code, qty))
    return found


def check_available(item: Item, unavailable: Unavailable) -> None:
    """Refuse an item that is unavailable store-wide."""
    mark = unavailable.items.get(item.sku)
    if mark is not None:
        raise ItemUnavailable(f"{item.name} is unavailable for now{_why(mark)}", field="/sku")


def line_price(item: Item, price: object) -> int:
    """The unit price of a line: an open-priced item's from the request, within its range;
    any other item's from the catalog, and a price sent for it is refused."""
    if item.open_price is None:
        if price is not None:
            raise InvalidInput("/price", f"{item.name} has a set price: send no price")
        return item.price
    low, high = item.open_price.min, item.open_price.max
    if price is None:
        raise InvalidInput("/price", f"{item.name} is open-priced: send its price, {low}-{high}")
    if isinstance(price, bool) or not isinstance(price, int):
        raise InvalidInput("/price", f"must be an integer number of minor units, not {price!r}")
    if not low <= price <= high:
        raise InvalidInput("/price", f"{item.name} takes a price from {low} to {high}, not {price}")
    return price


def chosen_modifiers(
    catalog: Catalog, item: Item, modifiers: object, unavailable: Unavailable
) -> list[dict[str, Any]]:
    """The line's modifiers, `{code, name, price, qty, group}` in the order the request
    first names each, once checked against the item's groups (see the module's docstring)."""
    taken: dict[str, dict[str, Any]] = {}
    for index, code, qty in requested(modifiers):
        where = f"/modifiers/{index}"
        group = item.group_of(code)
        if group is None:
            elsewhere = catalog.group_holding(code)
            if elsewhere is None:
                raise UnknownItem(f"{item.name} has no modifier {code!r}", field=where)
            raise UnknownItem(
                f"{item.name} does not offer {elsewhere.label()}, which holds {code}", field=where
            )
        modifier = group.modifiers[code]
        mark = unavailable.modifiers.get(code)
        if mark is not None:
            raise ItemUnavailable(
                f"{modifier.name} ({code}) is unavailable for now{_why(mark)}", field=where
            )
        entry = taken.setdefault(
            code,
            {
                "code": code,
                "name": modifier.name,
                "price": modifier.price,
                "qty": 0,
                "group": group.id,
            },
        )
        entry["qty"] += qty
        if entry["qty"] > group.max_each:
            most = "once" if group.max_each == 1 else f"{group.max_each} times"
            raise ModifierRejected(
                f"{modifier.name} ({code}) may be taken at most {most} on one {item.name}, "
                f"not {entry['qty']}",
                field=where,
            )
    for group in item.groups:
        chosen = sum(entry["qty"] for code, entry in taken.items() if code in group.modifiers)
        _check_group(item, group, chosen)
    return list(taken.values())


def _check_group(item: Item, group: ModifierGroup, chosen: int) -> None:
    if chosen < group.min:
        raise ModifierRejected(
            f"choose at least {group.min} of {group.label()} for {item.name}; {chosen} chosen",
            field="/modifiers",
        )
    if group.max is not None and chosen > group.max:
        raise ModifierRejected(
            f"choose at most {group.max} of {group.label()} for {item.name}; {chosen} chosen",
            field="/modifiers",
        )
